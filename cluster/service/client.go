package service

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"gsh/cluster"
)

// DialOptions are a client's options; nil means the defaults.
type DialOptions struct {
	// TLS, when set, runs the connection over TLS with this configuration
	// (its RootCAs, and a ServerName when the address is not the host the
	// certificate names). Nil: plain TCP.
	TLS *tls.Config
	// HandshakeTimeout bounds connecting and the handshake (5 s when 0),
	// within ctx's deadline.
	HandshakeTimeout time.Duration
	// MaxFrameSize bounds one reply or message from the server (64 MiB
	// when 0).
	MaxFrameSize int
	// MaxQueued bounds the messages waiting for Receive (65,536 when 0):
	// past it the connection is closed, with an error saying why.
	MaxQueued int
}

// Conn is a client's connection to one service. It is safe for concurrent
// use.
type Conn struct {
	conn    net.Conn
	addr    string // as dialled: "gandalf.example.com:2233"
	service string
	opts    DialOptions

	wmu sync.Mutex // one frame at a time

	mu      sync.Mutex
	nextRef int
	pending map[int]chan result
	queue   []result // messages, and errors about the connection or a send
	wake    chan struct{}
	err     error // why the connection ended
	done    chan struct{}
}

type result struct {
	v   any
	err error
}

// Dial connects to service at addr ("host:port") and proves secret.
// A wrong secret gives an error wrapping cluster.ErrAuth; a service the
// server does not offer, ErrUnknownService; a service that asks for TLS
// dialled without it, cluster.ErrTLS.
func Dial(ctx context.Context, addr, service, secret string, opts *DialOptions) (*Conn, error) {
	var o DialOptions
	if opts != nil {
		o = *opts
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = 5 * time.Second
	}
	if o.MaxFrameSize <= 0 {
		o.MaxFrameSize = 64 << 20
	}
	if o.MaxQueued <= 0 {
		o.MaxQueued = 1 << 16
	}
	if !validName(service) {
		return nil, fmt.Errorf("connecting to service %q: a name is 1 to %d letters, digits, '_', '-' or '.': %w", service, MaxServiceName, cluster.ErrBadArgs)
	}
	ctx, cancel := context.WithTimeout(ctx, o.HandshakeTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to service %s at %s: %w", service, addr, netErr(err))
	}
	c, br, err := clientHandshake(ctx, conn, addr, service, secret, o.TLS)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("connecting to service %s at %s: %w", service, addr, err)
	}
	cn := &Conn{conn: c, addr: addr, service: service, opts: o, pending: map[int]chan result{}, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go cn.read(br)
	return cn, nil
}

func clientHandshake(ctx context.Context, conn net.Conn, addr, service, secret string, tc *tls.Config) (net.Conn, *bufio.Reader, error) {
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	if tc != nil {
		c := tc.Clone()
		if c.ServerName == "" {
			host, _, _ := net.SplitHostPort(addr)
			c.ServerName = host
		}
		t := tls.Client(conn, c)
		if err := t.HandshakeContext(ctx); err != nil {
			return nil, nil, fmt.Errorf("%v: %w", err, cluster.ErrTLS)
		}
		conn = t
	}
	cnonce, err := newNonce()
	if err != nil {
		return nil, nil, err
	}
	hello := append([]byte(magic), byte(len(service)))
	hello = append(append(hello, service...), cnonce[:]...)
	if _, err := conn.Write(hello); err != nil {
		return nil, nil, fmt.Errorf("sending hello: %w", netErr(err))
	}
	br := bufio.NewReaderSize(conn, 4096)
	st, err := br.ReadByte()
	if err != nil {
		return nil, nil, fmt.Errorf("reading the challenge: %w", netErr(err))
	}
	if st != statusOK {
		return nil, nil, readRefusal(br, st)
	}
	var snonce [nonceLen]byte
	if _, err := io.ReadFull(br, snonce[:]); err != nil {
		return nil, nil, fmt.Errorf("reading the challenge: %w", netErr(err))
	}
	if _, err := conn.Write(proof(secret, roleClient, cnonce[:], snonce[:], service)); err != nil {
		return nil, nil, fmt.Errorf("sending our proof: %w", netErr(err))
	}
	if st, err = br.ReadByte(); err != nil {
		return nil, nil, fmt.Errorf("reading the verdict: %w", netErr(err))
	}
	if st != statusOK {
		return nil, nil, readRefusal(br, st)
	}
	var theirs [proofLen]byte
	if _, err := io.ReadFull(br, theirs[:]); err != nil {
		return nil, nil, fmt.Errorf("reading the verdict: %w", netErr(err))
	}
	if !hmac.Equal(theirs[:], proof(secret, roleServer, cnonce[:], snonce[:], service)) {
		return nil, nil, authError("the server does not know the service's secret")
	}
	conn.SetDeadline(time.Time{})
	return conn, br, nil
}

// Service is the name of the service c is connected to.
func (c *Conn) Service() string { return c.service }

// RemoteAddr is the server's address.
func (c *Conn) RemoteAddr() net.Addr { return c.conn.RemoteAddr() }

// String names the service and the address as it was dialled (the host
// name when one was given), as Dial's errors name them.
func (c *Conn) String() string {
	return fmt.Sprintf("#lib_chan<%s@%s>", c.service, c.addr)
}

// Err is why the connection ended, nil while it is open.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// read takes the server's frames until the connection ends.
func (c *Conn) read(br *bufio.Reader) {
	for {
		v, err := readFrame(br, c.opts.MaxFrameSize)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("the server closed the connection: %w", cluster.ErrNodeDown)
			} else if !errors.Is(err, cluster.ErrTooLarge) && !errors.Is(err, cluster.ErrProtocol) {
				err = netErr(err)
			}
			c.end(err)
			return
		}
		a, ok := v.([]any)
		var op string
		var ref int
		if ok && len(a) == 3 {
			op, _ = a[0].(string)
			ref, _ = a[1].(int)
		}
		var r result
		switch op {
		case opReply:
			r.v = a[2]
		case opError:
			re, ok := a[2].(*cluster.RemoteError)
			if !ok {
				c.end(fmt.Errorf("the server sent a malformed error: %w", cluster.ErrProtocol))
				return
			}
			r.err = remoteErr(re)
		case opMsg:
			r.v = a[2]
		default:
			c.end(fmt.Errorf("the server sent a malformed frame: %w", cluster.ErrProtocol))
			return
		}
		c.mu.Lock()
		if ch, ok := c.pending[ref]; ok && ref != 0 && op != opMsg {
			delete(c.pending, ref)
			ch <- r
		} else if ref == 0 {
			if len(c.queue) >= c.opts.MaxQueued {
				c.mu.Unlock()
				c.end(fmt.Errorf("more than %d messages wait for Receive: %w", c.opts.MaxQueued, cluster.ErrTooLarge))
				return
			}
			c.queue = append(c.queue, r)
			select {
			case c.wake <- struct{}{}:
			default:
			}
		} // else the reply of a call given up on
		c.mu.Unlock()
	}
}

// end ends the connection for err: calls waiting get it, and Receive once
// the queue is empty.
func (c *Conn) end(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	c.err = err
	for ref, ch := range c.pending {
		ch <- result{err: err}
		delete(c.pending, ref)
	}
	c.conn.Close()
	close(c.done)
}

// kindError is a remote error of one of this package's kinds.
type kindError struct {
	*cluster.RemoteError
	kind error
}

func (e kindError) Unwrap() []error { return []error{e.RemoteError, e.kind} }

func remoteErr(re *cluster.RemoteError) error {
	for _, k := range kinds {
		if re.Kind == k.kind {
			return kindError{re, k.err}
		}
	}
	return re
}

func (c *Conn) send(v []any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	out, err := encodeFrame(nil, v)
	if err != nil {
		return err
	}
	if _, err := c.conn.Write(out); err != nil {
		if e := c.Err(); e != nil {
			return e
		}
		return netErr(err)
	}
	return nil
}

// Call runs function (as the service names it: "lookup" or "kvs.lookup")
// with args on the server and returns its result. A function the service
// does not expose gives an error wrapping ErrNotExposed; the function's own
// errors keep their kind (errors.Is with cluster.ErrBadArgs, ErrPanic,
// ErrTimeout, ...). ctx's deadline, if any, is sent as the call's timeout.
func (c *Conn) Call(ctx context.Context, function string, args ...any) (any, error) {
	ms := 0
	if d, ok := ctx.Deadline(); ok {
		ms = max(int(time.Until(d)/time.Millisecond), 1)
	}
	ch := make(chan result, 1)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return nil, err
	}
	c.nextRef++
	ref := c.nextRef
	c.pending[ref] = ch
	c.mu.Unlock()
	if args == nil {
		args = []any{}
	}
	if err := c.send([]any{opCall, ref, function, args, ms}); err != nil {
		c.mu.Lock()
		delete(c.pending, ref)
		c.mu.Unlock()
		return nil, fmt.Errorf("calling %s: %w", function, err)
	}
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, ref)
		c.mu.Unlock()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("calling %s: %w", function, cluster.ErrTimeout)
		}
		return nil, fmt.Errorf("calling %s: %w", function, ctx.Err())
	}
}

// Send sends msg to the service's handler process, which gets it as
// []any{client, msg}. It does not wait: a service that takes no messages
// answers with an error that the next Receive returns.
func (c *Conn) Send(msg any) error {
	if err := c.Err(); err != nil {
		return err
	}
	return c.send([]any{opSend, 0, msg})
}

// Receive returns the next message the service's handler sent to this
// client, waiting up to timeout (forever when negative); ok is false when
// none came in time. An error the server sent about a Send is returned in
// its turn among the messages; once the connection has ended and every
// message was received, Receive returns why it ended.
func (c *Conn) Receive(ctx context.Context, timeout time.Duration) (msg any, ok bool, err error) {
	var expired <-chan time.Time
	if timeout >= 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	for {
		c.mu.Lock()
		if len(c.queue) > 0 {
			r := c.queue[0]
			c.queue[0] = result{}
			c.queue = c.queue[1:]
			c.mu.Unlock()
			if r.err != nil {
				return nil, false, r.err
			}
			return r.v, true, nil
		}
		err := c.err
		c.mu.Unlock()
		if err != nil {
			return nil, false, err
		}
		select {
		case <-c.wake:
		case <-c.done:
		case <-expired:
			return nil, false, nil
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
}

// Close ends the connection; the server's process for this client ends
// with reason Closed.
func (c *Conn) Close() error {
	c.end(fmt.Errorf("service %s: %w", c.service, ErrClosed))
	return nil
}
