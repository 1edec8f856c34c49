package shell

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// screen collects what the shell writes to the terminal.
type screen struct {
	buf syncBuffer
	pos int // what expect has consumed
}

// waitFor waits until text appears in buf, and returns the position after
// it.
func waitFor(t *testing.T, buf *syncBuffer, from int, text string, timeout time.Duration) int {
	t.Helper()
	deadline := time.After(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		s := buf.String()
		if k := strings.Index(s[min(from, len(s)):], text); k >= 0 {
			return from + k + len(text)
		}
		select {
		case <-deadline:
			t.Fatalf("no %q on the terminal; it shows after position %d:\n%q", text, from, s[min(from, len(s)):])
		case <-tick.C:
		}
	}
}

// expect waits for text after what was expected before.
func (s *screen) expect(t *testing.T, text string) {
	t.Helper()
	s.pos = waitFor(t, &s.buf, s.pos, text, 10*time.Second)
}

func TestShellInteractivePTY(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 24, Cols: 100}); err != nil {
		t.Fatal(err)
	}
	var scr screen
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := ptmx.Read(b)
			scr.buf.Write(b[:n])
			if err != nil {
				return
			}
		}
	}()

	i, err := NewInterp(Options{Stdout: tty, Stderr: tty})
	if err != nil {
		t.Fatal(err)
	}
	history := filepath.Join(t.TempDir(), "history")
	sh := New(Config{
		Interp:      i,
		In:          tty,
		Out:         tty,
		Err:         tty,
		Interactive: true,
		Prompt:      func(n int) string { return fmt.Sprintf("(t@pty)%d> ", n) },
		HistoryFile: history,
	})
	done := make(chan error, 1)
	go func() { done <- sh.Run(context.Background()) }()
	typeIn := func(s string) {
		t.Helper()
		if _, err := ptmx.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}

	scr.expect(t, "(t@pty)1> ")
	typeIn("1 + 2\r")
	scr.expect(t, "3\r\n")
	scr.expect(t, "(t@pty)2> ")

	// An unfinished input continues on the next line.
	typeIn("func f() int {\r")
	scr.expect(t, "\r       .. ")
	typeIn("return 1 }\r")
	scr.expect(t, "(t@pty)3> ")
	typeIn("f()\r")
	scr.expect(t, "1\r\n")
	scr.expect(t, "(t@pty)4> ")
	typeIn("f()\r") // again: not twice in the history
	scr.expect(t, "1\r\n")
	scr.expect(t, "(t@pty)5> ")

	// Ctrl-C at the prompt forgets the line, the shell stays.
	typeIn("half a line")
	scr.expect(t, "half a line")
	typeIn("\x03")
	scr.expect(t, "^C")
	scr.expect(t, "(t@pty)5> ")
	typeIn("\x03")
	scr.expect(t, "(t@pty)5> ")
	// ... and an unfinished input.
	typeIn("func g() {\r")
	scr.expect(t, ".. ")
	typeIn("\x03")
	scr.expect(t, "(t@pty)5> ")
	typeIn("2 + 2\r")
	scr.expect(t, "4\r\n")
	scr.expect(t, "(t@pty)6> ")

	// Ctrl-C during an evaluation interrupts it.
	typeIn("for {}\r")
	scr.expect(t, "for {}\r\n")
	typeIn("\x03")
	scr.expect(t, "** error: interrupted\r\n")
	scr.expect(t, "(t@pty)7> ")
	typeIn(`fmt.Println("still here")` + "\r")
	scr.expect(t, "still here\r\n")
	scr.expect(t, "(t@pty)8> ")
	typeIn(`fmt.Fprintln(os.Stderr, "on stderr")` + "\r")
	scr.expect(t, "on stderr\r\n")
	before := scr.pos
	scr.expect(t, "(t@pty)9> ")
	if between := scr.buf.String()[before:scr.pos]; strings.Contains(between, "10") {
		t.Errorf("the (n, err) results of Fprintln were printed: %q", between)
	}

	// Log lines from elsewhere go above the prompt.
	typeIn("partial")
	scr.expect(t, "partial")
	sh.Logf("node up")
	scr.expect(t, "node up\r\n")
	scr.expect(t, "(t@pty)9> partial")
	typeIn("\x03")
	scr.expect(t, "(t@pty)9> ")

	// Ctrl-D on an empty line ends Run.
	typeIn("\x04")
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Ctrl-D did not end Run")
	}

	h, err := os.ReadFile(history)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"1 + 2", "func f() int {", "f()", "for {}"} {
		if !strings.Contains(string(h), line+"\n") {
			t.Errorf("history %q lacks %q", h, line)
		}
	}
	if n := strings.Count(string(h), "f()\n"); n != 1 {
		t.Errorf("f() is %d times in the history %q", n, h)
	}
}

// TestShellInteractiveHalt: cancelling Run's context (halt()) ends Run while
// it waits for input.
func TestShellInteractiveHalt(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	var scr screen
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := ptmx.Read(b)
			scr.buf.Write(b[:n])
			if err != nil {
				return
			}
		}
	}()
	i, err := NewInterp(Options{Stdout: tty, Stderr: tty})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sh := New(Config{Interp: i, In: tty, Out: tty, Interactive: true})
	done := make(chan error, 1)
	go func() { done <- sh.Run(ctx) }()
	scr.expect(t, "1> ")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancel did not end Run")
	}
}

// TestHistoryKeepsNoSecrets: the history file is its owner's only, and an
// input that gives the cookie is kept with the cookie redacted, in the file,
// in the lines the arrows recall and in History.
func TestHistoryKeepsNoSecrets(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	var scr screen
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := ptmx.Read(b)
			scr.buf.Write(b[:n])
			if err != nil {
				return
			}
		}
	}()
	history := filepath.Join(t.TempDir(), "history")
	// A history file left world-readable, with a secret in it.
	if err := os.WriteFile(history, []byte("x := 1\nset_cookie(\"OldSecret1\")\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(history, 0o644); err != nil {
		t.Fatal(err)
	}
	i, err := NewInterp(Options{Stdout: tty, Stderr: tty})
	if err != nil {
		t.Fatal(err)
	}
	sh := New(Config{Interp: i, In: tty, Out: tty, Interactive: true, HistoryFile: history})
	done := make(chan error, 1)
	go func() { done <- sh.Run(context.Background()) }()
	typeIn := func(s string) {
		t.Helper()
		if _, err := ptmx.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	scr.expect(t, "1> ")
	typeIn(`set_cookie("SuperSecretCookie42")` + "\r")
	scr.expect(t, "2> ")
	typeIn(`os.Setenv("GSH_COOKIE", "EnvSecret7")` + "\r")
	scr.expect(t, "3> ")
	typeIn("set_cookie(\r")
	scr.expect(t, ".. ")
	typeIn(`"MultiSecret9")` + "\r")
	scr.expect(t, "4> ")
	// The up arrow recalls the line as the history keeps it.
	typeIn("\x1b[A\x1b[A")
	scr.expect(t, `os.Setenv("GSH_COOKIE", …)`)
	typeIn("\x03")
	scr.expect(t, "4> ")
	typeIn("\x04")
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Ctrl-D did not end Run")
	}

	fi, err := os.Stat(history)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("history file mode %o, want 600", mode)
	}
	b, err := os.ReadFile(history)
	if err != nil {
		t.Fatal(err)
	}
	old, session := sh.History()
	kept := string(b) + strings.Join(old, "\n") + strings.Join(session, "\n")
	for _, secret := range []string{"OldSecret1", "SuperSecretCookie42", "EnvSecret7", "MultiSecret9"} {
		if strings.Contains(kept, secret) {
			t.Errorf("the history keeps %s: file %q, History %q %q", secret, b, old, session)
		}
	}
	for _, line := range []string{"x := 1", "set_cookie(…)", `os.Setenv("GSH_COOKIE", …)`} {
		if !strings.Contains(string(b), line+"\n") {
			t.Errorf("history file %q lacks %q", b, line)
		}
	}
}
