package cluster

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gsh/cluster/frame"

	"github.com/hashicorp/yamux"
)

// Stream kinds: the first byte a node writes on a stream it opens.
const (
	streamCall = 'C' // requests and replies, one at a time, reused
)

// maxIdleStreams bounds the call streams a link keeps for reuse.
const maxIdleStreams = 64

// link is the one connection between this node and a peer: a TCP connection
// carrying a yamux session on which either side opens streams.
type link struct {
	n      *Node
	peer   Atom
	hidden bool
	conn   net.Conn
	fc     *frameConn // under sess
	sess   *yamux.Session

	mu        sync.Mutex
	idle      []*callStream
	idleFreed chan struct{}              // see freed
	reading   map[*yamux.Stream]struct{} // streams a goroutine waits to read (see close)

	client   bool   // this node dialled the connection
	creation uint32 // the peer's run
	accepted uint64 // its place in the order of accepted connections (hello.accepted)

	sigOnce  sync.Once
	sig      *sigWriter
	syncs    map[uint64]chan struct{} // opSync signals waiting for their answer (l.mu)
	nextSync uint64

	ylog yamuxLog // why yamux ended the session, when it did

	streams  atomic.Int64 // streams the peer opened that are being served
	refusing atomic.Bool  // a stream was refused for MaxStreams (logged once)
	// calls holds a token for each call stream this node has open to the
	// peer, idle ones included: at most MaxStreams, the bound a peer with
	// the same configuration serves, so a burst of calls waits for a
	// stream instead of being refused.
	calls chan struct{}

	// Fast calls (see fastpath.go), when both nodes offer them.
	fast        bool
	fastID      atomic.Uint64
	fastWaiting map[uint64]*fastWait          // calls made, by id (l.mu)
	fastServed  map[uint64]context.CancelFunc // calls served on goroutines (l.mu)
	fastErr     atomic.Pointer[error]         // why the fast path ended the link
	fastSigID   atomic.Uint64                 // the last id of a signal sent in pieces
	sigUsed     atomic.Bool                   // a signal was sent (see drain)

	once sync.Once
	err  error // why the link closed, set before done is closed
	done chan struct{}
}

func (n *Node) yamuxConfig() *yamux.Config {
	c := yamux.DefaultConfig()
	c.AcceptBacklog = 1024
	c.EnableKeepAlive = true
	c.KeepAliveInterval = n.cfg.TickTime / 3
	c.ConnectionWriteTimeout = n.cfg.TickTime * 2 / 3
	c.LogOutput = io.Discard
	return c
}

// addLink starts yamux on a connection that passed the handshake and makes
// it the link to the peer, replacing any older one.
func (n *Node) addLink(conn net.Conn, them hello, client bool) (*link, error) {
	l := &link{n: n, peer: them.name, hidden: them.flags&flagHidden != 0 || n.cfg.Hidden, conn: conn, done: make(chan struct{}),
		client: client, creation: them.creation, accepted: them.accepted, calls: make(chan struct{}, n.cfg.MaxStreams)}
	var err error
	fc := newFrameConn(conn)
	l.fc = fc
	if them.flags&flagFastCalls != 0 && n.cfg.FastCalls {
		l.fast = true
		fc.rd = &fastReader{l: l, br: bufio.NewReaderSize(conn, 32<<10)}
	}
	cfg := n.yamuxConfig()
	cfg.LogOutput, cfg.Logger = nil, &l.ylog
	if client {
		l.sess, err = yamux.Client(fc, cfg)
	} else {
		l.sess, err = yamux.Server(fc, cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("starting yamux: %w", err)
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		l.sess.Close()
		return nil, ErrClosed
	}
	old := n.links[l.peer]
	if old != nil && old.keeps(l) {
		n.mu.Unlock()
		l.sess.Close()
		return old, nil
	}
	n.links[l.peer] = l
	close(n.changed)
	n.changed = make(chan struct{})
	n.wg.Add(2)
	n.mu.Unlock()
	go l.acceptStreams()
	go l.watch()
	if old != nil {
		n.replaced(old, l)
	}
	n.notify(l.peer, true, nil)
	if !l.hidden && !n.cfg.Hidden {
		n.nodeFound(l.peer)
		// Tell the peer of the nodes we know, so that it connects to them
		// too and the cluster becomes a full mesh, as Erlang's default is.
		if peers := n.Nodes(); len(peers) > 1 {
			list := make([]any, 0, len(peers))
			for _, p := range peers {
				if p != l.peer {
					list = append(list, p)
				}
			}
			n.wg.Add(1)
			go func() {
				defer n.wg.Done()
				l.sendSignal(nodesSignal{Nodes: list})
			}()
		}
	}
	return l, nil
}

// keeps reports whether this link stays when another one to the same run of
// the same peer comes: when two nodes connect to each other at once, both
// keep the connection that the node with the smaller name dialled, so they
// agree on one link. A link from a new run of the peer (it restarted)
// replaces the old one. Of two connections the peer made, the one this node
// accepted later stays, whichever ends its handshake last: a peer dials
// again only once it has dropped its link (Disconnect, then a call), so an
// earlier connection whose handshake ends late is one the peer has closed.
func (l *link) keeps(newer *link) bool {
	select {
	case <-l.done:
		return false
	default:
	}
	if !l.client && !newer.client && l.accepted > newer.accepted {
		return true
	}
	if l.creation != newer.creation || l.client == newer.client {
		return false
	}
	winnerIsOurs := l.n.name < l.peer // the smaller node's dial wins
	return l.client == winnerIsOurs
}

// watch waits for the session to end, then drops the link.
func (l *link) watch() {
	defer l.n.wg.Done()
	select {
	case <-l.sess.CloseChan():
		l.close(l.lostReason())
	case <-l.done:
	}
	n := l.n
	n.mu.Lock()
	current := n.links[l.peer] == l
	if current {
		delete(n.links, l.peer)
		close(n.changed)
		n.changed = make(chan struct{})
	}
	closing := n.closed
	n.mu.Unlock()
	if current {
		if !closing {
			n.logf("node %s down: %v", l.peer, l.err)
		}
		n.notify(l.peer, false, l.err)
		n.nodeLost(l.peer)
	}
}

// close ends the link for reason; safe to call more than once.
func (l *link) close(reason error) {
	l.once.Do(func() {
		l.err = reason
		close(l.done)
		l.mu.Lock()
		idle, reading := l.idle, l.reading
		l.idle, l.reading = nil, nil
		l.mu.Unlock()
		// yamux v0.1.2 busy-loops every Read blocked on a stream of a
		// session being closed, until Close gets to that stream
		// (hashicorp/yamux#176): with a hundred streams that is a CPU
		// spinning for a while, seconds under the race detector. A read
		// deadline in the past ends those reads first.
		for s := range reading {
			s.SetReadDeadline(time.Unix(1, 0))
		}
		l.sess.Close()
		for _, s := range idle {
			s.s.Close()
		}
		l.cancelFast()
	})
}

// closeStream closes s, unless the link is closing: then the end of the
// session closes it, and closing it here first would start yamux's timer
// (StreamCloseTimeout, 5 minutes) that waits for the peer's side of the
// close, which keeps the dead session in memory until it fires.
func (l *link) closeStream(s *yamux.Stream) {
	if !l.closing() {
		s.Close()
	}
}

// closing reports whether the link is closed or closing.
func (l *link) closing() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// startReading records that a goroutine is about to wait on s, so that close
// can end the wait; false means the link is closing.
func (l *link) startReading(s *yamux.Stream) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing() {
		return false
	}
	if l.reading == nil {
		l.reading = map[*yamux.Stream]struct{}{}
	}
	l.reading[s] = struct{}{}
	return true
}

func (l *link) stopReading(s *yamux.Stream) {
	l.mu.Lock()
	delete(l.reading, s)
	l.mu.Unlock()
}

// fail ends the link after a write error: a session that failed a write is
// not trusted again. When the session had ended already, that is the reason.
func (l *link) fail(err error) {
	if l.sess.IsClosed() {
		l.close(l.lostReason())
		return
	}
	l.close(fmt.Errorf("write failed: %w", err))
}

// lostReason says why the session ended without this node closing it: the
// error yamux logged (a keepalive that found the peer silent for TickTime, a
// write that did not go out in time, a protocol error), or the peer closing
// the connection.
func (l *link) lostReason() error {
	if err := l.fastErr.Load(); err != nil {
		return *err
	}
	if s := l.ylog.first.Load(); s != nil {
		return fmt.Errorf("connection lost: %s", *s)
	}
	return errors.New("connection closed")
}

// yamuxLog is a link's yamux logger: it keeps the first error line, which
// says why yamux ended the session, and drops the rest.
type yamuxLog struct{ first atomic.Pointer[string] }

func (y *yamuxLog) Print(v ...any)                 { y.keep(fmt.Sprint(v...)) }
func (y *yamuxLog) Println(v ...any)               { y.keep(fmt.Sprintln(v...)) }
func (y *yamuxLog) Printf(format string, v ...any) { y.keep(fmt.Sprintf(format, v...)) }

func (y *yamuxLog) keep(s string) {
	s, ok := strings.CutPrefix(s, "[ERR] ")
	if !ok {
		return
	}
	s = strings.TrimSpace(strings.TrimPrefix(s, "yamux: "))
	y.first.CompareAndSwap(nil, &s)
}

func (l *link) acceptStreams() {
	defer l.n.wg.Done()
	for {
		s, err := l.sess.AcceptStream()
		if err != nil {
			return
		}
		if l.streams.Add(1) > int64(l.n.cfg.MaxStreams)+1 {
			l.streams.Add(-1)
			l.refuseStream(s)
			continue
		}
		// Not in the node's wait group: a stream may be serving a call
		// that user code holds up, which Close does not wait for.
		go func() {
			defer l.streams.Add(-1)
			l.serveStream(s)
		}()
	}
}

// refuseStream answers a stream past MaxStreams with an error, as the
// reply to the call it would carry, and closes it.
func (l *link) refuseStream(s *yamux.Stream) {
	n := l.n
	if !l.refusing.Swap(true) {
		n.logf("%s has %d streams open to this node, the most it may (cluster.Config.MaxStreams): refusing new ones", l.peer, n.cfg.MaxStreams)
	}
	err := fmt.Errorf("%s refuses a new stream from %s, which has %d open already: %w", n.name, l.peer, n.cfg.MaxStreams, ErrTooLarge)
	if out, eerr := encodeReply(nil, n.name, nil, err); eerr == nil {
		s.SetWriteDeadline(time.Now().Add(time.Second))
		s.Write(out)
	}
	l.closeStream(s)
}

// serveStream serves one stream the peer opened.
func (l *link) serveStream(s *yamux.Stream) {
	defer l.closeStream(s)
	if !l.startReading(s) {
		return
	}
	defer l.stopReading(s)
	br := bufio.NewReaderSize(s, 4096)
	// A stream whose kind and first frame's length do not come within
	// TickTime is dropped, so that idle streams cannot keep their place
	// under MaxStreams.
	s.SetReadDeadline(time.Now().Add(l.n.cfg.TickTime))
	if _, err := br.Peek(5); err != nil && (br.Buffered() == 0 || errors.Is(err, yamux.ErrTimeout)) {
		return
	}
	s.SetReadDeadline(time.Time{})
	if l.closing() {
		return
	}
	kind, _ := br.ReadByte()
	switch kind {
	case streamCall:
		l.serveCalls(s, br)
	case streamSignal:
		l.serveSignals(br)
	default:
		// The link's one log line is watch's "node ... down: <reason>".
		l.close(fmt.Errorf("it opened a stream of unknown kind %q: %w", kind, ErrProtocol))
	}
}

// serveCalls answers requests on a call stream, one at a time, until the peer
// closes it.
func (l *link) serveCalls(s *yamux.Stream, br *bufio.Reader) {
	n := l.n
	buf := make([]byte, 0, 512)
	for {
		frame, err := readFrame(br, n.cfg.MaxFrameSize, buf[:0])
		if err != nil {
			if !errors.Is(err, io.EOF) && !isClosedErr(err) && !l.closing() {
				l.close(fmt.Errorf("bad call frame: %w", err))
			}
			return
		}
		v, err := Decode(frame)
		if err != nil {
			l.close(fmt.Errorf("bad call: %w", err))
			return
		}
		req, err := parseRequest(v)
		var result any
		var c *servedCall
		after := &afterReply{}
		if err == nil {
			c = n.sv.begin("", req, l.peer)
			result, err = l.serveWatched(s, br, req, after)
		}
		out, err := encodeReply(buf[:0], n.name, result, err)
		if err != nil {
			if c != nil {
				n.sv.end(c)
			}
			return
		}
		_, err = s.Write(out)
		if c != nil {
			n.sv.end(c)
		}
		if after.pending() {
			l.fc.drain() // the reply is on the wire before they run
			after.run()
		}
		if err != nil {
			if !isClosedErr(err) {
				l.fail(err)
			}
			return
		}
		if cap(out) <= smallBuf {
			buf = out
		} else {
			recycle(out)
		}
		if cap(frame) > smallBuf && cap(frame) != cap(out) {
			recycle(frame)
		}
	}
}

// request is a call to run on another node (see request.appendTo for its
// wire form, parseRequest for the way back).
type request struct {
	module, function string
	args             []any
	timeout          time.Duration
	leader           *Pid // the caller's group leader, if it named one
}

// newRequest is the request for a call made within ctx, which ends at
// deadline; it names ctx's group leader, if any.
func newRequest(ctx context.Context, module, function string, args []any, deadline time.Time) request {
	req := request{module: module, function: function, args: args, timeout: time.Until(deadline)}
	if leader, ok := GroupLeader(ctx); ok {
		req.leader = &leader
	}
	return req
}

// appendTo appends the request's wire form: [module, function, args,
// timeout in milliseconds], and the caller's group leader when it named
// one.
func (r request) appendTo(dst []byte) ([]byte, error) {
	ms := int(r.timeout / time.Millisecond)
	if r.leader == nil {
		return encodeArray(dst, r.module, r.function, r.args, ms)
	}
	return encodeArray(dst, r.module, r.function, r.args, ms, *r.leader)
}

var errBadRequest = fmt.Errorf("malformed request: %w", ErrProtocol)

// parseRequest turns a decoded wire value into the request it holds (see
// request.appendTo), or errBadRequest. Calls on streams and fast calls
// both come through it.
func parseRequest(v any) (request, error) {
	a, ok := v.([]any)
	if !ok {
		return request{}, errBadRequest
	}
	f := fields{rest: a, ok: true}
	req := request{module: f.str(), function: f.str(), args: f.list(), timeout: time.Duration(f.num()) * time.Millisecond}
	if len(f.rest) > 0 {
		leader := f.pid()
		req.leader = &leader
	}
	if !f.done() {
		return request{}, errBadRequest
	}
	return req, nil
}

// serveWatched serves req while watching its stream: when the caller gives
// up (it closes the stream) or the link goes, the call's context is
// cancelled, which interrupts the function.
func (l *link) serveWatched(s *yamux.Stream, br *bufio.Reader, req request, after *afterReply) (any, error) {
	ctx, cancel := context.WithCancel(l.n.ctx)
	defer cancel()
	ctx = context.WithValue(ctx, afterReplyKey{}, after)
	// Most calls return within microseconds: the stream is watched only
	// once a call has run for watchAfter, so that a short call costs no
	// goroutine and no hand-off between goroutines before its reply.
	var (
		mu      sync.Mutex
		served  bool
		watched chan struct{}
	)
	t := time.AfterFunc(watchAfter, func() {
		mu.Lock()
		defer mu.Unlock()
		if served {
			return
		}
		w := make(chan struct{})
		watched = w
		go func() {
			defer close(w)
			// A caller sends nothing more before the reply: the read ends
			// when it closes the stream, the link closes, or the call is
			// served (the read deadline below).
			if _, err := br.Peek(1); err != nil {
				mu.Lock()
				done := served
				mu.Unlock()
				if !done {
					cancel()
				}
			}
		}()
	})
	result, err := l.n.serveCtx(ctx, l.peer, req)
	t.Stop()
	mu.Lock()
	served = true
	w := watched
	mu.Unlock()
	if w != nil {
		s.SetReadDeadline(time.Unix(1, 0))
		<-w
		s.SetReadDeadline(time.Time{})
		if l.closing() {
			s.SetReadDeadline(time.Unix(1, 0))
		}
	}
	return result, err
}

// watchAfter is how long a served call runs before its stream is watched
// for the caller going away.
const watchAfter = 2 * time.Millisecond

// serve runs one request with the Handler, turning a panic into an error.
func (n *Node) serve(from Atom, req request) (result any, err error) {
	return n.serveCtx(n.ctx, from, req)
}

// serveCtx is serve within ctx.
func (n *Node) serveCtx(ctx context.Context, from Atom, req request) (result any, err error) {
	n.procs().stats.served.Add(1)
	switch req.module {
	case spawnModule:
		if from != n.name {
			return n.serveSpawn(from, req.args, req.leader)
		}
	case globalModule:
		return n.serveGlobal(from, req.function, req.args)
	case ioModule:
		return n.serveIO(from, req)
	}
	if n.cfg.Handler == nil {
		return nil, fmt.Errorf("node %s serves no modules: %w", n.name, ErrUnknownModule)
	}
	if req.leader != nil {
		ctx = WithGroupLeader(ctx, *req.leader)
	}
	if req.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, req.timeout)
		defer cancel()
	}
	defer func() {
		if r := recover(); r != nil {
			result, err = nil, &PanicError{Value: r}
		}
		// Stopped at the caller's deadline: whatever the function made of
		// being stopped, the caller is told it timed out, as it would be
		// had its own deadline come first.
		if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			result, err = nil, fmt.Errorf("%s.%s ran past the caller's deadline: %w", req.module, req.function, ErrTimeout)
		}
	}()
	return n.cfg.Handler.HandleCall(ctx, from, req.module, req.function, req.args)
}

// encodeReply appends a framed reply: the result, or the error as a
// RemoteError naming this node.
func encodeReply(dst []byte, node Atom, result any, err error) ([]byte, error) {
	dst, start := frame.Begin(dst)
	var v any = result
	if err != nil {
		v = remoteError(node, err)
	}
	out, eerr := EncodeFrom(dst, v, node)
	if eerr != nil {
		out, eerr = EncodeFrom(dst, remoteError(node, fmt.Errorf("the result cannot be sent: %w", eerr)), node)
		if eerr != nil {
			return nil, eerr
		}
	}
	frame.End(out, start)
	return out, nil
}

func remoteError(node Atom, err error) *RemoteError {
	var re *RemoteError
	if errors.As(err, &re) && re.Node != "" && errors.Is(err, re.Unwrap()) && err.Error() == re.Error() {
		return re
	}
	return &RemoteError{Node: node, Kind: ErrorKind(err), Msg: err.Error()}
}

// readFrame is frame.Read, with a frame larger than smallBuf read into a
// buffer from the pool when it has one large enough.
func readFrame(br *bufio.Reader, limit int, buf []byte) ([]byte, error) {
	if h, err := br.Peek(4); err == nil {
		if size := int(binary.BigEndian.Uint32(h)); size > cap(buf) && size <= limit {
			if b, ok := pooledBuf(size); ok {
				buf = b
			}
		}
	}
	return frame.Read(br, limit, buf)
}

// isClosedErr reports whether err says that a stream or the session ended,
// rather than that something broke. A stream reset by the peer is one: yamux
// resets a stream whose close the other side did not answer within
// StreamCloseTimeout, such as a call's stream that the caller gave up on
// while the function ran; its late reply must not fail the whole link.
func isClosedErr(err error) bool {
	return errors.Is(err, yamux.ErrStreamClosed) || errors.Is(err, yamux.ErrSessionShutdown) ||
		errors.Is(err, yamux.ErrConnectionReset) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF)
}

// Large frames reuse buffers: a 1 MiB value sent over and over would
// otherwise allocate its buffers anew each time, and the garbage collector
// that follows slows the small calls beside it.
var bigBufs sync.Pool // *[]byte of more than smallBuf bytes

const smallBuf = 64 << 10

// pooledBuf gives a buffer from the pool with room for n bytes, if it has one.
func pooledBuf(n int) ([]byte, bool) {
	p, ok := bigBufs.Get().(*[]byte)
	if !ok {
		return nil, false
	}
	if cap(*p) < n {
		bigBufs.Put(p)
		return nil, false
	}
	return (*p)[:0], true
}

// recycle keeps a large buffer for the next large frame.
func recycle(b []byte) {
	if cap(b) > smallBuf && cap(b) <= 64<<20 {
		b = b[:0]
		bigBufs.Put(&b)
	}
}

// sizeHint is a lower bound of the encoded size of args: the lengths of
// the strings and byte slices among them.
func sizeHint(args []any) int {
	n := 0
	for _, a := range args {
		switch v := a.(type) {
		case []byte:
			n += len(v)
		case string:
			n += len(v)
		}
	}
	return n
}

// current is the link to peer now, if any.
func (n *Node) current(peer Atom) *link {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.links[peer]
}

// writeChunk is the size of the pieces a large request is written in, so
// that other streams' frames (small calls beside it) go out between them.
const writeChunk = 16 << 10

// writeChunks writes b in pieces of writeChunk bytes.
func writeChunks(s *yamux.Stream, b []byte) error {
	for len(b) > 0 {
		k := min(len(b), writeChunk)
		if _, err := s.Write(b[:k]); err != nil {
			return err
		}
		b = b[k:]
	}
	return nil
}

// callStream is a stream this node opened for calls, reused one call at a time.
type callStream struct {
	s   *yamux.Stream
	br  *bufio.Reader
	buf []byte
	new bool // the stream kind byte is still to be sent
}

// getStream gives an idle call stream, or opens one when fewer than
// MaxStreams are open, or waits for one to be given back or closed.
func (l *link) getStream(ctx context.Context) (*callStream, error) {
	for {
		l.mu.Lock()
		if k := len(l.idle); k > 0 {
			cs := l.idle[k-1]
			l.idle = l.idle[:k-1]
			l.mu.Unlock()
			return cs, nil
		}
		l.mu.Unlock()
		select {
		case l.calls <- struct{}{}:
		default:
			select {
			case l.calls <- struct{}{}:
			case <-l.freed():
				continue // one went back to idle: take it
			case <-l.done:
				return nil, fmt.Errorf("opening a stream to %s: %w", l.peer, netErr(l.err))
			case <-ctx.Done():
				return nil, fmt.Errorf("waiting for one of the %d streams to %s: %w", cap(l.calls), l.peer, ctxErr(ctx, l.peer))
			}
		}
		s, err := l.sess.OpenStream()
		if err != nil {
			<-l.calls
			return nil, fmt.Errorf("opening a stream to %s: %w", l.peer, netErr(err))
		}
		return &callStream{s: s, br: bufio.NewReaderSize(s, 4096), buf: make([]byte, 0, 512), new: true}, nil
	}
}

// freed is closed when a call stream goes back to idle while callers wait
// for one (see getStream).
func (l *link) freed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.idleFreed == nil {
		l.idleFreed = make(chan struct{})
	}
	return l.idleFreed
}

// dropStream closes a call stream for good, giving its token back.
func (l *link) dropStream(cs *callStream) {
	l.closeStream(cs.s)
	<-l.calls
}

func (l *link) putStream(cs *callStream) {
	l.mu.Lock()
	select {
	case <-l.done:
	default:
		if len(l.idle) < maxIdleStreams {
			l.idle = append(l.idle, cs)
			if l.idleFreed != nil {
				close(l.idleFreed)
				l.idleFreed = nil
			}
			l.mu.Unlock()
			return
		}
	}
	l.mu.Unlock()
	l.dropStream(cs)
}

// Call runs module.function(args...) on node peer and returns its result
// (see Invoke for how results become one value). A call to this node's own
// name runs here. Errors wrap the Err* sentinels: ErrNodeDown, ErrAuth,
// ErrUnknownNode, ErrTimeout, and, from the remote node, ErrUnknownModule,
// ErrUnknownFunction, ErrBadArgs, ErrPanic (as a *RemoteError).
// Without a deadline in ctx, Config.CallTimeout applies.
func (n *Node) Call(ctx context.Context, peer Atom, module, function string, args ...any) (any, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.cfg.CallTimeout)
		defer cancel()
	}
	n.procs().stats.calls.Add(1)
	if peer == n.name {
		return n.localCall(ctx, module, function, args)
	}
	if !n.Distributed() {
		return nil, fmt.Errorf("calling %s: %w", peer, ErrNotDistributed)
	}
	if ec := n.erlConn(peer); ec != nil {
		return ec.call(ctx, module, function, args)
	}
	l, err := n.link(ctx, peer)
	if err != nil {
		ec, err := n.erlLinked(peer, err)
		if ec == nil {
			return nil, err
		}
		return ec.call(ctx, module, function, args)
	}
	deadline, _ := ctx.Deadline()
	if l.fast {
		if v, ok, err := l.callFast(ctx, module, function, args, deadline); ok {
			return v, err
		}
	}
	cs, err := l.getStream(ctx)
	if err != nil {
		// When two nodes connect to each other at once, the link a call
		// picked up may lose to the other one before its first stream;
		// nothing was sent, so go on over the link that stays.
		if now := n.current(peer); now != nil && now != l {
			l = now
			cs, err = l.getStream(ctx)
		}
		if err != nil {
			return nil, err
		}
	}
	out := cs.buf[:0]
	if hint := sizeHint(args); hint > smallBuf {
		if b, ok := pooledBuf(hint + 4096); ok {
			out = b
		}
	}
	if cs.new {
		out = append(out, streamCall)
	}
	fresh := cs.new
	out, start := frame.Begin(out)
	out, err = newRequest(ctx, module, function, args, deadline).appendTo(out)
	if err != nil {
		l.putStream(cs)
		return nil, fmt.Errorf("calling %s.%s on %s: %w", module, function, peer, err)
	}
	if size := frame.End(out, start); size > n.cfg.MaxFrameSize {
		l.putStream(cs)
		return nil, fmt.Errorf("calling %s.%s on %s: a request of %d bytes: %w", module, function, peer, size, ErrTooLarge)
	}
	if !l.startReading(cs.s) {
		return nil, fmt.Errorf("calling %s.%s on %s: %w", module, function, peer, netErr(l.err))
	}
	cs.s.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { cs.s.SetDeadline(time.Unix(1, 0)) })
	err = writeChunks(cs.s, out)
	// yamux may report its session shut down even though the request went
	// out (a peer that answered and then closed): its reply may be here.
	if err == nil || errors.Is(err, yamux.ErrSessionShutdown) {
		cs.new = false
		var frame []byte
		frame, err = readFrame(cs.br, n.cfg.MaxFrameSize, out[:0])
		l.stopReading(cs.s)
		if err == nil {
			// When the deadline's callback already ran, it may set a past
			// deadline on the stream at any moment: do not reuse it.
			reuse := stop()
			var v any
			v, err = Decode(frame)
			if cap(frame) <= smallBuf {
				cs.buf = frame[:0]
			} else {
				recycle(frame) // the request's buffer, which the reply reused
			}
			if err != nil {
				l.close(fmt.Errorf("bad reply: %w", err))
				return nil, fmt.Errorf("reply from %s: %w", peer, err)
			}
			re, _ := v.(*RemoteError)
			if fresh && re != nil && errors.Is(re, ErrTooLarge) {
				// The peer may have refused the stream itself.
				reuse = false
			}
			if reuse {
				l.putStream(cs)
			} else {
				l.dropStream(cs)
			}
			if re, ok := v.(*RemoteError); ok {
				return nil, re
			}
			return v, nil
		}
	} else {
		l.stopReading(cs.s)
	}
	stop()
	l.dropStream(cs)
	select {
	case <-l.done:
		return nil, fmt.Errorf("calling %s.%s on %s: %w", module, function, peer, netErr(l.err))
	default:
	}
	if ctx.Err() != nil || errors.Is(err, yamux.ErrTimeout) { // our own deadline
		return nil, ctxErr(ctx, peer)
	}
	l.fail(err)
	return nil, fmt.Errorf("calling %s.%s on %s: %w", module, function, peer, netErr(l.err))
}

// localCall runs a call to this node's own name, copying the values through
// the codec as a remote call would.
func (n *Node) localCall(ctx context.Context, module, function string, args []any) (any, error) {
	b, err := Encode(nil, args)
	if err != nil {
		return nil, fmt.Errorf("calling %s.%s: %w", module, function, err)
	}
	v, err := Decode(b)
	if err != nil {
		return nil, err
	}
	a, _ := v.([]any)
	req := request{module: module, function: function, args: a}
	if leader, ok := GroupLeader(ctx); ok {
		req.leader = &leader
	}
	if d, ok := ctx.Deadline(); ok {
		req.timeout = time.Until(d)
	}
	res, err := n.serve(n.name, req)
	if err != nil {
		return nil, remoteError(n.name, err)
	}
	b, err = Encode(nil, res)
	if err != nil {
		return nil, remoteError(n.name, fmt.Errorf("the result cannot be sent: %w", err))
	}
	return Decode(b)
}
