package portmap

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Registration is a live entry in a port mapper, made by Register. It
// lasts while its connection to the mapper does.
type Registration struct {
	// Creation is the number the mapper gave this incarnation of the node.
	Creation uint32

	conn      net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

// Close drops the registration: it closes the connection to the mapper,
// which frees the name, and waits for the goroutine watching it. It is safe
// to call more than once.
func (r *Registration) Close() error {
	var err error
	r.closeOnce.Do(func() { err = r.conn.Close() })
	<-r.done
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("closing port mapper registration: %w", err)
	}
	return nil
}

// Done returns a channel that is closed when the connection to the mapper
// is lost or closed, that is when the registration ends.
func (r *Registration) Done() <-chan struct{} { return r.done }

// watch waits for the connection to end. The mapper never sends anything on
// it; whatever it might send is ignored.
func (r *Registration) watch() {
	defer close(r.done)
	var buf [64]byte
	for {
		if _, err := r.conn.Read(buf[:]); err != nil {
			r.conn.Close()
			return
		}
	}
}

// checkName checks a node name (the part before '@') on the client side.
func checkName(name string) error {
	if !ValidName(name) {
		return fmt.Errorf("node name %q: %w", name, ErrBadName)
	}
	return nil
}

// exchange dials the mapper at addr, sends one request and calls read to
// take the answer, all bounded by ctx (and by clientTimeout). If keep is
// true and read succeeds, the connection is returned open and no longer
// bound by ctx; otherwise it is closed. Errors read "port mapper at ADDR:
// ..."; what says what was being done.
func exchange(ctx context.Context, addr, what string, req []byte, keep bool, read func(net.Conn) error) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, clientTimeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		// The *net.OpError stays in the chain: errors.Is(err,
		// syscall.ECONNREFUSED) holds when nothing listens at addr.
		return nil, fmt.Errorf("port mapper at %s: %w", addr, err)
	}
	// Cancelling ctx interrupts the exchange by moving the deadline to the past.
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	framed := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(req)), uint16(len(req)))
	framed = append(framed, req...)
	_, err = c.Write(framed)
	if err == nil {
		err = read(c)
	}
	if !stop() && err == nil && keep {
		// The answer came, but ctx ended meanwhile and spoiled the
		// connection's deadline: the registration cannot be kept.
		err = context.Cause(ctx)
	}
	if err != nil {
		c.Close()
		if cerr := context.Cause(ctx); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w (%w)", cerr, err)
		}
		return nil, fmt.Errorf("port mapper at %s: %s: %w", addr, what, err)
	}
	if !keep {
		c.Close()
		return nil, nil
	}
	if err := c.SetDeadline(time.Time{}); err != nil {
		c.Close()
		return nil, fmt.Errorf("port mapper at %s: %s: %w", addr, what, err)
	}
	return c, nil
}

// readFull reads exactly len(b) bytes, reporting a short answer as a
// protocol error.
func readFull(c net.Conn, b []byte) error {
	_, err := io.ReadFull(c, b)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("answer cut short: %w", ErrProtocol)
	}
	return err
}

// Register registers name (the part before '@') with the port mapper at
// addr ("host:port") as a gsh node listening on port: node type 77 (72 when
// hidden), protocol 0 (TCP/IPv4), versions 5 to 6 and Extra "gsh". It works
// with this package's Server and with Erlang's epmd alike.
//
// The registration lasts until Close, or until the connection to the mapper
// is lost (see Done). ctx bounds only the registering exchange. It returns an
// error wrapping ErrNameTaken when the mapper refuses the name, and one
// wrapping the dial's *net.OpError (so errors.Is(err, syscall.ECONNREFUSED)
// holds) when nothing listens at addr.
func Register(ctx context.Context, addr, name string, port int, hidden bool) (*Registration, error) {
	if err := checkName(name); err != nil {
		return nil, fmt.Errorf("port mapper at %s: registering: %w", addr, err)
	}
	if port <= 0 || port > 65535 {
		return nil, fmt.Errorf("port mapper at %s: registering %q: port %d out of range", addr, name, port)
	}
	nodeType := byte(nodeNormal)
	if hidden {
		nodeType = nodeHidden
	}
	req := []byte{alive2Req}
	req = binary.BigEndian.AppendUint16(req, uint16(port))
	req = append(req, nodeType, protoTCP4)
	req = binary.BigEndian.AppendUint16(req, highVersion)
	req = binary.BigEndian.AppendUint16(req, lowVersion)
	req = binary.BigEndian.AppendUint16(req, uint16(len(name)))
	req = append(req, name...)
	req = binary.BigEndian.AppendUint16(req, uint16(len(gshExtra)))
	req = append(req, gshExtra...)

	var creation uint32
	c, err := exchange(ctx, addr, fmt.Sprintf("registering %q", name), req, true, func(c net.Conn) error {
		var hdr [2]byte
		if err := readFull(c, hdr[:]); err != nil {
			return err
		}
		var cr []byte
		switch hdr[0] {
		case alive2X:
			cr = make([]byte, 4)
		case alive2Resp:
			cr = make([]byte, 2)
		default:
			return fmt.Errorf("answer code %d to ALIVE2_REQ: %w", hdr[0], ErrProtocol)
		}
		if hdr[1] != 0 {
			return ErrNameTaken
		}
		if err := readFull(c, cr); err != nil {
			return err
		}
		if len(cr) == 4 {
			creation = binary.BigEndian.Uint32(cr)
		} else {
			creation = uint32(binary.BigEndian.Uint16(cr))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	r := &Registration{Creation: creation, conn: c, done: make(chan struct{})}
	go r.watch()
	return r, nil
}

// Lookup asks the port mapper at addr where the node called name (the
// part before '@') listens (PORT_PLEASE2_REQ). The entry's Creation is 0: the
// protocol does not carry it. It returns an error wrapping ErrUnknownNode
// when no such node is registered.
func Lookup(ctx context.Context, addr, name string) (Entry, error) {
	var e Entry
	if err := checkName(name); err != nil {
		return e, fmt.Errorf("port mapper at %s: looking up: %w", addr, err)
	}
	req := append([]byte{port2Req}, name...)
	_, err := exchange(ctx, addr, fmt.Sprintf("looking up %q", name), req, false, func(c net.Conn) error {
		var hdr [2]byte
		if err := readFull(c, hdr[:]); err != nil {
			return err
		}
		if hdr[0] != port2Resp {
			return fmt.Errorf("answer code %d to PORT_PLEASE2_REQ: %w", hdr[0], ErrProtocol)
		}
		if hdr[1] != 0 {
			return ErrUnknownNode
		}
		var fixed [10]byte
		if err := readFull(c, fixed[:]); err != nil {
			return err
		}
		e.Port = int(binary.BigEndian.Uint16(fixed[0:2]))
		e.Hidden = fixed[2] != nodeNormal
		e.HighVersion = int(binary.BigEndian.Uint16(fixed[4:6]))
		e.LowVersion = int(binary.BigEndian.Uint16(fixed[6:8]))
		nameBuf := make([]byte, binary.BigEndian.Uint16(fixed[8:10]))
		if err := readFull(c, nameBuf); err != nil {
			return err
		}
		e.Name = string(nameBuf)
		var elen [2]byte
		if err := readFull(c, elen[:]); err != nil {
			return err
		}
		extra := make([]byte, binary.BigEndian.Uint16(elen[:]))
		if err := readFull(c, extra); err != nil {
			return err
		}
		e.Extra = string(extra)
		return nil
	})
	if err != nil {
		return Entry{}, err
	}
	return e, nil
}

// List asks the port mapper at addr for every registered node
// (NAMES_REQ). Only Name and Port are filled in: that is all the answer
// carries.
func List(ctx context.Context, addr string) ([]Entry, error) {
	var out []Entry
	_, err := exchange(ctx, addr, "listing nodes", []byte{namesReq}, false, func(c net.Conn) error {
		var port [4]byte
		if err := readFull(c, port[:]); err != nil {
			return err
		}
		text, err := io.ReadAll(io.LimitReader(c, maxNamesReply+1))
		if err != nil {
			return err
		}
		if len(text) > maxNamesReply {
			return fmt.Errorf("NAMES answer over %d bytes: %w", maxNamesReply, ErrTooLarge)
		}
		out, err = parseNames(string(text))
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// parseNames parses the text of a NAMES answer: "name %s at port %d\n"
// lines.
func parseNames(text string) ([]Entry, error) {
	var out []Entry
	for line := range strings.Lines(text) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			continue
		}
		rest, ok := strings.CutPrefix(line, "name ")
		i := strings.LastIndex(rest, " at port ")
		if !ok || i < 0 {
			return nil, fmt.Errorf("NAMES answer line %q: %w", line, ErrProtocol)
		}
		port, err := strconv.Atoi(rest[i+len(" at port "):])
		if err != nil || port < 0 || port > 65535 {
			return nil, fmt.Errorf("NAMES answer line %q: %w", line, ErrProtocol)
		}
		out = append(out, Entry{Name: rest[:i], Port: port})
	}
	return out, nil
}
