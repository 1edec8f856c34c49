package builtins_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestNamesMulticallAllMemory: net_adm.names, rpc.multicall without a list
// and memory(), at the prompt of in-process nodes.
func TestNamesMulticallAllMemory(t *testing.T) {
	c := newCluster(t)
	a, b := c.start("a"), c.start("b")
	a.must(fmt.Sprintf(`net_adm.ping(%q)`, b.name()), "pong")

	// The port mapper's list: both nodes, each with its port.
	got := a.eval(`net_adm.names()`)
	for _, g := range []*gshNode{a, b} {
		short := strings.SplitN(g.name(), "@", 2)[0]
		want := fmt.Sprintf(`["%s", %d]`, short, g.node.Port())
		if !strings.Contains(got, want) {
			t.Errorf("net_adm.names() = %s, want an entry %s", got, want)
		}
	}
	a.must(`ns, _ := net_adm.names("127.0.0.1"); len(ns)`, "2")
	if got := a.eval(`net_adm.names("127.0.0.1", "x")`); !strings.HasPrefix(got, "** error: net_adm.names: one host at most") {
		t.Errorf("two hosts: %s", got)
	}

	// Every node, this one included, without a list.
	a.must(`r, bad := rpc.multicall("erlang", "node"); []any{len(r), len(bad)}`, "[2, 0]")
	a.must(`r, _ := rpc.multicall("strings", "Repeat", "ab", 2); r`, `["abab", "abab"]`)
	a.must(`r, bad := rpc.multicall(nodes(), "erlang", "node"); []any{r, len(bad)}`, "[["+b.name()+"], 0]")
	if got := a.eval(`rpc.multicall(42, "erlang", "node")`); !strings.Contains(got, "give a list of nodes") {
		t.Errorf("a number for the nodes: %s", got)
	}
	if got := a.eval(`rpc.multicall("erlang")`); !strings.Contains(got, "give a module and a function") {
		t.Errorf("no function: %s", got)
	}

	// memory(): the runtime's figures, each positive.
	for _, k := range []string{"total", "heap", "stack", "goroutines"} {
		a.must(fmt.Sprintf(`v, _ := memory(%q); v.(int64) > 0`, k), "true")
	}
	a.must(`m, _ := memory(); m.(map[string]int64)["total"] >= m.(map[string]int64)["heap"]`, "true")
	if got := a.eval(`memory("atoms")`); !strings.Contains(got, "the kinds are [total heap stack other goroutines gc_runs]") {
		t.Errorf("unknown kind: %s", got)
	}
}
