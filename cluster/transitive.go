package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Bounds on transitive connections, the links a node makes to the nodes
// its peers tell it of.
const (
	// maxKnownNodes is how many distinct names one node list may bring;
	// the rest are ignored (with one log line).
	maxKnownNodes = 1024
	// maxPendingDials is how many named nodes may wait for a dial at once,
	// over every list received.
	maxPendingDials = 1024
	// transitiveDialers is how many of those dials run at once.
	transitiveDialers = 8
)

// transitiveDials queues the nodes peers named, dialled by a few workers.
type transitiveDials struct {
	mu      sync.Mutex
	pending map[Atom]bool // queued or being dialled
	queue   []transitiveDial
	workers int
}

type transitiveDial struct {
	name  Atom
	batch *knownBatch
}

// knownBatch is one node list: its failures are logged together, in one
// line, once every dial it asked for has ended.
type knownBatch struct {
	from   Atom
	mu     sync.Mutex
	left   int
	failed int
	first  []string // the first few failures, "name: reason"
}

// connectKnown connects, in the background, to the nodes in list that peer
// from knows and this node has no link to: distinct names only, at most
// maxKnownNodes of them, transitiveDialers dials at a time.
func (n *Node) connectKnown(from Atom, list []any) {
	if n.cfg.Hidden {
		return
	}
	t := &n.known
	b := &knownBatch{from: from}
	seen := make(map[Atom]bool, min(len(list), maxKnownNodes))
	ignored := 0
	n.mu.Lock()
	closed := n.closed
	n.mu.Unlock()
	if closed {
		return
	}
	t.mu.Lock()
	if t.pending == nil {
		t.pending = map[Atom]bool{}
	}
	for _, v := range list {
		name, ok := v.(Atom)
		if !ok || seen[name] || name == n.name {
			continue
		}
		if len(seen) >= maxKnownNodes || len(t.pending) >= maxPendingDials {
			ignored++
			continue
		}
		seen[name] = true
		if t.pending[name] || n.current(name) != nil {
			continue
		}
		if _, _, err := SplitName(name); err != nil {
			continue
		}
		t.pending[name] = true
		t.queue = append(t.queue, transitiveDial{name, b})
		b.left++
	}
	for t.workers < transitiveDialers && t.workers < len(t.queue) {
		t.workers++
		n.wg.Add(1)
		go n.dialKnown()
	}
	t.mu.Unlock()
	if ignored > 0 {
		n.logf("%s named %d nodes to connect to: %d ignored (at most %d distinct names per list, %d waiting at once)",
			from, len(list), ignored, maxKnownNodes, maxPendingDials)
	}
}

// dialKnown is one worker of connectKnown: it dials queued nodes until
// none is left.
func (n *Node) dialKnown() {
	defer n.wg.Done()
	t := &n.known
	for {
		t.mu.Lock()
		if len(t.queue) == 0 {
			t.workers--
			t.queue = nil
			t.mu.Unlock()
			return
		}
		d := t.queue[0]
		t.queue = t.queue[1:]
		t.mu.Unlock()

		var err error
		if n.ctx.Err() != nil {
			err = ErrClosed
		} else if n.current(d.name) == nil {
			ctx, cancel := context.WithTimeout(n.ctx, 2*n.cfg.HandshakeTimeout)
			err = n.Connect(ctx, d.name)
			cancel()
		}
		t.mu.Lock()
		delete(t.pending, d.name)
		t.mu.Unlock()
		d.batch.done(n, d.name, err)
	}
}

// done records the end of one dial of the batch, and logs the failures
// after the last.
func (b *knownBatch) done(n *Node, name Atom, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil && !errors.Is(err, ErrClosed) && n.ctx.Err() == nil { // a closing node's dials fail
		b.failed++
		if len(b.first) < 3 {
			b.first = append(b.first, fmt.Sprintf("%s: %v", name, err))
		}
	}
	b.left--
	switch {
	case b.left > 0 || b.failed == 0:
	case b.failed == 1:
		n.logf("could not connect to %s, which %s knows", b.first[0], b.from)
	default:
		more := ""
		if b.failed > len(b.first) {
			more = "; …"
		}
		n.logf("could not connect to %d nodes %s knows: %s%s", b.failed, b.from, strings.Join(b.first, "; "), more)
	}
}
