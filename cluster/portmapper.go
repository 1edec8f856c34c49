package cluster

// The port mapper: Erlang's epmd protocol, server and client.
//
// Every request is a 2-byte big-endian length followed by that many bytes, the
// first of which is the request code. The server answers one request per
// connection and closes it, except for ALIVE2_REQ (registration): that
// connection stays open, and the registration lasts exactly as long as it does.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// epmd request and response codes.
const (
	epmdAlive2Req  = 120 // 'x'
	epmdAlive2Resp = 121 // 'y': 16-bit creation, for HighestVersion < 6
	epmdAlive2X    = 118 // 'v': 32-bit creation, for HighestVersion >= 6
	epmdPort2Req   = 122 // 'z'
	epmdPort2Resp  = 119 // 'w'
	epmdNamesReq   = 110 // 'n'
	epmdKillReq    = 107 // 'k'
)

// What gsh nodes tell the port mapper about themselves.
const (
	epmdNodeNormal  = 77 // 'M'
	epmdNodeHidden  = 72 // 'H'
	epmdProtoTCP4   = 0
	epmdHighVersion = 6
	epmdLowVersion  = 5
	epmdGshExtra    = "gsh"
)

// Limits the port mapper enforces.
const (
	epmdMaxName  = 255  // bytes in a node name
	epmdMaxExtra = 1024 // bytes in a registration's Extra
	// epmdMaxRequest is the largest request body: an ALIVE2_REQ with the
	// longest name and extra.
	epmdMaxRequest = 1 + 10 + 2 + epmdMaxName + 2 + epmdMaxExtra
	// epmdDefaultTimeout bounds every server read before a registration
	// completes, and every server write.
	epmdDefaultTimeout = 5 * time.Second
	// epmdClientTimeout bounds a client exchange when its context has no
	// earlier deadline.
	epmdClientTimeout = 10 * time.Second
	// epmdMaxRemembered bounds how many names' creation counters the
	// mapper keeps (epmd keeps 1000 unregistered names).
	epmdMaxRemembered = 4096
	// epmdMaxNamesReply bounds the NAMES_REQ answer a client accepts.
	epmdMaxNamesReply = 1 << 20
)

// ErrPortMapperClosed is returned by PortMapper.Serve after Close, and after
// the mapper stopped on a KILL_REQ.
var ErrPortMapperClosed = errors.New("port mapper closed")

// MapperEntry describes one node registered with a port mapper.
type MapperEntry struct {
	Name        string // the node's name, without "@host"
	Port        int    // the node's distribution port
	Hidden      bool   // registered as a hidden node (any node type other than 77)
	Extra       string // the registration's Extra bytes; "gsh" for gsh nodes
	Creation    uint32 // the creation the mapper gave; 0 when the answer does not carry it
	HighVersion int    // highest distribution protocol version the node speaks
	LowVersion  int    // lowest distribution protocol version the node speaks
}

// IsGsh reports whether the entry was registered by a gsh node (its Extra is
// "gsh") rather than by an Erlang node.
func (e MapperEntry) IsGsh() bool { return e.Extra == epmdGshExtra }

// PortMapper serves epmd's protocol: node names to ports. Create one with
// NewPortMapper, start it with Serve and stop it with Close.
//
// Like epmd, it accepts registrations (ALIVE2_REQ) and KILL_REQ only from
// local peers: a loopback address, or the address the connection came in on.
// KILL_REQ stops the mapper (answering "OK") only when no node is
// registered; otherwise it answers "NO" and keeps serving.
type PortMapper struct {
	// Logf, if set, receives one line per rejected connection or request
	// (with no trailing newline; most start with the peer's address).
	// It may be called from several goroutines at once.
	Logf func(format string, args ...any)

	// timeout bounds each read before a registration completes and each
	// write; zero means epmdDefaultTimeout. Tests shorten it.
	timeout time.Duration

	mu        sync.Mutex
	closed    bool
	quit      chan struct{} // closed by shutdown
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{}
	nodes     map[string]*mapperNode
	creations map[string]uint32 // each name's last creation counter
	seed      uint32            // where a new name's counter starts
	wg        sync.WaitGroup
}

// mapperNode is one live registration on the server side.
type mapperNode struct {
	entry    MapperEntry
	nodeType byte
	protocol byte
}

// NewPortMapper returns a port mapper with no registrations. It serves
// nothing until Serve is called.
func NewPortMapper() *PortMapper {
	m := &PortMapper{}
	m.mu.Lock()
	m.lazyInit()
	m.mu.Unlock()
	return m
}

// lazyInit makes the maps; m.mu must be held.
func (m *PortMapper) lazyInit() {
	if m.quit != nil {
		return
	}
	m.quit = make(chan struct{})
	m.listeners = make(map[net.Listener]struct{})
	m.conns = make(map[net.Conn]struct{})
	m.nodes = make(map[string]*mapperNode)
	m.creations = make(map[string]uint32)
	// Start from the clock, as epmd does, so that a restarted mapper does
	// not hand a node the creation its previous incarnation had.
	m.seed = uint32(time.Now().Unix())
}

func (m *PortMapper) logf(format string, args ...any) {
	if m.Logf != nil {
		m.Logf(format, args...)
	}
}

func (m *PortMapper) ioTimeout() time.Duration {
	if m.timeout > 0 {
		return m.timeout
	}
	return epmdDefaultTimeout
}

// Serve accepts connections on l until Close and answers each in its own
// goroutine. It returns ErrPortMapperClosed after Close (or after a KILL_REQ
// stopped the mapper), and another error if l fails for good. Serve closes l
// when it returns. It can be called on several listeners at once.
func (m *PortMapper) Serve(l net.Listener) error {
	m.mu.Lock()
	m.lazyInit()
	if m.closed {
		m.mu.Unlock()
		l.Close()
		return ErrPortMapperClosed
	}
	m.listeners[l] = struct{}{}
	quit := m.quit
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.listeners, l)
		m.mu.Unlock()
		l.Close()
	}()

	var backoff time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if m.isClosed() {
				return ErrPortMapperClosed
			}
			if !pmTemporary(err) {
				return fmt.Errorf("port mapper: accepting connections: %w", err)
			}
			if backoff == 0 {
				backoff = 5 * time.Millisecond
			} else if backoff *= 2; backoff > time.Second {
				backoff = time.Second
			}
			m.logf("accepting connections: %v; retrying in %v", err, backoff)
			select {
			case <-time.After(backoff):
			case <-quit:
				return ErrPortMapperClosed
			}
			continue
		}
		backoff = 0
		if !m.track(c) {
			c.Close()
			return ErrPortMapperClosed
		}
		go func() {
			defer m.wg.Done()
			defer m.untrack(c)
			m.serveConn(c)
		}()
	}
}

// pmTemporary reports whether an Accept error is worth retrying.
func pmTemporary(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS,
		syscall.ENOMEM, syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EINTR} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func (m *PortMapper) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

// track records a connection so that Close can drop it, and counts its
// goroutine. It reports false once the mapper is closed.
func (m *PortMapper) track(c net.Conn) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lazyInit()
	if m.closed {
		return false
	}
	m.conns[c] = struct{}{}
	m.wg.Add(1)
	return true
}

func (m *PortMapper) untrack(c net.Conn) {
	m.mu.Lock()
	delete(m.conns, c)
	m.mu.Unlock()
}

// Close stops every listener given to Serve, drops every connection
// (registrations included, which frees their names) and waits for every
// goroutine the mapper started. It is safe to call more than once and always
// returns nil.
func (m *PortMapper) Close() error {
	m.shutdown()
	m.wg.Wait()
	return nil
}

// shutdown marks the mapper closed and closes its listeners and connections
// without waiting, so that a request handler (KILL_REQ) may call it.
func (m *PortMapper) shutdown() {
	m.mu.Lock()
	m.lazyInit()
	m.closed = true
	select {
	case <-m.quit:
	default:
		close(m.quit)
	}
	ls := make([]net.Listener, 0, len(m.listeners))
	for l := range m.listeners {
		ls = append(ls, l)
	}
	cs := make([]net.Conn, 0, len(m.conns))
	for c := range m.conns {
		cs = append(cs, c)
	}
	m.mu.Unlock()
	for _, l := range ls {
		l.Close()
	}
	for _, c := range cs {
		c.Close()
	}
}

// Names lists the registered nodes, sorted by name.
func (m *PortMapper) Names() []MapperEntry {
	m.mu.Lock()
	out := make([]MapperEntry, 0, len(m.nodes))
	for _, n := range m.nodes {
		out = append(out, n.entry)
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b MapperEntry) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// serveConn answers the one request a connection carries and closes it. For
// a registration it then waits until the peer closes the connection (or
// sends anything more) and frees the name.
func (m *PortMapper) serveConn(c net.Conn) {
	defer c.Close()
	peer := pmAddrString(c.RemoteAddr())
	req, err := m.readRequest(c)
	if err != nil {
		m.logf("%s: dropped: reading request: %v", peer, err)
		return
	}
	switch req[0] {
	case epmdAlive2Req:
		m.serveAlive2(c, peer, req)
	case epmdPort2Req:
		m.servePort2(c, peer, req)
	case epmdNamesReq:
		m.serveNames(c, peer, req)
	case epmdKillReq:
		m.serveKill(c, peer, req)
	default:
		m.logf("%s: dropped: unknown request code %d (%d bytes)", peer, req[0], len(req))
	}
}

func pmAddrString(a net.Addr) string {
	if a == nil {
		return "?"
	}
	return a.String()
}

// readRequest reads one length-prefixed request under the read deadline.
func (m *PortMapper) readRequest(c net.Conn) ([]byte, error) {
	if err := c.SetReadDeadline(time.Now().Add(m.ioTimeout())); err != nil {
		return nil, err
	}
	var hdr [2]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(hdr[:]))
	if n == 0 {
		return nil, fmt.Errorf("empty request: %w", ErrProtocol)
	}
	if n > epmdMaxRequest {
		return nil, fmt.Errorf("request of %d bytes (limit %d): %w", n, epmdMaxRequest, ErrTooLarge)
	}
	req := make([]byte, n)
	if _, err := io.ReadFull(c, req); err != nil {
		return nil, fmt.Errorf("request of %d bytes: %w", n, err)
	}
	return req, nil
}

// reply writes b under the write deadline.
func (m *PortMapper) reply(c net.Conn, b []byte) error {
	if err := c.SetWriteDeadline(time.Now().Add(m.ioTimeout())); err != nil {
		return err
	}
	_, err := c.Write(b)
	return err
}

// pmLocalPeer reports whether c's peer is on this host, as epmd decides it:
// a loopback address, or the same address the connection arrived on.
// Connections that are not TCP (pipes, Unix sockets) count as local.
func pmLocalPeer(c net.Conn) bool {
	ra, ok := c.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return true
	}
	if ra.IP.IsLoopback() {
		return true
	}
	la, ok := c.LocalAddr().(*net.TCPAddr)
	return ok && la.IP.Equal(ra.IP)
}

// pmValidName reports whether a node name is one the mapper accepts: the
// name part of a node name, as nodes check it (letters, digits, _ and -),
// so that no name can forge a line of the NAMES answer.
func pmValidName(name []byte) bool {
	return len(name) <= epmdMaxName && validAlive(string(name))
}

// pmParseAlive2 decodes an ALIVE2_REQ body (after the code byte).
func pmParseAlive2(b []byte) (n mapperNode, err error) {
	if len(b) < 12 {
		return n, fmt.Errorf("ALIVE2_REQ of %d bytes is too short: %w", len(b)+1, ErrProtocol)
	}
	n.entry.Port = int(binary.BigEndian.Uint16(b[0:2]))
	n.nodeType = b[2]
	n.protocol = b[3]
	n.entry.HighVersion = int(binary.BigEndian.Uint16(b[4:6]))
	n.entry.LowVersion = int(binary.BigEndian.Uint16(b[6:8]))
	nlen := int(binary.BigEndian.Uint16(b[8:10]))
	rest := b[10:]
	if nlen+2 > len(rest) {
		return n, fmt.Errorf("ALIVE2_REQ name length %d overruns the request: %w", nlen, ErrProtocol)
	}
	name := rest[:nlen]
	rest = rest[nlen:]
	elen := int(binary.BigEndian.Uint16(rest[0:2]))
	rest = rest[2:]
	if elen != len(rest) {
		return n, fmt.Errorf("ALIVE2_REQ extra length %d does not match the %d bytes left: %w", elen, len(rest), ErrProtocol)
	}
	if !pmValidName(name) {
		return n, fmt.Errorf("ALIVE2_REQ with invalid node name %q: %w", name, ErrBadName)
	}
	if elen > epmdMaxExtra {
		return n, fmt.Errorf("ALIVE2_REQ extra of %d bytes (limit %d): %w", elen, epmdMaxExtra, ErrTooLarge)
	}
	n.entry.Name = string(name)
	n.entry.Extra = string(rest)
	n.entry.Hidden = n.nodeType != epmdNodeNormal
	return n, nil
}

// nextCreation returns the creation for a new registration of name; m.mu
// must be held. Each name has its own rolling counter, bumped on every
// registration, so a name registered again always gets a different creation.
// A name seen for the first time starts from the mapper-wide seed, which
// moves on each time, so a forgotten name that comes back does not get its
// old creation either. Like epmd, it skips 0..3, which Erlang reserves (0
// means "any creation").
func (m *PortMapper) nextCreation(name string) uint32 {
	c, ok := m.creations[name]
	if !ok {
		if len(m.creations) >= epmdMaxRemembered {
			// Forget some name that is not registered now.
			for k := range m.creations {
				if _, live := m.nodes[k]; !live {
					delete(m.creations, k)
					break
				}
			}
		}
		m.seed++
		c = m.seed
	}
	c++
	if c < 4 {
		c = 4
	}
	m.creations[name] = c
	return c
}

func (m *PortMapper) serveAlive2(c net.Conn, peer string, req []byte) {
	if !pmLocalPeer(c) {
		m.logf("%s: dropped: ALIVE2_REQ from a non-local address", peer)
		return
	}
	node, err := pmParseAlive2(req[1:])
	if errors.Is(err, ErrProtocol) {
		m.logf("%s: dropped: %v", peer, err)
		return
	}
	m.mu.Lock()
	if err == nil && m.closed {
		err = ErrPortMapperClosed
	}
	if _, taken := m.nodes[node.entry.Name]; err == nil && taken {
		err = fmt.Errorf("registering %q: %w", node.entry.Name, ErrNameTaken)
	}
	if err == nil {
		node.entry.Creation = m.nextCreation(node.entry.Name)
		if node.entry.HighVersion < 6 {
			// A 16-bit creation answer: epmd gives old nodes 1..3.
			node.entry.Creation = node.entry.Creation%3 + 1
		}
		m.nodes[node.entry.Name] = &node
	}
	m.mu.Unlock()

	// Answer as epmd does: the 32-bit form to nodes that speak version 6.
	var resp []byte
	result := byte(0)
	if err != nil {
		result = 1
	}
	if node.entry.HighVersion >= 6 {
		resp = binary.BigEndian.AppendUint32([]byte{epmdAlive2X, result}, node.entry.Creation)
	} else {
		resp = binary.BigEndian.AppendUint16([]byte{epmdAlive2Resp, result}, uint16(node.entry.Creation))
	}
	werr := m.reply(c, resp)
	if err != nil {
		m.logf("%s: refused: %v", peer, err)
		return
	}
	defer m.unregister(&node)
	if werr != nil {
		m.logf("%s: dropped registration of %q: answering: %v", peer, node.entry.Name, werr)
		return
	}

	// The registration lasts while the connection does. Anything the peer
	// sends now is a protocol error and ends it too, as in epmd.
	c.SetDeadline(time.Time{})
	var buf [64]byte
	n, rerr := c.Read(buf[:])
	if n > 0 {
		m.logf("%s: dropped registration of %q: unexpected data after ALIVE2_REQ", peer, node.entry.Name)
	} else if rerr != nil && !errors.Is(rerr, io.EOF) && !errors.Is(rerr, net.ErrClosed) && !m.isClosed() {
		m.logf("%s: registration of %q lost: %v", peer, node.entry.Name, rerr)
	}
}

// unregister frees node's name if node still holds it.
func (m *PortMapper) unregister(node *mapperNode) {
	m.mu.Lock()
	if m.nodes[node.entry.Name] == node {
		delete(m.nodes, node.entry.Name)
	}
	m.mu.Unlock()
}

func (m *PortMapper) servePort2(c net.Conn, peer string, req []byte) {
	name := req[1:]
	// epmd tolerates a C string's trailing NUL.
	if len(name) > 0 && name[len(name)-1] == 0 {
		name = name[:len(name)-1]
	}
	if !pmValidName(name) {
		m.logf("%s: dropped: PORT_PLEASE2_REQ with invalid node name %q", peer, name)
		return
	}
	m.mu.Lock()
	var node mapperNode
	n, ok := m.nodes[string(name)]
	if ok {
		node = *n
	}
	m.mu.Unlock()
	if !ok {
		m.reply(c, []byte{epmdPort2Resp, 1})
		return
	}
	e := node.entry
	resp := make([]byte, 0, 14+len(e.Name)+len(e.Extra))
	resp = append(resp, epmdPort2Resp, 0)
	resp = binary.BigEndian.AppendUint16(resp, uint16(e.Port))
	resp = append(resp, node.nodeType, node.protocol)
	resp = binary.BigEndian.AppendUint16(resp, uint16(e.HighVersion))
	resp = binary.BigEndian.AppendUint16(resp, uint16(e.LowVersion))
	resp = binary.BigEndian.AppendUint16(resp, uint16(len(e.Name)))
	resp = append(resp, e.Name...)
	resp = binary.BigEndian.AppendUint16(resp, uint16(len(e.Extra)))
	resp = append(resp, e.Extra...)
	m.reply(c, resp)
}

func (m *PortMapper) serveNames(c net.Conn, peer string, req []byte) {
	if len(req) != 1 {
		m.logf("%s: dropped: NAMES_REQ of %d bytes", peer, len(req))
		return
	}
	port := 0
	if la, ok := c.LocalAddr().(*net.TCPAddr); ok {
		port = la.Port
	}
	resp := binary.BigEndian.AppendUint32(nil, uint32(port))
	for _, e := range m.Names() {
		resp = fmt.Appendf(resp, "name %s at port %d\n", e.Name, e.Port)
	}
	m.reply(c, resp)
}

func (m *PortMapper) serveKill(c net.Conn, peer string, req []byte) {
	if len(req) != 1 {
		m.logf("%s: dropped: KILL_REQ of %d bytes", peer, len(req))
		return
	}
	if !pmLocalPeer(c) {
		m.logf("%s: dropped: KILL_REQ from a non-local address", peer)
		return
	}
	m.mu.Lock()
	m.lazyInit()
	live := len(m.nodes)
	if live == 0 {
		m.closed = true // no registration may slip in now
	}
	m.mu.Unlock()
	if live > 0 {
		m.logf("%s: refused KILL_REQ: %d nodes are registered", peer, live)
		m.reply(c, []byte("NO"))
		return
	}
	m.reply(c, []byte("OK"))
	m.logf("%s: stopping on KILL_REQ", peer)
	m.shutdown()
}

// ---- client ----

// Registration is a live entry in a port mapper, made by RegisterNode. It
// lasts while its connection to the mapper does.
type Registration struct {
	// Creation is the number the mapper gave this incarnation of the node.
	Creation uint32

	conn      net.Conn
	done      chan struct{}
	closeOnce sync.Once
	at        time.Time // when the mapper accepted it
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

// pmCheckName checks a node name (the part before '@') on the client side.
func pmCheckName(name string) error {
	if !pmValidName([]byte(name)) {
		return fmt.Errorf("node name %q: %w", name, ErrBadName)
	}
	return nil
}

// pmExchange dials the mapper at addr, sends one request and calls read to
// take the answer, all bounded by ctx (and by epmdClientTimeout). If keep is
// true and read succeeds, the connection is returned open and no longer
// bound by ctx; otherwise it is closed. Errors read "port mapper at ADDR:
// ..."; what says what was being done.
func pmExchange(ctx context.Context, addr, what string, req []byte, keep bool, read func(net.Conn) error) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, epmdClientTimeout)
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

// pmReadFull reads exactly len(b) bytes, reporting a short answer as a
// protocol error.
func pmReadFull(c net.Conn, b []byte) error {
	_, err := io.ReadFull(c, b)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("answer cut short: %w", ErrProtocol)
	}
	return err
}

// RegisterNode registers name (the part before '@') with the port mapper at
// addr ("host:port") as a gsh node listening on port: node type 77 (72 when
// hidden), protocol 0 (TCP/IPv4), versions 5 to 6 and Extra "gsh". It works
// with gsh's PortMapper and with Erlang's epmd alike.
//
// The registration lasts until Close, or until the connection to the mapper
// is lost (see Done). ctx bounds only the registering exchange. It returns an
// error wrapping ErrNameTaken when the mapper refuses the name, and one
// wrapping the dial's *net.OpError (so errors.Is(err, syscall.ECONNREFUSED)
// holds) when nothing listens at addr.
func RegisterNode(ctx context.Context, addr, name string, port int, hidden bool) (*Registration, error) {
	if err := pmCheckName(name); err != nil {
		return nil, fmt.Errorf("port mapper at %s: registering: %w", addr, err)
	}
	if port <= 0 || port > 65535 {
		return nil, fmt.Errorf("port mapper at %s: registering %q: port %d out of range", addr, name, port)
	}
	nodeType := byte(epmdNodeNormal)
	if hidden {
		nodeType = epmdNodeHidden
	}
	req := []byte{epmdAlive2Req}
	req = binary.BigEndian.AppendUint16(req, uint16(port))
	req = append(req, nodeType, epmdProtoTCP4)
	req = binary.BigEndian.AppendUint16(req, epmdHighVersion)
	req = binary.BigEndian.AppendUint16(req, epmdLowVersion)
	req = binary.BigEndian.AppendUint16(req, uint16(len(name)))
	req = append(req, name...)
	req = binary.BigEndian.AppendUint16(req, uint16(len(epmdGshExtra)))
	req = append(req, epmdGshExtra...)

	var creation uint32
	c, err := pmExchange(ctx, addr, fmt.Sprintf("registering %q", name), req, true, func(c net.Conn) error {
		var hdr [2]byte
		if err := pmReadFull(c, hdr[:]); err != nil {
			return err
		}
		var cr []byte
		switch hdr[0] {
		case epmdAlive2X:
			cr = make([]byte, 4)
		case epmdAlive2Resp:
			cr = make([]byte, 2)
		default:
			return fmt.Errorf("answer code %d to ALIVE2_REQ: %w", hdr[0], ErrProtocol)
		}
		if hdr[1] != 0 {
			return ErrNameTaken
		}
		if err := pmReadFull(c, cr); err != nil {
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
	r := &Registration{Creation: creation, conn: c, done: make(chan struct{}), at: time.Now()}
	go r.watch()
	return r, nil
}

// LookupNode asks the port mapper at addr where the node called name (the
// part before '@') listens (PORT_PLEASE2_REQ). The entry's Creation is 0: the
// protocol does not carry it. It returns an error wrapping ErrUnknownNode
// when no such node is registered.
func LookupNode(ctx context.Context, addr, name string) (MapperEntry, error) {
	var e MapperEntry
	if err := pmCheckName(name); err != nil {
		return e, fmt.Errorf("port mapper at %s: looking up: %w", addr, err)
	}
	req := append([]byte{epmdPort2Req}, name...)
	_, err := pmExchange(ctx, addr, fmt.Sprintf("looking up %q", name), req, false, func(c net.Conn) error {
		var hdr [2]byte
		if err := pmReadFull(c, hdr[:]); err != nil {
			return err
		}
		if hdr[0] != epmdPort2Resp {
			return fmt.Errorf("answer code %d to PORT_PLEASE2_REQ: %w", hdr[0], ErrProtocol)
		}
		if hdr[1] != 0 {
			return ErrUnknownNode
		}
		var fixed [10]byte
		if err := pmReadFull(c, fixed[:]); err != nil {
			return err
		}
		e.Port = int(binary.BigEndian.Uint16(fixed[0:2]))
		e.Hidden = fixed[2] != epmdNodeNormal
		e.HighVersion = int(binary.BigEndian.Uint16(fixed[4:6]))
		e.LowVersion = int(binary.BigEndian.Uint16(fixed[6:8]))
		nameBuf := make([]byte, binary.BigEndian.Uint16(fixed[8:10]))
		if err := pmReadFull(c, nameBuf); err != nil {
			return err
		}
		e.Name = string(nameBuf)
		var elen [2]byte
		if err := pmReadFull(c, elen[:]); err != nil {
			return err
		}
		extra := make([]byte, binary.BigEndian.Uint16(elen[:]))
		if err := pmReadFull(c, extra); err != nil {
			return err
		}
		e.Extra = string(extra)
		return nil
	})
	if err != nil {
		return MapperEntry{}, err
	}
	return e, nil
}

// ListNodes asks the port mapper at addr for every registered node
// (NAMES_REQ). Only Name and Port are filled in: that is all the answer
// carries.
func ListNodes(ctx context.Context, addr string) ([]MapperEntry, error) {
	var out []MapperEntry
	_, err := pmExchange(ctx, addr, "listing nodes", []byte{epmdNamesReq}, false, func(c net.Conn) error {
		var port [4]byte
		if err := pmReadFull(c, port[:]); err != nil {
			return err
		}
		text, err := io.ReadAll(io.LimitReader(c, epmdMaxNamesReply+1))
		if err != nil {
			return err
		}
		if len(text) > epmdMaxNamesReply {
			return fmt.Errorf("NAMES answer over %d bytes: %w", epmdMaxNamesReply, ErrTooLarge)
		}
		out, err = pmParseNames(string(text))
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// pmParseNames parses the text of a NAMES answer: "name %s at port %d\n"
// lines.
func pmParseNames(text string) ([]MapperEntry, error) {
	var out []MapperEntry
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
		out = append(out, MapperEntry{Name: rest[:i], Port: port})
	}
	return out, nil
}
