package cluster

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
)

// blockingNode starts a node whose every call blocks until its context
// ends: started tells when a call runs, ended gives why it stopped.
func blockingNode(t *testing.T, c *testCluster, name string) (n *Node, started chan struct{}, ended chan error) {
	started, ended = make(chan struct{}, 16), make(chan error, 16)
	cfg := c.config(name, "abc")
	cfg.Handler = HandlerFunc(func(ctx context.Context, from Atom, m, f string, args []any) (any, error) {
		if f == "quick" {
			return true, nil
		}
		started <- struct{}{}
		<-ctx.Done()
		ended <- ctx.Err()
		return nil, ctx.Err()
	})
	n, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n, started, ended
}

func waitEnded(t *testing.T, ended chan error, what string) {
	t.Helper()
	select {
	case err := <-ended:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("%s: the served call ended with %v, want its context cancelled", what, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: the served call still runs", what)
	}
}

// waitGoroutines waits until no more than base goroutines run.
func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for runtime.NumGoroutine() > base {
		select {
		case <-tick.C:
		case <-deadline:
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
	}
}

// TestAbandonedCallInterrupted: a served call whose caller cancels its
// context, or whose link goes, is cancelled on the serving node, and the
// goroutines it held end.
func TestAbandonedCallInterrupted(t *testing.T) {
	c := newTestCluster(t)
	a := c.start("a", "abc")
	b, started, ended := blockingNode(t, c, "b")
	ctx := context.Background()
	if v, err := a.Call(ctx, b.Name(), "m", "quick"); v != true || err != nil {
		t.Fatalf("quick: %v, %v", v, err)
	}
	base := runtime.NumGoroutine()

	for i := range 50 {
		cctx, cancel := context.WithCancel(ctx)
		errc := make(chan error, 1)
		go func() {
			_, err := a.Call(cctx, b.Name(), "m", "block")
			errc <- err
		}()
		<-started
		cancel()
		if err := <-errc; err == nil {
			t.Fatal("the cancelled call returned no error")
		}
		if i == 0 {
			waitEnded(t, ended, "caller cancelled")
		} else {
			<-ended
		}
	}
	waitGoroutines(t, base)
	if v, err := a.Call(ctx, b.Name(), "m", "quick"); v != true || err != nil {
		t.Fatalf("quick after the cancelled calls: %v, %v", v, err)
	}

	// The caller's node goes while the call runs.
	go a.Call(ctx, b.Name(), "m", "block")
	<-started
	a.Close()
	waitEnded(t, ended, "caller's node closed")
}
