package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// startup runs name with args to its end twice: once for its wall time in
// ms, and once traced (see peakRSS) for the peak resident memory in MB of
// the process at its exit, which must then be running a program whose name
// starts with prog. The two runs are apart so that tracing costs the wall
// time nothing.
func startup(ctx context.Context, env []string, prog, name string, args ...string) (wallMs, rssMB float64, err error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Dir = os.TempDir()
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(t0)
	if err != nil {
		return 0, 0, fmt.Errorf("%s %q: %v\n%s", name, args, err, out)
	}

	var buf bytes.Buffer
	cmd = exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Dir = os.TempDir()
	cmd.Stdout, cmd.Stderr = &buf, &buf
	kib, ran, err := peakRSS(cmd)
	if err != nil {
		return 0, 0, fmt.Errorf("%s %q, traced for its peak memory: %v\n%s", name, args, err, buf.Bytes())
	}
	if !strings.HasPrefix(ran, prog) {
		return 0, 0, fmt.Errorf("%s %q: the process ended running %q, not %s", name, args, ran, prog)
	}
	return float64(wall) / float64(time.Millisecond), float64(kib) / 1024, nil
}

// gshStartup times `gsh -sname x -setcookie c -eval 'halt()'` against the
// private port mapper.
func (g *gshSide) startup(ctx context.Context, i int) (Results, error) {
	env := append(os.Environ(), "GSH_EPMD_PORT="+strconv.Itoa(g.mapperPort))
	wall, rss, err := startup(ctx, env, "gsh", g.bin, "-sname", "x"+strconv.Itoa(i), "-setcookie", "c", "-eval", "halt()")
	if err != nil {
		return nil, err
	}
	return Results{"startup.wall": wall, "startup.rss": rss}, nil
}

// erlStartup times `erl -sname x -setcookie c -noshell -eval 'halt().'`
// against the private epmd; its memory is the BEAM's (beam.smp), the
// program erl ends up running in its process.
func (e *erlSide) startup(ctx context.Context, i int) (Results, error) {
	wall, rss, err := startup(ctx, e.env(), "beam", "erl", "-sname", "x"+strconv.Itoa(i), "-setcookie", "c", "-noshell", "-eval", "halt().")
	if err != nil {
		return nil, err
	}
	return Results{"startup.wall": wall, "startup.rss": rss}, nil
}
