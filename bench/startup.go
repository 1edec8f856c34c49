package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// startup runs cmd to its end and returns its wall time in ms and its peak
// resident memory in MB.
func startup(ctx context.Context, env []string, name string, args ...string) (wallMs, rssMB float64, err error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Dir = os.TempDir()
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(t0)
	if err != nil {
		return 0, 0, fmt.Errorf("%s %q: %v\n%s", name, args, err, out)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, 0, fmt.Errorf("%s: no resource usage", name)
	}
	// Linux gives Maxrss in KiB.
	return float64(wall) / float64(time.Millisecond), float64(ru.Maxrss) / 1024, nil
}

// gshStartup times `gsh -sname x -setcookie c -eval 'halt()'` against the
// private port mapper.
func (g *gshSide) startup(ctx context.Context, i int) (Results, error) {
	env := append(os.Environ(), "GSH_EPMD_PORT="+strconv.Itoa(g.mapperPort))
	wall, rss, err := startup(ctx, env, g.bin, "-sname", "x"+strconv.Itoa(i), "-setcookie", "c", "-eval", "halt()")
	if err != nil {
		return nil, err
	}
	return Results{"startup.wall": wall, "startup.rss": rss}, nil
}

// erlStartup times `erl -sname x -setcookie c -noshell -eval 'halt().'`
// against the private epmd.
func (e *erlSide) startup(ctx context.Context, i int) (Results, error) {
	wall, rss, err := startup(ctx, e.env(), "erl", "-sname", "x"+strconv.Itoa(i), "-setcookie", "c", "-noshell", "-eval", "halt().")
	if err != nil {
		return nil, err
	}
	return Results{"startup.wall": wall, "startup.rss": rss}, nil
}
