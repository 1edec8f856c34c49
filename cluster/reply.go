package cluster

import (
	"context"
	"sync"
)

// afterReply holds what runs once a call's reply is sent.
type afterReply struct {
	mu sync.Mutex
	fs []func()
}

type afterReplyKey struct{}

func (a *afterReply) pending() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.fs) > 0
}

func (a *afterReply) run() {
	a.mu.Lock()
	fs := a.fs
	a.fs = nil
	a.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

// AfterReply has f run once the reply to the call that ctx belongs to (the
// context a Handler gets for another node's call) has been sent, so that a
// function can answer before it acts: init.stop stops its node this way. It
// returns false, running nothing, when ctx is no such call's.
func AfterReply(ctx context.Context, f func()) bool {
	a, ok := ctx.Value(afterReplyKey{}).(*afterReply)
	if !ok {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.fs = append(a.fs, f)
	return true
}
