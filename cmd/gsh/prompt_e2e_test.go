package main

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"gsh/cluster"
)

// TestDeepRecursionKeepsNode: endless recursion at the prompt, in a
// process, in a go statement and in a call served for another node ends
// that evaluation, process, goroutine or call with an error; the node keeps
// serving.
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
	gandalf.send(`q := spawn(func() { receive(); r(0) }); monitor(q); send(q, 1); receive().(Down).Reason`)
	gandalf.expect("stack overflow (more than ")
	gandalf.send("go r(0)")
	gandalf.expect("gsh: panic in goroutine: stack overflow (more than ")
	gandalf.send("6 * 9")
	gandalf.expect("54")

	bilbo := startGsh(t, nil, "-sname", "bilbo", "-setcookie", "abc", "-epmd_port", port, "-addr", "127.0.0.1")
	g := `"gandalf@` + host + `"`
	bilbo.send(`rpc.call(` + g + `, "main", "r", 0)`)
	bilbo.expect("** error: gandalf@" + host + ": panic: stack overflow (more than ")
	bilbo.send(`rpc.call(` + g + `, "erlang", "node")`)
	bilbo.expect("gandalf@" + host)
	gandalf.send(`"still here"`)
	gandalf.expect("still here")
}

// TestDurableKVSRestartsWithSameCommand: a -noshell node whose -eval starts
// its durable kvs is killed and started again with the very same command:
// it comes back serving every value. A failing -eval under -noshell says
// what failed and exits 1.
func TestDurableKVSRestartsWithSameCommand(t *testing.T) {
	_, port := privateMapper(t)
	host := cluster.ShortHostname()
	dir := filepath.Join(t.TempDir(), "kvs")
	args := []string{"-sname", "keeper", "-setcookie", "abc", "-epmd_port", port, "-addr", "127.0.0.1", "-kvs_dir", dir, "-noshell", "-eval", "kvs.start()"}
	keeper := startGsh(t, nil, args...)
	keeper.expect("true")
	bilbo := startGsh(t, []string{"GSH_COOKIE=abc"}, "-sname", "bilbo", "-epmd_port", port, "-addr", "127.0.0.1")
	k := `"keeper@` + host + `"`
	bilbo.send(`rpc.call(` + k + `, "kvs", "store", "ring", "one")`)
	bilbo.expect("true")

	keeper.cmd.Process.Signal(syscall.SIGKILL)
	<-keeper.done
	waitNames(t, "127.0.0.1:"+port, 1)

	keeper = startGsh(t, nil, args...)
	keeper.expect("true")
	bilbo.send(`rpc.call(` + k + `, "kvs", "lookup", "ring")`)
	bilbo.expect("one")
	select {
	case <-keeper.done:
		t.Fatalf("the restarted node exited:\n%s", keeper.out)
	default:
	}

	bad := startGsh(t, nil, "-sname", "bad", "-setcookie", "abc", "-epmd_port", port, "-addr", "127.0.0.1", "-noshell", "-eval", `panic("no disk")`)
	bad.expect("-eval:1: ** error: panic: no disk")
	select {
	case <-bad.done:
	case <-time.After(10 * time.Second):
		t.Fatal("a -noshell node whose -eval failed did not exit")
	}
	if code := bad.cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
}
