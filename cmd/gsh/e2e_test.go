package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"gsh/cluster"
	"gsh/cluster/portmap"
	"gsh/internal/gshtest"
)

// gshBin is the real gsh binary, built once for the end-to-end tests.
var gshBin string

func TestMain(m *testing.M) {
	gshtest.Main(m, &gshBin)
}

// gshProc is one running gsh with its stdin a pipe.
type gshProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *gshtest.Output // stdout and stderr together
	mark int             // how far the test has read
	done chan struct{}
}

func startGsh(t *testing.T, env []string, args ...string) *gshProc {
	t.Helper()
	cmd := exec.Command(gshBin, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	cmd.Env = append(cmd.Env, env...)
	return startCmd(t, cmd, "gsh "+strings.Join(args, " "))
}

// startCmd starts cmd with its stdin a pipe and its output collected, and
// kills it when the test ends (showing its output when the test failed).
func startCmd(t *testing.T, cmd *exec.Cmd, what string) *gshProc {
	t.Helper()
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &gshProc{t: t, cmd: cmd, in: in, out: gshtest.NewOutput(), done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		in.Close()
		cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("output of %s:\n%s", what, p.out)
		}
	})
	return p
}

// send types one input line.
func (p *gshProc) send(line string) {
	p.t.Helper()
	if _, err := io.WriteString(p.in, line+"\n"); err != nil {
		p.t.Fatalf("writing %q: %v", line, err)
	}
}

// expect waits for text in what the process printed since the last expect.
func (p *gshProc) expect(text string) {
	p.t.Helper()
	p.mark = p.out.WaitFor(p.t, p.mark, text, 10*time.Second)
}

// privateMapper runs the real port mapper on a private loopback port.
func privateMapper(t *testing.T) (*portmap.Server, string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := portmap.NewServer()
	go m.Serve(ln)
	t.Cleanup(func() { m.Close() })
	return m, fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

func TestTwoNodeWalkthrough(t *testing.T) {
	_, port := privateMapper(t)
	host := cluster.ShortHostname()
	gandalf := startGsh(t, nil, "-sname", "gandalf", "-setcookie", "abc", "-epmd_port", port, "-addr", "127.0.0.1")
	gandalf.send("node()")
	gandalf.expect("gandalf@" + host)
	gandalf.send("kvs.start()")
	gandalf.expect("true")

	bilbo := startGsh(t, nil, "-sname", "bilbo", "-setcookie", "abc", "-epmd_port", port, "-addr", "127.0.0.1")
	g := `"gandalf@` + host + `"`
	bilbo.send(`rpc.call(` + g + `, "kvs", "store", "weather", "fine")`)
	bilbo.expect("true")
	bilbo.send(`rpc.call(` + g + `, "kvs", "lookup", "weather")`)
	bilbo.expect("fine")
	bilbo.send(`rpc.call(` + g + `, "kvs", "lookup", "snow")`)
	bilbo.expect("undefined")
	gandalf.send(`kvs.lookup("weather")`)
	gandalf.expect("fine")
	gandalf.send(`kvs.lookup("rain")`)
	gandalf.expect("undefined")

	// Functions defined at gandalf's prompt, and the standard library.
	gandalf.send("func double(x int) int { return 2 * x }")
	gandalf.send(`"defined"`)
	gandalf.expect("defined")
	bilbo.send(`rpc.call(` + g + `, "main", "double", 21)`)
	bilbo.expect("42")
	bilbo.send(`rpc.call(` + g + `, "strings", "ToUpper", "hi")`)
	bilbo.expect("HI")
	bilbo.send(`rpc.call(` + g + `, "erlang", "node")`)
	bilbo.expect("gandalf@" + host)
	bilbo.send(`net_adm.ping(` + g + `)`)
	bilbo.expect("pong")
	bilbo.send(`nodes()`)
	bilbo.expect("gandalf@" + host)
	gandalf.send(`nodes()`)
	gandalf.expect("bilbo@" + host)

	// Failures are visible.
	bilbo.send(`rpc.call(` + g + `, "main", "nothere")`)
	bilbo.expect("** error")
	bilbo.send(`rpc.call(` + g + `, "kvs", "nothere")`)
	bilbo.expect("unknown function")
	bilbo.send(`rpc.call(` + g + `, "main", "double", "x")`)
	bilbo.expect("bad arguments")

	// A wrong cookie: pang, an authentication error, and one log line on
	// gandalf naming the claimed node and its address.
	saruman := startGsh(t, nil, "-sname", "saruman", "-setcookie", "wrong", "-epmd_port", port, "-addr", "127.0.0.1")
	saruman.send(`net_adm.ping(` + g + `)`)
	saruman.expect("pang")
	saruman.send(`rpc.call(` + g + `, "erlang", "node")`)
	saruman.expect("authentication failed")
	gandalf.expect("saruman@" + host)
	gandalf.expect("127.0.0.1:")

	// Kill gandalf: bilbo's next call says the node is down, within a second.
	gandalf.cmd.Process.Signal(syscall.SIGKILL)
	<-gandalf.done
	start := time.Now()
	bilbo.send(`rpc.call(` + g + `, "erlang", "node")`)
	bilbo.mark = bilbo.out.WaitFor(t, bilbo.mark, "node down", time.Second)
	t.Logf("node down reported %v after the call", time.Since(start))

	// q() leaves cleanly.
	bilbo.send("q()")
	select {
	case <-bilbo.done:
	case <-time.After(10 * time.Second):
		t.Fatal("bilbo did not exit on q()")
	}
	// bilbo's input is piped: inputs failed, so it exits 1 at the end.
	if code := bilbo.cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
}

func TestNoNameNode(t *testing.T) {
	p := startGsh(t, nil)
	p.send("node()")
	p.expect("nonode@nohost")
	p.send(`rpc.call("gandalf@somewhere", "erlang", "node")`)
	p.expect("-sname")
}

func TestMapperStartedOnDemand(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing answers on this port: the node starts a mapper there
	p := startGsh(t, nil, "-sname", "frodo", "-setcookie", "abc", "-epmd_port", fmt.Sprint(port), "-addr", "127.0.0.1")
	p.send("node()")
	p.expect("frodo@")
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	names, err := portmap.List(context.Background(), addr)
	if err != nil || len(names) != 1 || names[0].Name != "frodo" {
		t.Fatalf("the started mapper lists %v, %v", names, err)
	}
	p.send("q()")
	<-p.done
	// The registration lived as long as the node; then stop the mapper.
	waitNames(t, addr, 0)
	stopMapper(t, addr)
}

func waitNames(t *testing.T, addr string, n int) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for {
		names, err := portmap.List(context.Background(), addr)
		if err == nil && len(names) == n {
			return
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("mapper at %s lists %v (%v), want %d names", addr, names, err, n)
		}
	}
}

// stopMapper sends epmd's KILL_REQ.
func stopMapper(t *testing.T, addr string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte{0, 1, 107})
	b, _ := io.ReadAll(c)
	if string(b) != "OK" {
		t.Fatalf("KILL_REQ answered %q", b)
	}
}

func TestHelpAndBadFlags(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, strings.NewReader(""), &out, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"-sname", "-name", "-setcookie", "-epmd_port", "GSH_COOKIE", "GSH_EPMD_PORT"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help does not mention %s", want)
		}
	}
	out.Reset()
	err := run(context.Background(), []string{"-bogus"}, strings.NewReader(""), &out, &out)
	if err == nil || !strings.Contains(err.Error(), "bogus") || !strings.Contains(out.String(), "-sname") {
		t.Fatalf("bad flag: %v\n%s", err, out.String())
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-sname", ""}, "-sname given an empty value (gsh --help lists the flags)"},
		{[]string{"-eval", "1", "file.gsh"}, "give -eval or a script (file.gsh), not both"},
	} {
		out.Reset()
		err := run(context.Background(), c.args, strings.NewReader(""), &out, &out)
		if err == nil || err.Error() != c.want {
			t.Errorf("gsh %q: %v, want %s", c.args, err, c.want)
		}
	}
}
