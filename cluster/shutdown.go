package cluster

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// served tracks the calls and casts a node runs for other nodes: user code
// that Close does not wait for and Shutdown waits for until its deadline.
// Recording one costs no allocation of a description or a channel: those
// are made only when Shutdown asks (running, done).
type served struct {
	mu    sync.Mutex
	calls map[*servedCall]struct{}
	idle  chan struct{} // made by done while calls are served, closed when none is
}

// servedCall is a call or cast being served: what ran (kind, module,
// function) for whom.
type servedCall struct {
	kind, module, function string
	from                   Atom
}

func (c *servedCall) what() string {
	return c.kind + c.module + "." + c.function + " from " + string(c.from)
}

// begin records a call being served; end(c) when it has returned. kind is
// "" for a call and "rpc.cast " for a cast.
func (s *served) begin(kind string, req request, from Atom) *servedCall {
	c := &servedCall{kind: kind, module: req.module, function: req.function, from: from}
	s.mu.Lock()
	if s.calls == nil {
		s.calls = map[*servedCall]struct{}{}
	}
	s.calls[c] = struct{}{}
	s.mu.Unlock()
	return c
}

func (s *served) end(c *servedCall) {
	s.mu.Lock()
	delete(s.calls, c)
	if len(s.calls) == 0 && s.idle != nil {
		close(s.idle)
		s.idle = nil
	}
	s.mu.Unlock()
}

// done is closed once no call is being served.
func (s *served) done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.calls) == 0 {
		c := make(chan struct{})
		close(c)
		return c
	}
	if s.idle == nil {
		s.idle = make(chan struct{})
	}
	return s.idle
}

// running describes the calls being served, sorted.
func (s *served) running() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.calls))
	for c := range s.calls {
		out = append(out, c.what())
	}
	slices.Sort(out)
	return out
}

// ShutdownError is what Shutdown returns when its context ended before the
// calls this node serves for other nodes returned: the node is closed, and
// Abandoned describes each call left running ("time.Sleep from
// bilbo@host"). It unwraps to the context's error.
type ShutdownError struct {
	Abandoned []string
	Err       error
}

func (e *ShutdownError) Error() string {
	calls := "served calls"
	if len(e.Abandoned) == 1 {
		calls = "served call"
	}
	return fmt.Sprintf("shutdown abandoned %d %s (%s)", len(e.Abandoned), calls, strings.Join(e.Abandoned, ", "))
}

func (e *ShutdownError) Unwrap() error { return e.Err }

// Shutdown closes the node gracefully, as net/http's Server.Shutdown does:
// it stops accepting links and drops the port mapper registration, cancels
// the context of every call it serves and of every process, sends what was
// already queued for other nodes (messages, casts, link and monitor
// signals) and waits for the peers to have it, waits for the served calls
// to return, then closes every link. When ctx ends first, Shutdown closes
// the node all the same, without waiting for the calls still running, and
// returns a *ShutdownError naming them (or ctx.Err() when it ended in the
// flush). Calling Shutdown or Close again does nothing.
func (n *Node) Shutdown(ctx context.Context) error {
	links, ok := n.stop()
	if !ok {
		return nil
	}
	n.drain(ctx, links)
	select {
	case <-n.sv.done():
	case <-ctx.Done():
	}
	n.drain(ctx, links) // the replies and signals of calls that just ended
	shutdownLinks(links)
	waited := make(chan struct{})
	go func() {
		n.wg.Wait()
		n.flushRefusals()
		close(waited)
	}()
	select {
	case <-waited:
	case <-ctx.Done():
	}
	if left := n.sv.running(); len(left) > 0 {
		return &ShutdownError{Abandoned: left, Err: ctx.Err()}
	}
	return ctx.Err()
}

// Close closes the node at once: it drops the port mapper registration,
// cancels the context of every served call and process, and closes every
// link without sending what was still queued; it waits for the node's own
// goroutines, not for the calls it serves (see Shutdown). Safe to call more
// than once.
func (n *Node) Close() error {
	links, ok := n.stop()
	if !ok {
		return nil
	}
	for _, l := range links {
		l.close(ErrClosed)
	}
	n.wg.Wait()
	n.flushRefusals()
	return nil
}

// flushRefusals logs the handshake refusals not yet summed up, once the
// handshakes have ended.
func (n *Node) flushRefusals() {
	if n.limit != nil {
		n.limit.flush()
	}
}

// stop marks the node closed, stops the listener and the registration and
// cancels the node's context; false when it was closed already.
func (n *Node) stop() ([]*link, bool) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil, false
	}
	n.closed = true
	links := make([]*link, 0, len(n.links))
	for _, l := range n.links {
		links = append(links, l)
	}
	n.mu.Unlock()
	n.cancel()
	if n.ln != nil {
		n.ln.Close()
	}
	if r := n.reg.Load(); r != nil {
		r.Close()
	}
	return links, true
}

// drain waits, until ctx ends, for every link's queued signals to be
// written and for its peer to have read them: a ping's answer comes after
// the peer has read everything sent before the ping.
func (n *Node) drain(ctx context.Context, links []*link) {
	var wg sync.WaitGroup
	for _, l := range links {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.drain(ctx)
		}()
	}
	wg.Wait()
}

func (l *link) drain(ctx context.Context) {
	if !l.sigUsed.Load() {
		// No signals: what is left are replies and the like, on streams
		// the peer reads already; a ping's answer comes once it has them.
		pong := make(chan struct{})
		go func() {
			defer close(pong)
			l.sess.Ping()
		}()
		select {
		case <-pong:
		case <-ctx.Done():
		case <-l.done:
		}
		return
	}
	// The peer answers opSync once it has applied every signal before it.
	l.mu.Lock()
	if l.syncs == nil {
		l.syncs = map[uint64]chan struct{}{}
	}
	l.nextSync++
	id, done := l.nextSync, make(chan struct{})
	l.syncs[id] = done
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.syncs, id)
		l.mu.Unlock()
	}()
	if err := l.sendSignal(syncSignal{ID: id}); err != nil {
		return
	}
	select {
	case <-done:
	case <-ctx.Done():
	case <-l.done:
	}
}

// synced wakes the drain waiting for the answer to opSync id.
func (l *link) synced(id uint64) {
	l.mu.Lock()
	if c, ok := l.syncs[id]; ok {
		close(c)
		delete(l.syncs, id)
	}
	l.mu.Unlock()
}

// goSystem runs f on a goroutine of the node's own, which Close waits for;
// false (and f does not run) when the node is closed.
func (n *Node) goSystem(f func()) bool {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return false
	}
	n.wg.Add(1)
	n.mu.Unlock()
	go func() {
		defer n.wg.Done()
		f()
	}()
	return true
}
