package portmap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Server serves epmd's protocol: node names to ports. Create one with
// NewServer, start it with Serve and stop it with Close.
//
// Like epmd, it accepts registrations (ALIVE2_REQ) and KILL_REQ only from
// local peers: a loopback address, or the address the connection came in on.
// KILL_REQ stops the mapper (answering "OK") only when no node is
// registered; otherwise it answers "NO" and keeps serving.
type Server struct {
	// Logf, if set, receives one line per rejected connection or request
	// (with no trailing newline; most start with the peer's address).
	// It may be called from several goroutines at once.
	Logf func(format string, args ...any)

	// Timeout bounds each read from a connection before its registration
	// completes, and each write; zero means 5 seconds. A client that sends
	// its request slower than that is dropped. Set it before Serve.
	Timeout time.Duration

	mu        sync.Mutex
	closed    bool
	quit      chan struct{} // closed by shutdown
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{}
	nodes     map[string]*registered
	creations map[string]uint32 // each name's last creation counter
	seed      uint32            // where a new name's counter starts
	wg        sync.WaitGroup
}

// registered is one live registration on the server side.
type registered struct {
	entry    Entry
	nodeType byte
	protocol byte
}

// NewServer returns a port mapper with no registrations. It serves
// nothing until Serve is called.
func NewServer() *Server {
	m := &Server{}
	m.mu.Lock()
	m.lazyInit()
	m.mu.Unlock()
	return m
}

// lazyInit makes the maps; m.mu must be held.
func (m *Server) lazyInit() {
	if m.quit != nil {
		return
	}
	m.quit = make(chan struct{})
	m.listeners = make(map[net.Listener]struct{})
	m.conns = make(map[net.Conn]struct{})
	m.nodes = make(map[string]*registered)
	m.creations = make(map[string]uint32)
	// Start from the clock, as epmd does, so that a restarted mapper does
	// not hand a node the creation its previous incarnation had.
	m.seed = uint32(time.Now().Unix())
}

func (m *Server) logf(format string, args ...any) {
	if m.Logf != nil {
		m.Logf(format, args...)
	}
}

func (m *Server) ioTimeout() time.Duration {
	if m.Timeout > 0 {
		return m.Timeout
	}
	return defaultTimeout
}

// Serve accepts connections on l until Close and answers each in its own
// goroutine. It returns ErrClosed after Close (or after a KILL_REQ
// stopped the mapper), and another error if l fails for good. Serve closes l
// when it returns. It can be called on several listeners at once.
func (m *Server) Serve(l net.Listener) error {
	m.mu.Lock()
	m.lazyInit()
	if m.closed {
		m.mu.Unlock()
		l.Close()
		return ErrClosed
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
				return ErrClosed
			}
			if !temporary(err) {
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
				return ErrClosed
			}
			continue
		}
		backoff = 0
		if !m.track(c) {
			c.Close()
			return ErrClosed
		}
		go func() {
			defer m.wg.Done()
			defer m.untrack(c)
			m.serveConn(c)
		}()
	}
}

// temporary reports whether an Accept error is worth retrying.
func temporary(err error) bool {
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

func (m *Server) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

// track records a connection so that Close can drop it, and counts its
// goroutine. It reports false once the mapper is closed.
func (m *Server) track(c net.Conn) bool {
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

func (m *Server) untrack(c net.Conn) {
	m.mu.Lock()
	delete(m.conns, c)
	m.mu.Unlock()
}

// Close stops every listener given to Serve, drops every connection
// (registrations included, which frees their names) and waits for every
// goroutine the mapper started. It is safe to call more than once and always
// returns nil.
func (m *Server) Close() error {
	m.shutdown()
	m.wg.Wait()
	return nil
}

// shutdown marks the mapper closed and closes its listeners and connections
// without waiting, so that a request handler (KILL_REQ) may call it.
func (m *Server) shutdown() {
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
func (m *Server) Names() []Entry {
	m.mu.Lock()
	out := make([]Entry, 0, len(m.nodes))
	for _, n := range m.nodes {
		out = append(out, n.entry)
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// serveConn answers the one request a connection carries and closes it. For
// a registration it then waits until the peer closes the connection (or
// sends anything more) and frees the name.
func (m *Server) serveConn(c net.Conn) {
	defer c.Close()
	peer := addrString(c.RemoteAddr())
	req, err := m.readRequest(c)
	if err != nil {
		m.logf("%s: dropped: reading request: %v", peer, err)
		return
	}
	switch req[0] {
	case alive2Req:
		m.serveAlive2(c, peer, req)
	case port2Req:
		m.servePort2(c, peer, req)
	case namesReq:
		m.serveNames(c, peer, req)
	case killReq:
		m.serveKill(c, peer, req)
	default:
		m.logf("%s: dropped: unknown request code %d (%d bytes)", peer, req[0], len(req))
	}
}

func addrString(a net.Addr) string {
	if a == nil {
		return "?"
	}
	return a.String()
}

// readRequest reads one length-prefixed request under the read deadline.
func (m *Server) readRequest(c net.Conn) ([]byte, error) {
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
	if n > maxRequest {
		return nil, fmt.Errorf("request of %d bytes (limit %d): %w", n, maxRequest, ErrTooLarge)
	}
	req := make([]byte, n)
	if _, err := io.ReadFull(c, req); err != nil {
		return nil, fmt.Errorf("request of %d bytes: %w", n, err)
	}
	return req, nil
}

// reply writes b under the write deadline.
func (m *Server) reply(c net.Conn, b []byte) error {
	if err := c.SetWriteDeadline(time.Now().Add(m.ioTimeout())); err != nil {
		return err
	}
	_, err := c.Write(b)
	return err
}

// localPeer reports whether c's peer is on this host, as epmd decides it:
// a loopback address, or the same address the connection arrived on.
// Connections that are not TCP (pipes, Unix sockets) count as local.
func localPeer(c net.Conn) bool {
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

// parseAlive2 decodes an ALIVE2_REQ body (after the code byte).
func parseAlive2(b []byte) (n registered, err error) {
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
	if !ValidName(string(name)) {
		return n, fmt.Errorf("ALIVE2_REQ with invalid node name %q: %w", name, ErrBadName)
	}
	if elen > maxExtra {
		return n, fmt.Errorf("ALIVE2_REQ extra of %d bytes (limit %d): %w", elen, maxExtra, ErrTooLarge)
	}
	n.entry.Name = string(name)
	n.entry.Extra = string(rest)
	n.entry.Hidden = n.nodeType != nodeNormal
	return n, nil
}

// nextCreation returns the creation for a new registration of name; m.mu
// must be held. Each name has its own rolling counter, bumped on every
// registration, so a name registered again always gets a different creation.
// A name seen for the first time starts from the mapper-wide seed, which
// moves on each time, so a forgotten name that comes back does not get its
// old creation either. Like epmd, it skips 0..3, which Erlang reserves (0
// means "any creation").
func (m *Server) nextCreation(name string) uint32 {
	c, ok := m.creations[name]
	if !ok {
		if len(m.creations) >= maxRemembered {
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

func (m *Server) serveAlive2(c net.Conn, peer string, req []byte) {
	if !localPeer(c) {
		m.logf("%s: dropped: ALIVE2_REQ from a non-local address", peer)
		return
	}
	node, err := parseAlive2(req[1:])
	if errors.Is(err, ErrProtocol) {
		m.logf("%s: dropped: %v", peer, err)
		return
	}
	m.mu.Lock()
	if err == nil && m.closed {
		err = ErrClosed
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
		resp = binary.BigEndian.AppendUint32([]byte{alive2X, result}, node.entry.Creation)
	} else {
		resp = binary.BigEndian.AppendUint16([]byte{alive2Resp, result}, uint16(node.entry.Creation))
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
func (m *Server) unregister(node *registered) {
	m.mu.Lock()
	if m.nodes[node.entry.Name] == node {
		delete(m.nodes, node.entry.Name)
	}
	m.mu.Unlock()
}

func (m *Server) servePort2(c net.Conn, peer string, req []byte) {
	name := req[1:]
	// epmd tolerates a C string's trailing NUL.
	if len(name) > 0 && name[len(name)-1] == 0 {
		name = name[:len(name)-1]
	}
	if !ValidName(string(name)) {
		m.logf("%s: dropped: PORT_PLEASE2_REQ with invalid node name %q", peer, name)
		return
	}
	m.mu.Lock()
	var node registered
	n, ok := m.nodes[string(name)]
	if ok {
		node = *n
	}
	m.mu.Unlock()
	if !ok {
		m.reply(c, []byte{port2Resp, 1})
		return
	}
	e := node.entry
	resp := make([]byte, 0, 14+len(e.Name)+len(e.Extra))
	resp = append(resp, port2Resp, 0)
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

func (m *Server) serveNames(c net.Conn, peer string, req []byte) {
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

func (m *Server) serveKill(c net.Conn, peer string, req []byte) {
	if len(req) != 1 {
		m.logf("%s: dropped: KILL_REQ of %d bytes", peer, len(req))
		return
	}
	if !localPeer(c) {
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
