package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"

	"gsh/cluster"
)

// plainWorkload is rpc_call with node B a plain Go program using cluster
// (this program, started again as plainNode) instead of a gsh process: the
// same call without the interpreter, the shell or gsh's builtins on B.
const plainWorkload = "rpc_call_plain_go"

// plainNode is node B as a plain Go program: a cluster.Node named
// $GSH_BENCH_NAME, registered with the port mapper on $GSH_BENCH_MAPPER_PORT,
// that answers erlang.node. It prints "ready" on out once it is, and ends
// when in closes.
func plainNode(in io.Reader, out io.Writer) error {
	port, err := strconv.Atoi(os.Getenv("GSH_BENCH_MAPPER_PORT"))
	if err != nil {
		return fmt.Errorf("GSH_BENCH_MAPPER_PORT: %w", err)
	}
	cfg := cluster.DefaultConfig()
	cfg.Name = cluster.Atom(os.Getenv("GSH_BENCH_NAME"))
	cfg.Cookie = "bench"
	cfg.ListenAddr = "127.0.0.1:0"
	cfg.MapperPort = port
	cfg.Logf = func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	name := cfg.Name
	cfg.Handler = cluster.HandlerFunc(func(ctx context.Context, from cluster.Atom, module, function string, args []any) (any, error) {
		if module == "erlang" && function == "node" && len(args) == 0 {
			return name, nil
		}
		return nil, fmt.Errorf("no function %s.%s/%d: %w", module, function, len(args), cluster.ErrUnknownFunction)
	})
	n, err := cluster.Start(context.Background(), cfg)
	if err != nil {
		return fmt.Errorf("starting node B: %w", err)
	}
	defer n.Close()
	fmt.Fprintln(out, "ready")
	io.Copy(io.Discard, in)
	return nil
}

// plain runs plainWorkload: node A in this process calls erlang.node on a
// plain Go node B, p.Warmup times untimed and then p.N times.
func (g *gshSide) plain(ctx context.Context, p params, round int) (Results, error) {
	bname := cluster.Atom(fmt.Sprintf("benchp%d@%s", round, g.host))
	c, _, err := startChild(ctx, "plain", "GSH_BENCH_NAME="+string(bname), "GSH_BENCH_MAPPER_PORT="+strconv.Itoa(g.mapperPort))
	if err != nil {
		return nil, err
	}
	defer c.stop()
	cfg := cluster.DefaultConfig()
	cfg.Name = cluster.Atom(fmt.Sprintf("benchq%d@%s", round, g.host))
	cfg.Cookie = "bench"
	cfg.ListenAddr = "127.0.0.1:0"
	cfg.MapperPort = g.mapperPort
	cfg.Logf = func(format string, args ...any) { fmt.Fprintf(g.log, "gsh node A: "+format+"\n", args...) }
	a, err := cluster.Start(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("starting node A: %w", err)
	}
	defer a.Close()
	call := func() error {
		v, err := a.Call(ctx, bname, "erlang", "node")
		if err == nil && v != bname {
			err = fmt.Errorf("erlang.node() on %s = %#v", bname, v)
		}
		return err
	}
	for range p.Warmup {
		if err := call(); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
	}
	ds, err := latencies(p.N, call)
	if err != nil {
		return nil, err
	}
	res := Results{}
	res.report(plainWorkload, ds)
	return res, nil
}
