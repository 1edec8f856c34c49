package main

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"gsh/cluster"
	"gsh/internal/gshtest"
)

// ttyGsh is the real gsh on a pseudo-terminal, typed at as a user would.
type ttyGsh struct {
	t    *testing.T
	host string
	node string // the node named in the prompt
	ptmx *os.File
	out  *gshtest.Output
	mark int // how far the test has read
	n    int // the number of the prompt expected next
	done chan struct{}
	cmd  *exec.Cmd
}

func (g *ttyGsh) typeIn(s string) {
	g.t.Helper()
	if _, err := g.ptmx.Write([]byte(s)); err != nil {
		g.t.Fatalf("typing %q: %v", s, err)
	}
}

func (g *ttyGsh) expect(text string) {
	g.t.Helper()
	g.mark = g.out.WaitFor(g.t, g.mark, text, 20*time.Second)
}

// prompt waits for the next prompt.
func (g *ttyGsh) prompt() {
	g.t.Helper()
	g.expect(fmt.Sprintf("(%s)%d> ", g.node, g.n))
	g.n++
}

// result types a line and returns what was printed between its echo and
// the next prompt, without terminal control sequences and carriage returns.
func (g *ttyGsh) result(line string) string {
	g.t.Helper()
	g.typeIn(line + "\r")
	g.expect(line + "\r\n")
	from := g.mark
	g.prompt()
	s := g.out.String()[from:g.mark]
	s = s[:len(s)-len(fmt.Sprintf("(%s)%d> ", g.node, g.n-1))]
	return strings.ReplaceAll(controlSeq.ReplaceAllString(s, ""), "\r", "")
}

var (
	controlSeq = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)
	lastNumber = regexp.MustCompile(`(\d+)\n$`)
)

// count asks the counting process how far it got.
func (g *ttyGsh) count() int {
	g.t.Helper()
	out := g.result(`send(counter, self()); receive()`)
	m := lastNumber.FindStringSubmatch(out)
	if m == nil {
		g.t.Fatalf("the counter answered %q", out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// startTTY starts gsh on a pseudo-terminal, with HOME set to home; its
// prompts name node.
func startTTY(t *testing.T, home, node string, args ...string) *ttyGsh {
	t.Helper()
	cmd := exec.Command(gshBin, args...)
	cmd.Env = append(os.Environ(), "HOME="+home, "TERM=xterm")
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 160})
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	g := &ttyGsh{t: t, host: cluster.ShortHostname(), node: node, ptmx: ptmx, out: gshtest.NewOutput(), n: 1, done: make(chan struct{}), cmd: cmd}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := ptmx.Read(b)
			g.out.Write(b[:n])
			if err != nil {
				return
			}
		}
	}()
	go func() { cmd.Wait(); close(g.done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-g.done
		ptmx.Close()
		if t.Failed() {
			t.Logf("the terminal of gsh %s showed:\n%q", strings.Join(args, " "), g.out.String())
		}
	})
	return g
}

// TestInteractivePTY drives the real binary on a pseudo-terminal: a value,
// Tab completion of a builtin, the up arrow, Ctrl-C stopping an endless loop
// but not a process that counts, and Ctrl-D leaving with status 0.
func TestInteractivePTY(t *testing.T) {
	_, port := privateMapper(t)
	host := cluster.ShortHostname()
	home := t.TempDir()
	g := startTTY(t, home, "tty@"+host, "-sname", "tty", "-setcookie", "c", "-epmd_port", port, "-addr", "127.0.0.1")
	cmd := g.cmd
	g.prompt()
	if got := g.result("x := 20 + 22"); got != "42\n" {
		t.Fatalf("x := 20 + 22 printed %q", got)
	}

	// Tab: rpc.ca has two completions, listed; one more letter makes it one.
	g.typeIn("rpc.ca\t")
	g.expect("rpc.call")
	g.expect("rpc.cast")
	g.typeIn("l\t")
	g.expect("rpc.call")
	line := `(node(), "erlang", "node")`
	g.typeIn(line + "\r")
	g.expect("rpc.call" + line + "\r\n")
	g.expect("tty@" + g.host + "\r\n")
	g.prompt()

	// Tab in a node name: the port mapper's names, the string closed.
	g.typeIn(`rpc.call("tt` + "\t")
	called := `rpc.call("tty@` + g.host + `"`
	g.expect(called)
	g.typeIn(`, "erlang", "node")` + "\r")
	g.expect(called + `, "erlang", "node")` + "\r\n")
	g.expect("tty@" + g.host + "\r\n")
	g.prompt()

	// The up arrow brings the line back; Enter runs it again.
	g.typeIn("\x1b[A")
	g.expect(called + `, "erlang", "node")`)
	g.typeIn("\r")
	g.expect("tty@" + g.host + "\r\n")
	g.prompt()

	// A process that keeps counting, and tells how far it got.
	g.result(`func count() { n := 0; for { n++; if m := receive(1); m != timeout { send(m, n) } } }`)
	g.result(`counter := spawn("main", "count")`)
	before := g.count()

	// Ctrl-C stops the endless loop, and only it.
	g.typeIn("for {}\r")
	g.expect("for {}\r\n")
	g.typeIn("\x03")
	g.expect("** error: interrupted\r\n")
	g.prompt()
	deadline := time.Now().Add(20 * time.Second)
	for {
		after := g.count()
		if after > before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the counter stopped at %d", after)
		}
	}

	// Ctrl-D leaves, with status 0.
	g.typeIn("\x04")
	select {
	case <-g.done:
	case <-time.After(20 * time.Second):
		t.Fatal("Ctrl-D did not end gsh")
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit status %d", code)
	}
	hist, err := os.ReadFile(home + "/.gsh_history")
	if err != nil || !regexp.MustCompile(`(?m)^for \{\}$`).Match(hist) {
		t.Errorf("history file: %q, %v", hist, err)
	}
}

// TestRemoteShellPTY: a remote shell on a terminal: gandalf's prompt, Tab
// completing gandalf's names, Ctrl-C stopping gandalf's evaluation only.
func TestRemoteShellPTY(t *testing.T) {
	_, port := privateMapper(t)
	host := cluster.ShortHostname()
	gandalf := startGsh(t, nil, "-sname", "gandalf", "-setcookie", "c", "-epmd_port", port, "-addr", "127.0.0.1")
	gandalf.send(`func gandalfOnly() string { return "defined on gandalf" }`)
	gandalf.send(`node()`)
	gandalf.expect("gandalf@" + host)

	g := startTTY(t, t.TempDir(), "gandalf@"+host, "-sname", "bilbo", "-setcookie", "c", "-epmd_port", port, "-addr", "127.0.0.1", "-remsh", "gandalf")
	g.prompt()
	if got := g.result("node()"); got != "gandalf@"+host+"\n" {
		t.Fatalf("node() printed %q", got)
	}
	g.typeIn("gandalfO\t")
	g.expect("gandalfOnly")
	g.typeIn("()\r")
	g.expect("defined on gandalf\r\n")
	g.prompt()

	g.typeIn("for {}\r")
	g.expect("for {}\r\n")
	g.typeIn("\x03")
	g.expect("** error: interrupted\r\n")
	g.prompt()
	if got := g.result(`"still " + string(node())`); got != "still gandalf@"+host+"\n" {
		t.Fatalf("after Ctrl-C: %q", got)
	}
	// gandalf's own prompt works again.
	gandalf.send(`"gandalf is free"`)
	gandalf.expect("gandalf is free")

	g.typeIn("\x04")
	select {
	case <-g.done:
	case <-time.After(20 * time.Second):
		t.Fatal("Ctrl-D did not end the remote shell")
	}
	if code := g.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit status %d", code)
	}
	gandalf.send(`"gandalf still runs"`)
	gandalf.expect("gandalf still runs")
}
