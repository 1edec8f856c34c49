package cluster

import (
	"context"
	"errors"
	"fmt"
)

// spawnModule is the reserved module name of remote spawn requests.
const spawnModule = "$spawn"

// SpawnCall starts module.function(args...) as a process on this node,
// through the node's Handler, and returns it. When link is not nil the new
// process is linked to it before it runs. A process that ends with an error
// or a panic logs one line and exits with that reason. It fails with
// ErrTooManyProcesses when the node runs Config.MaxProcesses processes.
func (n *Node) SpawnCall(from Atom, module, function string, args []any, link *Pid) (*Process, error) {
	p, err := n.TryNewProcess()
	if err != nil {
		return nil, fmt.Errorf("spawning %s.%s: %w", module, function, err)
	}
	p.SetWhat(module + "." + function)
	if link != nil {
		p.Link(*link)
	}
	go p.run(n.callBody(from, module, function, args, nil))
	return p, nil
}

// SpawnRemote starts module.function(args...) as a process on peer (this
// node too) and returns its pid; with link set the new process is linked to
// that pid (spawn_link).
func (n *Node) SpawnRemote(ctx context.Context, peer Atom, module, function string, args []any, link *Pid) (Pid, error) {
	if args == nil {
		args = []any{}
	}
	if peer == n.name {
		p, err := n.SpawnCall(n.name, module, function, args, link)
		if err != nil {
			return Pid{}, err
		}
		return p.Pid(), nil
	}
	var l any
	if link != nil {
		l = *link
	}
	v, err := n.Call(ctx, peer, spawnModule, "spawn", module, function, args, l)
	if err != nil {
		return Pid{}, err
	}
	pid, ok := v.(Pid)
	if !ok {
		return Pid{}, fmt.Errorf("spawn on %s answered %T: %w", peer, v, ErrProtocol)
	}
	if link != nil {
		// The remote side linked the new process to ours; record our half.
		if p := n.process(*link); p != nil {
			p.mu.Lock()
			if !p.dead {
				p.links[pid] = struct{}{}
			}
			p.mu.Unlock()
		}
	}
	return pid, nil
}

// SpawnMonitor is SpawnRemote for spawn_monitor: watcher monitors the new
// process from before it runs, so that the Down message it gets carries the
// process's own exit reason however soon it ends. It returns the pid and
// the monitor's reference.
func (n *Node) SpawnMonitor(ctx context.Context, peer Atom, module, function string, args []any, watcher *Process) (Pid, Ref, error) {
	if args == nil {
		args = []any{}
	}
	if peer == n.name {
		p, err := n.TryNewProcess()
		if err != nil {
			return Pid{}, Ref{}, fmt.Errorf("spawning %s.%s: %w", module, function, err)
		}
		p.SetWhat(module + "." + function)
		ref := watcher.Monitor(p.pid)
		var leader *Pid
		if gl, ok := GroupLeader(ctx); ok {
			leader = &gl
		}
		go p.run(n.callBody(n.name, module, function, args, leader))
		return p.pid, ref, nil
	}
	ref := Ref{Node: n.name, ID: n.procs().refs.Add(1)}
	watcher.mu.Lock()
	watcher.watching[ref] = Pid{Node: peer} // the pid is known once the peer answers
	watcher.mu.Unlock()
	v, err := n.Call(ctx, peer, spawnModule, "spawn", module, function, args, nil, []any{watcher.pid, int(ref.ID)})
	pid, ok := v.(Pid)
	if err == nil && !ok {
		err = fmt.Errorf("spawn on %s answered %T: %w", peer, v, ErrProtocol)
	}
	watcher.mu.Lock()
	if _, still := watcher.watching[ref]; still { // else its Down came already
		if err != nil {
			delete(watcher.watching, ref)
		} else {
			watcher.watching[ref] = pid
		}
	}
	watcher.mu.Unlock()
	if err != nil {
		return Pid{}, Ref{}, err
	}
	return pid, ref, nil
}

// serveSpawn answers a remote spawn request: [module, function, args,
// link pid or nil] and, for a monitored spawn, [watcher pid, ref id].
func (n *Node) serveSpawn(from Atom, args []any, leader *Pid) (any, error) {
	if len(args) != 4 && len(args) != 5 {
		return nil, fmt.Errorf("spawn request with %d arguments: %w", len(args), ErrProtocol)
	}
	m, ok1 := args[0].(string)
	f, ok2 := args[1].(string)
	a, ok3 := args[2].([]any)
	if !ok1 || !ok2 || !ok3 {
		return nil, fmt.Errorf("malformed spawn request: %w", ErrProtocol)
	}
	var link *Pid
	if l, ok := args[3].(Pid); ok {
		if l.Node != from {
			return nil, fmt.Errorf("spawn request links a process of another node: %w", ErrBadArgs)
		}
		link = &l
	}
	var watcher Pid
	var ref Ref
	if len(args) == 5 {
		m, ok := args[4].([]any)
		if ok && len(m) == 2 {
			var id int
			var ok2 bool
			watcher, ok = m[0].(Pid)
			id, ok2 = m[1].(int)
			ok = ok && ok2 && id > 0
			ref = Ref{Node: from, ID: uint64(id)}
		} else {
			ok = false
		}
		if !ok || watcher.Node != from {
			return nil, fmt.Errorf("malformed monitored spawn request: %w", ErrProtocol)
		}
	}
	p, err := n.TryNewProcess()
	if err != nil {
		return nil, fmt.Errorf("spawning %s.%s for %s: %w", m, f, from, err)
	}
	p.SetWhat(m + "." + f)
	if link != nil {
		p.mu.Lock()
		p.links[*link] = struct{}{}
		p.mu.Unlock()
	}
	if watcher.Node != "" {
		p.addWatcher(ref, watcher)
	}
	go p.run(n.callBody(from, m, f, a, leader))
	return p.pid, nil
}

// callBody is the body of a process that runs module.function(args...)
// through the Handler; leader, if not nil, is its group leader (see
// WithGroupLeader).
func (n *Node) callBody(from Atom, module, function string, args []any, leader *Pid) func(*Process) {
	return func(p *Process) {
		if n.cfg.Handler == nil {
			panic(fmt.Errorf("node %s serves no modules: %w", n.name, ErrUnknownModule))
		}
		ctx := p.ctx
		if leader != nil {
			ctx = WithGroupLeader(ctx, *leader)
		}
		_, err := n.cfg.Handler.HandleCall(ctx, from, module, function, args)
		if err == nil {
			return
		}
		var ee *ExitError
		if !errors.As(err, &ee) && !errors.Is(err, context.Canceled) && n.ctx.Err() == nil {
			n.logf("process %v (%s.%s) ended: %v", p.pid, module, function, err)
		}
		panic(err)
	}
}
