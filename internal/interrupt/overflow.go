package interrupt

import (
	"runtime"
	"sync"
)

// Unwinding a panic through nested interpreted calls costs time quadratic in
// their depth: each call's frame recovers the panic and panics again on top
// of the stack, and the runtime walks the whole chain every time. A
// goroutine that ends with runtime.Goexit instead runs the same deferred
// calls in one pass, and the interpreter's recover sees nothing to panic
// again with. So a goroutine whose runner knows how to report it (see Contain)
// is ended that way when it overflows; any other goroutine gets a
// StackOverflow panic.

// unwindSlack is how much stack, past StackLimit, the deferred calls of a
// goroutine ended by an overflow may use while it unwinds: they run on top
// of the deep stack.
const unwindSlack = StackLimit / 2

var (
	ownedMu sync.Mutex
	// owned maps each goroutine that called Contain to its overflow, nil until
	// it overflows.
	owned = map[uintptr]*StackOverflow{}
)

// Contain marks the calling goroutine as one that its caller runs to the end
// and that Enter may end with runtime.Goexit when its stack passes
// StackLimit: the interpreted calls then unwind in time linear in their
// depth, where a panic takes quadratic time. The caller defers end, after
// (so that it runs before) its recover of the interpreted code's panics:
// when the goroutine was ended by an overflow, end panics with the
// StackOverflow, which that recover gets like any other panic; the goroutine
// still ends once the deferred calls have run. Goroutines started by Go are
// owned. A nested Contain of the same goroutine gives an end that does nothing.
func Contain() (end func()) {
	g := gkey()
	ownedMu.Lock()
	_, nested := owned[g]
	if !nested {
		owned[g] = nil
	}
	ownedMu.Unlock()
	if nested {
		return func() {}
	}
	return func() {
		ownedMu.Lock()
		so := owned[g]
		delete(owned, g)
		ownedMu.Unlock()
		if so != nil {
			panic(*so)
		}
	}
}

// overflow stops the calling goroutine, whose stack has passed StackLimit:
// an owned goroutine is ended with runtime.Goexit after its overflow is
// recorded, any other panics with a StackOverflow. While an owned goroutine
// unwinds, its deferred calls run on top of its deep stack: they may use
// unwindSlack more (overflow then returns). One that passes that is ended
// with runtime.Goexit too, and the unwinding goes on; but the stack stays
// that deep, so every later deferred call of an interpreted function is
// ended at once, each in time proportional to the depth, as with a panic.
func overflow() {
	g := gkey()
	ownedMu.Lock()
	so, own := owned[g] // only g itself changes its entry
	ownedMu.Unlock()
	switch {
	case !own:
		panic(StackOverflow{Calls: nestedCalls()})
	case so == nil:
		so = &StackOverflow{Calls: nestedCalls()}
		ownedMu.Lock()
		owned[g] = so
		ownedMu.Unlock()
	case stackUsed() <= StackLimit+unwindSlack:
		return
	}
	runtime.Goexit()
}
