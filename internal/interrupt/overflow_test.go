package interrupt

import (
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// runOwned calls f with args in a goroutine of its own that calls Own, the
// way the shell's evaluations and processes do, and returns what its
// recover got (nil when f returned).
func runOwned(f reflect.Value, args ...any) any {
	got := make(chan any, 1)
	go func() {
		defer func() { got <- recover() }()
		defer Contain()()
		f.Call(reflectArgs(args...))
	}()
	return <-got
}

// TestOwnedOverflowEndsGoroutine: an owned goroutine that recurses without
// end is ended at the limit, its runner's recover gets the StackOverflow
// with the depth reached, the interpreted deferred calls run on the way,
// and the interpreter goes on.
func TestOwnedOverflowEndsGoroutine(t *testing.T) {
	out := &syncBuffer{}
	i := newTestInterp(t, nil, out)
	for _, src := range []string{
		"var cleaned int",
		"func r(n int) int { return r(n+1) + 1 }",
		"func cleanup() { cleaned++ }",
		"func withDefer(n int) int { defer cleanup(); return withDefer(n+1) + 1 }",
		"func twice() { defer func() { cleanup(); r(0) }(); r(0) }",
	} {
		src, err := Instrument(src)
		if err != nil {
			t.Fatal(err)
		}
		mustEval(t, i, src)
	}
	check := func(what string, v any) StackOverflow {
		t.Helper()
		err, _ := PanicValue(v).(error)
		var so StackOverflow
		if !errors.As(err, &so) || !errors.Is(err, ErrStackOverflow) {
			t.Fatalf("%s: got %v (%T), want a StackOverflow", what, v, v)
		}
		if so.Calls < 1000 || !strings.HasSuffix(err.Error(), " nested calls)") {
			t.Errorf("%s: %q (Calls %d)", what, err, so.Calls)
		}
		return so
	}
	check("endless recursion", runOwned(privateFunc(t, i, "r"), 0))

	so := check("deferred calls", runOwned(privateFunc(t, i, "withDefer"), 0))
	if v := mustEval(t, i, "cleaned").Int(); v < int64(so.Calls) {
		t.Errorf("%d deferred calls ran, want one per level (%d)", v, so.Calls)
	}
	// A deferred call that recurses without end is ended too, and the
	// unwinding goes on.
	mustEval(t, i, "cleaned = 0")
	check("runaway deferred call", runOwned(privateFunc(t, i, "twice")))
	if v := mustEval(t, i, "cleaned").Int(); v != 1 {
		t.Errorf("the deferred call ran %d times, want once", v)
	}
	// The unwinding went through no frame's recover and panic (the
	// interpreter logs each one it does).
	if strings.Contains(out.String(), ": panic: ") {
		t.Errorf("the interpreter unwound a panic: %.200s", out.String())
	}
	// The goroutine is no longer owned, the interpreter still works.
	ownedMu.Lock()
	n := len(owned)
	ownedMu.Unlock()
	if n != 0 {
		t.Errorf("%d goroutines still owned", n)
	}
	if got := runOwned(privateFunc(t, i, "cleanup")); got != nil {
		t.Errorf("cleanup: %v", got)
	}
}

// syncBuffer is a strings.Builder safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestGoOverflowReported: an interpreted go statement whose goroutine
// recurses without end is ended at the limit and reported through SetOnPanic's function
// with the StackOverflow.
func TestGoOverflowReported(t *testing.T) {
	got := make(chan any, 1)
	defer SetOnPanic(func(v any, _ []byte) { got <- v })()

	out := &syncBuffer{}
	i := newTestInterp(t, nil, out)
	for _, src := range []string{"func r(n int) int { return r(n+1) + 1 }", "go r(0)"} {
		src, err := Instrument(src)
		if err != nil {
			t.Fatal(err)
		}
		mustEval(t, i, src)
	}
	v := <-got
	if err, ok := v.(error); !ok || !errors.Is(err, ErrStackOverflow) {
		t.Fatalf("OnPanic(%v (%T)), want a StackOverflow", v, v)
	}
	if strings.Contains(out.String(), ": panic: ") {
		t.Errorf("the interpreter unwound a panic: %.200s", out.String())
	}
}
