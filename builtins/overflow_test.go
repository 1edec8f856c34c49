package builtins_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestOverflowEndsOnlyItsProcessOrCall: runaway recursion in a local
// process, a process spawned from another node, a served call and a cast
// ends that process or call with the stack overflow as its reason or error;
// the node keeps serving.
func TestOverflowEndsOnlyItsProcessOrCall(t *testing.T) {
	c := newCluster(t)
	a, b := c.start("a"), c.start("b")
	for _, g := range []*gshNode{a, b} {
		g.eval(`func r(n int) int { return r(n+1) + 1 }`)
		g.eval(`func deep() { receive(); r(0) }`)
	}
	b.must(`kvs.start()`, "true")
	b.eval(`func castDeep() { defer kvs.store("cast", "unwound"); r(0) }`)
	wantOverflow := func(what, got string) {
		t.Helper()
		if !strings.Contains(got, "stack overflow (more than ") || !strings.Contains(got, " nested calls)") {
			t.Fatalf("%s: %s, want a stack overflow", what, got)
		}
	}
	wantOverflow("local process", a.eval(`q := spawn("main", "deep"); monitor(q); send(q, 1); receive().(Down).Reason`))
	wantOverflow("remote process", a.eval(fmt.Sprintf(`p := spawn(%q, "main", "deep"); monitor(p); send(p, 1); receive().(Down).Reason`, b.name())))
	got := a.eval(fmt.Sprintf(`rpc.call(%q, "main", "r", 0)`, b.name()))
	wantOverflow("rpc.call", got)
	if !strings.Contains(got, b.name()+": panic: ") {
		t.Errorf("rpc.call: %s, want the panic on %s", got, b.name())
	}
	// A cast: its deferred calls run as it unwinds.
	a.must(fmt.Sprintf(`rpc.cast(%q, "main", "castDeep")`, b.name()), "true")
	waitUntil(t, "the cast to unwind", func() bool { return b.eval(`kvs.lookup("cast")`) == "unwound" })
	a.must(fmt.Sprintf(`rpc.call(%q, "erlang", "node")`, b.name()), b.name())
	b.must(`6 * 7`, "42")
	a.must(`6 * 7`, "42")
}
