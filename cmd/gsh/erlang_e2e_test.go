package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"gsh/cluster"
)

// startProc starts any program with its stdin a pipe, as startGsh does gsh.
func startProc(t *testing.T, dir string, env []string, name string, args ...string) *gshProc {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	cmd.Env = append(cmd.Env, env...)
	return startCmd(t, cmd, name+" "+strings.Join(args, " "))
}

// readmeSession returns the lines of the first code block of the README's
// section titled title.
func readmeSession(t *testing.T, title string) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "\n## "+title+"\n")
	if !ok {
		t.Fatalf("the README has no section %q", title)
	}
	_, block, ok := strings.Cut(sec, "```\n")
	if !ok {
		t.Fatalf("the README's section %q has no code block", title)
	}
	block, _, _ = strings.Cut(block, "```")
	return strings.Split(strings.TrimRight(block, "\n"), "\n")
}

// TestErlangReadmeSession replays the README's two-terminal session with
// one erl and one gsh, word for word: each input typed at either prompt,
// each output line awaited from that node.
func TestErlangReadmeSession(t *testing.T) {
	erl, err := exec.LookPath("erl")
	if err != nil {
		t.Skip("erl is not installed (apt-get install erlang-base)")
	}
	lines := readmeSession(t, "With Erlang and Elixir nodes")
	col := strings.Index(lines[0], "terminal 2")
	if col < 0 {
		t.Fatalf("the session's first line names no terminal 2: %q", lines[0])
	}
	_, port := privateMapper(t)
	host := cluster.ShortHostname()
	dir := t.TempDir()
	src, err := os.ReadFile("../../scripts/kvs.erl")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "kvs.erl"), src, 0o644)

	prompt := regexp.MustCompile(`^\([a-z]+@` + regexp.QuoteMeta(host) + `\)\d+> (.*)$`)
	var erlNode, gshNode *gshProc
	// split gives a line's two columns: a line is terminal 1's, or, when
	// it starts blank up to terminal 2's column, terminal 2's; the first
	// holds both commands.
	split := func(line string) (string, string) {
		left, right := line, ""
		if strings.TrimSpace(line[:min(col, len(line))]) == "" || strings.Contains(line, "  $ gsh ") {
			left, right = line[:min(col, len(line))], line[min(col, len(line)):]
		}
		return strings.TrimSpace(left), strings.TrimSpace(right)
	}
	for i, line := range lines[1:] {
		line = strings.ReplaceAll(line, "HOST", host)
		left, right := split(line)
		if strings.HasPrefix(right, "$ gsh ") {
			args := append(strings.Fields(strings.TrimPrefix(right, "$ gsh ")), "-epmd_port", port, "-addr", "127.0.0.1")
			gshNode = startGsh(t, nil, args...)
			waitRegistered(t, port, args[1])
			right = ""
		}
		if left != "" {
			switch {
			case strings.HasPrefix(left, "$ "):
				_, cmd, _ := strings.Cut(left, "erl ")
				erlNode = startProc(t, dir, []string{"ERL_EPMD_PORT=" + port}, erl, strings.Fields(cmd)...)
			case prompt.MatchString(left):
				erlNode.send(prompt.FindStringSubmatch(left)[1])
			default:
				erlNode.expect(left)
			}
		}
		if right != "" {
			switch {
			case prompt.MatchString(right):
				gshNode.send(prompt.FindStringSubmatch(right)[1])
				// An input the session shows no output for (a definition):
				// wait until gsh has taken it before the session goes on.
				next := ""
				if i+2 < len(lines) {
					_, next = split(lines[i+2])
				}
				if next == "" || prompt.MatchString(next) {
					mark := fmt.Sprintf("taken %d", i)
					gshNode.send(strconv.Quote(mark))
					gshNode.expect(mark)
				}
			default:
				gshNode.expect(right)
			}
		}
	}
}

// waitRegistered waits until the port mapper on port lists name.
func waitRegistered(t *testing.T, port, name string) {
	t.Helper()
	mapperHas(t, "127.0.0.1:"+port, name, true)
}

// TestElixirBothWays: an iex node calls gsh and gsh calls it, and they
// exchange messages.
func TestElixirBothWays(t *testing.T) {
	iex, err := exec.LookPath("iex")
	if err != nil {
		t.Skip("iex is not installed (apt-get install elixir)")
	}
	_, port := privateMapper(t)
	host := cluster.ShortHostname()
	g := startGsh(t, nil, "-sname", "gandalf", "-setcookie", "abc", "-erlang", "-epmd_port", port, "-addr", "127.0.0.1")
	waitRegistered(t, port, "gandalf")
	x := startProc(t, t.TempDir(), []string{"ERL_EPMD_PORT=" + port}, iex, "--sname", "x", "--cookie", "abc")
	G := `:"gandalf@` + host + `"`
	X := `"x@` + host + `"`
	x.expect("iex(x@" + host + ")1>")
	x.send("Node.ping(" + G + ")")
	x.expect(":pong")
	x.send(":rpc.call(" + G + ", :kvs, :start, [])")
	x.expect("true")
	x.send(":rpc.call(" + G + ", :kvs, :store, [:weather, \"fine\"])")
	x.expect("true")
	x.send(":rpc.call(" + G + ", :kvs, :lookup, [:weather])")
	x.expect(`"fine"`)
	x.send(":rpc.call(" + G + ", :strings, :ToUpper, [\"elixir\"])")
	x.expect(`"ELIXIR"`)
	x.send("Node.list()")
	x.expect("[:gandalf@" + host + "]")

	g.send(`rpc.call(` + X + `, "Elixir.String", "upcase", "from gsh")`)
	g.expect("FROM GSH")
	g.send(`rpc.call(` + X + `, "Elixir.Enum", "reverse", []any{1, 2, 3})`)
	g.expect("[3, 2, 1]")
	g.send(`nodes()`)
	g.expect("[x@" + host + "]")
	x.send("Process.register(self(), :shell)")
	x.expect("true")
	g.send(`send(at("shell", ` + X + `), Tuple{Atom("hello"), self()})`)
	x.send("receive do {:hello, pid} -> send(pid, {:hi, node()}) end")
	x.expect("{:hi, :x@" + host + "}")
	g.send(`receive()`)
	g.expect("{hi, x@" + host + "}")
}

// TestErlangLoadedPackageAndKill: a package loaded into gsh with c() is a
// module erl calls, and erl sees gsh go down when it is killed with
// SIGKILL.
func TestErlangLoadedPackageAndKill(t *testing.T) {
	erl, err := exec.LookPath("erl")
	if err != nil {
		t.Skip("erl is not installed (apt-get install erlang-base)")
	}
	_, port := privateMapper(t)
	host := cluster.ShortHostname()
	g := startGsh(t, nil, "-sname", "gandalf", "-setcookie", "abc", "-erlang", "-epmd_port", port, "-addr", "127.0.0.1")
	waitRegistered(t, port, "gandalf")
	g.send(`c("../../scripts/kvs.go")`)
	g.expect("bookkvs")
	e := startProc(t, t.TempDir(), []string{"ERL_EPMD_PORT=" + port}, erl, "-sname", "e", "-setcookie", "abc")
	G := "'gandalf@" + host + "'"
	e.send("rpc:call(" + G + ", bookkvs, start, []).")
	e.expect("true")
	e.send("rpc:call(" + G + ", bookkvs, store, [weather, fine]).")
	e.expect("true")
	e.send("rpc:call(" + G + ", bookkvs, lookup, [weather]).")
	e.expect("fine")
	e.send("monitor_node(" + G + ", true).")
	e.expect("true")
	g.cmd.Process.Signal(syscall.SIGKILL)
	<-g.done
	e.send("receive {nodedown, N} -> {down, N} after 5000 -> timeout end.")
	e.expect("{down,gandalf@" + host + "}")
	e.send("nodes().")
	e.expect("[]")
}
