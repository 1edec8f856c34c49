package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Incoming casts. Each rpc cast runs as a process of its own (listed by
// Processes as "cast module.function", stopped by Kill or an exit signal),
// counted by Config.MaxProcesses. At most Config.MaxCastsPerPeer casts from
// one peer run at once; the casts that come while that many run wait in
// order in the peer's queue, which holds at most castQueueLen casts and
// castQueueBytes bytes (their size on the wire, plus castCost each). A cast
// that finds the queue full, or the node at its process limit when its turn
// comes, is dropped: counted (Node.CastsDropped) and logged, one line each
// time drops start. Casts are fire-and-forget, as Erlang's rpc:cast: waiting
// for room instead would hold the link's signals, applied in order by the
// goroutine that reads the link, and with them every message, link and
// monitor between the two nodes.
const (
	DefaultMaxCastsPerPeer = 256
	castQueueLen           = 16384
	castQueueBytes         = 16 << 20
	castCost               = 256
)

// castQueue is the casts from one peer: how many run, and those waiting.
type castQueue struct {
	running int
	q       []queuedCast
	head    int
	queued  int    // bytes (estimated) of the casts in q
	full    bool   // dropping: logged, until a cast starts with the queue at half its bounds
	dropped uint64 // since the node started, for this peer
}

type queuedCast struct {
	req  request
	cost int
}

// castTable is a node's incoming casts, by peer. A peer's entry goes when
// none of its casts runs or waits.
type castTable struct {
	mu      sync.Mutex
	peers   map[Atom]*castQueue
	dropped uint64
}

func (n *Node) castTable() *castTable {
	pt := n.procs()
	pt.castOnce.Do(func() { pt.casts = &castTable{peers: map[Atom]*castQueue{}} })
	return pt.casts
}

// CastsDropped is how many incoming casts the node dropped because a
// peer's queue was full or the node was at its process limit.
func (n *Node) CastsDropped() uint64 {
	ct := n.castTable()
	ct.mu.Lock()
	defer ct.mu.Unlock()
	return ct.dropped
}

// castIn takes a cast from peer, size bytes on the wire: it starts it, queues
// it, or drops it (see DefaultMaxCastsPerPeer). It never blocks.
func (n *Node) castIn(from Atom, req request, size int) {
	ct := n.castTable()
	cost := size + castCost
	ct.mu.Lock()
	cq := ct.peers[from]
	if cq == nil {
		cq = &castQueue{}
		ct.peers[from] = cq
	}
	if cq.running < n.maxCastsPerPeer() {
		cq.running++
		ct.mu.Unlock()
		go n.runCasts(from, cq, req)
		return
	}
	waiting := len(cq.q) - cq.head
	if waiting >= castQueueLen || (cq.queued > 0 && cq.queued+cost > castQueueBytes) {
		first, dropped := ct.dropLocked(cq)
		ct.mu.Unlock()
		if first {
			n.logf("rpc casts from %s come faster than they run: %d run and %d wait, the most this node holds for one peer, so %s.%s and the casts after it are dropped until the queue empties (%d dropped so far)",
				from, cq.running, waiting, req.module, req.function, dropped)
		}
		return
	}
	cq.q = append(cq.q, queuedCast{req: req, cost: cost})
	cq.queued += cost
	ct.mu.Unlock()
}

// dropLocked counts a dropped cast and reports whether it starts a run of
// drops, which the caller logs. ct.mu is held.
func (ct *castTable) dropLocked(cq *castQueue) (first bool, dropped uint64) {
	cq.dropped++
	ct.dropped++
	first = !cq.full
	cq.full = true
	return first, cq.dropped
}

func (n *Node) maxCastsPerPeer() int {
	if n.cfg.MaxCastsPerPeer <= 0 {
		return DefaultMaxCastsPerPeer
	}
	return n.cfg.MaxCastsPerPeer
}

// runCasts runs req, then the casts waiting in cq, one after the other,
// until none waits. Like served calls, casts are user code that Close does
// not wait for and Shutdown waits for until its deadline.
func (n *Node) runCasts(from Atom, cq *castQueue, req request) {
	ct := n.castTable()
	for {
		n.runCast(from, cq, req)
		ct.mu.Lock()
		if cq.head == len(cq.q) {
			cq.q, cq.head = nil, 0
			cq.running--
			if cq.running == 0 && ct.peers[from] == cq {
				delete(ct.peers, from)
			}
			ct.mu.Unlock()
			return
		}
		next := cq.q[cq.head]
		cq.q[cq.head] = queuedCast{}
		cq.head++
		cq.queued -= next.cost
		if cq.head > 1024 && cq.head*2 > len(cq.q) {
			k := copy(cq.q, cq.q[cq.head:])
			clear(cq.q[k:])
			cq.q, cq.head = cq.q[:k], 0
		}
		ct.mu.Unlock()
		req = next.req
	}
}

// runCast runs one cast as a process, on the calling goroutine.
func (n *Node) runCast(from Atom, cq *castQueue, req request) {
	if n.ctx.Err() != nil {
		return // the node is closing
	}
	ct := n.castTable()
	p, err := n.TryNewProcess()
	if err != nil {
		ct.mu.Lock()
		first, dropped := ct.dropLocked(cq)
		ct.mu.Unlock()
		if first {
			n.logf("rpc.cast %s.%s from %s dropped, and casts after it until processes end: %v (%d dropped so far)", req.module, req.function, from, err, dropped)
		}
		return
	}
	ct.mu.Lock()
	if cq.full && 2*(len(cq.q)-cq.head) <= castQueueLen && 2*cq.queued <= castQueueBytes {
		cq.full = false
	}
	ct.mu.Unlock()
	p.SetWhat("cast " + req.module + "." + req.function)
	c := n.sv.begin("rpc.cast ", req, from)
	defer n.sv.end(c)
	p.run(n.castBody(from, req))
}

// castBody is the body of the process that runs a cast: a failure is
// logged, and is the process's exit reason.
func (n *Node) castBody(from Atom, req request) func(*Process) {
	return func(p *Process) {
		var err error
		switch {
		case req.module == spawnModule && from != n.name:
			_, err = n.serveSpawn(from, req.args, nil)
		case n.cfg.Handler == nil:
			err = fmt.Errorf("node %s serves no modules: %w", n.name, ErrUnknownModule)
		default:
			err = n.handleCast(p.ctx, from, req)
		}
		if err == nil {
			return
		}
		var ee *ExitError
		if context.Cause(p.ctx) == nil && !errors.As(err, &ee) && n.ctx.Err() == nil {
			n.logf("rpc.cast %s.%s from %s failed: %v", req.module, req.function, from, err)
		}
		panic(err)
	}
}

// handleCast runs a cast through the Handler, a panic becoming an error.
func (n *Node) handleCast(ctx context.Context, from Atom, req request) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: r}
		}
	}()
	_, err = n.cfg.Handler.HandleCall(ctx, from, req.module, req.function, req.args)
	return err
}
