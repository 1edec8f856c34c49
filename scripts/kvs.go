//go:build gsh

// Package bookkvs is the name server of "Programming Erlang" (chapter
// "Distributed Programming"), written with gsh's own primitives: a
// registered process holds the map, and store and lookup are message round
// trips to it. Load it into a node with c("scripts/kvs.go"); other nodes
// call it as module bookkvs (the builtin kvs keeps its name).
//
//	start() -> register(kvs, spawn(fun() -> loop() end)).
//	store(Key, Value) -> rpc({store, Key, Value}).
//	lookup(Key) -> rpc({lookup, Key}).
package bookkvs

import . "gsh/builtins"

// Start spawns the server and registers it as "bookkvs".
func Start() bool { return register("bookkvs", spawn(loop)) }

// Store keeps value under key.
func Store(key, value any) bool { return call([]any{"store", key, value}).(bool) }

// Lookup gives the value under key and whether there was one.
func Lookup(key any) (any, bool) {
	r := call([]any{"lookup", key}).([]any)
	return r[0], r[1].(bool)
}

// call sends {self(), Q} to the server and waits for its {kvs, Reply}.
func call(q []any) any {
	send("bookkvs", []any{self(), q})
	reply := receive(func(m any) bool {
		t, ok := m.([]any)
		return ok && len(t) == 2 && t[0] == "kvs"
	})
	return reply.([]any)[1]
}

func loop() {
	data := map[any]any{}
	for {
		m := receive().([]any)
		from, q := m[0].(Pid), m[1].([]any)
		switch op, _ := q[0].(string); op {
		case "store":
			data[q[1]] = q[2]
			send(from, []any{"kvs", true})
		case "lookup":
			v, ok := data[q[1]]
			send(from, []any{"kvs", []any{v, ok}})
		}
	}
}
