//go:build gsh

// Package dist_demo is the book's dist_demo: start(Node) spawns a loop on
// another node, and rpc(Pid, M, F, A) asks that loop to run M:F(A) there.
// Load it on every node with nl("scripts/dist_demo.go").
//
//	start(Node) -> spawn(Node, fun() -> loop() end).
//	rpc(Pid, M, F, A) -> Pid ! {rpc, self(), M, F, A}, receive {Pid, Response} -> Response end.
//	loop() -> receive {rpc, Pid, M, F, A} -> Pid ! {self(), (catch apply(M, F, A))}, loop() end.
package dist_demo

import . "gsh/builtins"

// Start spawns the loop on node and returns its pid.
func Start(node string) Pid { return spawn(node, "dist_demo", "Loop") }

// Rpc has the loop at pid run module.function(args...) on its node, and
// gives the answer (an error value when the call failed there).
func Rpc(pid Pid, module, function string, args ...any) any {
	send(pid, []any{"rpc", self(), module, function, args})
	reply := receive(func(m any) bool {
		t, ok := m.([]any)
		return ok && len(t) == 2 && t[0] == pid
	})
	return reply.([]any)[1]
}

// Loop serves rpc requests until its process is stopped.
func Loop() {
	for {
		m := receive().([]any)
		if len(m) == 5 && m[0] == "rpc" {
			args, _ := m[4].([]any)
			send(m[1], []any{self(), apply(m[2].(string), m[3].(string), args...)})
		}
	}
}
