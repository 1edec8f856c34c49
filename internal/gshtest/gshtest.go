// Package gshtest holds what the tests that run the real gsh binary share:
// building it once, collecting a process's output to wait on, and waiting
// for a condition.
package gshtest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Main is a TestMain for the tests that run gsh: it builds the binary into
// a temporary folder, sets *bin to its path, runs the tests and removes it.
func Main(m *testing.M, bin *string) {
	dir, err := os.MkdirTemp("", "gsh-test")
	if err != nil {
		panic(err)
	}
	if *bin, err = Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, "building gsh:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Build builds gsh into dir and returns the binary's path.
func Build(dir string) (string, error) {
	bin := filepath.Join(dir, "gsh")
	build := exec.Command("go", "build", "-o", bin, "gsh/cmd/gsh")
	build.Stderr = os.Stderr
	return bin, build.Run()
}

// Output collects a process's output and wakes waiters on every write.
type Output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

// NewOutput returns an empty Output.
func NewOutput() *Output { return &Output{changed: make(chan struct{})} }

// Write appends p and wakes the waiters.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	close(o.changed)
	o.changed = make(chan struct{})
	return len(p), nil
}

// String is all that was written.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// WaitFor waits until the output after offset from holds text, and returns
// the offset just past it; it fails the test after timeout.
func (o *Output) WaitFor(t testing.TB, from int, text string, timeout time.Duration) int {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		o.mu.Lock()
		s := o.buf.String()
		ch := o.changed
		o.mu.Unlock()
		if from > len(s) {
			from = len(s)
		}
		if i := strings.Index(s[from:], text); i >= 0 {
			return from + i + len(text)
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("no %q within %v; output after offset %d:\n%s", text, timeout, from, s[from:])
		}
	}
}

// Eventually waits until cond holds, checking it every millisecond, and
// fails the test saying what did not happen when timeout passes first.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("waited %v in vain: %s", timeout, what)
		}
	}
}
