package cluster

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// randomSize draws a size from 1 KiB to limit, evenly over the powers of
// two between, so that small and large frames mix.
func randomSize(r *rand.Rand, limit int) int {
	lo, hi := 10, 0
	for 1<<hi < limit {
		hi++
	}
	n := 1 << (lo + r.IntN(hi-lo+1))
	n += r.IntN(n) - n/2
	return min(max(n, 1<<10), limit)
}

func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestLargeCallsIntact sends calls with random payloads from 1 KiB to
// 32 MiB from several callers at once over one real link and checks that
// every reply is the request, byte for byte, or a call error: never other
// bytes and no error.
func TestLargeCallsIntact(t *testing.T) {
	c := newTestCluster(t)
	a, b := c.start("a", "abc"), c.start("b", "abc")
	const callers, rounds = 6, 8
	var wg sync.WaitGroup
	errs := make(chan error, callers*rounds)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 1))
			for range rounds {
				want := randomBytes(r, randomSize(r, 32<<20))
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				got, err := a.Call(ctx, b.Name(), "test", "echo", want)
				cancel()
				if err != nil {
					errs <- fmt.Errorf("echo of %d bytes: %v", len(want), err)
					continue
				}
				if g, ok := got.([]byte); !ok || !bytes.Equal(g, want) {
					errs <- fmt.Errorf("echo of %d bytes came back different (%T of %d bytes)", len(want), got, lenOf(got))
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestLargeMessagesIntact is the same for messages: several senders send
// random payloads up to 8 MiB to one remote process, which sends each
// back; every one must come back whole, each sender's in its order.
func TestLargeMessagesIntact(t *testing.T) {
	c := newTestCluster(t)
	a, b := c.startProcs("a"), c.startProcs("b")
	echo := b.Spawn(func(p *Process) {
		for {
			msg, _, err := p.Receive(p.Context(), nil, -1)
			if err != nil || msg == "stop" {
				return
			}
			if m, ok := msg.([]any); ok && len(m) == 3 {
				p.node.Send(m[0], m[1:])
			}
		}
	}, nil)
	defer b.Send(echo.Pid(), "stop")
	const senders, rounds = 4, 12
	var wg sync.WaitGroup
	for i := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := a.NewProcess()
			defer p.Exit("normal")
			r := rand.New(rand.NewPCG(uint64(i), 2))
			sent := make([][]byte, rounds)
			for k := range sent {
				sent[k] = randomBytes(r, randomSize(r, 8<<20))
				if err := a.Send(echo.Pid(), []any{p.Pid(), k, sent[k]}); err != nil {
					t.Errorf("send of %d bytes: %v", len(sent[k]), err)
					return
				}
			}
			for k := range sent {
				msg, ok, err := p.Receive(context.Background(), nil, time.Minute)
				if err != nil || !ok {
					t.Errorf("sender %d: reply %d: %v %v", i, k, ok, err)
					return
				}
				m, _ := msg.([]any)
				if len(m) != 2 || m[0] != k {
					t.Errorf("sender %d: reply %d is %T (out of order or mangled)", i, k, msg)
					return
				}
				if g, _ := m[1].([]byte); !bytes.Equal(g, sent[k]) {
					t.Errorf("sender %d: message %d of %d bytes came back different", i, k, len(sent[k]))
				}
			}
		}()
	}
	wg.Wait()
}

func lenOf(v any) int {
	if b, ok := v.([]byte); ok {
		return len(b)
	}
	return -1
}

// TestBatchNeverHandsOutTheBytesBeingWritten drives a batch as its flushers
// do, with a write larger than it keeps: the buffer writers append to must
// never be the one being written.
func TestBatchNeverHandsOutTheBytesBeingWritten(t *testing.T) {
	var b batch
	for round, size := range []int{10, maxKeptBatch + 1, 10, 10, maxKeptBatch * 2, 10} {
		b.buf = append(b.buf, make([]byte, size)...)
		out := b.take()
		b.buf = append(b.buf, 1)
		if &out[0] == &b.buf[0] {
			t.Fatalf("round %d: writers append to the buffer being written", round)
		}
		b.done(out)
	}
}
