package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gsh/cluster"
)

// TestEvalAndScriptsPrintWhole: -eval and a script print long values whole,
// where the prompt cuts them.
func TestEvalAndScriptsPrintWhole(t *testing.T) {
	home := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(gshBin, args...)
		cmd.Env = append(os.Environ(), "HOME="+home)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("gsh %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	long := strings.Repeat("x", 5000)
	if got := run("-eval", `strings.Repeat("x", 5000)`); got != long+"\n" {
		t.Errorf("-eval printed %d bytes (%.80q…), want the 5000 x's whole", len(got), got)
	}
	script := filepath.Join(t.TempDir(), "long.gsh")
	src := "l := make([]int, 150)\n[]any{strings.Repeat(\"y\", 4100), len(l)}\n"
	if err := os.WriteFile(script, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	got := run(script)
	want := "[" + strings.TrimSuffix(strings.Repeat("0, ", 150), ", ") + "]\n" +
		`["` + strings.Repeat("y", 4100) + `", 150]` + "\n"
	if got != want {
		t.Errorf("the script printed\n%.300q…\nwant\n%.300q…", got, want)
	}
}

// TestInitStopAnswers: rpc.call(node, "init", "stop") answers true, then
// the node exits 0, logging no failure.
func TestInitStopAnswers(t *testing.T) {
	_, port := privateMapper(t)
	host := cluster.ShortHostname()
	args := func(name string) []string {
		return []string{"-sname", name, "-setcookie", "abc", "-epmd_port", port, "-addr", "127.0.0.1"}
	}
	bilbo := startGsh(t, nil, args("bilbo")...)
	frodo := startGsh(t, nil, args("frodo")...)
	frodo.send(`net_adm.ping("bilbo@` + host + `")`)
	frodo.expect("pong")
	g := `"gandalf@` + host + `"`
	for range 3 {
		gandalf := startGsh(t, nil, append(args("gandalf"), "-noshell")...)
		// Once gandalf serves calls.
		bilbo.send(`func() string { for { if _, err := rpc.call(` + g + `, "erlang", "node"); err == nil { return "ready" } } }()`)
		bilbo.expect("ready")
		bilbo.send(`rpc.call(` + g + `, "init", "stop")`)
		bilbo.expect("true")
		select {
		case <-gandalf.done:
		case <-time.After(10 * time.Second):
			t.Fatal("gandalf did not stop")
		}
		if code := gandalf.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("gandalf exited %d, want 0", code)
		}
		if out := gandalf.out.String(); strings.Contains(out, "could not connect") || strings.Contains(out, "context canceled") {
			t.Errorf("gandalf logged:\n%s", out)
		}
		waitNames(t, "127.0.0.1:"+port, 2)
	}
}
