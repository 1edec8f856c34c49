package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"gsh/cluster"
)

// readyLine is what node B prints once it is ready for node A.
const readyLine = "gsh-bench: node B ready"

// gshSide runs the workloads with node A in this process and node B a gsh
// process, both registered with a private port mapper.
type gshSide struct {
	bin        string // the gsh binary
	dir        string // a temporary directory holding anchorbench.go
	mapperPort int
	host       string
	log        io.Writer
}

// bNode is node B: a gsh process.
type bNode struct {
	name cluster.Atom
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // its Wait error, once done is closed
	out  *tail         // its stderr and the stdout lines that are not read
}

// tail keeps the last lines a process wrote, for error messages.
type tail struct {
	mu    sync.Mutex
	lines []string
	copy  io.Writer
}

func (t *tail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, line)
	if len(t.lines) > 20 {
		t.lines = t.lines[len(t.lines)-20:]
	}
	if t.copy != nil {
		fmt.Fprintln(t.copy, line)
	}
}

func (t *tail) Write(p []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		t.add(l)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}

// bEval is what node B evaluates: kvs.start(), then c() of anchorbench.go
// for Echo and Sink.
func (g *gshSide) bEval() string {
	file := filepath.Join(g.dir, "anchorbench.go")
	return fmt.Sprintf("kvs.start()\nc(%q)\nfmt.Println(%q)\n", file, readyLine)
}

// startB starts node B and waits until it says it is ready; an error that
// B prints before, such as c() failing to load anchorbench.go, fails it.
func (g *gshSide) startB(ctx context.Context, name string) (*bNode, error) {
	eval := g.bEval()
	b := &bNode{
		name: cluster.Atom(name + "@" + g.host),
		done: make(chan struct{}),
		out:  &tail{},
	}
	b.cmd = exec.Command(g.bin, "-sname", name, "-setcookie", "bench",
		"-epmd_port", strconv.Itoa(g.mapperPort), "-addr", "127.0.0.1", "-noshell", "-eval", eval)
	b.cmd.Dir = g.dir
	b.cmd.Stderr = b.out
	stdout, err := b.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := b.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting node B: %w", err)
	}
	ready := make(chan string, 1) // the error lines before the ready line
	go func() {
		sc := bufio.NewScanner(stdout)
		var errs []string
		sent := false
		for sc.Scan() {
			line := sc.Text()
			if !sent && line == readyLine {
				ready <- strings.Join(errs, "; ")
				sent = true
				continue
			}
			if !sent && strings.Contains(line, "** error") {
				errs = append(errs, strings.TrimSpace(line))
			}
			b.out.add(line)
		}
		b.err = b.cmd.Wait()
		close(b.done)
	}()
	select {
	case errs := <-ready:
		if errs != "" {
			b.stop(ctx)
			return nil, fmt.Errorf("node B: %s", errs)
		}
		return b, nil
	case <-b.done:
		return nil, fmt.Errorf("node B exited before it was ready (%v):\n%s", b.err, b.out)
	case <-ctx.Done():
		b.stop(ctx)
		return nil, ctx.Err()
	case <-time.After(30 * time.Second):
		b.stop(ctx)
		return nil, fmt.Errorf("node B was not ready after 30s:\n%s", b.out)
	}
}

// stop ends node B, with SIGTERM and then SIGKILL if it does not go.
func (b *bNode) stop(ctx context.Context) {
	select {
	case <-b.done:
		return
	default:
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(5 * time.Second):
		b.cmd.Process.Kill()
		<-b.done
	}
}

// wait waits for node B to exit on its own (after init.stop).
func (b *bNode) wait(timeout time.Duration) error {
	select {
	case <-b.done:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("node B did not stop within %v of init.stop", timeout)
	}
}

// round runs the workloads once, in the order anchorbench.erl's main runs
// them, with a fresh node A and a fresh node B. only, when not empty, names
// the one workload to run.
func (g *gshSide) round(ctx context.Context, p params, only string, round int) (Results, error) {
	b, err := g.startB(ctx, fmt.Sprintf("benchb%d", round))
	if err != nil {
		return nil, err
	}
	defer b.stop(ctx)
	res, err := g.workloads(ctx, p, only, round, b)
	if err != nil {
		return nil, fmt.Errorf("%w\nnode B's last lines:\n%s", err, b.out)
	}
	return res, nil
}

func (g *gshSide) workloads(ctx context.Context, p params, only string, round int, b *bNode) (Results, error) {
	sel := func(name string) bool { return only == "" || only == name }
	cfg := cluster.DefaultConfig()
	cfg.Name = cluster.Atom(fmt.Sprintf("bencha%d@%s", round, g.host))
	cfg.Cookie = "bench"
	cfg.ListenAddr = "127.0.0.1:0"
	cfg.MapperPort = g.mapperPort
	cfg.Logf = func(format string, args ...any) { fmt.Fprintf(g.log, "gsh node A: "+format+"\n", args...) }
	a, err := cluster.Start(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("starting node A: %w", err)
	}
	defer a.Close()
	me := a.NewProcess()
	defer me.Exit(cluster.Normal)
	res := Results{}
	B := b.name

	t0 := time.Now()
	if err := a.Ping(ctx, B); err != nil {
		return nil, fmt.Errorf("connect_first_ping: %w", err)
	}
	if sel("connect_first_ping") {
		res["connect_first_ping.us"] = us(time.Since(t0))
	}

	nodeCall := func() error {
		v, err := a.Call(ctx, B, "erlang", "node")
		if err != nil {
			return err
		}
		if v != B {
			return fmt.Errorf("erlang.node() on %s = %#v", B, v)
		}
		return nil
	}
	for range p.Warmup {
		if err := nodeCall(); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
	}

	type timed struct {
		name string
		f    func() error
	}
	for _, w := range []timed{
		{"rpc_call", nodeCall},
		{"kvs_store", func() error {
			v, err := a.Call(ctx, B, "kvs", "store", "weather", "fine")
			if err == nil && v != true {
				err = fmt.Errorf("kvs.store = %#v, want true", v)
			}
			return err
		}},
		{"kvs_lookup", func() error {
			v, err := a.Call(ctx, B, "kvs", "lookup", "weather")
			if err == nil && v != "fine" {
				err = fmt.Errorf("kvs.lookup = %#v, want \"fine\"", v)
			}
			return err
		}},
	} {
		if !sel(w.name) {
			continue
		}
		ds, err := latencies(p.N, w.f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", w.name, err)
		}
		res.report(w.name, ds)
	}

	if sel("ping_pong") {
		echo, err := a.SpawnRemote(ctx, B, "anchorbench", "Echo", nil, nil)
		if err != nil {
			return nil, fmt.Errorf("spawning Echo on B: %w", err)
		}
		msg := []any{me.Pid(), "x"}
		ds, err := latencies(p.N, func() error {
			if err := a.Send(echo, msg); err != nil {
				return err
			}
			m, err := receive(ctx, me)
			if err == nil && m != "x" {
				err = fmt.Errorf("echo answered %#v, want \"x\"", m)
			}
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("ping_pong: %w", err)
		}
		res.report("ping_pong", ds)
	}

	if sel("send_one_way") {
		sink, err := a.SpawnRemote(ctx, B, "anchorbench", "Sink", nil, nil)
		if err != nil {
			return nil, fmt.Errorf("spawning Sink on B: %w", err)
		}
		msg := []any{cluster.Atom("msg"), 42}
		t0 := time.Now()
		for range p.Sends {
			if err := a.Send(sink, msg); err != nil {
				return nil, fmt.Errorf("send_one_way: %w", err)
			}
		}
		if err := a.Send(sink, []any{cluster.Atom("done"), me.Pid()}); err != nil {
			return nil, fmt.Errorf("send_one_way: %w", err)
		}
		m, err := receive(ctx, me)
		if err != nil {
			return nil, fmt.Errorf("send_one_way: waiting for the count: %w", err)
		}
		el := time.Since(t0)
		if c, ok := m.([]any); !ok || len(c) != 2 || c[0] != cluster.Atom("count") || c[1] != p.Sends {
			return nil, fmt.Errorf("send_one_way: the sink answered %#v, want [count %d]", m, p.Sends)
		}
		res["send_one_way.rate"] = float64(p.Sends) / el.Seconds()
	}

	if sel("rpc_concurrent32") {
		var wg sync.WaitGroup
		errs := make(chan error, p.Procs)
		t0 := time.Now()
		for range p.Procs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range p.PerProc {
					if err := nodeCall(); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		el := time.Since(t0)
		close(errs)
		if err := <-errs; err != nil {
			return nil, fmt.Errorf("rpc_concurrent32: %w", err)
		}
		res["rpc_concurrent32.rate"] = float64(p.Procs*p.PerProc) / el.Seconds()
	}

	if sel("rpc_call_beside_1MiB_stream") {
		big := bytes.Repeat([]byte{7}, 1<<20)
		stop := make(chan struct{})
		bigErr := make(chan error, 1)
		go func() {
			for {
				select {
				case <-stop:
					bigErr <- nil
					return
				default:
				}
				v, err := a.Call(ctx, B, "erlang", "byte_size", big)
				if err == nil && v != 1<<20 {
					err = fmt.Errorf("erlang.byte_size = %#v, want %d", v, 1<<20)
				}
				if err != nil {
					bigErr <- err
					return
				}
			}
		}()
		ds, err := latencies(p.Beside, nodeCall)
		close(stop)
		if berr := <-bigErr; err == nil && berr != nil {
			err = fmt.Errorf("the 1 MiB stream: %w", berr)
		}
		if err != nil {
			return nil, fmt.Errorf("rpc_call_beside_1MiB_stream: %w", err)
		}
		res.report("rpc_call_beside_1MiB_stream", ds)
	}

	// B may be gone before its answer is: the link going down is an answer too.
	if _, err := a.Call(ctx, B, "init", "stop"); err != nil && !errors.Is(err, cluster.ErrNodeDown) {
		return nil, fmt.Errorf("init.stop on B: %w", err)
	}
	if err := b.wait(10 * time.Second); err != nil {
		return nil, err
	}
	return res, nil
}

// receive takes the next message of p, waiting at most 10 s.
func receive(ctx context.Context, p *cluster.Process) (any, error) {
	m, ok, err := p.Receive(ctx, nil, 10*time.Second)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errors.New("no message within 10s")
	}
	return m, nil
}
