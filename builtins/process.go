package builtins

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"gsh/cluster"
	"gsh/internal/interrupt"
)

// Timeout is what receive gives when its timeout passes with no message.
const Timeout cluster.Atom = "timeout"

// Named is a function together with the name it was declared under, so that
// spawn(node, f) can start f on another node that has it too. The shell
// passes the functions given to spawn this way.
type Named = interrupt.NamedFunc

// self is the process the calling goroutine runs: a spawned process, a
// process serving a remote spawn, or else the prompt's own process.
func (e *Env) self() *cluster.Process {
	if p, ok := processOf(); ok {
		return p
	}
	return e.Shell()
}

// interruptCtx is a context that ends when the calling goroutine's
// evaluation is interrupted (Ctrl-C, or an rpc deadline on the remote side).
type interruptCtx struct {
	context.Context
	done <-chan struct{}
}

func (c interruptCtx) Done() <-chan struct{} { return c.done }
func (c interruptCtx) Err() error {
	select {
	case <-c.done:
		return interrupt.ErrInterrupted
	default:
		return nil
	}
}

func currentCtx() context.Context {
	if d := interrupt.Done(); d != nil {
		return interruptCtx{Context: context.Background(), done: d}
	}
	return context.Background()
}

// runFunc calls an interpreted function value with args.
func runFunc(f any, args []any) error {
	fv := reflect.ValueOf(f)
	if fv.Kind() != reflect.Func {
		return fmt.Errorf("spawn: %T is not a function: %w", f, cluster.ErrBadArgs)
	}
	_, err := cluster.Invoke(context.Background(), fv, args)
	return err
}

// spawnLocal runs f(args...) as a process on this node.
func (e *Env) spawnLocal(f any, args []any, link *cluster.Pid) cluster.Pid {
	what := fmt.Sprintf("%T", f)
	if nf, ok := f.(Named); ok {
		f, what = nf.Fn, nf.Name
	}
	p, err := e.Node.TryNewProcess()
	if err != nil {
		panic(fmt.Errorf("spawn: %w", err))
	}
	p.SetWhat(what)
	if link != nil {
		p.Link(*link)
	}
	go func() {
		unbind := interrupt.Own(&interrupt.Owner{Process: p})
		stop := interrupt.Watch(p.Context())
		var reason any = cluster.Normal
		defer func() {
			if r := recover(); r != nil {
				reason = e.crashReason(p, r)
			}
			stop()
			unbind()
			p.Exit(reason)
		}()
		defer interrupt.Contain()()
		if err := runFunc(f, args); err != nil {
			panic(err)
		}
	}()
	return p.Pid()
}

// crashReason is the exit reason of a process that panicked with r, and
// logs the crash unless the process was killed.
func (e *Env) crashReason(p *cluster.Process, r any) any {
	if cause := context.Cause(p.Context()); cause != nil {
		if ee, ok := cause.(*cluster.ExitError); ok {
			return ee.Reason
		}
		return cluster.Atom("shutdown") // the node is closing
	}
	msg := fmt.Sprint(r)
	var reason any = msg
	if err, ok := r.(error); ok {
		msg, reason = err.Error(), err.Error()
		var pe *cluster.PanicError
		if errors.As(err, &pe) {
			reason = fmt.Sprint(pe.Value)
		}
		var ee *cluster.ExitError
		if errors.As(err, &ee) { // exit(reason)
			return ee.Reason
		}
	}
	e.logf("process %v (%s) crashed: %s", p.Pid(), p.Info().What, msg)
	return reason
}

// spawn starts a process: spawn(f, args...) here; spawn(module, function,
// args...) here; spawn(node, module, function, args...) on node; spawn(node,
// f) on node, where f is a top-level function that node has too.
func (e *Env) spawn(args ...any) cluster.Pid { return e.spawnWith(nil, args, nil) }

// spawnLink is spawn, linked to the calling process.
func (e *Env) spawnLink(args ...any) cluster.Pid {
	me := e.self().Pid()
	return e.spawnWith(&me, args, nil)
}

// spawnWith starts a process as spawn does, linked to link when it is not
// nil, and monitored by the calling process when mon is not nil (which then
// receives the monitor's reference).
func (e *Env) spawnWith(link *cluster.Pid, args []any, mon *cluster.Ref) cluster.Pid {
	if len(args) == 0 {
		panic(fmt.Errorf("spawn needs a function: %w", cluster.ErrBadArgs))
	}
	if nf, ok := args[0].(Named); ok && !isFunc(nf.Fn) { // a name, not a function
		args[0] = nf.Fn
	}
	if isFunc(args[0]) || !strings.Contains(fmt.Sprint(args[0]), "@") {
		// Only spawn(node, f) uses the name the shell passes with f.
		if nf, ok := args[1%len(args)].(Named); ok && len(args) > 1 {
			args[1] = nf.Fn
		}
	}
	if isFunc(args[0]) {
		return e.spawnLocalMon(args[0], args[1:], link, mon)
	}
	first, ok := nameArg(args[0])
	if !ok {
		panic(fmt.Errorf("spawn(%T, ...): give a function, a node name or a module name: %w", args[0], cluster.ErrBadArgs))
	}
	if !strings.Contains(first, "@") { // spawn(module, function, args...)
		if len(args) < 2 {
			panic(fmt.Errorf("spawn(%q): name the function too: %w", first, cluster.ErrBadArgs))
		}
		fn, _ := nameArg(args[1])
		if mon != nil {
			return e.spawnRemoteMon(e.Node.Name(), first, fn, args[2:], mon)
		}
		p, err := e.Node.SpawnCall(e.Node.Name(), first, fn, args[2:], link)
		if err != nil {
			panic(err)
		}
		return p.Pid()
	}
	node := cluster.Atom(first)
	if len(args) < 2 {
		panic(fmt.Errorf("spawn(%q): what should it run? %w", first, cluster.ErrBadArgs))
	}
	var module, function string
	var rest []any
	switch f := args[1].(type) {
	case Named:
		if !isFunc(f.Fn) { // a variable that holds a module name
			args[1] = f.Fn
			return e.spawnWith(link, args, mon)
		}
		if node == e.Node.Name() {
			return e.spawnLocalMon(f, args[2:], link, mon)
		}
		module, function, rest = "main", f.Name, args[2:]
		if i := strings.LastIndexByte(f.Name, '.'); i > 0 {
			module, function = f.Name[:i], f.Name[i+1:]
		}
	case string, cluster.Atom:
		if len(args) < 3 {
			panic(fmt.Errorf("spawn(%q, %q): name the function too: %w", first, f, cluster.ErrBadArgs))
		}
		module, _ = nameArg(f)
		function, _ = nameArg(args[2])
		rest = args[3:]
	default:
		if isFunc(f) {
			if node == e.Node.Name() {
				return e.spawnLocalMon(f, args[2:], link, mon)
			}
			panic(fmt.Errorf("spawn on %s needs a function declared at the top level (func name(...) {...}) that %s has too, or spawn(node, module, function, args...): %w", node, node, cluster.ErrBadArgs))
		}
		panic(fmt.Errorf("spawn(%q, %T): %w", first, f, cluster.ErrBadArgs))
	}
	if mon != nil {
		return e.spawnRemoteMon(node, module, function, rest, mon)
	}
	pid, err := e.Node.SpawnRemote(e.ctx(), node, module, function, rest, link)
	if err != nil {
		panic(err)
	}
	return pid
}

func isFunc(v any) bool {
	if nf, ok := v.(Named); ok {
		return isFunc(nf.Fn)
	}
	return v != nil && reflect.TypeOf(v).Kind() == reflect.Func
}

func nameArg(v any) (string, bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case cluster.Atom:
		return string(s), true
	}
	return "", false
}

// send sends msg to a pid, a registered name, or a cluster.Name on any node
// (see at).
func (e *Env) send(dest any, msg any) any {
	if err := e.Node.Send(dest, msg); err != nil {
		panic(err)
	}
	return msg
}

// receive takes the next message. Options: a time.Duration (or a number of
// milliseconds) is a timeout after which receive gives Timeout; a
// func(any) bool takes the first message it accepts, leaving the others
// queued in order.
func (e *Env) receive(opts ...any) any {
	timeout := time.Duration(-1)
	var match func(any) bool
	for _, o := range opts {
		switch v := o.(type) {
		case time.Duration:
			timeout = v
		case int:
			timeout = time.Duration(v) * time.Millisecond
		case func(any) bool:
			match = v
		default:
			if fv := reflect.ValueOf(o); fv.Kind() == reflect.Func && fv.Type().NumIn() == 1 && fv.Type().NumOut() == 1 && fv.Type().Out(0).Kind() == reflect.Bool {
				match = func(m any) bool {
					in, err := cluster.Convert(m, fv.Type().In(0))
					return err == nil && fv.Call([]reflect.Value{in})[0].Bool()
				}
				continue
			}
			panic(fmt.Errorf("receive(%T): give a timeout or a match function: %w", o, cluster.ErrBadArgs))
		}
	}
	if timeout < 0 {
		timeout = -1
	}
	if match != nil {
		accept := match
		match = func(m any) bool { return accept(e.retype(m)) }
	}
	p := e.self()
	m, ok, err := p.Receive(currentCtx(), match, timeout)
	if _, isExit := err.(*cluster.ExitError); isExit {
		if _, inProcess := processOf(); !inProcess {
			// The prompt's process ended while it waited: the
			// prompt waits on in its new one.
			<-p.Done()
			m, ok, err = e.Shell().Receive(currentCtx(), match, timeout)
		}
	}
	if err != nil {
		if _, isExit := err.(*cluster.ExitError); isExit {
			panic(err)
		}
		panic(interrupt.ErrInterrupted)
	}
	if !ok {
		return Timeout
	}
	return e.retype(m)
}

// flush prints and removes every message in the calling process's mailbox.
func (e *Env) flush() {
	for _, m := range e.self().Flush() {
		fmt.Fprintf(e.Out, "Shell got %s\n", e.format(e.retype(m)))
	}
}

func (e *Env) format(v any) string {
	if e.Format != nil {
		return e.Format(v)
	}
	return fmt.Sprint(v)
}

func (e *Env) register(name string, pid cluster.Pid) bool {
	if err := e.Node.Register(name, pid); err != nil {
		panic(err)
	}
	return true
}

func (e *Env) unregister(name string) bool {
	if err := e.Node.Unregister(name); err != nil {
		panic(err)
	}
	return true
}

func (e *Env) whereis(name string) any {
	if pid, ok := e.Node.Whereis(name); ok {
		return pid
	}
	return cluster.Undefined
}

func (e *Env) monitor(pid cluster.Pid) cluster.Ref { return e.self().Monitor(pid) }

func (e *Env) demonitor(ref cluster.Ref) bool { e.self().Demonitor(ref); return true }

func (e *Env) link(pid cluster.Pid) bool { e.self().Link(pid); return true }

func (e *Env) unlink(pid cluster.Pid) bool { e.self().Unlink(pid); return true }

// exit sends an exit signal: exit(reason) ends the calling process;
// exit(pid, reason) signals pid as a linked process's end would.
func (e *Env) exit(args ...any) bool {
	switch len(args) {
	case 1:
		panic(&cluster.ExitError{Reason: args[0]})
	case 2:
		pid, ok := args[0].(cluster.Pid)
		if !ok {
			panic(fmt.Errorf("exit(%T, reason): the first argument is a pid: %w", args[0], cluster.ErrBadArgs))
		}
		if args[1] == cluster.Atom("kill") || args[1] == cluster.Killed {
			if p, ok := e.Node.Process(pid); ok {
				p.Kill(cluster.Killed)
				return true
			}
		}
		if pid.Node == e.Node.Name() {
			if p, ok := e.Node.Process(pid); ok {
				if p.Info().TrapExits {
					p.Deliver(cluster.Exit{From: e.self().Pid(), Reason: args[1]})
				} else if args[1] != cluster.Normal {
					p.Kill(args[1])
				}
			}
			return true
		}
		e.Node.Send(pid, cluster.Exit{From: e.self().Pid(), Reason: args[1]})
		return true
	}
	panic(fmt.Errorf("exit(reason) or exit(pid, reason): %w", cluster.ErrBadArgs))
}

// processFlag sets a flag of the calling process: "trap_exit".
func (e *Env) processFlag(flag string, value bool) bool {
	if flag != "trap_exit" {
		panic(fmt.Errorf("process_flag(%q): the flag gsh knows is trap_exit: %w", flag, cluster.ErrBadArgs))
	}
	return e.self().SetTrapExit(value)
}

func (e *Env) monitorNode(node any, on bool) bool {
	n, err := nodeName(node)
	if err != nil {
		panic(err)
	}
	e.self().MonitorNode(n, on)
	return true
}

func (e *Env) monitorNodes(on bool) bool {
	e.self().MonitorNodes(on)
	return true
}

// processes prints this node's processes, as Erlang's i() does.
func (e *Env) processes() {
	shell := e.Shell().Pid()
	infos := e.Node.Processes()
	fmt.Fprintf(e.Out, "%-28s %-14s %-28s %s\n", "Pid", "Name", "Current function", "Messages")
	for _, p := range infos {
		what := p.What
		if p.Pid == shell {
			what = "shell (the prompt)"
		}
		dropped := ""
		if p.Dropped > 0 {
			dropped = fmt.Sprintf(" (%d dropped over the mailbox limit)", p.Dropped)
		}
		fmt.Fprintf(e.Out, "%-28s %-14s %-28s %d%s\n", p.Pid, p.Name, what, p.Mailbox, dropped)
	}
	fmt.Fprintf(e.Out, "%d processes\n", len(infos))
}

// regs prints the registered names.
func (e *Env) regs() {
	names := e.Node.Registered()
	sort.Strings(names)
	for _, n := range names {
		pid, _ := e.Node.Whereis(n)
		fmt.Fprintf(e.Out, "%-20s %v\n", n, pid)
	}
}

// at names a process registered on a node: send(at("kvs", "gandalf@host"), msg).
func at(name string, node any) cluster.Name {
	n, err := nodeName(node)
	if err != nil {
		panic(err)
	}
	return cluster.Name{Name: name, Node: n}
}
