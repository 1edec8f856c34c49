package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestLimiter(t *testing.T) (*authLimiter, *fakeClock, *[]string) {
	clock := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	var logged []string
	l := newAuthLimiter(func(f string, args ...any) {
		line := fmt.Sprintf(f, args...)
		t.Log(line)
		logged = append(logged, line)
	})
	l.now = clock.now
	return l, clock, &logged
}

func TestAuthDelay(t *testing.T) {
	for _, tc := range []struct {
		failures int
		want     time.Duration
	}{
		{0, 0}, {1, 0}, {4, 0},
		{5, 250 * time.Millisecond}, {6, 500 * time.Millisecond}, {7, time.Second},
		{8, 2 * time.Second}, {9, 3 * time.Second}, {10, 3 * time.Second},
		{30, 3 * time.Second}, {1 << 20, 3 * time.Second},
	} {
		if got := authDelay(tc.failures); got != tc.want {
			t.Errorf("authDelay(%d) = %v, want %v", tc.failures, got, tc.want)
		}
	}
}

func TestAuthLimiterDelays(t *testing.T) {
	l, clock, logged := newTestLimiter(t)
	const ip = "192.0.2.7"
	for i := range authFailThreshold - 1 {
		if wait, ok := l.admit(ip); wait != 0 || !ok {
			t.Fatalf("after %d failures: wait %v, %v", i, wait, ok)
		}
		l.fail(ip)
		clock.advance(time.Second)
	}
	if len(*logged) != 0 {
		t.Fatalf("logged before the threshold: %q", *logged)
	}
	l.fail(ip) // the fifth
	if len(*logged) != 1 || !strings.Contains((*logged)[0], ip) {
		t.Fatalf("crossing the threshold logged %q", *logged)
	}
	// One handshake at a time: each waits the current delay.
	for i, want := range []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second} {
		wait, ok := l.admit(ip)
		if wait != want || !ok {
			t.Fatalf("handshake %d after the threshold: wait %v, %v; want %v", i, wait, ok, want)
		}
		clock.advance(wait + 10*time.Millisecond) // it waited, then failed
		l.fail(ip)
	}
	// Other addresses are not slowed down.
	if wait, ok := l.admit("192.0.2.8"); wait != 0 || !ok {
		t.Fatalf("another address: wait %v, %v", wait, ok)
	}
	// A window without failures forgets them.
	clock.advance(authFailWindow)
	if wait, ok := l.admit(ip); wait != 0 || !ok {
		t.Fatalf("after the window: wait %v, %v", wait, ok)
	}
	if n := l.size(); n != 0 {
		t.Fatalf("%d entries after expiry", n)
	}
	// A failure just inside the window keeps the count going.
	for range authFailThreshold {
		l.fail(ip)
		clock.advance(authFailWindow - time.Second)
	}
	if wait, _ := l.admit(ip); wait != authDelayBase {
		t.Fatalf("failures a little less than a window apart: wait %v", wait)
	}
	// Proving the cookie forgets them too.
	l.succeed(ip)
	if wait, ok := l.admit(ip); wait != 0 || !ok {
		t.Fatalf("after a success: wait %v, %v", wait, ok)
	}
}

// TestAuthLimiterQueues: concurrent handshakes from one address wait one
// after the other, and those that would wait too long are dropped.
func TestAuthLimiterQueues(t *testing.T) {
	l, clock, logged := newTestLimiter(t)
	const ip = "192.0.2.9"
	for range authFailThreshold + 4 { // the delay is at its cap
		l.fail(ip)
	}
	*logged = nil
	for i, want := range []time.Duration{3 * time.Second, 6 * time.Second, 9 * time.Second} {
		wait, ok := l.admit(ip)
		if wait != want || !ok {
			t.Fatalf("concurrent handshake %d: wait %v, %v; want %v", i, wait, ok, want)
		}
	}
	for range 3 {
		if wait, ok := l.admit(ip); ok {
			t.Fatalf("a handshake beyond %v was admitted with wait %v", authMaxWait, wait)
		}
	}
	if len(*logged) != 1 || !strings.Contains((*logged)[0], "dropping") {
		t.Fatalf("dropping logged %q, want one line", *logged)
	}
	// Once the queue has drained, the next one waits the delay alone.
	clock.advance(9 * time.Second)
	if wait, ok := l.admit(ip); wait != 3*time.Second || !ok {
		t.Fatalf("after the queue drained: wait %v, %v", wait, ok)
	}
}

// TestAuthLimiterBounded: a flood of failures from many addresses keeps the
// table within its bound, and the addresses already slowed down stay slowed
// down while the table has others to drop.
func TestAuthLimiterBounded(t *testing.T) {
	l, clock, _ := newTestLimiter(t)
	l.max = 64
	for range authFailThreshold {
		l.fail("198.51.100.1")
	}
	for i := range 10000 {
		l.fail(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
		if n := l.size(); n > l.max {
			t.Fatalf("%d entries after %d addresses, bound %d", n, i+1, l.max)
		}
		clock.advance(time.Millisecond)
	}
	if wait, _ := l.admit("198.51.100.1"); wait == 0 {
		t.Fatal("the flood evicted the address that was slowed down")
	}
	// Expired entries go first.
	for i := 0; l.size() < l.max; i++ {
		l.fail(fmt.Sprintf("172.16.0.%d", i))
	}
	clock.advance(authFailWindow)
	l.fail("203.0.113.1")
	if n := l.size(); n != 1 {
		t.Fatalf("%d entries after the window, want 1", n)
	}
}

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

// TestAuthLimitOnNode: wrong cookies from one address slow down its next
// handshakes; a node with the right cookie still gets through and clears
// the address's record.
func TestAuthLimitOnNode(t *testing.T) {
	c := newTestCluster(t)
	b, blog := c.startTLS("b", "right", nil)
	bad := c.start("bad", "wrong")
	ctx := context.Background()
	for range authFailThreshold {
		if err := bad.Ping(ctx, b.Name()); !errors.Is(err, ErrAuth) {
			t.Fatalf("ping with the wrong cookie: %v", err)
		}
	}
	blog.wait(fmt.Sprint(authFailThreshold), "failed handshakes", "127.0.0.1")
	// The next handshake from 127.0.0.1 would wait.
	b.limit.mu.Lock()
	failures := -1
	if e := b.limit.m["127.0.0.1"]; e != nil {
		failures = e.failures
	}
	b.limit.mu.Unlock()
	if authDelay(failures) != authDelayBase {
		t.Fatalf("127.0.0.1 has %d failures on record, want %d", failures, authFailThreshold)
	}
	good := c.start("good", "right")
	if err := good.Ping(ctx, b.Name()); err != nil {
		t.Fatalf("ping with the right cookie: %v", err)
	}
	if n := b.limit.size(); n != 0 {
		t.Fatalf("%d limiter entries after a good handshake", n)
	}
}
