package shell

// Where interpreted code's output goes.

import (
	"context"
	"io"

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
	if o := interrupt.CurrentOwner(); o != nil {
		return o.Ctx
	}
	return nil
}

// routedWriter is the interpreter's stdout: what an evaluation given its
// own output (WithOutput) prints goes there, what a goroutine whose owner has
// an output (a call served for another node, and the goroutines it starts)
// prints goes to that, the rest to def.
type routedWriter struct {
	def io.Writer
}

func (w *routedWriter) Write(p []byte) (int, error) {
	if o := interrupt.CurrentOwner(); o != nil {
		if o.Ctx != nil {
			if out, ok := o.Ctx.Value(outputKey{}).(io.Writer); ok && out != nil {
				return out.Write(p)
			}
		}
		if o.Out != nil {
			return o.Out.Write(p)
		}
	}
	return w.def.Write(p)
}
