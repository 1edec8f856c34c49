package builtins

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"gsh/cluster"
)

// spawnLocalMon is spawnLocal, monitored by the calling process from before
// f runs when mon is not nil.
func (e *Env) spawnLocalMon(f any, args []any, link *cluster.Pid, mon *cluster.Ref) cluster.Pid {
	if mon == nil {
		return e.spawnLocal(f, args, link)
	}
	what := fmt.Sprintf("%T", f)
	if nf, ok := f.(Named); ok {
		f, what = nf.Fn, nf.Name
	}
	ready := make(chan struct{})
	body := func() {
		<-ready
		if err := runFunc(f, args); err != nil {
			var pe *cluster.PanicError
			if errors.As(err, &pe) {
				panic(pe.Value) // as if body were f
			}
			panic(err)
		}
	}
	pid := e.spawnLocal(Named{Name: what, Fn: body}, nil, link)
	*mon = e.self().Monitor(pid)
	close(ready)
	return pid
}

// spawnRemoteMon starts module.function(args...) on node, monitored by the
// calling process from before it runs.
func (e *Env) spawnRemoteMon(node cluster.Atom, module, function string, args []any, mon *cluster.Ref) cluster.Pid {
	ctx, cancel := context.WithTimeout(e.ctx(), e.Timeout())
	defer cancel()
	pid, ref, err := e.Node.SpawnMonitor(ctx, node, module, function, args, e.self())
	if err != nil {
		panic(err)
	}
	*mon = ref
	return pid
}

// spawnMonitor is spawn_monitor: spawn, and monitor the new process from
// before it runs, so that its Down message carries its own exit reason.
func (e *Env) spawnMonitor(args ...any) (cluster.Pid, cluster.Ref) {
	var ref cluster.Ref
	pid := e.spawnWith(nil, args, &ref)
	return pid, ref
}

// isProcessAlive reports whether pid runs: a local process at once, one of
// another node by asking that node.
func (e *Env) isProcessAlive(pid cluster.Pid) bool {
	if pid.Node == e.Node.Name() {
		alive, _ := e.processAlive(pid)
		return alive
	}
	v, err := e.Call(pid.Node, "erlang", "is_process_alive", pid)
	if err != nil {
		panic(fmt.Errorf("is_process_alive(%v): %w", pid, err))
	}
	alive, ok := v.(bool)
	if !ok {
		panic(fmt.Errorf("is_process_alive(%v): %s answered %T: %w", pid, pid.Node, v, cluster.ErrProtocol))
	}
	return alive
}

// processAlive answers is_process_alive for a pid of this node.
func (e *Env) processAlive(pid cluster.Pid) (bool, error) {
	if pid.Node != e.Node.Name() {
		return false, fmt.Errorf("%v is not a process of %s: %w", pid, e.Node.Name(), cluster.ErrBadArgs)
	}
	p, ok := e.Node.Process(pid)
	return ok && p.Alive(), nil
}

// processInfo is process_info: what i() shows of one process, of this node
// or another, or undefined when it is not alive.
func (e *Env) processInfo(pid cluster.Pid) any {
	if pid.Node == e.Node.Name() {
		info, _ := e.localProcessInfo(pid)
		return info
	}
	v, err := e.Call(pid.Node, "erlang", "process_info", pid)
	if err != nil {
		panic(fmt.Errorf("process_info(%v): %w", pid, err))
	}
	return e.retype(v)
}

// localProcessInfo answers process_info for a pid of this node.
func (e *Env) localProcessInfo(pid cluster.Pid) (any, error) {
	if pid.Node != e.Node.Name() {
		return nil, fmt.Errorf("%v is not a process of %s: %w", pid, e.Node.Name(), cluster.ErrBadArgs)
	}
	p, ok := e.Node.Process(pid)
	if !ok || !p.Alive() {
		return cluster.Undefined, nil
	}
	info := p.Info()
	if pid == e.Shell().Pid() {
		info.What = "shell (the prompt)"
	}
	return info, nil
}

// pidList is erlang.processes: the pids of this node's processes.
func (e *Env) pidList() []cluster.Pid {
	infos := e.Node.Processes()
	pids := make([]cluster.Pid, len(infos))
	for k, p := range infos {
		pids[k] = p.Pid
	}
	return pids
}

// TimerRef names a timer started by erlang.send_after.
type TimerRef struct {
	Node cluster.Atom
	ID   uint64
}

func (r TimerRef) String() string { return fmt.Sprintf("#TimerRef<%s.%d>", r.Node, r.ID) }

// timers are the timers of erlang.send_after that have not fired.
type timers struct {
	mu sync.Mutex
	n  uint64
	m  map[uint64]*pendingTimer
}

type pendingTimer struct {
	t        *time.Timer
	deadline time.Time
}

// duration reads a time given as a time.Duration or a number of
// milliseconds, as receive does.
func duration(what string, v any) time.Duration {
	switch d := v.(type) {
	case time.Duration:
		if d >= 0 {
			return d
		}
	case int:
		if d >= 0 {
			return time.Duration(d) * time.Millisecond
		}
	}
	panic(fmt.Errorf("%s: the time is a time.Duration or a number of milliseconds, not %s (%T): %w", what, fmt.Sprint(v), v, cluster.ErrBadArgs))
}

// sendAfter is erlang.send_after: send msg to dest once t has passed.
func (e *Env) sendAfter(t any, dest any, msg any) TimerRef {
	d := duration("erlang.send_after", t)
	switch x := dest.(type) {
	case cluster.Pid, string, cluster.Atom, cluster.Name:
	case Named:
		dest = x.Fn
		return e.sendAfter(t, dest, msg)
	default:
		panic(fmt.Errorf("erlang.send_after: send to a pid, a registered name or at(name, node), not %T: %w", dest, cluster.ErrBadArgs))
	}
	// Check now that msg can be sent, rather than fail when the timer fires.
	if _, err := cluster.Encode(nil, msg); err != nil {
		panic(fmt.Errorf("erlang.send_after: %w", err))
	}
	e.timers.mu.Lock()
	defer e.timers.mu.Unlock()
	if e.timers.m == nil {
		e.timers.m = map[uint64]*pendingTimer{}
	}
	e.timers.n++
	id := e.timers.n
	pt := &pendingTimer{deadline: time.Now().Add(d)}
	pt.t = time.AfterFunc(d, func() {
		e.timers.mu.Lock()
		_, pending := e.timers.m[id]
		delete(e.timers.m, id)
		e.timers.mu.Unlock()
		if !pending {
			return
		}
		// As in Erlang, a message to a process or name that is gone is
		// dropped without a word.
		e.Node.Send(dest, msg)
	})
	e.timers.m[id] = pt
	return TimerRef{Node: e.Node.Name(), ID: id}
}

// cancelTimer is erlang.cancel_timer: stop a timer of send_after before it
// fires, giving the milliseconds it had left, or false when it had fired
// or been cancelled already.
func (e *Env) cancelTimer(ref TimerRef) any {
	if ref.Node != e.Node.Name() {
		panic(fmt.Errorf("erlang.cancel_timer: %v is a timer of %s; cancel it there: %w", ref, ref.Node, cluster.ErrBadArgs))
	}
	e.timers.mu.Lock()
	pt, ok := e.timers.m[ref.ID]
	delete(e.timers.m, ref.ID)
	e.timers.mu.Unlock()
	if !ok || !pt.t.Stop() {
		return false
	}
	return int(max(0, time.Until(pt.deadline).Milliseconds()))
}
