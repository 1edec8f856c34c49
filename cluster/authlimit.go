package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"
)

// Guessing the cookie. A peer that connects learns whether its proof was
// right as soon as the node checks it: a right proof is answered at once, so
// a guesser that gives up waiting early learns "wrong" as well. What bounds
// guessing is therefore how many proofs the node checks, not how it answers
// a wrong one. So every proof waits for a turn: the node checks at most
// Config.HandshakeRate proofs a second, all peers together (a token bucket
// with a burst of a tenth of a second's worth). The proofs waiting are served
// one address at a time in turn (an IPv6 /64 counts as one address), oldest
// first within an address. No proof is refused for what others send: a proof
// waits until its turn or until its own handshake deadline. A right proof
// waits at most behind the proofs already waiting from its own address, times
// the number of addresses waiting, over the rate. A peer that hangs up while
// its proof waits gives its turn back.
//
// Refused connections are logged one by one up to authLogFirst in each
// authLogWindow; the rest are summed up in one line at the end of the
// window.
const (
	authLogWindow = 10 * time.Second
	authLogFirst  = 3
	// authLogAddrs bounds the addresses a summary counts.
	authLogAddrs = 4096
)

// authLimiter hands out turns to check cookie proofs, and sums up refused
// connections for the log.
type authLimiter struct {
	rate  float64 // proofs checked per second
	burst float64
	logf  func(format string, args ...any)
	every time.Duration // the log window

	wake chan struct{} // a proof is waiting; capacity 1

	mu      sync.Mutex
	queues  map[string][]*authTicket // the waiting proofs of each address
	order   []string                 // addresses with waiting proofs, in turn
	checked uint64                   // turns handed out

	logged int                 // refusals logged one by one in this window
	hidden int                 // refusals not logged in this window
	addrs  map[string]struct{} // addresses of the hidden ones
	latest string              // the last one hidden
}

// authTicket is one proof waiting for its turn.
type authTicket struct {
	ready   chan struct{} // closed when it is its turn
	granted bool
	gone    bool // its handshake gave up waiting
}

func newAuthLimiter(rate int, logf func(format string, args ...any)) *authLimiter {
	return &authLimiter{
		rate:   float64(rate),
		burst:  max(float64(rate)/10, 1),
		logf:   logf,
		every:  authLogWindow,
		wake:   make(chan struct{}, 1),
		queues: map[string][]*authTicket{},
		addrs:  map[string]struct{}{},
	}
}

// wait blocks until a proof from key may be checked, or until deadline,
// ctx's end or hung (the peer hung up). A nil limiter never waits.
func (l *authLimiter) wait(ctx context.Context, key string, deadline time.Time, hung <-chan struct{}) error {
	if l == nil {
		return nil
	}
	t := &authTicket{ready: make(chan struct{})}
	l.mu.Lock()
	if len(l.queues[key]) == 0 {
		l.order = append(l.order, key)
	}
	l.queues[key] = append(l.queues[key], t)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-t.ready:
		return nil
	case <-timer.C:
	case <-ctx.Done():
	case <-hung:
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if t.granted {
		return nil
	}
	t.gone = true
	select {
	case <-hung:
		return fmt.Errorf("waiting for a turn to have the cookie proof checked: %w", netErr(errors.New("the peer hung up")))
	default:
	}
	return fmt.Errorf("waiting for a turn to have the cookie proof checked (at most %v a second for all peers): %w",
		l.rate, netErr(os.ErrDeadlineExceeded))
}

// grant hands the next turn out: to the oldest proof of the next address in
// turn. It reports false when no proof waits.
func (l *authLimiter) grant() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.order) > 0 {
		key := l.order[0]
		l.order = l.order[1:]
		q := l.queues[key]
		var t *authTicket
		for len(q) > 0 && t == nil {
			if !q[0].gone {
				t = q[0]
			}
			q[0] = nil
			q = q[1:]
		}
		if len(q) == 0 {
			delete(l.queues, key)
		} else {
			l.queues[key] = q
			l.order = append(l.order, key)
		}
		if t != nil {
			t.granted = true
			close(t.ready)
			l.checked++
			return true
		}
	}
	l.order = nil // let the backing array go
	return false
}

// run hands out turns at the rate, and writes the log summaries, until ctx
// ends. The node writes the last summary once its handshakes have ended.
func (l *authLimiter) run(ctx context.Context) {
	tokens, last := l.burst, time.Now()
	tick := time.NewTicker(l.every)
	defer tick.Stop()
	refill := time.NewTimer(0)
	defer refill.Stop()
	for {
		now := time.Now()
		tokens = min(l.burst, tokens+now.Sub(last).Seconds()*l.rate)
		last = now
		if tokens >= 1 {
			if l.grant() {
				tokens--
				continue
			}
			select {
			case <-l.wake:
			case <-tick.C:
				l.flush()
			case <-ctx.Done():
				return
			}
			continue
		}
		refill.Reset(time.Duration((1 - tokens) / l.rate * float64(time.Second)))
		select {
		case <-refill.C:
		case <-tick.C:
			l.flush()
		case <-ctx.Done():
			return
		}
	}
}

// turns is the number of proofs checked so far.
func (l *authLimiter) turns() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.checked
}

// refused logs a refused connection: at once for the first few of a window,
// in the window's summary for the rest.
func (l *authLimiter) refused(key, line string) {
	l.mu.Lock()
	if l.logged < authLogFirst {
		l.logged++
		last := l.logged == authLogFirst
		l.mu.Unlock()
		if last {
			line += fmt.Sprintf(" (more refusals in the next %v are summed up)", l.every)
		}
		l.logf("%s", line)
		return
	}
	l.hidden++
	if len(l.addrs) < authLogAddrs {
		l.addrs[key] = struct{}{}
	}
	l.latest = line
	l.mu.Unlock()
}

// flush writes the window's summary, if it hid anything, and starts a new
// window.
func (l *authLimiter) flush() {
	l.mu.Lock()
	hidden, addrs, latest := l.hidden, len(l.addrs), l.latest
	l.logged, l.hidden, l.latest = 0, 0, ""
	clear(l.addrs)
	l.mu.Unlock()
	if hidden == 0 {
		return
	}
	from := fmt.Sprintf("%d addresses", addrs)
	switch addrs {
	case 1:
		from = "1 address"
	case authLogAddrs:
		from += " or more"
	}
	l.logf("refused %d more connections from %s in the last %v; the latest: %s", hidden, from, l.every, latest)
}

// authKey is the address a connection's proofs queue under: its IP, or its
// /64 network for IPv6.
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
