package shell

// Where interpreted code's output goes.

import (
	"context"
	"io"
	"sync"
	"sync/atomic"

	"gsh/internal/interrupt"
)

// outputKey is the context key of WithOutput's writer.
type outputKey struct{}

// WithOutput returns a context for Eval whose evaluation prints to w: what
// its code prints with fmt.Print* (and builtins that print to Stdout, such as
// help()) goes to w instead of the interpreter's stdout, while the
// evaluation runs. Other goroutines, processes it spawned included, print as
// before. A remote shell's evaluations are captured this way.
func WithOutput(ctx context.Context, w io.Writer) context.Context {
	return context.WithValue(ctx, outputKey{}, w)
}

// Stdout returns the interpreter's stdout: Options.Stdout, except for the
// goroutine of an evaluation given its own output by WithOutput. Builtins
// that print (help(), i()) should print here.
func (i *Interp) Stdout() io.Writer { return i.out }

// Context returns the context given to Eval for the evaluation that the
// calling goroutine runs, or nil when it runs none (a spawned process, a
// call from another node). Builtins use it to tell whose evaluation calls
// them (a remote shell's: see Server.History).
func (i *Interp) Context() context.Context {
	return i.evals.get(interrupt.GoroutineKey())
}

// evalContexts maps the goroutines running evaluations to their contexts.
type evalContexts struct {
	n  atomic.Int32 // len(m): no lookup while there is none
	mu sync.RWMutex
	m  map[uintptr]context.Context
}

func (e *evalContexts) get(g uintptr) context.Context {
	if e.n.Load() == 0 {
		return nil
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.m[g]
}

func (e *evalContexts) set(g uintptr, ctx context.Context) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = map[uintptr]context.Context{}
	}
	e.m[g] = ctx
	e.n.Store(int32(len(e.m)))
}

func (e *evalContexts) clear(g uintptr) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, g)
	e.n.Store(int32(len(e.m)))
}

// routedWriter is the interpreter's stdout: what an evaluation given its
// own output (WithOutput) prints goes there, the rest to def.
type routedWriter struct {
	def   io.Writer
	evals *evalContexts
}

func (w *routedWriter) Write(p []byte) (int, error) {
	if ctx := w.evals.get(interrupt.GoroutineKey()); ctx != nil {
		if out, ok := ctx.Value(outputKey{}).(io.Writer); ok && out != nil {
			return out.Write(p)
		}
	}
	return w.def.Write(p)
}

// TakeFrames returns, and forgets, the interpreted frames that a panic in
// the calling goroutine went through (innermost first), outside Eval: for a
// spawned process or a remote call that recovered a panic of an interpreted
// function.
func (i *Interp) TakeFrames() []string {
	return i.frames.take(interrupt.GoroutineID())
}
