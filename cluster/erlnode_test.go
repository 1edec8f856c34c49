package cluster

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// erlNode is a real Erlang node, started by a test, that evaluates the
// expressions the test sends it one line at a time.
type erlNode struct {
	t    testing.TB
	name Atom
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
}

var erlSeq atomic.Int64

// erlREPL reads an expression per line, evaluates it with the bindings so
// far and prints "=> Value" (~w, one line) or "=> ERROR Class Reason".
const erlREPL = `Loop = fun L(B) ->
    case io:get_line("") of
        eof -> halt();
        Line ->
            B2 = try
                {ok, Toks, _} = erl_scan:string(Line),
                {ok, Es} = erl_parse:parse_exprs(Toks),
                {value, V, B1} = erl_eval:exprs(Es, B),
                io:format("=> ~w~n", [V]),
                B1
            catch C:R -> io:format("=> ERROR ~w ~w~n", [C, R]), B
            end,
            L(B2)
    end
end, io:format("=> ready~n"), Loop(erl_eval:new_bindings()).`

// startErl starts erl -sname NAME -setcookie cookie registered with the
// test cluster's port mapper (ERL_EPMD_PORT), with extra arguments.
func startErl(t testing.TB, mapper int, name, cookie string, extra ...string) *erlNode {
	t.Helper()
	erl := needErl(t)
	name = fmt.Sprintf("%s%d_%d", name, os.Getpid(), erlSeq.Add(1))
	args := append([]string{"-sname", name, "-setcookie", cookie, "-noshell"}, extra...)
	args = append(args, "-eval", erlREPL)
	cmd := exec.Command(erl, args...)
	cmd.Env = append(os.Environ(), fmt.Sprintf("ERL_EPMD_PORT=%d", mapper))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outp, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e := &erlNode{t: t, name: Atom(name + "@" + ShortHostname()), cmd: cmd, in: in, out: bufio.NewReader(outp)}
	t.Cleanup(e.stop)
	if got := e.read(); got != "ready" {
		t.Fatalf("erl started with %q", got)
	}
	return e
}

// read returns the next "=> " line erl printed, without the marker.
func (e *erlNode) read() string {
	e.t.Helper()
	type line struct {
		s   string
		err error
	}
	ch := make(chan line, 1)
	go func() {
		for {
			s, err := e.out.ReadString('\n')
			if err != nil {
				ch <- line{s, err}
				return
			}
			if r, ok := strings.CutPrefix(strings.TrimRight(s, "\r\n"), "=> "); ok {
				ch <- line{r, nil}
				return
			}
		}
	}()
	select {
	case l := <-ch:
		if l.err != nil {
			e.t.Fatalf("erl %s: %v (%q)", e.name, l.err, l.s)
		}
		return l.s
	case <-time.After(30 * time.Second):
		e.t.Fatalf("erl %s printed nothing for 30 s", e.name)
		return ""
	}
}

// eval evaluates one Erlang expression (without the final dot) on the node
// and returns its value as ~w prints it.
func (e *erlNode) eval(expr string) string {
	e.t.Helper()
	if _, err := fmt.Fprintf(e.in, "%s.\n", expr); err != nil {
		e.t.Fatal(err)
	}
	return e.read()
}

// kill ends the node with SIGKILL.
func (e *erlNode) kill() {
	e.cmd.Process.Signal(syscall.SIGKILL)
	e.cmd.Wait()
}

func (e *erlNode) stop() {
	if e.cmd.ProcessState == nil {
		e.in.Close()
		done := make(chan struct{})
		go func() { e.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			e.kill()
		}
	}
}

// startErlang starts a gsh node of the test cluster that links with Erlang
// nodes.
func (c *testCluster) startErlang(name, cookie string) *Node {
	c.t.Helper()
	cfg := c.config(name, cookie)
	cfg.Erlang = true
	n, err := Start(t0(), cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { n.Close() })
	return n
}
