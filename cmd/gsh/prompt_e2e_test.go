package main

import (
	"testing"

	"gsh/cluster"
)

// TestDeepRecursionKeepsNode: endless recursion at the prompt and in a call
// served for another node ends that evaluation or call with an error; the
// node keeps serving.
func TestDeepRecursionKeepsNode(t *testing.T) {
	_, port := privateMapper(t)
	host := cluster.ShortHostname()
	gandalf := startGsh(t, nil, "-sname", "gandalf", "-setcookie", "abc", "-epmd_port", port, "-addr", "127.0.0.1")
	gandalf.send("func r(n int) int { return r(n+1) + 1 }")
	gandalf.send("r(0)")
	gandalf.expect("** error: stack overflow (more than ")
	gandalf.expect(" nested calls)\n")
	gandalf.send("6 * 7")
	gandalf.expect("42")

	bilbo := startGsh(t, nil, "-sname", "bilbo", "-setcookie", "abc", "-epmd_port", port, "-addr", "127.0.0.1")
	g := `"gandalf@` + host + `"`
	bilbo.send(`rpc.call(` + g + `, "main", "r", 0)`)
	bilbo.expect("** error: gandalf@" + host + ": panic: stack overflow (more than ")
	bilbo.send(`rpc.call(` + g + `, "erlang", "node")`)
	bilbo.expect("gandalf@" + host)
	gandalf.send(`"still here"`)
	gandalf.expect("still here")
}
