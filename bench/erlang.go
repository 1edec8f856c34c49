package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gsh/cluster/portmap"
)

// erlSide runs erlang/anchorbench.erl as run.sh does, but with a private
// epmd port.
type erlSide struct {
	dir      string // the compiled .beam files
	epmdPort int
	epmd     *exec.Cmd
	epmdDone chan struct{}
	log      io.Writer
	release  string // "25", from anchorbench's first line
}

// haveErlang reports whether erl, erlc and epmd are on PATH.
func haveErlang() bool {
	for _, p := range []string{"erl", "erlc", "epmd"} {
		if _, err := exec.LookPath(p); err != nil {
			return false
		}
	}
	return true
}

// startErlang compiles the carried .erl files into dir and starts a private
// epmd (a child, killed by close).
func startErlang(ctx context.Context, dir string, log io.Writer) (*erlSide, error) {
	e := &erlSide{dir: dir, log: log}
	for name, src := range map[string]string{"kvs.erl": kvsErl, "anchorbench.erl": anchorbenchErl} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			return nil, err
		}
	}
	out, err := exec.CommandContext(ctx, "erlc", "-o", dir, filepath.Join(dir, "kvs.erl"), filepath.Join(dir, "anchorbench.erl")).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("erlc: %v\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	e.epmdPort = port
	e.epmd = exec.Command("epmd", "-port", strconv.Itoa(port))
	e.epmd.Stdout, e.epmd.Stderr = log, log
	if err := e.epmd.Start(); err != nil {
		return nil, fmt.Errorf("starting epmd: %w", err)
	}
	e.epmdDone = make(chan struct{})
	go func() { e.epmd.Wait(); close(e.epmdDone) }()
	// Wait until epmd answers.
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, cancel := context.WithTimeout(ctx, time.Second)
		_, err := portmap.List(c, addr)
		cancel()
		if err == nil {
			break
		}
		select {
		case <-e.epmdDone:
			return nil, fmt.Errorf("epmd -port %d exited: %v", port, e.epmd.ProcessState)
		default:
		}
		if time.Now().After(deadline) {
			e.close()
			return nil, fmt.Errorf("epmd -port %d does not answer: %w", port, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return e, nil
}

func (e *erlSide) close() {
	if e.epmd != nil && e.epmd.Process != nil {
		e.epmd.Process.Kill()
		<-e.epmdDone
	}
}

func (e *erlSide) env() []string {
	return append(os.Environ(), "ERL_EPMD_PORT="+strconv.Itoa(e.epmdPort))
}

// freePort is a TCP port on 127.0.0.1 that nothing listened on a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// round runs anchorbench:main once: a fresh node B, then node A, which
// measures every workload and stops B.
func (e *erlSide) round(ctx context.Context, round int) (Results, error) {
	bname := fmt.Sprintf("anchor_b%d_%d", os.Getpid(), round)
	b := exec.Command("erl", "-sname", bname, "-setcookie", "anchorbench", "-noshell", "-pa", e.dir,
		"-eval", `io:format("ready ~s~n", [node()])`)
	b.Dir, b.Env = e.dir, e.env()
	bout := &tail{}
	b.Stderr = bout
	stdout, err := b.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := b.Start(); err != nil {
		return nil, fmt.Errorf("starting Erlang node B: %w", err)
	}
	ready := make(chan string, 1)
	bdone := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if n, ok := strings.CutPrefix(sc.Text(), "ready "); ok {
				ready <- n
				continue
			}
			bout.add(sc.Text())
		}
		b.Wait()
		close(bdone)
	}()
	stopB := func() {
		select {
		case <-bdone:
			return
		default:
		}
		b.Process.Signal(syscall.SIGTERM)
		select {
		case <-bdone:
		case <-time.After(5 * time.Second):
			b.Process.Kill()
			<-bdone
		}
	}
	defer stopB()
	var bnode string
	select {
	case bnode = <-ready:
	case <-bdone:
		return nil, fmt.Errorf("Erlang node B exited before it was ready:\n%s", bout)
	case <-time.After(60 * time.Second):
		return nil, fmt.Errorf("Erlang node B was not ready after 60s:\n%s", bout)
	case <-ctx.Done():
		return nil, ctx.Err()
	}

	a := exec.CommandContext(ctx, "erl", "-sname", fmt.Sprintf("anchor_a%d_%d", os.Getpid(), round),
		"-setcookie", "anchorbench", "-noshell", "-pa", e.dir, "-run", "anchorbench", "main", bnode)
	a.Dir, a.Env = e.dir, e.env()
	out, err := a.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("Erlang node A: %v\n%s", err, out)
	}
	res, release, err := parseAnchor(string(out))
	if err != nil {
		return nil, err
	}
	e.release = release
	select { // anchorbench's last call stops B
	case <-bdone:
	case <-time.After(10 * time.Second):
	}
	return res, nil
}

// parseAnchor reads anchorbench's lines, such as
//
//	rpc_call mean_us=81.2 p50_us=76.2 p99_us=117.3
//	send_one_way msgs_per_s=260943.0
//
// into the metric keys the gsh side uses.
func parseAnchor(out string) (Results, string, error) {
	res := Results{}
	release := ""
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "erlang_otp" {
			release = f[1]
			continue
		}
		if len(f) < 2 {
			continue
		}
		for _, kv := range f[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				continue
			}
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return nil, "", fmt.Errorf("anchorbench line %q: %w", line, err)
			}
			switch {
			case strings.HasSuffix(k, "_per_s"):
				k = "rate"
			default:
				k = strings.TrimSuffix(strings.TrimSuffix(k, "us"), "_")
				if k == "" {
					k = "us"
				}
			}
			res[f[0]+"."+k] = x
		}
	}
	if len(res) == 0 {
		return nil, "", fmt.Errorf("anchorbench printed no results:\n%s", out)
	}
	return res, release, nil
}
