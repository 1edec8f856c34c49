package main

import (
	"strings"
	"testing"

	"gsh/cluster"
)

// TestRemoteOutputPrintsOnCaller: what a function called with rpc.call, or
// a process spawned on another node, prints comes back to the caller's
// terminal, before the call's result; the called node prints none of it.
func TestRemoteOutputPrintsOnCaller(t *testing.T) {
	_, port := privateMapper(t)
	gandalf := startGsh(t, nil, "-sname", "gandalf", "-setcookie", "abc", "-epmd_port", port, "-addr", "127.0.0.1")
	gandalf.send(`func greet(who string) string { fmt.Println("hello", who); return "greeted" }`)
	gandalf.send(`"ready"`)
	gandalf.expect("ready\n")
	g := "gandalf@" + cluster.ShortHostname()

	bilbo := startGsh(t, nil, "-sname", "bilbo", "-setcookie", "abc", "-epmd_port", port, "-addr", "127.0.0.1")
	bilbo.send(`rpc.call("` + g + `", "fmt", "Println", "hi")`)
	bilbo.expect("hi\n3\n")
	bilbo.send(`rpc.call("` + g + `", "main", "greet", "bilbo")`)
	bilbo.expect("hello bilbo\ngreeted\n")
	bilbo.send(`spawn("` + g + `", "main", "greet", "a process")`)
	bilbo.expect("hello a process\n")

	gandalf.send(`"still ready"`)
	gandalf.expect("still ready\n")
	if out := gandalf.out.String(); strings.Contains(out, "hi\n") || strings.Contains(out, "hello") {
		t.Errorf("gandalf printed what bilbo's calls printed:\n%s", out)
	}
}

// TestRemoteOutputAtTerminals: two prompts on terminals. What bilbo's call
// makes gandalf's code print shows on bilbo's terminal, before the result;
// gandalf's terminal, with a line half typed, shows none of it, and the
// line goes on intact.
func TestRemoteOutputAtTerminals(t *testing.T) {
	_, port := privateMapper(t)
	host := cluster.ShortHostname()
	gandalf := startTTY(t, t.TempDir(), "gandalf@"+host, "-sname", "gandalf", "-setcookie", "c", "-epmd_port", port, "-addr", "127.0.0.1")
	gandalf.prompt()
	bilbo := startTTY(t, t.TempDir(), "bilbo@"+host, "-sname", "bilbo", "-setcookie", "c", "-epmd_port", port, "-addr", "127.0.0.1")
	bilbo.prompt()

	gandalf.typeIn(`"half typed`)
	gandalf.expect(`"half typed`)
	if got := bilbo.result(`rpc.call("gandalf@` + host + `", "fmt", "Println", "hi from gandalf's code")`); got != "hi from gandalf's code\n23\n" {
		t.Errorf("bilbo's terminal showed %q", got)
	}
	gandalf.typeIn(` and finished"` + "\r")
	gandalf.expect("half typed and finished\r\n")
	gandalf.prompt()
	if strings.Contains(gandalf.out.String(), "hi from") {
		t.Errorf("gandalf's terminal showed the call's output:\n%q", gandalf.out.String())
	}
}
