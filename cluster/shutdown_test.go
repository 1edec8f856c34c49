package cluster

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// stuckModules serves "test.stuck", a call that ignores its context and
// returns only when release is closed; entered gets one value per call.
func stuckModules(entered chan<- struct{}, release <-chan struct{}) Modules {
	m := testModules()
	m["test"]["stuck"] = reflect.ValueOf(func() bool {
		entered <- struct{}{}
		<-release
		return true
	})
	return m
}

func TestCloseDoesNotWaitForServedCalls(t *testing.T) {
	c := newTestCluster(t)
	entered, release := make(chan struct{}, 1), make(chan struct{})
	t.Cleanup(func() { close(release) })
	cfg := c.config("b", "abc")
	cfg.Handler = nodeHandler{stuckModules(entered, release)}
	b := c.startCfg(cfg)
	a := c.start("a", "abc")
	failed := make(chan error, 1)
	go func() {
		_, err := a.Call(context.Background(), b.Name(), "test", "stuck")
		failed <- err
	}()
	<-entered
	closed := make(chan struct{})
	go func() {
		b.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close waits for a served call that does not return")
	}
	if err := <-failed; !errors.Is(err, ErrNodeDown) {
		t.Fatalf("the caller got %v, want node down", err)
	}
	c.waitUnregistered("b")
	if err := b.Close(); err != nil {
		t.Fatalf("a second Close: %v", err)
	}
}

func TestShutdownAbandonsStuckCallsAtItsDeadline(t *testing.T) {
	c := newTestCluster(t)
	entered, release := make(chan struct{}, 1), make(chan struct{})
	t.Cleanup(func() { close(release) })
	cfg := c.config("b", "abc")
	cfg.Handler = nodeHandler{stuckModules(entered, release)}
	b := c.startCfg(cfg)
	a := c.start("a", "abc")
	// A call that returns when its context is cancelled is not abandoned.
	waited := make(chan error, 1)
	go func() {
		_, err := a.Call(context.Background(), b.Name(), "test", "wait")
		waited <- err
	}()
	go a.Call(context.Background(), b.Name(), "test", "stuck")
	<-entered
	for !slicesContain(b.sv.running(), "test.wait from "+string(a.Name())) {
		select { // the wait call is being served when its stream is busy
		case <-time.After(time.Millisecond):
		case err := <-waited:
			t.Fatalf("test.wait returned early: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := b.Shutdown(ctx)
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Shutdown took %v past its deadline", took)
	}
	var se *ShutdownError
	if !errors.As(err, &se) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want a ShutdownError for the deadline", err)
	}
	want := "shutdown abandoned 1 served call (test.stuck from " + string(a.Name()) + ")"
	if err.Error() != want {
		t.Fatalf("Shutdown: %q, want %q", err, want)
	}
	if err := <-waited; !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("the call that honours its context got %v, want its cancellation as the reply", err)
	}
	c.waitUnregistered("b")
	if err := b.Shutdown(ctx); err != nil {
		t.Fatalf("a second Shutdown: %v", err)
	}
}

func slicesContain(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestShutdownSendsWhatWasQueued: casts and messages sent just before the
// node shuts down all arrive.
func TestShutdownSendsWhatWasQueued(t *testing.T) {
	const k = 200
	c := newTestCluster(t)
	got := make(chan int, k)
	cfg := c.config("b", "abc")
	m := testModules()
	m["test"]["put"] = reflect.ValueOf(func(i int) { got <- i })
	cfg.Handler = nodeHandler{m}
	b := c.startCfg(cfg)
	p := b.NewProcess()
	if err := b.Register("inbox", p.Pid()); err != nil {
		t.Fatal(err)
	}
	a := c.start("a", "abc")
	if err := a.Ping(context.Background(), b.Name()); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 64<<10) // enough bytes to be still queued
	for i := range k {
		if err := a.Cast(b.Name(), "test", "put", i); err != nil {
			t.Fatal(err)
		}
		if err := a.Send(Name{Name: "inbox", Node: b.Name()}, []any{i, big}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	seen := map[int]bool{}
	for len(seen) < k {
		select {
		case i := <-got:
			seen[i] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("%d casts of %d arrived", len(seen), k)
		}
	}
	for i := range k {
		msg, ok, err := p.Receive(context.Background(), nil, 10*time.Second)
		if err != nil || !ok {
			t.Fatalf("%d messages of %d arrived (%v)", i, k, err)
		}
		if v := msg.([]any)[0]; v != i {
			t.Fatalf("message %d is %v", i, v)
		}
	}
}
