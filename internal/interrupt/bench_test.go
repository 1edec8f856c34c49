package interrupt

import (
	"context"
	"runtime"
	"testing"
)

// BenchmarkTickIdle measures Tick when nothing is pending: the cost added to
// every interpreted loop iteration and function call, outside the
// interpreter's own overhead.
func BenchmarkTickIdle(b *testing.B) {
	for b.Loop() {
		Tick()
	}
}

// BenchmarkGoroutineID is the cost of a Tick while some watched goroutine is
// doomed (every Tick then looks up its goroutine id).
func BenchmarkGoroutineID(b *testing.B) {
	for b.Loop() {
		GoroutineID()
	}
}

// BenchmarkGoroutineKey is the cheap alternative to GoroutineID.
func BenchmarkGoroutineKey(b *testing.B) {
	for b.Loop() {
		GoroutineKey()
	}
}

const benchLoop = `func loop(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		s += i
	}
	return s
}`

func benchInterpLoop(b *testing.B, instrument bool) {
	i := newTestInterp(b, nil)
	src := benchLoop
	if instrument {
		var err error
		if src, err = Instrument(src); err != nil {
			b.Fatal(err)
		}
	}
	mustEval(b, i, src)
	f := mustEval(b, i, "loop")
	const n = 10000
	for b.Loop() {
		f.Call(reflectArgs(n))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/iter")
}

// BenchmarkInterpLoopPlain and BenchmarkInterpLoopInstrumented compare an
// interpreted loop of 10000 iterations without and with a Tick per iteration.
func BenchmarkInterpLoopPlain(b *testing.B)        { benchInterpLoop(b, false) }
func BenchmarkInterpLoopInstrumented(b *testing.B) { benchInterpLoop(b, true) }

// BenchmarkTickWhileDoomed measures Tick in a goroutine that is not doomed
// while another one is (blocked where no Tick reaches it): every Tick then
// looks itself up in the set of doomed goroutines.
func BenchmarkTickWhileDoomed(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	doomed, release := make(chan struct{}), make(chan struct{})
	go func() {
		stop := Watch(ctx)
		defer stop()
		cancel()
		for !Doomed() {
			runtime.Gosched()
		}
		close(doomed)
		<-release
	}()
	<-doomed
	defer close(release)
	for b.Loop() {
		Tick()
	}
}

const benchFib = `func fib(n int) int {
	if n < 2 {
		return n
	}
	return fib(n-1) + fib(n-2)
}`

// fibCalls is how many calls fib(20) makes.
const fibCalls = 21891

func benchInterpCalls(b *testing.B, instrument bool) {
	i := newTestInterp(b, nil)
	src := benchFib
	if instrument {
		var err error
		if src, err = Instrument(src); err != nil {
			b.Fatal(err)
		}
	}
	mustEval(b, i, src)
	f := mustEval(b, i, "fib")
	for b.Loop() {
		f.Call(reflectArgs(20))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/fibCalls, "ns/call")
}

// BenchmarkInterpCallsPlain and BenchmarkInterpCallsInstrumented compare a
// call-heavy interpreted function (fib(20), 21891 calls) without and with
// the check at the top of every function body.
func BenchmarkInterpCallsPlain(b *testing.B)        { benchInterpCalls(b, false) }
func BenchmarkInterpCallsInstrumented(b *testing.B) { benchInterpCalls(b, true) }
