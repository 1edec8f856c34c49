package builtins

import (
	"context"
	"reflect"
	"testing"

	"gsh/cluster"
)

// retype leaves a message that has no struct in it as it is, at any depth,
// and retypes the structs of the ones that have.
func TestRetypeKeeps(t *testing.T) {
	e := &Env{Type: func(name string) (reflect.Type, bool) {
		return reflect.TypeOf(cluster.Ref{}), name == "Known"
	}}
	pid := cluster.Pid{Node: "a@h", ID: 1}
	plain := []any{cluster.Atom("msg"), 42, "x", 1.5, pid, nil, true, []byte("b"),
		[]any{cluster.Atom("in"), []any{}}, map[any]any{"k": []any{1}}, cluster.Struct{Name: "Unknown", Fields: []cluster.Field{{Name: "X", Value: 1}}}}
	for _, v := range append(plain, any(plain)) {
		if got := e.retype(v); !reflect.DeepEqual(got, v) {
			t.Errorf("retype(%#v) = %#v", v, got)
		}
	}
	known := cluster.Struct{Name: "Known", Fields: []cluster.Field{{Name: "Node", Value: cluster.Atom("a@h")}, {Name: "ID", Value: 7}}}
	in := []any{1, []any{cluster.Atom("x"), known}, map[any]any{"k": known}}
	want := []any{1, []any{cluster.Atom("x"), cluster.Ref{Node: "a@h", ID: 7}}, map[any]any{"k": cluster.Ref{Node: "a@h", ID: 7}}}
	if got := e.retype(in); !reflect.DeepEqual(got, want) {
		t.Errorf("retype(%#v) = %#v, want %#v", in, got, want)
	}
	if !reflect.DeepEqual(in[1], []any{cluster.Atom("x"), known}) {
		t.Errorf("retype changed the message it was given: %#v", in)
	}
}

// BenchmarkReceive takes a small message from the prompt's mailbox as the
// interpreter's receive() does.
func BenchmarkReceive(b *testing.B) {
	n, err := cluster.Start(context.Background(), cluster.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	e := New(n)
	p := e.self()
	msg := any([]any{cluster.Atom("msg"), 42})
	b.ReportAllocs()
	for b.Loop() {
		p.Deliver(msg)
		if e.receive() == nil {
			b.Fatal("no message")
		}
	}
}
