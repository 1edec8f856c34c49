package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"gsh/cluster"
)

// crossRow is one caller → callee pair of the cross workload.
type crossRow struct {
	label          string
	p50, p99, mean float64 // µs
}

// crossErl times n sequential rpc:call(Node, erlang, node, []) from an erl
// node to each node given, after warm calls, and prints
// "cross NODE p50_us=… p99_us=… mean_us=…" per node.
const crossErl = `Time = fun(Node, W, N) ->
    [Node = rpc:call(Node, erlang, node, []) || _ <- lists:seq(1, W)],
    Ds = lists:sort([begin
        T0 = erlang:monotonic_time(nanosecond),
        Node = rpc:call(Node, erlang, node, []),
        erlang:monotonic_time(nanosecond) - T0
    end || _ <- lists:seq(1, N)]),
    P = fun(F) -> lists:nth(max(1, round(F * N)), Ds) / 1000 end,
    io:format("cross ~s p50_us=~.1f p99_us=~.1f mean_us=~.1f~n", [Node, P(0.5), P(0.99), lists:sum(Ds) / N / 1000])
end,
[W, N | Nodes] = init:get_plain_arguments(),
[Time(list_to_atom(Nd), list_to_integer(W), list_to_integer(N)) || Nd <- Nodes],
halt().`

// crossRPC measures rpc_call across kinds of nodes, all on one port
// mapper: erl → erl, erl → gsh, gsh → erl and gsh → gsh. The gsh callee is
// a real gsh -erlang -noshell; the gsh caller is this program's node, as
// for every other workload.
func (g *gshSide) crossRPC(ctx context.Context, p params) ([]crossRow, error) {
	env := append(os.Environ(), "ERL_EPMD_PORT="+strconv.Itoa(g.mapperPort))
	pid := os.Getpid()
	host := cluster.ShortHostname()
	gshB := fmt.Sprintf("cross_g%d@%s", pid, host)
	erlB := fmt.Sprintf("cross_e%d@%s", pid, host)

	b := exec.CommandContext(ctx, g.bin, "-sname", strings.Split(gshB, "@")[0], "-setcookie", "anchorbench", "-erlang",
		"-noshell", "-epmd_port", strconv.Itoa(g.mapperPort), "-addr", "127.0.0.1")
	b.Stdout, b.Stderr = g.log, g.log
	if err := b.Start(); err != nil {
		return nil, fmt.Errorf("starting gsh: %w", err)
	}
	defer func() { b.Process.Signal(syscall.SIGTERM); b.Wait() }()
	e := exec.CommandContext(ctx, "erl", "-sname", strings.Split(erlB, "@")[0], "-setcookie", "anchorbench", "-noshell",
		"-eval", `io:format("ready~n")`)
	e.Env = env
	e.Stderr = g.log
	out, err := e.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := e.Start(); err != nil {
		return nil, fmt.Errorf("starting erl: %w", err)
	}
	defer func() { e.Process.Kill(); e.Wait() }()
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "ready" {
				ready <- true
			}
		}
		io.Copy(io.Discard, out)
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		return nil, fmt.Errorf("erl %s was not ready after 30 s", erlB)
	}

	cfg := cluster.DefaultConfig()
	cfg.Name = cluster.Atom(fmt.Sprintf("cross_a%d@%s", pid, host))
	cfg.Cookie = "anchorbench"
	cfg.ListenAddr = "127.0.0.1:0"
	cfg.MapperPort = g.mapperPort
	cfg.Erlang = true
	cfg.Logf = func(format string, args ...any) { fmt.Fprintf(g.log, "cross: "+format+"\n", args...) }
	a, err := cluster.Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	var rows []crossRow
	for _, to := range []struct{ label, node string }{{"gsh → erl", erlB}, {"gsh → gsh", gshB}} {
		call := func() error {
			_, err := a.Call(ctx, cluster.Atom(to.node), "erlang", "node")
			return err
		}
		deadline := time.Now().Add(10 * time.Second)
		for call() != nil { // until the node is up
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("%s: %w", to.label, call())
			}
			time.Sleep(20 * time.Millisecond)
		}
		for range p.Warmup {
			call()
		}
		ds, err := latencies(p.N, call)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", to.label, err)
		}
		slices.Sort(ds)
		rows = append(rows, crossRow{to.label, pct(ds, 0.5), pct(ds, 0.99), mean(ds)})
	}

	ea := exec.CommandContext(ctx, "erl", "-sname", fmt.Sprintf("cross_x%d", pid), "-setcookie", "anchorbench", "-noshell",
		"-eval", crossErl, "-extra", strconv.Itoa(p.Warmup), strconv.Itoa(p.N), erlB, gshB)
	ea.Env = env
	res, err := ea.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("erl caller: %v\n%s", err, res)
	}
	labels := map[string]string{erlB: "erl → erl", gshB: "erl → gsh"}
	for _, line := range strings.Split(string(res), "\n") {
		f := strings.Fields(line)
		if len(f) != 5 || f[0] != "cross" {
			continue
		}
		r := crossRow{label: labels[f[1]]}
		for i, v := range []*float64{&r.p50, &r.p99, &r.mean} {
			_, num, _ := strings.Cut(f[2+i], "=")
			if *v, err = strconv.ParseFloat(num, 64); err != nil {
				return nil, fmt.Errorf("erl caller's line %q: %w", line, err)
			}
		}
		rows = append(rows, r)
	}
	if len(rows) != 4 {
		return nil, fmt.Errorf("erl caller printed:\n%s", res)
	}
	return rows, nil
}

// printCross writes the cross table.
func printCross(w io.Writer, rows []crossRow, n int) {
	fmt.Fprintf(w, "\nrpc_call across kinds of nodes: %d sequential erlang:node calls, µs\n\n", n)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "caller → callee\tp50\tp99\tmean\t")
	order := []string{"erl → erl", "erl → gsh", "gsh → erl", "gsh → gsh"}
	for _, l := range order {
		for _, r := range rows {
			if r.label == l {
				fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.1f\t\n", r.label, r.p50, r.p99, r.mean)
			}
		}
	}
	tw.Flush()
}
