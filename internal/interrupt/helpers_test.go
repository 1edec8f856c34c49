package interrupt

import (
	"io"
	"reflect"
	"testing"

	"github.com/traefik/yaegi/interp"
	"github.com/traefik/yaegi/stdlib"
)

// newTestInterp returns an interpreter with the stdlib, this package's
// Symbols, the extra exports, and _gsh imported.
func newTestInterp(tb testing.TB, extra interp.Exports, w ...io.Writer) *interp.Interpreter {
	tb.Helper()
	var out io.Writer = io.Discard
	if len(w) > 0 {
		out = w[0]
	}
	i := interp.New(interp.Options{Stdout: out, Stderr: out})
	syms := interp.Exports{}
	for k, v := range stdlib.Symbols {
		if k == "net/rpc/rpc" || k == "net/rpc/jsonrpc/jsonrpc" {
			continue
		}
		syms[k] = v
	}
	for _, e := range []interp.Exports{syms, Symbols, extra} {
		if e == nil {
			continue
		}
		if err := i.Use(e); err != nil {
			tb.Fatal(err)
		}
	}
	i.ImportUsed()
	mustEval(tb, i, ImportDecl)
	return i
}

func mustEval(tb testing.TB, i *interp.Interpreter, src string) reflect.Value {
	tb.Helper()
	v, err := i.Eval(src)
	if err != nil {
		tb.Fatalf("eval %q: %v", src, err)
	}
	return v
}

func reflectArgs(args ...any) []reflect.Value {
	out := make([]reflect.Value, len(args))
	for k, a := range args {
		out[k] = reflect.ValueOf(a)
	}
	return out
}

// privateFunc returns the interpreted function name, made in a frame of its
// own: yaegi's function values made at the top level read a field of its
// global frame when called, which the start of every evaluation writes (a
// harmless data race, but the race detector reports it).
func privateFunc(tb testing.TB, i *interp.Interpreter, name string) reflect.Value {
	tb.Helper()
	v := mustEval(tb, i, ";func() []any { return _gsh.Results("+name+") }()")
	return reflect.ValueOf(v.Interface().([]any)[0])
}
