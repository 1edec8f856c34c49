package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer that tells whoever waits on it when it
// is written to.
type lockedBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	written chan struct{}
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.b.Write(p)
	select {
	case b.written <- struct{}{}:
	default:
	}
	return n, err
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestGoroutinePanicThroughTheShell checks that a panic in a goroutine that
// code at the prompt started is reported by the shell, on its output, and
// that the session goes on.
func TestGoroutinePanicThroughTheShell(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	in, feed := io.Pipe()
	out := &lockedBuffer{written: make(chan struct{}, 1)}
	ran := make(chan error, 1)
	go func() { ran <- run(context.Background(), []string{"-q"}, in, out, out) }()

	waitFor := func(want string) {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for !strings.Contains(out.String(), want) {
			select {
			case <-out.written:
			case <-deadline:
				t.Fatalf("no %q in the shell's output:\n%s", want, out.String())
			}
		}
	}
	io.WriteString(feed, "go func() { panic(\"boom in goroutine\") }()\n")
	waitFor("gsh: panic in goroutine: boom in goroutine")
	io.WriteString(feed, "fmt.Println(\"still\", 6*7)\n")
	waitFor("still 42")
	feed.Close()
	if err := <-ran; err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
}
