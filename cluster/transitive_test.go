package cluster

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestNodeListBounded sends a node a list of 20,000 made-up nodes (and one
// of them 5,000 times more): it dials at most maxKnownNodes distinct names,
// a few at a time, logs two lines, and keeps serving.
func TestNodeListBounded(t *testing.T) {
	c := newTestCluster(t)
	var mu sync.Mutex
	var lines []string
	summary := make(chan string, 1)
	cfg := c.config("a", "abc")
	cfg.Logf = func(format string, args ...any) {
		s := fmt.Sprintf(format, args...)
		mu.Lock()
		lines = append(lines, s)
		mu.Unlock()
		if strings.HasPrefix(s, "could not connect") {
			select {
			case summary <- s:
			default:
			}
		}
	}
	a, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b := c.start("b", "abc")
	ctx := context.Background()
	if err := b.Connect(ctx, a.Name()); err != nil {
		t.Fatal(err)
	}
	host := ShortHostname()
	var list []any
	for i := range 20000 {
		list = append(list, Atom(fmt.Sprintf("ghost%d@%s", i, host)))
	}
	for range 5000 {
		list = append(list, Atom("ghost0@"+host))
	}
	base := runtime.NumGoroutine()
	stop := make(chan struct{})
	peak := make(chan int)
	go func() {
		most := 0
		for {
			most = max(most, runtime.NumGoroutine())
			select {
			case <-stop:
				peak <- most
				return
			default:
				runtime.Gosched()
			}
		}
	}()
	if err := b.current(a.Name()).signals().write(nodesSignal{Nodes: list}); err != nil {
		t.Fatal(err)
	}
	var s string
	select {
	case s = <-summary:
	case <-time.After(time.Minute):
		t.Fatal("no summary of the failed connections")
	}
	close(stop)
	most := <-peak
	t.Logf("goroutines: %d before, at most %d while dialling", base, most)
	if !strings.Contains(s, fmt.Sprintf("could not connect to %d nodes", maxKnownNodes)) {
		t.Errorf("summary %q, want %d failed nodes", s, maxKnownNodes)
	}
	if most > base+8*transitiveDialers {
		t.Errorf("%d goroutines while dialling, from %d: dials are not bounded", most, base)
	}
	mu.Lock()
	n := len(lines)
	got := strings.Join(lines, "\n")
	mu.Unlock()
	if n != 2 || !strings.Contains(got, "18976 ignored") {
		t.Errorf("%d log lines, want the ignored names and the summary:\n%.2000s", n, got)
	}
	if v, err := b.Call(ctx, a.Name(), "test", "double", 21); err != nil || v != 42 {
		t.Fatalf("after the list: double(21) = %v, %v", v, err)
	}
}
