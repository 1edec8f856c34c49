package builtins

import (
	"context"
	"io"
	"reflect"

	"gsh/cluster"
)

// Interpreter is what the builtins need of the Go interpreter that runs
// them (a *shell.Interp is one).
type Interpreter interface {
	// Func finds a top-level function: "f" for one defined at the prompt
	// or by a script (package main), "pkg.f" for one of a loaded package.
	Func(name string) (reflect.Value, bool)
	// LoadSource evaluates a Go file's text and returns its package name.
	LoadSource(ctx context.Context, name, src string) (pkg string, err error)
	// Stdout is where the interpreted code's output goes, routed to the
	// evaluation that prints: printing builtins write there.
	Stdout() io.Writer
	// Context is the context of the evaluation that the calling goroutine
	// runs, or nil.
	Context() context.Context
	// Type finds a struct type declared in the interpreter by name.
	Type(name string) (reflect.Type, bool)
}

// Host is what the builtins need of the program that runs them. Any field
// may be left nil.
type Host struct {
	// Halt stops the program with an exit code (halt(), q()).
	Halt func(code int)
	// Logf prints a line above the prompt.
	Logf func(format string, args ...any)
	// Format prints a value the way the prompt does (flush()).
	Format func(v any) string
	// Args are the arguments given after a script's name: args().
	Args []string
	// History gives the prompt's history for history().
	History func() (old, session []string)
}

// NewWith returns the builtins for node, run by the interpreter in, in the
// program that host describes. ctx bounds the loads of code that other
// nodes ask for (nl).
func NewWith(ctx context.Context, node *cluster.Node, in Interpreter, host Host) *Env {
	e := New(node)
	e.Out = in.Stdout()
	e.Context = in.Context
	e.Lookup = func(module, function string) (reflect.Value, bool) {
		if module == "main" {
			return in.Func(function)
		}
		return in.Func(module + "." + function)
	}
	e.LoadSource = func(name, src string) (string, error) { return in.LoadSource(ctx, name, src) }
	e.Type = in.Type
	e.Halt, e.Logf, e.Format, e.History = host.Halt, host.Logf, host.Format, host.History
	e.Args = append([]string{}, host.Args...)
	return e
}
