package interrupt

import (
	"context"
	"errors"
	"go/ast"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/traefik/yaegi/interp"
)

func TestInstrumentText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"1+2", "1+2"},
		{"x := 1", "x := 1"},
		{"for {}", "for {TICK}"},
		{"for i := 0; i < 3; i++ {\n\tx += i\n}", "for i := 0; i < 3; i++ {TICK\n\tx += i\n}"},
		{"for k, v := range m { for { break } }", "for k, v := range m {TICK for {TICK break } }"},
		{"func f(x int) int { return x }", "func f(x int) int {ENTER return x }"},
		{"f := func() {}", "f := func() {ENTER}"},
		{"func() { g() }()", ";func() {ENTER g() }()"},
		{"go f(a, b)", "_gsh.Go( f, a, b)"},
		{"go f()", "_gsh.Go( f)"},
		{"go func(x int) { use(x) }(1)", "_gsh.Go( func(x int) {ENTER use(x) }, 1)"},
		{"go f(xs...)", "go f(xs...)"},
		{"go println(1)", "go println(1)"},
		{"go s.run(c)", "_gsh.Go( s.run, c)"},
		{"type T struct{}\nfunc (t T) M() {}", "type T struct{}\nfunc (t T) M() {ENTER}"},
		{"package foo\n\nfunc F() {}\n", "package foo; import _gsh \"gsh/internal/interrupt\"\n\nfunc F() {ENTER}\n"},
		{"x := `raw {`", "x := `raw {`"},
		{`m == "timeout"`, `_gsh.SameName(m, "timeout")`},
		{`"undefined" != f(x)`, `!_gsh.SameName("undefined", f(x))`},
		{`s == "other"`, `s == "other"`},
		{`"timeout" == "timeout"`, `"timeout" == "timeout"`},
	}
	for k := range tests {
		tests[k].want = strings.NewReplacer("TICK", TickStmt, "ENTER", EnterStmt).Replace(tests[k].want)
	}
	for _, tt := range tests {
		got, err := Instrument(tt.in)
		if err != nil {
			t.Errorf("Instrument(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Instrument(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
		if strings.Count(got, "\n") != strings.Count(tt.in, "\n") {
			t.Errorf("Instrument(%q) changed the number of lines", tt.in)
		}
	}
	// Unparsable input comes back unchanged, with the parse error.
	if got, err := Instrument("func f( {"); err == nil || got != "func f( {" {
		t.Errorf("Instrument of bad input = %q, %v", got, err)
	}
}

// TestInstrumentNesting: a comparison rewritten by Instrument nests inside
// an extra edit that wraps the same expression.
func TestInstrumentNesting(t *testing.T) {
	p, err := Parse(`receive() == "timeout"`)
	if err != nil {
		t.Fatal(err)
	}
	x := p.Stmts[0].(*ast.ExprStmt).X
	got := p.Instrument(nil, Edit{Pos: x.Pos(), Text: "show("}, Edit{Pos: x.End(), Text: ")"}).Input
	if want := `show(_gsh.SameName(receive(), "timeout"))`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestInstrumentImports(t *testing.T) {
	src := "package foo\nimport \"strings\"\nimport (\n\t\"fmt\"\n\tstr \"strconv\"\n)\nfunc F() string { return strings.ToUpper(fmt.Sprint(str.Itoa(1))) }\n"
	p, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	if p.Kind != KindFile || p.Package() != "foo" {
		t.Fatalf("kind %v package %q", p.Kind, p.Package())
	}
	want := []Import{{"strings", "strings"}, {"fmt", "fmt"}, {"str", "strconv"}}
	if !reflect.DeepEqual(p.Imports(), want) {
		t.Errorf("Imports = %v, want %v", p.Imports(), want)
	}
	have := map[Import]bool{{"strings", "strings"}: true, {"str", "strconv"}: true, {ImportName, ImportPath}: true}
	got := p.Instrument(func(im Import) bool { return have[im] }).Input
	wantSrc := "package foo\n\nimport (\n\t\"fmt\"\n\t\n)\nfunc F() string {ENTER return strings.ToUpper(fmt.Sprint(str.Itoa(1))) }\n"
	wantSrc = strings.ReplaceAll(wantSrc, "ENTER", EnterStmt)
	if got != wantSrc {
		t.Errorf("got %q\nwant %q", got, wantSrc)
	}
}

func TestRewrittenPosition(t *testing.T) {
	p, err := Parse("x := 1\nfor { y := undefined }")
	if err != nil {
		t.Fatal(err)
	}
	rw := p.Instrument(nil)
	// Find "undefined" in the full rewritten source: line 3 there (one
	// for the wrapper), after the inserted Tick.
	full := rw.Full()
	lines := strings.Split(full, "\n")
	col := strings.Index(lines[2], "undefined") + 1
	if l, c := rw.Position(3, col); l != 2 || c != 12 {
		t.Errorf("Position = %d:%d, want 2:12", l, c)
	}
}

func TestInstrumentedCodeRuns(t *testing.T) {
	i := newTestInterp(t, nil)
	eval := func(src string) reflect.Value {
		t.Helper()
		out, err := Instrument(src)
		if err != nil {
			t.Fatalf("Instrument(%q): %v", src, err)
		}
		return mustEval(t, i, out)
	}
	eval("func fact(n int) int { if n <= 1 { return 1 }; return n * fact(n-1) }")
	if got := eval("fact(10)").Int(); got != 3628800 {
		t.Errorf("fact(10) = %d", got)
	}
	eval("sum := 0")
	eval("for i := 0; i < 10; i++ {\n\tfor j := 0; j < 10; j++ { sum += j }\n}")
	if got := eval("sum").Int(); got != 450 {
		t.Errorf("nested loops: sum = %d", got)
	}
	eval("adder := func(k int) func(int) int { return func(x int) int { return x + k } }")
	if got := eval("adder(3)(4)").Int(); got != 7 {
		t.Errorf("closure: %d", got)
	}
	eval("m := map[string]int{\"a\": 1, \"b\": 2}\ntotal := 0")
	eval("for _, v := range m { total += v }")
	if got := eval("total").Int(); got != 3 {
		t.Errorf("range: %d", got)
	}
	// go statements, with a function value, a literal and a method value.
	// (The goroutines use no global variable: yaegi lets a later
	// evaluation that declares globals replace the slice that holds them,
	// a data race with goroutines reading globals at that moment.)
	eval("ch := make(chan int, 3)")
	eval("func send(c chan int, v int) { c <- v }")
	eval("type box struct{ v int }\nfunc (b *box) put(c chan int) { c <- b.v }")
	// All in one evaluation: yaegi's function values made at the top level
	// read a field of its global frame when called, that the start of
	// every evaluation writes (a harmless but reported data race).
	eval("go send(ch, 1); go func(c chan int, v int) { c <- v }(ch, 2); b := &box{3}; go b.put(ch); got := <-ch + <-ch + <-ch")
	if got := eval("got").Int(); got != 6 {
		t.Errorf("go statements: %d", got)
	}
	// A whole file, and a second file of the same package without the
	// import of _gsh (which would be refused).
	eval("package geo\n\nfunc Area(w, h int) int {\n\tn := 0\n\tfor i := 0; i < h; i++ { n += w }\n\treturn n\n}\n")
	if got := eval("geo.Area(3, 4)").Int(); got != 12 {
		t.Errorf("file: %d", got)
	}
	p, err := Parse("package geo\nfunc double(x int) int { return 2 * x }")
	if err != nil {
		t.Fatal(err)
	}
	mustEval(t, i, p.Instrument(func(im Import) bool { return im.Name == ImportName }).Input)
	if got := eval("geo.double(geo.Area(2, 2))").Int(); got != 8 {
		t.Errorf("second file: %d", got)
	}
	// A statement starting with func runs once, not again later.
	eval("runs := 0")
	eval("func() { runs++ }()")
	eval("1 + 1")
	eval("2 + 2")
	if got := eval("runs").Int(); got != 1 {
		t.Errorf("function literal statement ran %d times", got)
	}
	// Results shows all the results of a call.
	if got := eval(`_gsh.Results(strings.Cut("k=v", "="))`).Interface(); !reflect.DeepEqual(got, []any{"k", "v", true}) {
		t.Errorf("Results: %v", got)
	}
}

// counter shows the progress of interpreted workers to the test.
type counter struct{ n atomic.Int64 }

// waitAdvance waits until c goes past n.
func waitAdvance(t *testing.T, c *counter, n int64) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for c.n.Load() <= n {
		select {
		case <-deadline:
			t.Fatalf("counter stuck at %d", c.n.Load())
		case <-tick.C:
		}
	}
}

// TestInterruptOneGoroutine stops an endless loop in one evaluation while
// two other goroutines run interpreted code, one started from Go through
// reflect, one by an interpreted go statement (Go), and both go on.
func TestInterruptOneGoroutine(t *testing.T) {
	var c1, c2 counter
	var stop1, stop2 atomic.Bool
	i := newTestInterp(t, interp.Exports{
		"gsh/two/two": {
			"Inc":     reflect.ValueOf(func() { c2.n.Add(1) }),
			"Stopped": reflect.ValueOf(stop2.Load),
		},
	})
	// (No select: yaegi's select is not safe to run in two goroutines at
	// once, its cases are shared.)
	src, _ := Instrument(`
func work(stopped func() bool, inc func()) int {
	n := 0
	for !stopped() {
		inc()
		n++
	}
	return n
}`)
	mustEval(t, i, src)
	work := privateFunc(t, i, "work")
	// Worker 1: called from Go in its own goroutine.
	res1 := make(chan int64, 1)
	go func() {
		out := work.Call([]reflect.Value{reflect.ValueOf(stop1.Load), reflect.ValueOf(func() { c1.n.Add(1) })})
		res1 <- out[0].Int()
	}()
	// Worker 2: started by an interpreted go statement.
	src2, _ := Instrument("func() { go work(two.Stopped, two.Inc) }()")
	mustEval(t, i, src2)
	waitAdvance(t, &c1, 0)
	waitAdvance(t, &c2, 0)

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		stop := Watch(ctx)
		close(started)
		loop, _ := Instrument("for {}")
		_, err := i.Eval(loop)
		stop()
		errc <- err
	}()
	<-started
	cancel()
	select {
	case err := <-errc:
		var p interp.Panic
		if !errors.As(err, &p) || p.Value != ErrInterrupted {
			t.Fatalf("eval error %v, want a panic with ErrInterrupted", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("endless loop not interrupted")
	}
	// Both workers still advance after the interrupt.
	waitAdvance(t, &c1, c1.n.Load())
	waitAdvance(t, &c2, c2.n.Load())
	stop1.Store(true)
	stop2.Store(true)
	select {
	case n := <-res1:
		if n <= 0 {
			t.Errorf("worker 1 did %d iterations", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("worker 1 did not finish")
	}
	if pending.Load() != 0 {
		t.Errorf("pending = %d after stop", pending.Load())
	}
}

func TestGoRecoversPanic(t *testing.T) {
	type report struct {
		v     any
		stack string
	}
	got := make(chan report, 1)
	defer SetOnPanic(func(v any, stack []byte) { got <- report{v, string(stack)} })()

	i := newTestInterp(t, nil)
	src, _ := Instrument(`go func() { panic("boom in goroutine") }()`)
	mustEval(t, i, src)
	select {
	case r := <-got:
		if r.v != "boom in goroutine" || r.stack == "" {
			t.Errorf("OnPanic(%#v (%T), %d bytes of stack)", r.v, r.v, len(r.stack))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no panic reported")
	}
	// The interpreter still works.
	if v := mustEval(t, i, "1+1"); v.Int() != 2 {
		t.Errorf("1+1 = %v", v)
	}
}

func TestGoArguments(t *testing.T) {
	done := make(chan string, 3)
	Go(func(s string, n int) { done <- strings.Repeat(s, n) }, "ab", 2)
	Go(func(xs ...int) {
		s := 0
		for _, x := range xs {
			s += x
		}
		done <- strings.Repeat("x", s)
	}, 1, 2)
	type myInt int
	Go(func(m myInt, e error) {
		done <- strings.Repeat("y", int(m)) + "|" + map[bool]string{true: "nil"}[e == nil]
	}, 3, nil)
	got := map[string]bool{<-done: true, <-done: true, <-done: true}
	for _, w := range []string{"abab", "xxx", "yyy|nil"} {
		if !got[w] {
			t.Errorf("missing %q in %v", w, got)
		}
	}
	for _, bad := range []func(){
		func() { Go(3) },
		func() { Go(func(int) {}) },
		func() { Go(func(int) {}, "x") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("Go with bad arguments did not panic")
				}
			}()
			bad()
		}()
	}
}

func TestSleepInterrupted(t *testing.T) {
	// Not watched: a plain sleep.
	start := time.Now()
	Sleep(time.Millisecond)
	if time.Since(start) < time.Millisecond {
		t.Error("Sleep returned early")
	}
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan any, 1)
	started := make(chan struct{})
	go func() {
		stop := Watch(ctx)
		defer func() {
			v := recover()
			stop()
			res <- v
		}()
		close(started)
		Sleep(time.Hour)
	}()
	<-started
	cancel()
	select {
	case v := <-res:
		if v != ErrInterrupted {
			t.Errorf("recovered %v, want ErrInterrupted", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Sleep not interrupted")
	}
	// The interpreter's time.Sleep can be replaced by it.
	i := newTestInterp(t, interp.Exports{"gsh/slp/slp": {"Sleep": reflect.ValueOf(Sleep)}})
	ctx2, cancel2 := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	started2 := make(chan struct{})
	go func() {
		stop := Watch(ctx2)
		close(started2)
		_, err := i.Eval("slp.Sleep(time.Hour)")
		stop()
		errc <- err
	}()
	<-started2
	cancel2()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrInterrupted) && !strings.Contains(err.Error(), "interrupted") {
			t.Errorf("eval: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("interpreted Sleep not interrupted")
	}
}

func TestWatchStopAndNesting(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	stop := Watch(ctx)
	stop()
	stop() // twice is fine
	cancel()
	Tick() // not watched any more: no panic
	if Doomed() {
		t.Error("doomed after stop")
	}

	outer, cancelOuter := context.WithCancel(context.Background())
	defer cancelOuter()
	inner, cancelInner := context.WithCancel(context.Background())
	stopOuter := Watch(outer)
	stopInner := Watch(inner)
	if Done() == nil {
		t.Fatal("Done is nil while watched")
	}
	cancelInner()
	<-Done()
	if !Doomed() {
		t.Error("not doomed after the inner context is done")
	}
	func() {
		defer func() {
			if r := recover(); r != ErrInterrupted {
				t.Errorf("Tick recovered %v", r)
			}
		}()
		Tick()
	}()
	stopInner()
	if Doomed() {
		t.Error("still doomed after the inner watch stopped")
	}
	select {
	case <-Done():
		t.Error("Done closed after the doomed watch stopped")
	default:
	}
	stopOuter()
	if Done() != nil || Doomed() {
		t.Error("state left after all watches stopped")
	}
	// A context that can never be done costs nothing.
	Watch(context.Background())()
}

func TestGoroutineKey(t *testing.T) {
	k := GoroutineKey()
	if k == 0 || GoroutineKey() != k {
		t.Fatalf("key %#x not stable", k)
	}
	other := make(chan uintptr)
	go func() { other <- GoroutineKey() }()
	if o := <-other; o == k {
		t.Errorf("two goroutines share the key %#x", k)
	}
	if GoroutineID() <= 0 {
		t.Error("no goroutine id")
	}
}

// TestStackOverflowRecovers runs an endless recursion, in an evaluation and
// in a goroutine calling an interpreted function through reflection (as a
// served remote call does): each ends with a StackOverflow panic, not the
// Go runtime's fatal error, and the interpreter goes on serving.
func TestStackOverflowRecovers(t *testing.T) {
	i := newTestInterp(t, nil)
	eval := func(src string) (reflect.Value, error) {
		t.Helper()
		out, err := Instrument(src)
		if err != nil {
			t.Fatalf("Instrument(%q): %v", src, err)
		}
		return i.Eval(out)
	}
	if _, err := eval("func r(n int) int { return r(n+1) + 1 }"); err != nil {
		t.Fatal(err)
	}
	check := func(what string, v any) {
		t.Helper()
		err, _ := PanicValue(v).(error)
		var so StackOverflow
		if !errors.As(err, &so) || !errors.Is(err, ErrStackOverflow) {
			t.Fatalf("%s: got %v (%T), want a StackOverflow", what, v, v)
		}
		// The count is the depth that was reached: a thousand
		// calls at least, and the message says so.
		if so.Calls < 1000 || !strings.HasPrefix(err.Error(), "stack overflow (more than ") || !strings.HasSuffix(err.Error(), " nested calls)") {
			t.Errorf("%s: %q (Calls %d)", what, err, so.Calls)
		}
	}
	_, err := eval("r(0)")
	var pe interp.Panic
	if !errors.As(err, &pe) {
		t.Fatalf("r(0) at the top level: %v, want a panic", err)
	}
	check("evaluation", pe.Value)

	f := privateFunc(t, i, "r")
	got := make(chan any)
	go func() {
		defer func() { got <- recover() }()
		f.Call(reflectArgs(0))
	}()
	check("goroutine", <-got)

	// Deep but finite recursion still works, and so does the interpreter.
	if _, err := eval("func depth(n int) int { if n == 0 { return 0 }; return depth(n-1) + 1 }"); err != nil {
		t.Fatal(err)
	}
	v, err := eval("depth(1000)")
	if err != nil || v.Int() != 1000 {
		t.Fatalf("depth(1000) = %v, %v", v, err)
	}
}
