package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestIdleStreamsBounded: a peer that opens streams and sends nothing holds
// at most MaxStreams of them; past that its streams, and the calls on them,
// are refused with ErrTooLarge; idle streams are dropped after TickTime, and
// calls go through again.
func TestIdleStreamsBounded(t *testing.T) {
	c := newTestCluster(t)
	a := c.start("a", "abc")
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
