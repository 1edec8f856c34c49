package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// childEnv names the part this program plays when the bench starts it as a
// second process (see childMain): the floor's echo server or a plain Go
// node B.
const childEnv = "GSH_BENCH_CHILD"

// childMain runs the part childEnv names, when it names one, and exits;
// it returns when this process is the bench itself.
func childMain() {
	role := os.Getenv(childEnv)
	if role == "" {
		return
	}
	var err error
	switch role {
	case "floor":
		err = floorEcho(os.Stdin, os.Stdout)
	case "plain":
		err = plainNode(os.Stdin, os.Stdout)
	default:
		err = fmt.Errorf("%s=%q: no such part", childEnv, role)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench %s: %v\n", role, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// child is this program started again to play a part: it runs until its
// stdin closes.
type child struct {
	cmd   *exec.Cmd
	stdin io.Closer
	out   *bufio.Scanner
	errs  *tail
}

// startChild starts this program as role, with env added, and returns it
// with the first line it printed (the part says there where to reach it).
func startChild(ctx context.Context, role string, env ...string) (*child, string, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, "", fmt.Errorf("finding this program to start it as %s: %w", role, err)
	}
	c := &child{errs: &tail{}}
	c.cmd = exec.CommandContext(ctx, self)
	c.cmd.Env = append(append(os.Environ(), childEnv+"="+role), env...)
	c.cmd.Stderr = c.errs
	stdin, err := c.cmd.StdinPipe()
	if err != nil {
		return nil, "", err
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("starting this program as %s: %w", role, err)
	}
	c.stdin = stdin
	c.out = bufio.NewScanner(stdout)
	line := make(chan string, 1)
	go func() {
		if c.out.Scan() {
			line <- c.out.Text()
		}
		close(line)
	}()
	select {
	case l, ok := <-line:
		if ok {
			return c, strings.TrimSpace(l), nil
		}
		c.stop()
		return nil, "", fmt.Errorf("%s exited before it was ready:\n%s", role, c.errs)
	case <-time.After(30 * time.Second):
		c.stop()
		return nil, "", fmt.Errorf("%s was not ready after 30s:\n%s", role, c.errs)
	}
}

// stop closes the child's stdin, which ends it, and waits for it.
func (c *child) stop() error {
	c.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("%v:\n%s", err, c.errs)
		}
		return nil
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-done
		return errors.New("it did not stop within 10s of its stdin closing")
	}
}
