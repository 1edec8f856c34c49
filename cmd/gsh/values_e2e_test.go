package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
