package builtins_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestNodeArgumentsStringOrAtom: every builtin that takes a node takes it as
// a string or an Atom, alone or in a list.
func TestNodeArgumentsStringOrAtom(t *testing.T) {
	c := newCluster(t)
	a, b := c.start("a"), c.start("b")
	a.must(fmt.Sprintf(`net_adm.ping(%q)`, b.name()), "pong")
	a.must(fmt.Sprintf(`net_adm.ping(Atom(%q))`, b.name()), "pong")
	a.must(`nodes()`, "["+b.name()+"]")
	for _, src := range []string{
		`r, bad := rpc.multicall(append(nodes(), "ghost@nowhere"), "erlang", "node"); []any{len(r), bad}`,
		`r, bad := rpc.multicall(append(nodes(), Atom("ghost@nowhere")), "erlang", "node"); []any{len(r), bad}`,
		`r, bad := rpc.multicall([]string{"` + b.name() + `", "ghost@nowhere"}, "erlang", "node"); []any{len(r), bad}`,
		`r, bad := rpc.multicall([]any{"` + b.name() + `", Atom("ghost@nowhere")}, "erlang", "node"); []any{len(r), bad}`,
	} {
		a.must(src, `[1, [ghost@nowhere]]`)
	}
	for _, src := range []string{
		`rpc.call(%q, "erlang", "node")`,
		`rpc.call(Atom(%q), "erlang", "node")`,
		`rpc.call(nodes()[0], "erlang", "node")`,
		`rpc.yield(rpc.async_call(%q, "erlang", "node"))`,
		`rpc.yield(rpc.async_call(Atom(%q), "erlang", "node"))`,
	} {
		if strings.Contains(src, "%q") {
			src = fmt.Sprintf(src, b.name())
		}
		a.must(src, b.name())
	}
	a.must(fmt.Sprintf(`monitor_node(%q, true)`, b.name()), "true")
	a.must(fmt.Sprintf(`monitor_node(Atom(%q), false)`, b.name()), "true")
	if got := a.eval(`rpc.call(42, "erlang", "node")`); !strings.Contains(got, "a node name is a string") {
		t.Fatalf("a number as a node: %s", got)
	}
}
