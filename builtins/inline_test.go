package builtins

import (
	"context"
	"reflect"
	"testing"

	"gsh/cluster"
)

var _ cluster.InlineHandler = (*Env)(nil)

// TestInline: the builtin functions that only touch this node's memory are
// served inline, unless the interpreter or Serve stands in for them.
func TestInline(t *testing.T) {
	n, err := cluster.Start(context.Background(), cluster.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	e := New(n)
	for _, c := range []struct {
		module, function string
		want             bool
	}{
		{"erlang", "node", true},
		{"kvs", "lookup", true},
		{"kvs", "store", true},
		{"init", "stop", false},
		{"net_adm", "ping", false},
		{"code", "load_source", false},
		{"main", "f", false},
		{"strings", "ToUpper", false},
	} {
		if got := e.Inline(c.module, c.function); got != c.want {
			t.Errorf("Inline(%s, %s) = %v, want %v", c.module, c.function, got, c.want)
		}
	}
	e.Lookup = func(module, function string) (reflect.Value, bool) {
		return reflect.ValueOf(func() {}), module == "kvs" && function == "Lookup"
	}
	if e.Inline("kvs", "lookup") {
		t.Error("kvs.lookup defined in the interpreter is served inline")
	}
	e.Serve("erlang", map[string]reflect.Value{"node": reflect.ValueOf(func() {})})
	if e.Inline("erlang", "node") {
		t.Error("erlang.node added with Serve is served inline")
	}
}
