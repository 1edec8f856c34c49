package shell

import (
	"context"
	"testing"
)

func BenchmarkDeepPanicShell(b *testing.B) {
	i, err := NewInterp(Options{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := i.Eval(context.Background(), `func r(n int) int { if n > 2000 { panic("deep") }; return r(n+1) + 1 }`); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := i.Eval(context.Background(), `r(0)`); err == nil {
			b.Fatal("no error")
		}
	}
}
