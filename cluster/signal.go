package cluster

import (
	"bufio"
	"context"
	"fmt"
	"sync"

	"gsh/cluster/frame"

	"github.com/hashicorp/yamux"
)

// Signals between processes on two nodes travel in order, each one wire
// value, an array of its op and its fields (one Go type per signal, in
// signals.go): as fast frames between gsh nodes with them (fastsignal.go),
// otherwise as frames on one stream per direction (kind streamSignal) that
// the sending node opens on first use.
const (
	opSend      = 1 // to Pid|string, msg
	opLink      = 2 // from, to
	opUnlink    = 3 // from, to
	opExit      = 4 // from, to, reason
	opMonitor   = 5 // watcher, target, ref id
	opDemonitor = 6 // target, ref id
	opDown      = 7 // watcher, ref id, pid, reason
	opNodes     = 8 // the sender's visible nodes, for transitive connections
	opCast      = 9 // module, function, args

	streamSignal = 'M'
)

// Signals about the link itself.
const (
	opDisplaced = 10 // the address of the link that replaced this one (see Node.replaced)
	opReplaced  = 11 // the address of the live link this one replaced
	opSync      = 12 // id: answered with opSynced once every signal before it is applied
	opSynced    = 13 // id
)

// maxPendingSignals bounds the bytes of signals waiting to be written to one
// link; a sender waits while it is over.
const maxPendingSignals = 8 << 20

// sigWriter batches signal frames: senders append frames to a buffer and
// wake the link's flusher goroutine, which writes whatever has gathered in
// one write; frames that come while a write is under way go out together in
// the next one, so one sender can go on while the network works.
type sigWriter struct {
	l    *link
	mu   sync.Mutex
	cond sync.Cond // signalled when the buffer is taken by the flusher
	kick chan struct{}
	s    *yamux.Stream
	out  batch
	err  error
}

func (l *link) signals() *sigWriter {
	l.sigOnce.Do(func() {
		w := &sigWriter{l: l, kick: make(chan struct{}, 1)}
		w.cond.L = &w.mu
		l.sig = w
	})
	return l.sig
}

// write frames v and queues it, in order after the frames written before.
// A frame over MaxFrameSize is not queued: it fails with ErrTooLarge.
func (w *sigWriter) write(v signal) error {
	w.mu.Lock()
	for w.err == nil && len(w.out.buf) > maxPendingSignals {
		w.cond.Wait()
	}
	if w.err != nil {
		err := w.err
		w.mu.Unlock()
		return err
	}
	if w.s == nil {
		s, err := w.l.sess.OpenStream()
		if err != nil {
			w.err = fmt.Errorf("opening the signal stream to %s: %w", w.l.peer, netErr(err))
			w.mu.Unlock()
			return w.err
		}
		if !w.l.n.goSystem(w.flush) {
			s.Close()
			w.err = fmt.Errorf("sending to %s: %w", w.l.peer, ErrClosed)
			w.mu.Unlock()
			return w.err
		}
		w.s = s
		w.out.buf = append(w.out.buf, streamSignal)
	}
	var start int
	w.out.buf, start = frame.Begin(w.out.buf)
	out, err := appendSignal(w.out.buf, v)
	if err != nil {
		w.out.buf = w.out.buf[:start]
		w.mu.Unlock()
		return err
	}
	size := frame.End(out, start)
	if size > w.l.n.cfg.MaxFrameSize {
		w.out.buf = out[:start]
		w.mu.Unlock()
		return fmt.Errorf("a message of %d bytes: %w", size, ErrTooLarge)
	}
	w.out.buf = out
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
	return nil
}

// flush writes what senders queue until the link ends. It leaves the
// stream open: the link's end closes it (see link.closeStream).
func (w *sigWriter) flush() {
	for {
		select {
		case <-w.kick:
		case <-w.l.done:
			w.mu.Lock()
			if w.err == nil {
				w.err = fmt.Errorf("sending to %s: %w", w.l.peer, netErr(w.l.err))
			}
			w.cond.Broadcast()
			w.mu.Unlock()
			return
		}
		w.mu.Lock()
		b := w.out.take()
		w.cond.Broadcast()
		w.mu.Unlock()
		if len(b) == 0 {
			continue
		}
		_, err := w.s.Write(b)
		w.mu.Lock()
		w.out.done(b)
		if err != nil && w.err == nil {
			w.err = fmt.Errorf("sending to %s: %w", w.l.peer, netErr(err))
			w.cond.Broadcast()
		}
		w.mu.Unlock()
		if err != nil {
			w.l.fail(err)
			return
		}
	}
}

// signal sends one signal frame to peer, connecting first when needed for
// the signals a process sends on purpose (messages, links, monitors); the
// ones the system sends when something ends go only over a link that exists.
func (n *Node) signal(peer Atom, frame signal) error {
	if !n.Distributed() {
		return ErrNotDistributed
	}
	if n.ctx.Err() != nil {
		// The node is closing: its processes end as its links go down,
		// and the other nodes see noconnection for them, not the reason
		// the closing gave them (which could otherwise race the link's
		// end and arrive first).
		return fmt.Errorf("signal to %s: %w", peer, ErrClosed)
	}
	if ok, err := n.erlSignal(peer, frame); ok {
		return err
	}
	switch frame.(type) {
	case exitSignal, downSignal, demonitorSignal, unlinkSignal:
		n.mu.Lock()
		l := n.links[peer]
		n.mu.Unlock()
		if l == nil {
			return fmt.Errorf("no link to %s: %w", peer, ErrNodeDown)
		}
		return l.sendSignal(frame)
	}
	n.mu.Lock()
	l := n.links[peer]
	n.mu.Unlock()
	if l == nil {
		ctx, cancel := context.WithTimeout(n.ctx, 2*n.cfg.HandshakeTimeout)
		defer cancel()
		var err error
		if l, err = n.link(ctx, peer); err != nil {
			ec, err := n.erlLinked(peer, err)
			if ec == nil {
				return err
			}
			return ec.signal(frame)
		}
	}
	return l.sendSignal(frame)
}

// sendMessage sends msg to a process of peer, to being its Pid or the name
// it is registered under: n.signal(peer, sendSignal{To: to, Msg: msg}),
// without boxing the signal when a link with fast frames to peer is up.
func (n *Node) sendMessage(peer Atom, to, msg any) error {
	if n.Distributed() && n.ctx.Err() == nil && n.erlConn(peer) == nil {
		n.mu.Lock()
		l := n.links[peer]
		n.mu.Unlock()
		if l != nil && l.fast {
			return l.sendMessage(to, msg)
		}
	}
	return n.signal(peer, sendSignal{To: to, Msg: msg})
}

// serveSignals applies the signals the peer sends, in order.
func (l *link) serveSignals(br *bufio.Reader) {
	n := l.n
	var buf []byte
	var sd signalDecoder
	for {
		frame, err := readFrame(br, n.cfg.MaxFrameSize, buf)
		if err != nil {
			if !isClosedErr(err) && !l.closing() {
				l.close(fmt.Errorf("bad signal frame: %w", err))
			}
			return
		}
		if cap(frame) <= 64<<10 {
			buf = frame
		}
		if err := l.applySignal(&sd, frame); err != nil {
			l.close(fmt.Errorf("bad signal: %w", err))
			return
		}
	}
}

// appendSignal appends the wire form of one signal to dst.
func appendSignal(dst []byte, s signal) ([]byte, error) {
	return s.appendTo(dst)
}

// applySignal decodes, with sd, and applies one signal frame's body. An
// error means the peer broke the protocol: the link ends.
func (l *link) applySignal(sd *signalDecoder, body []byte) error {
	m, s, err := sd.decode(body, DefaultDecodeLimits)
	if err != nil {
		return err
	}
	if s == nil {
		l.deliver(m, len(body))
		return nil
	}
	return l.apply(s, len(body))
}

// deliver delivers a message from the peer, size bytes on the wire.
func (l *link) deliver(m sendSignal, size int) {
	n := l.n
	var p *Process
	switch to := m.To.(type) {
	case Pid:
		p = n.process(to)
	case string:
		p = n.registered(to)
	}
	if p != nil {
		// Dropped when p's mailbox is full: see DefaultMailboxLimit.
		p.deliverRemote(l.peer, m.Msg, size)
	}
}

// apply applies one signal from the peer, size bytes on the wire. An error
// means the peer broke the protocol.
func (l *link) apply(s signal, size int) error {
	n := l.n
	switch m := s.(type) {
	case sendSignal:
		l.deliver(m, size)
	case linkSignal:
		if m.From.Node != l.peer {
			return errBadSignal
		}
		if p := n.process(m.To); p == nil || !p.addLink(m.From) {
			n.exitSignal(m.To, m.From, NoProc, true)
		}
	case unlinkSignal:
		if p := n.process(m.To); p != nil {
			p.mu.Lock()
			delete(p.links, m.From)
			p.mu.Unlock()
		}
	case exitSignal:
		n.exitSignal(m.From, m.To, m.Reason, true)
	case monitorSignal:
		if m.Watcher.Node != l.peer {
			return errBadSignal
		}
		r := Ref{Node: m.Watcher.Node, ID: m.Ref}
		if p := n.process(m.Target); p == nil || !p.addWatcher(r, m.Watcher) {
			n.deliverDown(m.Watcher, r, m.Target, NoProc)
		}
	case demonitorSignal:
		if p := n.process(m.Target); p != nil {
			p.mu.Lock()
			delete(p.watchers, Ref{Node: l.peer, ID: m.Ref})
			p.mu.Unlock()
		}
	case downSignal:
		n.deliverDown(m.Watcher, Ref{Node: n.name, ID: m.Ref}, m.Target, m.Reason)
	case nodesSignal:
		n.connectKnown(l.peer, m.Nodes)
	case castSignal:
		if m.Module == globalModule { // the global name table's own, applied in order
			if _, err := n.serveGlobal(l.peer, m.Function, m.Args); err != nil {
				n.logf("global %s from %s: %v", m.Function, l.peer, err)
			}
			return nil
		}
		n.castIn(l.peer, request{module: m.Module, function: m.Function, args: m.Args}, size)
	case syncSignal:
		// Not through n.signal: a closing node answers too.
		l.sendSignal(syncedSignal{ID: m.ID})
	case syncedSignal:
		l.synced(m.ID)
	case displacedSignal:
		n.warnIdentity(l, opDisplaced, m.Addr)
	case replacedSignal:
		n.warnIdentity(l, opReplaced, m.Addr)
	default:
		return fmt.Errorf("a signal of type %T: %w", s, ErrProtocol)
	}
	return nil
}

// Cast runs module.function(args...) on peer without waiting for it
// (rpc:cast): the call goes in order with other signals to that node, and
// runs there as a process of its own. A node runs at most
// Config.MaxCastsPerPeer casts from one peer at once and queues a bounded
// number more; past that, casts are dropped and logged there (see
// DefaultMaxCastsPerPeer).
func (n *Node) Cast(peer Atom, module, function string, args ...any) error {
	if args == nil {
		args = []any{}
	}
	if peer == n.name {
		n.castIn(n.name, request{module: module, function: function, args: args}, 0)
		return nil
	}
	return n.signal(peer, castSignal{Module: module, Function: function, Args: args})
}

// MultiCall calls module.function(args...) on every node in nodes at once
// (rpc:multicall) and returns the results of the nodes that answered, in the
// order of nodes, and the nodes that failed.
func (n *Node) MultiCall(ctx context.Context, nodes []Atom, module, function string, args ...any) (results []any, bad []Atom) {
	res := make([]any, len(nodes))
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, peer := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i], errs[i] = n.Call(ctx, peer, module, function, args...)
		}()
	}
	wg.Wait()
	results = []any{}
	for i, err := range errs {
		if err != nil {
			bad = append(bad, nodes[i])
			continue
		}
		results = append(results, res[i])
	}
	return results, bad
}
