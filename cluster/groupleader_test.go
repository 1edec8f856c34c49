package cluster

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestGroupLeaderOutput: what a call served on b, or a process b runs for
// a's remote spawn, prints for its group leader reaches a's Config.Output
// before the call returns; the leader is the pid the caller named.
func TestGroupLeaderOutput(t *testing.T) {
	c := newTestCluster(t)
	type line struct {
		leader Pid
		text   string
	}
	var mu sync.Mutex
	var got []line
	printed := make(chan struct{}, 16)
	cfg := c.config("a", "gl")
	cfg.Output = func(leader Pid, text string) {
		mu.Lock()
		got = append(got, line{leader, text})
		mu.Unlock()
		printed <- struct{}{}
	}
	a, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })

	var b *Node
	cfg = c.config("b", "gl")
	cfg.Handler = HandlerFunc(func(ctx context.Context, from Atom, m, f string, args []any) (any, error) {
		leader, ok := GroupLeader(ctx)
		if !ok {
			return "no leader", nil
		}
		if err := b.PutChars(ctx, leader, strings.Repeat("x", maxPutChars)+"hi from "+f+"\n"); err != nil {
			return nil, err
		}
		return "printed", nil
	})
	b, err = Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })

	me := a.NewProcess()
	ctx := WithGroupLeader(context.Background(), me.Pid())
	v, err := a.Call(ctx, b.Name(), "m", "call")
	if err != nil || v != "printed" {
		t.Fatalf("call: %v, %v", v, err)
	}
	mu.Lock()
	text := ""
	for _, l := range got {
		if l.leader != me.Pid() {
			t.Errorf("output for %v, want %v", l.leader, me.Pid())
		}
		text += l.text
	}
	mu.Unlock()
	if want := strings.Repeat("x", maxPutChars) + "hi from call\n"; text != want {
		t.Fatalf("before the call returned, a got %d bytes ending %q", len(text), text[max(0, len(text)-20):])
	}

	// Without a leader, nothing is sent.
	if v, err := a.Call(context.Background(), b.Name(), "m", "call"); err != nil || v != "no leader" {
		t.Fatalf("call without a leader: %v, %v", v, err)
	}

	// A remote spawn carries it too.
	mu.Lock()
	got = nil
	mu.Unlock()
	if _, err := a.SpawnRemote(ctx, b.Name(), "m", "spawned", nil, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for {
		mu.Lock()
		text = ""
		for _, l := range got {
			text += l.text
		}
		mu.Unlock()
		if strings.HasSuffix(text, "hi from spawned\n") {
			break
		}
		select {
		case <-printed:
		case <-deadline:
			t.Fatalf("the spawned process's output did not arrive: %d bytes", len(text))
		}
	}

	// Another node cannot print for a pid that is not on a.
	_, err = b.Call(context.Background(), a.Name(), ioModule, "put_chars", Pid{Node: b.Name(), ID: 1}, "x")
	if !errors.Is(err, ErrBadArgs) {
		t.Errorf("output for a pid of b sent to a: %v", err)
	}
}
