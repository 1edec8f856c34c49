package interrupt

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
)

// Owner is who a goroutine runs for: the process whose self() it is, the
// evaluation whose context it has, the writer its output goes to. It is the
// one record of goroutine identity: builtins find their process here, the
// shell its evaluation's context and output, the frames of a panic are
// filed here. A goroutine that interpreted code starts with a go statement
// (see Go) inherits its parent's process and output.
type Owner struct {
	// Process is the process the goroutine runs as (a *cluster.Process),
	// nil for the prompt's own process.
	Process any
	// Ctx is the context of the evaluation the goroutine runs, nil when
	// it runs none.
	Ctx context.Context
	// Out is where the goroutine's interpreted fmt.Print* go, nil for the
	// interpreter's stdout.
	Out io.Writer

	mu     sync.Mutex
	frames []string
}

// maxFrames bounds the frames an owner keeps for its next panic.
const maxFrames = 32

// AddFrame records one interpreted frame that a panic goes through,
// innermost first.
func (o *Owner) AddFrame(f string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.frames) < maxFrames {
		o.frames = append(o.frames, f)
	}
}

// TakeFrames returns, and forgets, the frames recorded by AddFrame.
func (o *Owner) TakeFrames() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	f := o.frames
	o.frames = nil
	return f
}

// child is the owner of a goroutine that o's goroutine starts: the same
// process and output, frames of its own. It runs no evaluation: it may
// outlive the one that started it.
func (o *Owner) child() *Owner {
	return &Owner{Process: o.Process, Out: o.Out}
}

var (
	ownersN atomic.Int64 // how many goroutines are owned: no lookup while none is
	owners  sync.Map     // goroutine (gkey) -> *Owner
)

// Own makes o the owner of the calling goroutine until restore is called,
// in that goroutine, which gives it back the owner it had before (owners
// nest: a call served on the goroutine of an evaluation).
func Own(o *Owner) (restore func()) {
	g := gkey()
	prev, had := owners.Swap(g, o)
	if !had {
		ownersN.Add(1)
	}
	return func() {
		// Unless o was released meanwhile.
		if had {
			owners.CompareAndSwap(g, o, prev)
		} else if owners.CompareAndDelete(g, o) {
			ownersN.Add(-1)
		}
	}
}

// CurrentOwner returns the owner of the calling goroutine, or nil.
func CurrentOwner() *Owner {
	if ownersN.Load() == 0 {
		return nil
	}
	o, _ := owners.Load(gkey())
	p, _ := o.(*Owner)
	return p
}

// inheritOwner is called by Go in the parent goroutine; the function it
// returns is called first in the child, and the one that returns last.
func inheritOwner() func() (restore func()) {
	o := CurrentOwner()
	if o == nil {
		return func() func() { return func() {} }
	}
	c := o.child()
	return func() func() { return Own(c) }
}

// Release takes o away from every goroutine it owns, from any goroutine:
// an evaluation given up while its code still runs belongs to no one.
func Release(o *Owner) {
	owners.Range(func(g, x any) bool {
		if x == o && owners.CompareAndDelete(g, o) {
			ownersN.Add(-1)
		}
		return true
	})
}
