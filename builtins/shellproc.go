package builtins

import (
	"context"
	"errors"
	"sync"

	"gsh/cluster"
	"gsh/internal/interrupt"
)

// shellProc is the prompt's own process. When it ends (a linked process
// crashed, exit(pid, reason) named it) the prompt gets a new one, with a
// new pid and an empty mailbox, as Erlang's shell starts a new evaluator.
type shellProc struct {
	mu sync.Mutex
	p  *cluster.Process
}

// startShell makes the prompt's first process.
func (e *Env) startShell() {
	e.shell.mu.Lock()
	defer e.shell.mu.Unlock()
	e.shell.p = e.newShellProcess()
}

func (e *Env) newShellProcess() *cluster.Process {
	p := e.Node.NewProcess()
	p.SetWhat("shell")
	go e.watchShell(p)
	return p
}

// Shell returns the prompt's own process: self() outside any spawned
// process. A prompt process that has ended is replaced first.
func (e *Env) Shell() *cluster.Process {
	e.shell.mu.Lock()
	p := e.shell.p
	e.shell.mu.Unlock()
	if !p.Alive() {
		return e.renewShell(p)
	}
	return p
}

// watchShell waits for p to end and then gives the prompt a new process,
// unless the node is closing.
func (e *Env) watchShell(p *cluster.Process) {
	select {
	case <-p.Done():
	case <-p.Context().Done():
		if !killed(p) {
			return // the node is closing
		}
		<-p.Done()
	}
	e.renewShell(p)
}

// killed reports whether p was stopped by an exit signal or Exit, rather
// than by its node closing.
func killed(p *cluster.Process) bool {
	var ee *cluster.ExitError
	return errors.As(context.Cause(p.Context()), &ee)
}

// renewShell replaces old, the prompt's process that has ended, by a new
// one, and prints why old ended, once. It returns the prompt's process.
func (e *Env) renewShell(old *cluster.Process) *cluster.Process {
	e.shell.mu.Lock()
	defer e.shell.mu.Unlock()
	if e.shell.p != old || old.Alive() || !killed(old) {
		return e.shell.p
	}
	e.shell.p = e.newShellProcess()
	e.logf("** exception exit: %s", e.format(old.Reason()))
	return e.shell.p
}

// processOf is the process the calling goroutine runs as, if any but the
// prompt's.
func processOf() (*cluster.Process, bool) {
	if o := interrupt.CurrentOwner(); o != nil {
		p, ok := o.Process.(*cluster.Process)
		return p, ok
	}
	return nil, false
}
