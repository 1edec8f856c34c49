package service

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// rateLimiter hands out turns to check a proof, rate a second with a burst
// of a tenth of that: each waiter gets the next free slot, in the order
// they asked.
type rateLimiter struct {
	mu       sync.Mutex
	interval time.Duration
	burst    time.Duration
	next     time.Time
}

func newRateLimiter(rate int) *rateLimiter {
	iv := time.Second / time.Duration(rate)
	return &rateLimiter{interval: iv, burst: iv * time.Duration(max(rate/10, 1)-1)}
}

// wait waits for a turn that comes before deadline, or fails at once when
// none does.
func (l *rateLimiter) wait(ctx context.Context, deadline time.Time) error {
	l.mu.Lock()
	now := time.Now()
	if earliest := now.Add(-l.burst); l.next.Before(earliest) {
		l.next = earliest
	}
	turn := l.next
	if turn.After(deadline) {
		l.mu.Unlock()
		return fmt.Errorf("no turn to check its proof before the handshake deadline: the server checks %d a second: %w", time.Second/l.interval, ErrBusy)
	}
	l.next = l.next.Add(l.interval)
	l.mu.Unlock()
	d := time.Until(turn)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting to check a proof: %w", ctx.Err())
	}
}

// logThrottle logs up to logBurst lines each logWindow, then sums up the
// rest in one line, so that clients cannot flood the log.
type logThrottle struct {
	logf  func(format string, args ...any)
	burst int // lines logged in full each logWindow

	mu     sync.Mutex
	start  time.Time
	n      int
	more   int
	latest string
}

const (
	logBurst  = 3
	logWindow = 10 * time.Second
)

func (t *logThrottle) log(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if now.Sub(t.start) >= logWindow {
		t.sum()
		t.start, t.n = now, 0
	}
	if t.n < t.burst {
		t.n++
		t.logf("%s", line)
		return
	}
	t.more++
	t.latest = line
}

// sum writes the line that sums up the lines held back, if any.
func (t *logThrottle) sum() {
	if t.more > 0 {
		t.logf("%d more refusals in the last %v; the latest: %s", t.more, logWindow, t.latest)
		t.more, t.latest = 0, ""
	}
}

// flush writes the summing-up line now.
func (t *logThrottle) flush() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sum()
}
