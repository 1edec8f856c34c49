package shell

import (
	"context"
	"strings"
	"testing"
)

// benchDeep evaluates call at the prompt, after decl, and checks that its
// error says want.
func benchDeep(b *testing.B, decl, call, want string) {
	i, err := NewInterp(Options{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := i.Eval(context.Background(), decl); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		_, err := i.Eval(context.Background(), call)
		if err == nil || !strings.Contains(err.Error(), want) {
			b.Fatalf("%s: %v, want %q", call, err, want)
		}
	}
}

// BenchmarkDeepPanic is a panic of the user's own, 2,000 interpreted calls
// deep, coming back to the prompt: its unwinding goes through every call's
// recover and panic again.
func BenchmarkDeepPanic(b *testing.B) {
	benchDeep(b, `func r(n int) int { if n > 2000 { panic("deep") }; return r(n+1) + 1 }`, "r(0)", "panic: deep")
}

// BenchmarkStackOverflow is runaway recursion at the prompt, stopped at
// interrupt.StackLimit.
func BenchmarkStackOverflow(b *testing.B) {
	benchDeep(b, `func r(n int) int { return r(n+1) + 1 }`, "r(0)", "stack overflow (more than ")
}
