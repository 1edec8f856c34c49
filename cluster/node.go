package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"gsh/cluster/portmap"
)

// DefaultMapperPort is the port mapper's port, the same as Erlang's epmd.
const DefaultMapperPort = portmap.DefaultPort

// Config configures a Node. Start from DefaultConfig and change what you need.
type Config struct {
	// Name is the node's full name, "gandalf@host" (see MakeName). Empty
	// starts a node that is not distributed: NoNode, with no listener and
	// no port mapper registration.
	Name Atom
	// LongNames is true for a node named with -name (a fully qualified
	// host). Short-name and long-name nodes refuse each other.
	LongNames bool
	// Hidden nodes are not passed on to the nodes they connect to.
	Hidden bool
	// Cookie is the shared secret the handshake proves. Required for a
	// distributed node.
	Cookie string
	// ListenAddr is where the node accepts links: ":0" (every interface,
	// an ephemeral port) by default.
	ListenAddr string
	// MapperPort is the port mapper's port on every host.
	MapperPort int
	// CheckHost makes Start refuse a name whose host does not resolve (DNS,
	// /etc/hosts) to an address the node listens on, saying what to fix;
	// gsh sets it. Without it such a node starts, registers with the port
	// mapper on the address it listens on (127.0.0.1 when on every
	// address), and only peers that resolve its host to there reach it.
	CheckHost bool
	// HandshakeTimeout bounds a whole connection handshake (TLS and the
	// cookie's on the accepting side, each on the dialling side) and a
	// port mapper exchange.
	HandshakeTimeout time.Duration
	// HandshakeRate bounds how many cookie proofs the node checks a second,
	// from all peers together: the rate at which anyone can guess the
	// cookie. A proof over the rate waits its turn (addresses take turns)
	// within its handshake deadline; none is refused for it.
	HandshakeRate int
	// CallTimeout applies to a Call whose context has no deadline.
	CallTimeout time.Duration
	// TickTime is how long a silent link may go before it is declared
	// down: keepalive pings go out every third of it.
	TickTime time.Duration
	// MaxFrameSize bounds one encoded request or reply.
	MaxFrameSize int
	// MaxStreams bounds the streams a peer may have open on its link to
	// this node at once (a call holds one while it runs, and idle ones
	// wait for the next call; signals take one more): past it a new
	// stream is refused, and the call on it fails with ErrTooLarge.
	MaxStreams int
	// FastCalls sends small calls (requests of up to 64 KiB) to peers that
	// also have it as frames beside the link's streams rather than on a
	// stream of their own, with fewer hand-offs between goroutines on the
	// way; a short call (InlineHandler) is then served on the goroutine
	// that reads the link. Signals between processes (messages, links,
	// monitors, exits, casts) to such peers travel as such frames too, a
	// message delivered to the process's mailbox by the goroutine that
	// reads the link. On in DefaultConfig.
	FastCalls bool
	// Handler runs the calls other nodes make; nil answers every call with
	// ErrUnknownModule.
	Handler Handler
	// MaxProcesses bounds the processes the node runs (Erlang's +P): past
	// it, spawns, remote spawns and incoming casts fail with
	// ErrTooManyProcesses. Processes the node's own Go code makes with
	// NewProcess or Spawn count but are never refused.
	MaxProcesses int
	// MaxCastsPerPeer bounds the incoming rpc casts from one peer that run
	// at once; more wait in order in a bounded queue (see Node.Cast).
	MaxCastsPerPeer int
	// MailboxLimit bounds the bytes a process's mailbox holds from other
	// nodes (see Process.SetMailboxLimit): 0 is DefaultMailboxLimit,
	// negative is no limit.
	MailboxLimit int
	// Logf receives one line per notable event (a refused connection, a
	// link going down). Nil uses the standard logger.
	Logf func(format string, args ...any)
	// Output receives what a call or a process served on another node
	// for a process of this one, its group leader, prints (see
	// WithGroupLeader). Nil gives it to Logf.
	Output func(leader Pid, text string)
	// TLS, when set, runs every link over TLS: it is used as both the
	// server configuration (for links other nodes make) and the client
	// configuration (for links this node makes), so it holds the node's
	// certificate, RootCAs and ClientCAs (see LoadTLS for mutual
	// authentication). The cookie handshake still runs, inside TLS. Both
	// sides check that the peer's certificate belongs to the node it
	// claims to be: valid for the host in its node name (127.0.0.1 or
	// localhost for a node on this machine) and, when it names a node (URI
	// SAN gsh://name@host, or a common name with an "@"), naming it; a
	// client with its own ServerName uses Go's usual check instead. Nil
	// links over plain TCP. A node with TLS and one without refuse each
	// other.
	TLS *tls.Config
	// Erlang lets the node link with Erlang and Elixir nodes, speaking
	// their distribution protocol (see erllink.go), whose handshake proves
	// the cookie with MD5 digests, weaker than gsh's HMAC-SHA256. Off, an
	// Erlang node's connection is refused (not_allowed) and a call to one
	// fails saying so.
	Erlang bool
}

// DefaultConfig returns a Config with every default filled in, for a node
// that is not yet named.
func DefaultConfig() *Config {
	return &Config{
		ListenAddr:       ":0",
		MapperPort:       DefaultMapperPort,
		HandshakeTimeout: 5 * time.Second,
		HandshakeRate:    1000,
		CallTimeout:      30 * time.Second,
		TickTime:         15 * time.Second,
		MaxFrameSize:     64 << 20,
		MaxProcesses:     DefaultMaxProcesses,
		MaxCastsPerPeer:  DefaultMaxCastsPerPeer,
		MaxStreams:       1024,
		FastCalls:        true,
	}
}

// Verify checks a Config, as yamux.VerifyConfig does.
func (c *Config) Verify() error {
	if c.Name != "" {
		if _, _, err := SplitName(c.Name); err != nil {
			return err
		}
		if c.Cookie == "" {
			return errors.New("a distributed node needs a cookie")
		}
	}
	if c.MapperPort <= 0 || c.MapperPort > 65535 {
		return fmt.Errorf("port mapper port %d out of range", c.MapperPort)
	}
	if c.HandshakeTimeout <= 0 || c.CallTimeout <= 0 || c.TickTime <= 0 {
		return errors.New("timeouts must be positive")
	}
	if c.HandshakeRate <= 0 {
		return errors.New("HandshakeRate must be positive")
	}
	if c.MaxFrameSize < 1024 {
		return errors.New("MaxFrameSize must be at least 1024")
	}
	if c.MaxProcesses <= 0 {
		return errors.New("MaxProcesses must be positive")
	}
	if c.MaxCastsPerPeer <= 0 {
		return errors.New("MaxCastsPerPeer must be positive")
	}
	if c.MaxStreams < 1 {
		return errors.New("MaxStreams must be at least 1")
	}
	if c.TLS != nil && len(c.TLS.Certificates) == 0 && c.TLS.GetCertificate == nil {
		return errors.New("the TLS configuration has no certificate")
	}
	if c.Erlang && c.TLS != nil {
		return errors.New("links with Erlang nodes do not run over TLS: a node has Erlang or TLS, not both")
	}
	return nil
}

// Node is one named member of a cluster: it listens for links from other
// nodes, registers its name with the port mapper, and calls and serves calls
// over those links. A Node is safe for concurrent use.
type Node struct {
	cfg    Config
	name   Atom
	alive  string
	cookie atomic.Pointer[string]
	// peerCookies holds the cookies set for single peers (SetCookieFor).
	peerCookies sync.Map
	// home is the address the node's name resolves to: where peers dial it
	// and where it registers with the port mapper.
	home net.IP

	ln    net.Listener
	reg   atomic.Pointer[registration]
	limit *authLimiter // turns to check cookie proofs; nil: no limit

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the node started

	mu      sync.Mutex
	links   map[Atom]*link
	dialing map[Atom]*dialing
	// accepting counts the links peers are making to this node that passed
	// the handshake and are not yet registered.
	accepting map[Atom]int
	changed   chan struct{} // closed and replaced whenever links changes
	watchers  map[int]func(peer Atom, up bool, reason error)
	nextW     int
	closed    bool

	ptOnce    sync.Once
	pt        *processTable
	exitHooks []func(*Process)
	gOnce     sync.Once
	g         *globalTable
	known     transitiveDials // nodes peers named, to connect to
	creationV uint32
	erl       erlTable // links with Erlang nodes

	sv served // the calls and casts running for other nodes (see Shutdown)
}

// creation tells this run of the node from an earlier one of the same name.
func (n *Node) creation() uint32 { return n.creationV }

type dialing struct {
	done chan struct{}
	link *link
	err  error
}

// Start starts a node: it listens on cfg.ListenAddr and registers the name
// with the port mapper on this host. When no port mapper answers the error
// wraps the dial error (errors.Is(err, syscall.ECONNREFUSED) holds), so the
// caller can start one and try again.
func Start(ctx context.Context, cfg *Config) (*Node, error) {
	c := *cfg
	if c.ListenAddr == "" {
		c.ListenAddr = ":0"
	}
	if err := c.Verify(); err != nil {
		return nil, fmt.Errorf("starting a node: %w", err)
	}
	n := &Node{
		cfg:       c,
		name:      c.Name,
		links:     map[Atom]*link{},
		dialing:   map[Atom]*dialing{},
		accepting: map[Atom]int{},
		changed:   make(chan struct{}),
		watchers:  map[int]func(Atom, bool, error){},
	}
	n.cookie.Store(&c.Cookie)
	if c.MailboxLimit != 0 {
		n.SetMailboxLimit(c.MailboxLimit)
	}
	for n.creationV == 0 {
		n.creationV = rand.Uint32()
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	if c.Name == "" {
		n.name = NoNode
		return n, nil
	}
	n.alive, _, _ = SplitName(c.Name)
	n.limit = newAuthLimiter(c.HandshakeRate, n.logf)
	ln, err := net.Listen("tcp", c.ListenAddr)
	if err != nil {
		n.cancel()
		return nil, fmt.Errorf("starting node %s: %w", c.Name, err)
	}
	n.ln = ln
	rctx, cancel := context.WithTimeout(ctx, c.HandshakeTimeout)
	if n.home, err = checkHome(rctx, c.Name, ln); err != nil {
		if c.CheckHost {
			cancel()
			ln.Close()
			n.cancel()
			return nil, fmt.Errorf("starting node %s: %w", c.Name, err)
		}
		n.home = listenIP(ln)
	}
	reg, err := n.register(rctx)
	cancel()
	if err != nil {
		ln.Close()
		n.cancel()
		if errors.Is(err, ErrNameTaken) {
			return nil, fmt.Errorf("starting node %s: the name %s is already in use on this host: %w", c.Name, n.alive, err)
		}
		return nil, fmt.Errorf("starting node %s: %w", c.Name, err)
	}
	n.reg.Store(reg)
	n.globals()
	n.wg.Add(3)
	go n.acceptLoop()
	go n.keepRegistered()
	go func(l *authLimiter) {
		defer n.wg.Done()
		l.run(n.ctx)
	}(n.limit)
	return n, nil
}

// Name is the node's name, NoNode when it is not distributed.
func (n *Node) Name() Atom { return n.name }

// Distributed reports whether the node has a name and can reach others.
func (n *Node) Distributed() bool { return n.ln != nil }

// Addr is the address the node listens on, nil when not distributed.
func (n *Node) Addr() net.Addr {
	if n.ln == nil {
		return nil
	}
	return n.ln.Addr()
}

// Port is the TCP port the node listens on, 0 when not distributed.
func (n *Node) Port() int {
	if a, ok := n.Addr().(*net.TCPAddr); ok {
		return a.Port
	}
	return 0
}

// Cookie returns the node's current cookie.
func (n *Node) Cookie() string { return *n.cookie.Load() }

// SetCookie changes the cookie used for links made from now on.
func (n *Node) SetCookie(c string) { n.cookie.Store(&c) }

// Config returns a copy of the node's configuration.
func (n *Node) Config() Config { return n.cfg }

func (n *Node) flags() byte {
	var f byte
	if n.cfg.LongNames {
		f |= flagLongNames
	}
	if n.cfg.Hidden {
		f |= flagHidden
	}
	if n.cfg.FastCalls {
		f |= flagFastCalls
	}
	return f
}

func (n *Node) logf(format string, args ...any) {
	if n.cfg.Logf != nil {
		n.cfg.Logf(format, args...)
		return
	}
	log.Printf(format, args...)
}

// mapperAddr is the port mapper the node registers with: the one at the
// address its name resolves to.
func (n *Node) mapperAddr() string {
	if n.home == nil {
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(n.cfg.MapperPort))
	}
	return n.mapperAt(n.home)
}

// keepRegistered registers the name again when the port mapper connection
// is lost (the mapper was restarted), until the node closes.
func (n *Node) keepRegistered() {
	defer n.wg.Done()
	for {
		reg := n.reg.Load()
		select {
		case <-n.ctx.Done():
			return
		case <-reg.Done():
		}
		n.logf("lost the port mapper connection; registering %s again when a port mapper is back", n.name)
		// At once, then soon: a node that starts a new port mapper looks
		// its peers up there right away (see mapperGrace).
		delay := 5 * time.Millisecond
		for {
			ctx, cancel := context.WithTimeout(n.ctx, n.cfg.HandshakeTimeout)
			r, err := n.register(ctx)
			cancel()
			if err == nil {
				n.reg.Store(r)
				n.logf("registered %s with the port mapper again", n.name)
				break
			}
			t := time.NewTimer(delay)
			select {
			case <-n.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			delay = min(2*delay, reregisterMaxDelay)
		}
	}
}

// reregisterMaxDelay is the longest a node waits between two attempts to
// register again with a port mapper that went away: a new one has every
// node's registration this long after it starts, at most (plus the
// exchange).
const reregisterMaxDelay = 100 * time.Millisecond

// mapperGrace is how long after this node registered that a lookup of a
// node of this host that the port mapper does not know is tried again
// before the node is declared unknown: the mapper may have just started,
// and its other nodes not have registered again yet.
const mapperGrace = 3 * reregisterMaxDelay

// lookup asks the port mapper where node alive of host listens.
func (n *Node) lookup(ctx context.Context, mapper, host, alive string) (portmap.Entry, error) {
	for {
		e, err := portmap.Lookup(ctx, mapper, alive)
		err = mapperErr(err)
		r := n.reg.Load()
		if !errors.Is(err, ErrUnknownNode) || !isLocalHost(host) || r == nil || time.Since(r.at) >= mapperGrace {
			return e, err
		}
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return e, err
		case <-t.C:
		}
	}
}

// Nodes lists the nodes this node has a visible link to, sorted.
func (n *Node) Nodes() []Atom { return n.nodes(false) }

// HiddenNodes lists the nodes this node has a hidden link to (a link is
// hidden when either side is a hidden node), sorted.
func (n *Node) HiddenNodes() []Atom { return n.nodes(true) }

func (n *Node) nodes(hidden bool) []Atom {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]Atom, 0, len(n.links))
	for p, l := range n.links {
		if l.hidden == hidden {
			out = append(out, p)
		}
	}
	out = append(out, n.erlNodes(hidden)...)
	slices.Sort(out)
	return out
}

// Watch calls f whenever a link to another node comes up or goes down
// (reason says why it went down). It returns a function that stops it. f
// runs on the node's own goroutines: it must not block.
func (n *Node) Watch(f func(peer Atom, up bool, reason error)) (stop func()) {
	n.mu.Lock()
	id := n.nextW
	n.nextW++
	n.watchers[id] = f
	n.mu.Unlock()
	return func() {
		n.mu.Lock()
		delete(n.watchers, id)
		n.mu.Unlock()
	}
}

func (n *Node) notify(peer Atom, up bool, reason error) {
	n.mu.Lock()
	ws := make([]func(Atom, bool, error), 0, len(n.watchers))
	for _, w := range n.watchers {
		ws = append(ws, w)
	}
	n.mu.Unlock()
	for _, w := range ws {
		w(peer, up, reason)
	}
}

// Connect makes sure there is a link to peer, making one if needed.
func (n *Node) Connect(ctx context.Context, peer Atom) error {
	if n.erlConn(peer) != nil {
		return nil
	}
	_, err := n.link(ctx, peer)
	_, err = n.erlLinked(peer, err)
	return err
}

// Ping connects to peer if needed and checks the link with a round trip,
// like net_adm:ping.
func (n *Node) Ping(ctx context.Context, peer Atom) error {
	if peer == n.name {
		return nil
	}
	if ec := n.erlConn(peer); ec != nil {
		return ec.ping(ctx)
	}
	l, err := n.link(ctx, peer)
	if err != nil {
		ec, err := n.erlLinked(peer, err)
		if ec != nil {
			return ec.ping(ctx)
		}
		return err
	}
	if _, err := l.sess.Ping(); err != nil {
		l.fail(err)
		return fmt.Errorf("pinging %s: %w", peer, netErr(err))
	}
	return nil
}

// Disconnect drops the link to peer, if any.
func (n *Node) Disconnect(peer Atom) {
	n.mu.Lock()
	l := n.links[peer]
	n.mu.Unlock()
	if l != nil {
		l.close(errors.New("disconnected"))
	}
	if ec := n.erlConn(peer); ec != nil {
		ec.close(errors.New("disconnected"))
	}
}

// link returns the link to peer, dialling it when there is none.
func (n *Node) link(ctx context.Context, peer Atom) (*link, error) {
	if !n.Distributed() {
		return nil, ErrNotDistributed
	}
	if _, _, err := SplitName(peer); err != nil {
		return nil, err
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil, ErrClosed
	}
	if l := n.links[peer]; l != nil && !l.closing() {
		n.mu.Unlock()
		return l, nil
	}
	// A link that is closing is about to leave the table (link.watch):
	// wait for that and dial anew, rather than fail on the old one. So
	// does a link the peer is making.
	if l := n.links[peer]; l != nil || n.accepting[peer] > 0 {
		ch := n.changed
		n.mu.Unlock()
		select {
		case <-ch:
			return n.link(ctx, peer)
		case <-ctx.Done():
			return nil, ctxErr(ctx, peer)
		}
	}
	d := n.dialing[peer]
	if d == nil {
		d = &dialing{done: make(chan struct{})}
		n.dialing[peer] = d
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			l, err := n.dial(peer)
			n.mu.Lock()
			delete(n.dialing, peer)
			d.link, d.err = l, err
			n.mu.Unlock()
			close(d.done)
		}()
	}
	n.mu.Unlock()
	select {
	case <-d.done:
		return d.link, d.err
	case <-ctx.Done():
		return nil, ctxErr(ctx, peer)
	}
}

// ctxErr says why a call ended early: its deadline (ErrTimeout) or a cancel.
func ctxErr(ctx context.Context, peer Atom) error {
	if ctx.Err() == nil || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no answer from %s in time: %w", peer, ErrTimeout)
	}
	return fmt.Errorf("call to %s: %w", peer, ctx.Err())
}

// dial makes a link to peer: a port mapper lookup, a TCP connection and the
// handshake.
func (n *Node) dial(peer Atom) (*link, error) {
	ctx, cancel := context.WithTimeout(n.ctx, 2*n.cfg.HandshakeTimeout)
	defer cancel()
	alive, host, _ := SplitName(peer)
	addr := n.home
	if _, own, _ := SplitName(n.name); host != own {
		var err error
		if addr, err = hostAddr(ctx, host); err != nil {
			return nil, fmt.Errorf("connecting to %s: %w", peer, netErr(err))
		}
	}
	ip := addr.String()
	e, err := n.lookup(ctx, n.mapperAt(addr), host, alive)
	if err != nil {
		if errors.Is(err, ErrUnknownNode) {
			return nil, fmt.Errorf("connecting to %s: %w: no node %s is registered on %s (%w)", peer, ErrNodeDown, alive, host, ErrUnknownNode)
		}
		return nil, fmt.Errorf("connecting to %s: %w", peer, netErr(err))
	}
	if e.Extra != "gsh" {
		return nil, n.dialErlang(ctx, peer, net.JoinHostPort(ip, strconv.Itoa(e.Port)))
	}
	var d net.Dialer
	if la, ok := n.Addr().(*net.TCPAddr); ok && !la.IP.IsUnspecified() && (!la.IP.IsLoopback() || addr.IsLoopback()) {
		d.LocalAddr = &net.TCPAddr{IP: la.IP} // links leave from the address the node listens on
	}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip, strconv.Itoa(e.Port)))
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", peer, netErr(err))
	}
	hs := conn // what the handshake runs on
	var ec *errConn
	if n.cfg.TLS != nil {
		tc, err := n.clientTLS(ctx, conn, peer)
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("connecting to %s: %w", peer, err)
		}
		conn = tc
		ec = &errConn{Conn: tc}
		hs = ec
	}
	// Closing the node stops a handshake under way at once.
	stopClose := context.AfterFunc(n.ctx, func() { conn.Close() })
	them, err := n.clientHandshake(hs, peer)
	if !stopClose() {
		conn.Close()
		return nil, fmt.Errorf("connecting to %s: %w", peer, ErrClosed)
	}
	if errors.Is(err, errDuplicate) {
		conn.Close()
		return n.awaitLink(ctx, peer)
	}
	if err != nil {
		conn.Close()
		if ec != nil && tlsAlert(ec.err) {
			// TLS 1.3: the server checks our certificate after our side
			// of the TLS handshake is done; its refusal comes on our
			// first read.
			return nil, fmt.Errorf("connecting to %s: it refused this node's TLS certificate: %w: %w", peer, ErrTLS, ec.err)
		}
		if errors.Is(err, ErrAuth) {
			return nil, fmt.Errorf("connecting to %s: %w", peer, ErrAuth)
		}
		return nil, fmt.Errorf("connecting to %s: %w", peer, err)
	}
	l, err := n.addLink(conn, them, true)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return l, nil
}

// awaitLink waits for the link that peer is making to this node.
func (n *Node) awaitLink(ctx context.Context, peer Atom) (*link, error) {
	for {
		n.mu.Lock()
		l, ch := n.links[peer], n.changed
		n.mu.Unlock()
		if l != nil {
			return l, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("connecting to %s: the link it was making did not come: %w", peer, ErrNodeDown)
		}
	}
}

func (n *Node) acceptLoop() {
	defer n.wg.Done()
	var delay time.Duration
	var seq uint64 // connections accepted
	for {
		conn, err := n.ln.Accept()
		if err != nil {
			if n.ctx.Err() != nil {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			n.logf("node %s stopped accepting links: %v", n.name, err)
			return
		}
		delay = 0
		seq++
		n.wg.Add(1)
		go func(seq uint64) {
			defer n.wg.Done()
			n.accept(conn, seq)
		}(seq)
	}
}

// accept runs the handshake for a connection another node made: TLS when
// configured, then the cookie handshake. seq is the connection's place in
// the order the node accepted connections in.
func (n *Node) accept(conn net.Conn, seq uint64) {
	secure, them, err := n.serverSide(conn)
	if errors.Is(err, errErlangLinked) || errors.Is(err, errDuplicate) { // an Erlang link, or one the other way
		return
	}
	if err != nil {
		who := "a peer"
		if them.name != "" {
			who = "a node calling itself " + string(them.name)
		}
		line := fmt.Sprintf("refused a connection from %s at %s: %v", who, conn.RemoteAddr(), err)
		if n.limit != nil {
			n.limit.refused(authKey(conn.RemoteAddr()), line)
		} else {
			n.logf("%s", line)
		}
		conn.Close()
		return
	}
	conn = secure
	them.accepted = seq
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		conn.Close()
		return
	}
	if n.dialing[them.name] != nil && n.name < them.name {
		// Both sides are connecting at once: the link made by the node with
		// the smaller name wins, and this one is ours.
		n.mu.Unlock()
		conn.Write(verdict(statusDuplicate, them))
		conn.Close()
		return
	}
	// Until the link is registered, a call to this peer waits for it
	// rather than dialling a second link.
	n.accepting[them.name]++
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		if n.accepting[them.name]--; n.accepting[them.name] <= 0 {
			delete(n.accepting, them.name)
		}
		close(n.changed)
		n.changed = make(chan struct{})
		n.mu.Unlock()
	}()
	if _, err := conn.Write(verdict(statusOK, them)); err != nil {
		conn.Close()
		return
	}
	conn.SetDeadline(time.Time{})
	if _, err := n.addLink(conn, them, false); err != nil {
		conn.Close()
	}
}

// serverSide runs TLS (when configured) and the server side of the cookie
// handshake on a connection another node made. It returns the connection
// the link runs on: conn itself, or the TLS connection over it.
func (n *Node) serverSide(conn net.Conn) (net.Conn, hello, error) {
	deadline := time.Now().Add(n.cfg.HandshakeTimeout)
	conn.SetDeadline(deadline)
	var first [len(handshakeMagic)]byte
	if _, err := io.ReadFull(conn, first[:]); err != nil {
		return nil, hello{}, fmt.Errorf("reading hello: %w", netErr(err))
	}
	if n.cfg.TLS != nil {
		tc, err := n.serverTLS(conn, first[:])
		if err != nil {
			return nil, hello{}, err
		}
		them, err := n.serverHandshake(tc, deadline)
		return tc, them, err
	}
	if erlStartsHello(first[:]) {
		return nil, hello{}, n.acceptErlang(conn, first[:], deadline)
	}
	if first[0] == 0x16 && first[1] == 0x03 { // a TLS handshake record
		return nil, hello{}, fmt.Errorf("not a gsh handshake but a TLS one: the peer runs with TLS, this node without: %w", ErrProtocol)
	}
	them, err := n.serverHandshake(&prefixConn{Conn: conn, prefix: first[:]}, deadline)
	return conn, them, err
}
