package cluster

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// startWith starts a node of the test cluster after change has adjusted its
// configuration.
func (c *testCluster) startWith(name string, change func(*Config)) *Node {
	c.t.Helper()
	cfg := c.config(name, "abc")
	change(cfg)
	n, err := Start(context.Background(), cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { n.Close() })
	return n
}

// waitFor polls cond until it holds, failing the test after 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(20 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// logCatcher collects a node's log lines.
type logCatcher struct {
	t     testing.TB
	mu    sync.Mutex
	lines []string
}

func (l *logCatcher) logf(format string, args ...any) {
	l.t.Logf(format, args...)
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *logCatcher) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := 0
	for _, s := range l.lines {
		if strings.Contains(s, sub) {
			k++
		}
	}
	return k
}

func TestMaxProcessesVerified(t *testing.T) {
	cfg := DefaultConfig()
	if cfg.MaxProcesses != DefaultMaxProcesses || cfg.MaxCastsPerPeer != DefaultMaxCastsPerPeer {
		t.Fatalf("defaults: %d, %d", cfg.MaxProcesses, cfg.MaxCastsPerPeer)
	}
	cfg.MaxProcesses = 0
	if err := cfg.Verify(); err == nil {
		t.Fatal("MaxProcesses 0 verified")
	}
	cfg = DefaultConfig()
	cfg.MaxCastsPerPeer = -1
	if err := cfg.Verify(); err == nil {
		t.Fatal("MaxCastsPerPeer -1 verified")
	}
}

// TestProcessLimit: past Config.MaxProcesses, spawns fail with
// ErrTooManyProcesses, here and from another node, and work again once
// processes end.
func TestProcessLimit(t *testing.T) {
	c := newTestCluster(t)
	const limit = 5
	a := c.start("a", "abc")
	b := c.startWith("b", func(cfg *Config) { cfg.MaxProcesses = limit })
	ctx := context.Background()
	var ps []*Process
	for i := range limit {
		if i%2 == 0 {
			p, err := b.SpawnCall(b.Name(), "test", "wait", nil, nil)
			if err != nil {
				t.Fatalf("spawn %d: %v", i, err)
			}
			ps = append(ps, p)
			continue
		}
		pid, err := a.SpawnRemote(ctx, b.Name(), "test", "wait", nil, nil)
		if err != nil {
			t.Fatalf("remote spawn %d: %v", i, err)
		}
		p, ok := b.Process(pid)
		if !ok {
			t.Fatalf("spawned %v is not running", pid)
		}
		ps = append(ps, p)
	}
	if _, err := b.SpawnCall(b.Name(), "test", "wait", nil, nil); !errors.Is(err, ErrTooManyProcesses) {
		t.Fatalf("local spawn past the limit: %v", err)
	}
	if _, err := b.SpawnRemote(ctx, b.Name(), "test", "wait", nil, nil); !errors.Is(err, ErrTooManyProcesses) {
		t.Fatalf("SpawnRemote to itself past the limit: %v", err)
	}
	_, err := a.SpawnRemote(ctx, b.Name(), "test", "wait", nil, nil)
	var re *RemoteError
	if !errors.Is(err, ErrTooManyProcesses) || !errors.As(err, &re) || re.Node != b.Name() {
		t.Fatalf("remote spawn past the limit: %v", err)
	}
	t.Logf("the caller sees: %v", err)
	if !strings.Contains(err.Error(), "5 processes") {
		t.Errorf("the error does not say the limit: %v", err)
	}
	// The node's own processes are never refused, but count.
	own := b.NewProcess()
	if got := len(b.Processes()); got != limit+1 {
		t.Fatalf("%d processes, want %d", got, limit+1)
	}
	// Two end: one spawn fits again, here and from a.
	own.Exit(Normal)
	ps[0].Kill(nil)
	ps[1].Kill(nil)
	<-ps[1].Done()
	p, err := b.SpawnCall(b.Name(), "test", "wait", nil, nil)
	if err != nil {
		t.Fatalf("spawn after processes ended: %v", err)
	}
	if _, err := a.SpawnRemote(ctx, b.Name(), "test", "wait", nil, nil); err != nil {
		t.Fatalf("remote spawn after processes ended: %v", err)
	}
	// Incoming casts are processes too: past the limit they are dropped,
	// counted and logged once.
	if err := a.Cast(b.Name(), "test", "wait"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the cast to be dropped", func() bool { return b.CastsDropped() == 1 })
	p.Kill(nil)
	<-p.Done()
	if err := a.Cast(b.Name(), "test", "wait"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the cast to run", func() bool {
		for _, pi := range b.Processes() {
			if pi.What == "cast test.wait" {
				return true
			}
		}
		return false
	})
}

// TestCastsBounded: a flood of casts of a function that blocks runs at
// most MaxCastsPerPeer at once, queues a bounded number and drops (and
// counts, and logs once) the rest; the node goes on serving; every running
// cast is a process that Kill stops, and a queued cast takes its turn.
func TestCastsBounded(t *testing.T) {
	c := newTestCluster(t)
	logs := &logCatcher{t: t}
	a := c.start("a", "abc")
	b := c.startWith("b", func(cfg *Config) { cfg.Logf = logs.logf })
	ctx := context.Background()
	if err := a.Connect(ctx, b.Name()); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()

	const casts = 100_000
	for range casts {
		if err := a.Cast(b.Name(), "test", "wait"); err != nil {
			t.Fatal(err)
		}
	}
	ct := b.castTable()
	state := func() (running, waiting int, dropped uint64) {
		ct.mu.Lock()
		defer ct.mu.Unlock()
		if cq := ct.peers[a.Name()]; cq != nil {
			running, waiting = cq.running, len(cq.q)-cq.head
		}
		return running, waiting, ct.dropped
	}
	waitFor(t, "every cast to arrive", func() bool {
		r, w, d := state()
		return r+w+int(d) == casts
	})
	running, waiting, dropped := state()
	if running != DefaultMaxCastsPerPeer || waiting != castQueueLen || int(dropped) != casts-running-waiting {
		t.Fatalf("%d casts run, %d wait, %d dropped", running, waiting, dropped)
	}
	if k := logs.count("come faster than they run"); k != 1 {
		t.Errorf("%d log lines about dropped casts, want 1", k)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	g1 := runtime.NumGoroutine()
	t.Logf("after %d casts: goroutines %d -> %d, heap in use %.1f -> %.1f MB, stacks %.1f -> %.1f MB",
		casts, g0, g1, float64(before.HeapInuse)/1e6, float64(after.HeapInuse)/1e6,
		float64(before.StackInuse)/1e6, float64(after.StackInuse)/1e6)
	if g1-g0 > DefaultMaxCastsPerPeer+64 {
		t.Errorf("%d more goroutines for %d casts", g1-g0, casts)
	}
	if grown := int64(after.HeapInuse) - int64(before.HeapInuse); grown > 64<<20 {
		t.Errorf("the heap grew by %d MB", grown>>20)
	}

	// The node goes on serving the peer.
	if v, err := a.Call(ctx, b.Name(), "test", "double", 21); err != nil || v != 42 {
		t.Fatalf("a call beside the casts: %v, %v", v, err)
	}
	// Each running cast is a process, listed with what it runs.
	var castPids []Pid
	for _, pi := range b.Processes() {
		if pi.What == "cast test.wait" {
			castPids = append(castPids, pi.Pid)
		}
	}
	if len(castPids) != DefaultMaxCastsPerPeer {
		t.Fatalf("%d cast processes listed, want %d", len(castPids), DefaultMaxCastsPerPeer)
	}
	// Killing one lets a queued cast run.
	p, _ := b.Process(castPids[0])
	p.Kill(nil)
	<-p.Done()
	waitFor(t, "a queued cast to start", func() bool {
		_, w, _ := state()
		return w == castQueueLen-1
	})
	if r, _, _ := state(); r != DefaultMaxCastsPerPeer {
		t.Fatalf("%d casts run after one was killed", r)
	}
}
