package cluster

import (
	"net"
	"sync"
	"time"
)

// Handshakes from an address that keeps failing to authenticate are slowed
// down, so that guessing a cookie (or a TLS key) over the network costs time.
// A failure is a wrong cookie proof, a TLS failure, or a client that took the
// challenge and never answered it. After authFailThreshold failures, each one
// less than authFailWindow after the one before, every further handshake from
// that address waits before it starts: authDelayBase, doubled with each
// further failure, at most authDelayMax. The waits of concurrent handshakes
// from one address queue one after the other, so that opening many
// connections at once does not multiply the rate of guesses; a handshake that
// would wait more than authMaxWait is dropped at once. A handshake that
// proves the cookie forgets the address's failures.
//
// The wait is a sleep in the connection's own goroutine: nothing else
// waits for it. The limiter keeps at most authMaxEntries addresses; an entry
// expires authFailWindow after its last failure. IPv6 addresses count per /64
// network, which is what one machine usually holds.
//
// The cap stays under the default HandshakeTimeout (5s), so that a good node
// that shares an address with a failing one still gets through, slowly.
const (
	authFailThreshold = 5
	authFailWindow    = time.Minute
	authDelayBase     = 250 * time.Millisecond
	authDelayMax      = 3 * time.Second
	authMaxWait       = 10 * time.Second
	authMaxEntries    = 4096
)

// authLimiter keeps the recent handshake failures of each address.
type authLimiter struct {
	now  func() time.Time
	logf func(format string, args ...any)
	max  int // entries kept; authMaxEntries but for tests

	mu sync.Mutex
	m  map[string]*authEntry
}

type authEntry struct {
	failures int       // failures, each within authFailWindow of the one before
	last     time.Time // the last failure
	next     time.Time // when the next delayed handshake may start
	dropped  bool      // a handshake was dropped, and logged
}

func newAuthLimiter(logf func(format string, args ...any)) *authLimiter {
	return &authLimiter{now: time.Now, logf: logf, max: authMaxEntries, m: map[string]*authEntry{}}
}

// authDelay is how long a handshake waits after failures recent failures.
func authDelay(failures int) time.Duration {
	if failures < authFailThreshold {
		return 0
	}
	shift := failures - authFailThreshold
	if shift >= 16 {
		return authDelayMax
	}
	return min(authDelayBase<<shift, authDelayMax)
}

// entry returns key's live entry, forgetting an expired one.
func (l *authLimiter) entry(key string, now time.Time) *authEntry {
	e := l.m[key]
	if e != nil && now.Sub(e.last) >= authFailWindow {
		delete(l.m, key)
		return nil
	}
	return e
}

// admit is called before a handshake from key starts. It returns how long
// the handshake must wait first, or ok false when it should be dropped.
func (l *authLimiter) admit(key string) (wait time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	e := l.entry(key, now)
	if e == nil {
		return 0, true
	}
	d := authDelay(e.failures)
	if d == 0 {
		return 0, true
	}
	start := now
	if e.next.After(start) {
		start = e.next
	}
	wait = start.Sub(now) + d
	if wait > authMaxWait {
		if !e.dropped && l.logf != nil {
			e.dropped = true
			l.logf("dropping handshakes from %s: too many at once after %d failures", key, e.failures)
		}
		return 0, false
	}
	e.next = start.Add(d)
	return wait, true
}

// fail records a failed handshake from key.
func (l *authLimiter) fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	e := l.entry(key, now)
	if e == nil {
		if len(l.m) >= l.max {
			l.evict(now)
		}
		e = &authEntry{}
		l.m[key] = e
	}
	if e.failures < 1<<20 {
		e.failures++
	}
	e.last = now
	if e.failures == authFailThreshold && l.logf != nil {
		l.logf("%d failed handshakes in a row from %s: its next handshakes wait first (%v, doubling up to %v)",
			e.failures, key, authDelay(e.failures), authDelayMax)
	}
}

// succeed forgets key's failures: it proved the cookie.
func (l *authLimiter) succeed(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, key)
}

// evict makes room for at least an eighth of the entries: the expired ones
// first, then those not yet delayed, then any. Freeing an eighth at a time
// keeps the cost of a full table constant per failure.
func (l *authLimiter) evict(now time.Time) {
	target := l.max - max(l.max/8, 1)
	for k, e := range l.m {
		if now.Sub(e.last) >= authFailWindow {
			delete(l.m, k)
		}
	}
	if len(l.m) <= target {
		return
	}
	for k, e := range l.m {
		if e.failures < authFailThreshold {
			delete(l.m, k)
			if len(l.m) <= target {
				return
			}
		}
	}
	for k := range l.m {
		delete(l.m, k)
		if len(l.m) <= target {
			return
		}
	}
}

// size is the number of addresses tracked.
func (l *authLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}

// authKey is the address a connection's failures count against: its IP,
// or its /64 network for IPv6.
func authKey(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok || ta.IP == nil {
		if a == nil {
			return "?"
		}
		return a.String()
	}
	if ip4 := ta.IP.To4(); ip4 != nil {
		return ip4.String()
	}
	return ta.IP.Mask(net.CIDRMask(64, 128)).String() + "/64"
}
