package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestAuthKey(t *testing.T) {
	for _, tc := range []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 1234}, "192.0.2.1"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.1"), Port: 1}, "192.0.2.1"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:3:4:5:6"), Port: 1}, "2001:db8:1:2::/64"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:ffff::1"), Port: 2}, "2001:db8:1:2::/64"},
		{&net.UnixAddr{Name: "sock", Net: "unix"}, "sock"},
		{nil, "?"},
	} {
		if got := authKey(tc.addr); got != tc.want {
			t.Errorf("authKey(%v) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

// guess runs one handshake with a wrong proof against n, from local (nil:
// the system's choice), waiting at most patience for the verdict. It
// reports whether the node answered statusAuth.
func guess(n *Node, local net.Addr, patience time.Duration) (bool, error) {
	d := net.Dialer{LocalAddr: local, Timeout: patience}
	conn, err := d.Dial("tcp", n.Addr().String())
	if err != nil {
		return false, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(patience))
	h, err := newHello("mallory@"+Atom(ShortHostname()), 0)
	if err != nil {
		return false, err
	}
	var msg bytes.Buffer
	writeHello(&msg, true, 0, h, nil)
	if _, err := conn.Write(msg.Bytes()); err != nil {
		return false, err
	}
	if _, err := io.ReadFull(conn, make([]byte, challengeLen(n.Name()))); err != nil {
		return false, err
	}
	if _, err := conn.Write(append([]byte{statusOK}, make([]byte, proofLen)...)); err != nil {
		return false, err
	}
	var v [1]byte
	if _, err := io.ReadFull(conn, v[:]); err != nil {
		return false, err
	}
	return v[0] == statusAuth, nil
}

// flood runs workers goroutines sending wrong proofs to n until stop is
// closed; from(i, j) is the source address of worker i's j-th guess. It
// returns a function that waits for the workers and gives the number of
// verdicts they received.
func flood(n *Node, workers int, patience time.Duration, from func(i, j int) net.Addr, stop <-chan struct{}) func() int64 {
	var wg sync.WaitGroup
	var verdicts atomic.Int64
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				if ok, _ := guess(n, from(i, j), patience); ok {
					verdicts.Add(1)
				}
			}
		}()
	}
	return func() int64 {
		wg.Wait()
		return verdicts.Load()
	}
}

// eventually waits until cond holds, checking it every millisecond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("waited 10s in vain: %s", what)
		}
	}
}

// relink drops the link between a and b and waits until b has seen it go.
func relink(t *testing.T, a, b *Node) {
	t.Helper()
	down := make(chan struct{}, 1)
	stop := b.Watch(func(peer Atom, up bool, _ error) {
		if peer == a.Name() && !up {
			select {
			case down <- struct{}{}:
			default:
			}
		}
	})
	defer stop()
	a.Disconnect(b.Name())
	if !slices.Contains(b.Nodes(), a.Name()) {
		return
	}
	select {
	case <-down:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s still links to %s", b.Name(), a.Name())
	}
}

// TestHandshakeFloodLocksNoOneOut: while six connections from 127.0.0.1
// keep sending wrong proofs, a node with the right cookie, dialling from
// the same address, makes fresh links again and again, each within a second.
func TestHandshakeFloodLocksNoOneOut(t *testing.T) {
	c := newTestCluster(t)
	b, _ := c.startTLS("b", "right", nil)
	good := c.start("good", "right")
	stop := make(chan struct{})
	turns0 := b.limit.turns()
	start := time.Now()
	wait := flood(b, 6, 5*time.Second, func(int, int) net.Addr { return nil }, stop)
	defer func() {
		close(stop)
		wait()
	}()
	// Let the flood build up: its first hundred verdicts.
	eventually(t, "the flood reaches the node", func() bool { return b.limit.turns() >= turns0+100 })
	var took []time.Duration
	for i := range 24 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		t0 := time.Now()
		err := good.Ping(ctx, b.Name())
		d := time.Since(t0)
		cancel()
		if err != nil {
			t.Fatalf("link %d with the right cookie under the flood: %v (after %v)", i, err, d)
		}
		took = append(took, d)
		relink(t, good, b)
	}
	elapsed := time.Since(start)
	checks := b.limit.turns() - turns0
	slices.Sort(took)
	t.Logf("24 fresh links under a flood from the same address: p50 %v, p99 %v; the node checked %d proofs in %v (%.0f/s)",
		took[len(took)/2], took[len(took)*99/100], checks, elapsed.Round(time.Millisecond), float64(checks)/elapsed.Seconds())
}

// TestHandshakeRateBound: a flood of wrong proofs from many addresses, each
// guesser giving up after 50ms, gets at most the node's HandshakeRate of
// verdicts a second (plus the burst), all addresses together.
func TestHandshakeRateBound(t *testing.T) {
	c := newTestCluster(t)
	cfg := c.config("b", "right")
	cfg.HandshakeRate = 50
	b, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	var tries atomic.Int64
	from := func(i, j int) net.Addr {
		tries.Add(1)
		k := i*100000 + j
		return &net.TCPAddr{IP: net.IPv4(127, byte(1+k>>16%200), byte(k>>8), byte(k))}
	}
	stop := make(chan struct{})
	t0 := time.Now()
	wait := flood(b, 16, 50*time.Millisecond, from, stop)
	time.AfterFunc(time.Second, func() { close(stop) })
	verdicts := wait()
	elapsed := time.Since(t0)
	bound := int64(float64(cfg.HandshakeRate)*elapsed.Seconds() + float64(cfg.HandshakeRate)/10 + 1)
	t.Logf("%d guesses from %d addresses in %v got %d verdicts (bound %d)", tries.Load(), tries.Load(), elapsed.Round(time.Millisecond), verdicts, bound)
	if verdicts > bound {
		t.Fatalf("%d verdicts in %v: over the bound of %d", verdicts, elapsed, bound)
	}
	if tries.Load() < 2*bound {
		t.Fatalf("only %d guesses: the flood did not test the bound", tries.Load())
	}
	if checks := b.limit.turns(); checks > uint64(bound) {
		t.Fatalf("the node checked %d proofs: over the bound of %d", checks, bound)
	}
}

// TestRefusalsSummedUp: many refused handshakes make a few log lines, then
// one summary, not a line each.
func TestRefusalsSummedUp(t *testing.T) {
	c := newTestCluster(t)
	b, blog := c.startTLS("b", "right", nil)
	const n = 200
	for i := range n {
		if ok, err := guess(b, nil, 5*time.Second); !ok {
			t.Fatalf("guess %d: no verdict: %v", i, err)
		}
	}
	b.Close() // writes the window's summary
	line := blog.wait(fmt.Sprintf("refused %d more connections from 1 address in the last", n-authLogFirst), "mallory@", "authentication failed")
	t.Log(line)
	blog.mu.Lock()
	defer blog.mu.Unlock()
	refusals := 0
	for _, l := range blog.lines {
		if strings.Contains(l, "refused") {
			refusals++
		}
	}
	if refusals != authLogFirst+1 {
		t.Fatalf("%d refused handshakes made %d log lines, want %d", n, refusals, authLogFirst+1)
	}
}

// TestHandshakeWaitGivesUp: a proof that cannot get a turn before its
// handshake deadline is dropped with a timeout, and the turns it would have
// had go to others.
func TestHandshakeWaitGivesUp(t *testing.T) {
	l := newAuthLimiter(1, t.Logf)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// No run: no turn is ever handed out.
	err := l.wait(ctx, "192.0.2.1", time.Now().Add(20*time.Millisecond), nil)
	if !errors.Is(err, ErrNodeDown) || !strings.Contains(err.Error(), "waiting for a turn") {
		t.Fatalf("wait past the deadline: %v", err)
	}
	if l.grant() {
		t.Fatal("a turn went to a proof that gave up")
	}
	// Addresses take turns; each address's proofs go oldest first.
	got := make(chan string, 4)
	var wg sync.WaitGroup
	for i, k := range []string{"a1", "a2", "b1"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.wait(ctx, k[:1], time.Now().Add(time.Minute), nil); err == nil {
				got <- k
			}
		}()
		eventually(t, k+" waits", func() bool {
			l.mu.Lock()
			defer l.mu.Unlock()
			queued := 0
			for _, q := range l.queues {
				queued += len(q)
			}
			return queued == i+1
		})
	}
	var order []string
	for range 3 {
		if !l.grant() {
			t.Fatal("no proof waiting")
		}
		order = append(order, <-got)
	}
	wg.Wait()
	if want := []string{"a1", "b1", "a2"}; !slices.Equal(order, want) {
		t.Fatalf("turns went %v, want %v", order, want)
	}
}

// TestErlangProofsTakeTurns: the challenge replies of Erlang's handshake
// are checked at the same node-wide rate as gsh's proofs.
func TestErlangProofsTakeTurns(t *testing.T) {
	c := newTestCluster(t)
	cfg := c.config("b", "right")
	cfg.Erlang = true
	b := c.startCfg(cfg)
	turns0 := b.limit.turns()
	for i := range 5 {
		conn, err := net.Dial("tcp", b.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		_, err = erlClientHandshake(conn, Atom(fmt.Sprintf("guess%d@%s", i, ShortHostname())), 1, b.erlFlags(), "wrong", b.Name())
		conn.Close()
		if err == nil {
			t.Fatalf("guess %d: a wrong cookie was taken", i)
		}
	}
	if got := b.limit.turns() - turns0; got < 5 {
		t.Fatalf("5 wrong Erlang proofs, %d checked through the node's turns", got)
	}
}
