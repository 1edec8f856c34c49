package builtins

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"gsh/cluster"
	"gsh/cluster/portmap"
)

// args is args(): the arguments of the script being run, [] at the prompt.
func (e *Env) args() []string {
	return append([]string{}, e.Args...)
}

// history is history(): the prompt's history, numbered, the history file's
// lines first; history(n) prints the last n lines only.
func (e *Env) history(last ...int) {
	if e.History == nil {
		fmt.Fprintln(e.Out, "no history here")
		return
	}
	old, session := e.History()
	all := append(append([]string{}, old...), session...)
	from := 0
	if len(last) > 0 && last[0] >= 0 && last[0] < len(all) {
		from = len(all) - last[0]
	}
	w := len(strconv.Itoa(len(all)))
	for k := from; k < len(all); k++ {
		if k == len(old) && k > from {
			fmt.Fprintf(e.Out, "%*s  -- this session --\n", w, "")
		}
		fmt.Fprintf(e.Out, "%*d  %s\n", w, k+1, all[k])
	}
}

// nodeArgs are the builtins that take a node name, and which of their
// arguments it is (from 0).
var nodeArgs = map[string]int{
	"rpc.call":                0,
	"rpc.cast":                0,
	"rpc.async_call":          0,
	"net_adm.ping":            0,
	"net_kernel.connect_node": 0,
	"spawn":                   0,
	"spawn_link":              0,
	"monitor_node":            0,
	"disconnect_node":         0,
	"at":                      1,
}

// NodeArg reports whether the builtin call (as written at the prompt:
// "rpc.call", "spawn") takes a node name, and as which argument (from 0).
func NodeArg(call string) (arg int, ok bool) {
	arg, ok = nodeArgs[call]
	return arg, ok
}

// KnownNodes returns the node names worth offering where a node name is
// typed: this node, the nodes it has a link to, and the nodes registered
// with the port mapper on this host (asked for with a short timeout). Sorted.
func (e *Env) KnownNodes(ctx context.Context) []string {
	var out []string
	self := e.Node.Name()
	if self != cluster.NoNode {
		out = append(out, string(self))
	}
	for _, n := range e.Node.Nodes() {
		out = append(out, string(n))
	}
	host := cluster.ShortHostname()
	if _, h, err := cluster.SplitName(self); err == nil && self != cluster.NoNode {
		host = h
	}
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(e.Node.Config().MapperPort))
	if names, err := portmap.List(ctx, addr); err == nil {
		for _, m := range names {
			out = append(out, m.Name+"@"+host)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
