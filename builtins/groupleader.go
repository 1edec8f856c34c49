package builtins

import (
	"context"
	"fmt"
	"io"
	"reflect"

	"gsh/cluster"
	"gsh/internal/interrupt"
)

// leaderWriter is the output of a call or a process served for another
// node: what is written goes back to the caller's group leader, to be
// printed on its terminal (see cluster.WithGroupLeader).
type leaderWriter struct {
	node   *cluster.Node
	ctx    context.Context
	leader cluster.Pid
}

func (w *leaderWriter) Write(p []byte) (int, error) {
	if err := w.node.PutChars(w.ctx, w.leader, string(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// remoteOutput is the output of a call served with ctx: a writer to its
// caller's group leader, or nil when the call is this node's own.
func (e *Env) remoteOutput(ctx context.Context) io.Writer {
	leader, ok := cluster.GroupLeader(ctx)
	if !ok || leader.Node == e.Node.Name() {
		return nil
	}
	return &leaderWriter{node: e.Node, ctx: ctx, leader: leader}
}

// leader is the group leader of the calls the calling goroutine makes: the
// one of the call it serves for another node, if any (the output of a call
// it makes in turn goes to the same terminal), else its own process.
func (e *Env) leader() cluster.Pid {
	if o := interrupt.CurrentOwner(); o != nil {
		if w, ok := o.Out.(*leaderWriter); ok {
			return w.leader
		}
	}
	return e.self().Pid()
}

// withLeader is ctx naming the calling goroutine's group leader.
func (e *Env) withLeader(ctx context.Context) context.Context {
	return cluster.WithGroupLeader(ctx, e.leader())
}

// printTo returns fmt's printing function name writing to out, for a call
// of the standard library served for another node: what it prints goes to
// the caller.
func printTo(function string, out io.Writer) (reflect.Value, bool) {
	switch function {
	case "Print":
		return reflect.ValueOf(func(a ...any) (int, error) { return fmt.Fprint(out, a...) }), true
	case "Println":
		return reflect.ValueOf(func(a ...any) (int, error) { return fmt.Fprintln(out, a...) }), true
	case "Printf":
		return reflect.ValueOf(func(format string, a ...any) (int, error) { return fmt.Fprintf(out, format, a...) }), true
	}
	return reflect.Value{}, false
}
