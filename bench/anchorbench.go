//go:build ignore

// Package anchorbench is node B's side of the benchmark against Erlang/OTP:
// the echo and sink processes of erlang/anchorbench.erl, written for gsh's
// interpreter. Node B loads it with c("anchorbench.go"); node A spawns them
// with cluster.Node.SpawnRemote(ctx, B, "anchorbench", "Echo", nil, nil).
//
// The build constraint keeps the go tool away: the file uses the builtins
// (receive, send), which only the interpreter has. The interpreter honours
// only old-style "+build" lines, so it loads the file all the same.
package anchorbench

import . "gsh/builtins"

// Echo is anchorbench:echo/0: it answers []any{from, m} by sending m to from,
// until it receives the atom stop.
func Echo() {
	for {
		m := receive()
		if a, ok := m.([]any); ok && len(a) == 2 {
			send(a[0], a[1])
			continue
		}
		if m == Atom("stop") {
			return
		}
	}
}

// Sink is anchorbench:sink/0: it counts every message until []any{done,
// from}, then sends []any{count, n} to from and counts from zero again.
func Sink() {
	n := 0
	for {
		m := receive()
		if a, ok := m.([]any); ok && len(a) == 2 && a[0] == Atom("done") {
			send(a[1], []any{Atom("count"), n})
			n = 0
			continue
		}
		n++
	}
}
