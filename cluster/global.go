package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
)

// Global names: one name, one pid, across every connected node. Each node
// keeps the whole table; a registration asks every connected node to accept
// it and is undone when one refuses. A name is released when its process
// ends or its node is lost. A node holds a name only for a live process of
// its own or a pid of a node it is connected to: it refuses other claims,
// and takes from a peer's table only the names it may hold.
//
// When two nodes that each hold a registration of the same name meet, the
// registration whose process runs on the node whose name sorts first wins on
// both sides; the loser's process receives a GlobalConflict message and its
// registration is dropped.

// globalModule is the reserved module name of global-name requests.
const globalModule = "$global"

// GlobalConflict is the message the losing process gets when two
// registrations of one global name meet.
type GlobalConflict struct {
	Name   string
	Winner Pid
}

// ErrGlobalNameTaken: the global name is registered to another process.
var ErrGlobalNameTaken = errors.New("global name taken")

type globalTable struct {
	mu    sync.Mutex
	names map[string]Pid
}

func (n *Node) globals() *globalTable {
	n.gOnce.Do(func() {
		n.g = &globalTable{names: map[string]Pid{}}
		n.OnProcessExit(func(p *Process) { n.releaseGlobals(func(pid Pid) bool { return pid == p.pid }, true) })
		n.Watch(func(peer Atom, up bool, _ error) {
			if up {
				n.syncGlobals(peer)
			} else {
				n.releaseGlobals(func(pid Pid) bool { return pid.Node == peer }, false)
			}
		})
	})
	return n.g
}

// claim records name for pid unless another pid has it.
func (g *globalTable) claim(name string, pid Pid) (Pid, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if old, ok := g.names[name]; ok && old != pid {
		return old, false
	}
	g.names[name] = pid
	return pid, true
}

func (g *globalTable) release(name string, pid Pid) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.names[name] == pid {
		delete(g.names, name)
	}
}

// RegisterGlobal registers name for pid on every connected node.
func (n *Node) RegisterGlobal(ctx context.Context, name string, pid Pid) error {
	g := n.globals()
	if err := n.mayHold(pid); err != nil {
		return fmt.Errorf("global register %q: %w", name, err)
	}
	if old, ok := g.claim(name, pid); !ok {
		return fmt.Errorf("global register %q: held by %v: %w", name, old, ErrGlobalNameTaken)
	}
	peers := n.Nodes()
	errs := make([]error, len(peers))
	var wg sync.WaitGroup
	for i, peer := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = n.Call(ctx, peer, globalModule, "claim", name, pid)
		}()
	}
	wg.Wait()
	var failed error
	for i, err := range errs {
		if err != nil && failed == nil {
			failed = fmt.Errorf("global register %q: refused by %s: %w", name, peers[i], err)
		}
	}
	if failed == nil {
		return nil
	}
	g.release(name, pid)
	for i, peer := range peers {
		if errs[i] == nil {
			n.Call(ctx, peer, globalModule, "release", name, pid)
		}
	}
	if errors.Is(failed, ErrGlobalNameTaken) || errors.Is(failed, ErrBadArgs) {
		return fmt.Errorf("%w: %w", failed, ErrGlobalNameTaken)
	}
	return failed
}

// UnregisterGlobal releases name on every connected node.
func (n *Node) UnregisterGlobal(ctx context.Context, name string) {
	g := n.globals()
	g.mu.Lock()
	pid, ok := g.names[name]
	g.mu.Unlock()
	if !ok {
		return
	}
	g.release(name, pid)
	for _, peer := range n.Nodes() {
		n.Call(ctx, peer, globalModule, "release", name, pid)
	}
}

// WhereisGlobal gives the pid registered under a global name.
func (n *Node) WhereisGlobal(name string) (Pid, bool) {
	g := n.globals()
	g.mu.Lock()
	defer g.mu.Unlock()
	pid, ok := g.names[name]
	return pid, ok
}

// GlobalNames lists the global names, sorted.
func (n *Node) GlobalNames() []string {
	g := n.globals()
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Sorted(maps.Keys(g.names))
}

// SendGlobal sends msg to the process registered under a global name.
func (n *Node) SendGlobal(name string, msg any) error {
	pid, ok := n.WhereisGlobal(name)
	if !ok {
		return fmt.Errorf("global send to %q: no process has that name: %w", name, ErrNoProcess)
	}
	return n.Send(pid, msg)
}

// releaseGlobals drops the names whose pid match says; tell broadcasts the
// release (when this node's own process ended).
func (n *Node) releaseGlobals(match func(Pid) bool, tell bool) {
	g := n.globals()
	g.mu.Lock()
	var gone []string
	var pids []Pid
	for name, pid := range g.names {
		if match(pid) {
			gone = append(gone, name)
			pids = append(pids, pid)
			delete(g.names, name)
		}
	}
	g.mu.Unlock()
	if !tell || len(gone) == 0 {
		return
	}
	for _, peer := range n.Nodes() {
		for i, name := range gone {
			n.signal(peer, castSignal{Module: globalModule, Function: "release", Args: []any{name, pids[i]}})
		}
	}
}

// syncGlobals sends our table to a node that just connected.
func (n *Node) syncGlobals(peer Atom) {
	g := n.globals()
	g.mu.Lock()
	entries := make([]any, 0, 2*len(g.names))
	for name, pid := range g.names {
		entries = append(entries, name, pid)
	}
	g.mu.Unlock()
	if len(entries) == 0 {
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.signal(peer, castSignal{Module: globalModule, Function: "sync", Args: []any{entries}})
	}()
}

// mayHold says why this node may not hold a global name for pid: the pid
// is of this node and its process is gone, or of a node it has no link to.
func (n *Node) mayHold(pid Pid) error {
	if pid.Node == n.name {
		if n.process(pid) == nil {
			return fmt.Errorf("%v: %w", pid, ErrNoProcess)
		}
		return nil
	}
	n.mu.Lock()
	_, linked := n.links[pid.Node]
	n.mu.Unlock()
	if !linked {
		return fmt.Errorf("%v: its node %s is not connected to %s: %w", pid, pid.Node, n.name, ErrNodeDown)
	}
	return nil
}

// serveGlobal answers the global-name requests of other nodes.
func (n *Node) serveGlobal(from Atom, function string, args []any) (any, error) {
	g := n.globals()
	switch function {
	case "claim", "release":
		if len(args) != 2 {
			return nil, fmt.Errorf("global %s: %w", function, ErrProtocol)
		}
		name, ok1 := args[0].(string)
		pid, ok2 := args[1].(Pid)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("global %s: %w", function, ErrProtocol)
		}
		if function == "release" {
			g.release(name, pid)
			return true, nil
		}
		if err := n.mayHold(pid); err != nil {
			return nil, fmt.Errorf("global name %q: %w", name, err)
		}
		if old, ok := g.claim(name, pid); !ok {
			return nil, fmt.Errorf("%q is held by %v on %s: %w", name, old, n.name, ErrGlobalNameTaken)
		}
		return true, nil
	case "sync":
		if len(args) != 1 {
			return nil, fmt.Errorf("global sync: %w", ErrProtocol)
		}
		entries, _ := args[0].([]any)
		for i := 0; i+1 < len(entries); i += 2 {
			name, ok1 := entries[i].(string)
			pid, ok2 := entries[i+1].(Pid)
			if ok1 && ok2 && (pid.Node == from || n.mayHold(pid) == nil) {
				n.mergeGlobal(name, pid)
			}
		}
		return true, nil
	}
	return nil, fmt.Errorf("global %s: %w", function, ErrUnknownFunction)
}

// mergeGlobal takes in a registration another node holds, settling a
// conflict by the rule above.
func (n *Node) mergeGlobal(name string, pid Pid) {
	g := n.globals()
	g.mu.Lock()
	old, ok := g.names[name]
	if !ok || old == pid {
		g.names[name] = pid
		g.mu.Unlock()
		return
	}
	winner, loser := old, pid
	if pid.Node < old.Node || (pid.Node == old.Node && pid.ID < old.ID) {
		winner, loser = pid, old
	}
	g.names[name] = winner
	g.mu.Unlock()
	if loser.Node == n.name {
		n.logf("global name %q: two registrations met; %v wins, %v loses it", name, winner, loser)
		n.Send(loser, GlobalConflict{Name: name, Winner: winner})
	}
}
