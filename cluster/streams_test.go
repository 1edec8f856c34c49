package cluster

import (
	"context"
	"errors"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestIdleStreamsBounded: a peer that opens streams and sends nothing holds
// at most MaxStreams of them; past that its streams, and the calls on them,
// are refused with ErrTooLarge; idle streams are dropped after TickTime, and
// calls go through again.
func TestIdleStreamsBounded(t *testing.T) {
	c := newTestCluster(t)
	acfg := c.config("a", "abc")
	acfg.FastCalls = false // calls on streams (see TestFastCallsPastMaxStreamsRefused)
	a := c.startCfg(acfg)
	cfg := c.config("b", "abc")
	cfg.MaxStreams = 8
	cfg.TickTime = 2 * time.Second
	b, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	if err := a.Connect(ctx, b.Name()); err != nil {
		t.Fatal(err)
	}
	l := a.current(b.Name())
	for range 200 {
		s, err := l.sess.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		s.Write([]byte{streamCall}) // the kind byte, then nothing
	}
	_, err = a.Call(ctx, b.Name(), "test", "double", 21)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "refuses a new stream") {
		t.Fatalf("a call past MaxStreams: %v, want ErrTooLarge", err)
	}
	if got := b.current(a.Name()).streams.Load(); got > int64(cfg.MaxStreams)+1 {
		t.Fatalf("b serves %d streams, over MaxStreams", got)
	}
	// The idle streams are dropped after TickTime: calls work again.
	deadline := time.Now().Add(20 * time.Second)
	for {
		v, err := a.Call(ctx, b.Name(), "test", "double", 21)
		if err == nil && v == 42 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the idle streams' deadline: %v, %v", v, err)
		}
		select {
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestCallsWaitForAStream makes many more concurrent calls than MaxStreams
// between two nodes configured alike: each waits for a stream of the
// caller's own and none is refused.
func TestCallsWaitForAStream(t *testing.T) {
	c := newTestCluster(t)
	release := make(chan struct{})
	start := func(name string) *Node {
		cfg := c.config(name, "abc")
		cfg.MaxStreams = 4
		cfg.Handler = Modules{"t": {"hold": reflect.ValueOf(func() { <-release })}}
		n, err := Start(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n
	}
	a, b := start("a"), start("b")
	if err := a.Connect(context.Background(), b.Name()); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := a.Call(context.Background(), b.Name(), "t", "hold"); err != nil {
				errs <- err
			}
		}()
	}
	// Every stream a may open is held by a call; the other calls wait.
	l := a.current(b.Name())
	deadline := time.Now().Add(10 * time.Second)
	for len(l.calls) < cap(l.calls) && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a call past MaxStreams: %v", err)
	}
	if got := len(l.calls); got > 4 {
		t.Errorf("a holds %d call streams to b, over MaxStreams", got)
	}
}
