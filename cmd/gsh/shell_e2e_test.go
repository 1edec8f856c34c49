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

// TestRemoteShellE2E: gsh -remsh gandalf@HOST evaluates bilbo's input on
// gandalf and prints the output on bilbo.
func TestRemoteShellE2E(t *testing.T) {
	_, port := privateMapper(t)
	host := cluster.ShortHostname()
	gandalf := startGsh(t, nil, "-sname", "gandalf", "-setcookie", "abc", "-epmd_port", port, "-addr", "127.0.0.1")
	gandalf.send("node()")
	gandalf.expect("gandalf@" + host)
	gandalf.send(`secret := "kept on gandalf"`)
	gandalf.expect("kept on gandalf")

	bilbo := startGsh(t, nil, "-sname", "bilbo", "-setcookie", "abc", "-epmd_port", port, "-addr", "127.0.0.1", "-remsh", "gandalf@"+host)
	bilbo.send("node()")
	bilbo.expect("gandalf@" + host + "\n")
	bilbo.send("secret")
	bilbo.expect("kept on gandalf\n")
	bilbo.send(`fmt.Println("printed on", node())`)
	bilbo.expect("printed on gandalf@" + host + "\n")
	bilbo.send(`func double(x int) int {`)
	bilbo.send(`	return 2 * x`)
	bilbo.send(`}`)
	bilbo.send(`double(21)`)
	bilbo.expect("42\n")
	bilbo.send(`nope`)
	bilbo.expect("** error: undefined: nope")
	bilbo.send(`help("history")`)
	bilbo.expect("func history(last ...int)")
	bilbo.send(`history()`)
	bilbo.expect("1  node()\n")
	bilbo.expect("history()\n")
	bilbo.send(`"after the error"`)
	bilbo.expect("after the error\n")

	// What bilbo defined lives on gandalf, and gandalf printed none of it.
	gandalf.send("double(4)")
	gandalf.expect("8\n")
	if out := gandalf.out.String(); strings.Contains(out, "printed on") || strings.Contains(out, "nope") {
		t.Errorf("gandalf printed the remote shell's output:\n%s", out)
	}

	// A remote shell to a node that is not there fails at once.
	lost := exec.Command(gshBin, "-sname", "frodo", "-setcookie", "abc", "-epmd_port", port, "-addr", "127.0.0.1", "-remsh", "nobody")
	lost.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := lost.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "-remsh nobody@"+host) {
		t.Errorf("-remsh nobody: %v\n%s", err, out)
	}
}

// TestScriptArgsAndHalt: a script with a #! line gets its arguments from
// args(); halt(code) exits with code.
func TestScriptArgsAndHalt(t *testing.T) {
	_, port := privateMapper(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "greet.gsh")
	src := "#!/usr/bin/env gsh\nargs()\nlen(args())\nhistory()\nhalt(len(args()))\n\"not reached\"\n"
	if err := os.WriteFile(script, []byte(src), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(gshBin, "-sname", "script", "-epmd_port", port, "-addr", "127.0.0.1", script, "a", "b c", "d")
	cmd.Env = append(os.Environ(), "HOME="+dir, "GSH_COOKIE=abc")
	out, err := cmd.CombinedOutput()
	want := "[\"a\", \"b c\", \"d\"]\n3\n1  args()\n2  len(args())\n3  history()\n"
	if string(out) != want {
		t.Errorf("output %q, want %q", out, want)
	}
	if cmd.ProcessState.ExitCode() != 3 {
		t.Errorf("exit code %d (%v), want 3", cmd.ProcessState.ExitCode(), err)
	}

	// At the prompt: no arguments; q() exits 0.
	p := startGsh(t, nil)
	p.send("args()")
	p.expect("[]\n")
	p.send("q()")
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatal("q() did not end gsh")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("q(): exit code %d", code)
	}
}

// TestPipedSessionErrors: a session piped to gsh goes on after an error,
// shows an assigned error as a value, and exits 1 at the end when an input
// failed (0 when none did).
func TestPipedSessionErrors(t *testing.T) {
	_, port := privateMapper(t)
	pipe := func(src string) (string, int) {
		cmd := exec.Command(gshBin, "-sname", "piped", "-epmd_port", port, "-addr", "127.0.0.1")
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "GSH_COOKIE=abc")
		cmd.Stdin = strings.NewReader(src)
		out, _ := cmd.CombinedOutput()
		return string(out), cmd.ProcessState.ExitCode()
	}
	out, code := pipe("_, err := strconv.Atoi(\"x\")\nerrors.New(\"boom\")\n\"still here\"\n")
	want := "error(\"strconv.Atoi: parsing \\\"x\\\": invalid syntax\")\ninput:2: ** error: boom\nstill here\n"
	if out != want || code != 1 {
		t.Errorf("piped session with an error: exit %d, output %q; want exit 1, output %q", code, out, want)
	}
	out, code = pipe("_, err := strconv.Atoi(\"x\")\n\"fine\"\n")
	if code != 0 || !strings.HasSuffix(out, "fine\n") {
		t.Errorf("piped session without errors: exit %d, output %q; want exit 0", code, out)
	}
}

// TestShadowedBuiltinsE2E: a name declared at the prompt shadows the
// builtin of that name; calling it fails with one line that names the
// builtin's qualified name, which still works.
func TestShadowedBuiltinsE2E(t *testing.T) {
	_, port := privateMapper(t)
	cmd := exec.Command(gshBin, "-sname", "shadow", "-epmd_port", port, "-addr", "127.0.0.1")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "GSH_COOKIE=abc")
	cmd.Stdin = strings.NewReader("i := 3\ni()\nbuiltins.i()\nc := func() {}\nc(\"f.go\")\nx := 1\nx()\n")
	out, _ := cmd.CombinedOutput()
	for _, want := range []string{
		"3\ninput:2: ** error: invalid operation: cannot call non-function i (variable of type int) (i is yours here, the builtin is builtins.i)\n",
		"shell (the prompt)",
		"1 processes\n",
		"input:5: ** error: too many arguments (c is yours here, the builtin is builtins.c)\n",
		"input:7: ** error: invalid operation: cannot call non-function x (variable of type int)\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestQuietScript: gsh -q file.gsh prints only what the script prints, and
// its error on stderr.
func TestQuietScript(t *testing.T) {
	_, port := privateMapper(t)
	dir := t.TempDir()
	run := func(src string) (stdout, stderr string, code int) {
		script := filepath.Join(dir, "quiet.gsh")
		if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(gshBin, "-q", "-sname", "quiet", "-epmd_port", port, "-addr", "127.0.0.1", script)
		cmd.Env = append(os.Environ(), "HOME="+dir, "GSH_COOKIE=abc")
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		cmd.Run()
		return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
	}
	out, errOut, code := run("x := 20\nx + 1\nfmt.Println(\"answer\", x*2+2)\nstrings.ToUpper(\"quiet\")\n")
	if out != "answer 42\n" || errOut != "" || code != 0 {
		t.Errorf("quiet script: exit %d, stdout %q, stderr %q; want exit 0, stdout %q", code, out, errOut, "answer 42\n")
	}
	out, errOut, code = run("fmt.Println(\"before\")\nerrors.New(\"boom\")\nfmt.Println(\"after\")\n")
	if out != "before\n" || errOut != "quiet.gsh:2: ** error: boom\n" || code != 1 {
		t.Errorf("failing quiet script: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
