package shell

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/traefik/yaegi/interp"

	"gsh/internal/interrupt"
)

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
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

func newInterp(t *testing.T, opt Options) (*Interp, *syncBuffer) {
	t.Helper()
	out := &syncBuffer{}
	if opt.Stdout == nil {
		opt.Stdout = out
	}
	if opt.Stderr == nil {
		opt.Stderr = out
	}
	i, err := NewInterp(opt)
	if err != nil {
		t.Fatal(err)
	}
	return i, out
}

// show evaluates src and returns what the prompt prints.
func show(t *testing.T, i *Interp, src string) string {
	t.Helper()
	res, err := i.Eval(context.Background(), src)
	if err != nil {
		return ErrorLine(err)
	}
	return FormatResult(res)
}

func TestEvalPrints(t *testing.T) {
	i, out := newInterp(t, Options{})
	steps := []struct{ src, want string }{
		{"1 + 2", "3"},
		{`"fine"`, "fine"},
		{"x := 5", "5"},
		{"x", "5"},
		{"x++", "6"},
		{"x += 10", "16"},
		{"a, b := 1, \"two\"", `1, two`},
		{"func double(x int) int { return 2 * x }", ""},
		{"double(21)", "42"},
		{"func two() (int, error) { return 1, errors.New(\"bad\") }", ""},
		{"two()", "** error: bad"},
		{"func fine() (int, error) { return 7, nil }", ""},
		{"fine()", "7"},
		{"m := map[string]int{\"a\": 1}", `{"a": 1}`},
		{`v, ok := m["z"]`, "undefined"},
		{`v, ok := m["a"]`, "1"},
		{"v + 1", "2"},
		{"var e any = 3", ""},
		{"n, ok := e.(int)", "3"},
		{"s, ok := e.(string)", "undefined"},
		{`if v, ok := m["a"]; ok { fmt.Println("got", v) }`, ""},
		{"switch t := e.(type) { case int: fmt.Println(\"int\", t) }", ""},
		{`strings.Cut("k=v", "=")`, "k, v, true"},
		{`fmt.Println("hello")`, ""},
		{`fmt.Fprintln(os.Stderr, "to stderr")`, ""},
		{"[]any{1, \"a\", true, nil}", `[1, "a", true, nil]`},
		{"type P struct { Name string; age int }", ""},
		{`P{"bob", 3}`, `P{Name: "bob", age: 3}`},
		{"func() int { return 7 }()", "7"},
		{"func noRes() {}", ""},
		{"noRes()", ""},
		{"undefinedThing + 1", "** error: 1:1: undefined: undefinedThing"},
		{"y := 1\nfmt.Println(y,\n  nope)", "** error: 3:3: undefined: nope"},
		{"sum := 0\nfor i := 0; i < 4; i++ {\n\tsum += i\n}\nsum", "6"},
		{`time.Sleep(time.Millisecond)`, ""},
		{`import "strings"`, ""},
		{`import "strings"`, ""}, // again: no "redeclared"
		{`strings.ToUpper("x")`, "X"},
	}
	for _, s := range steps {
		if got := show(t, i, s.src); got != s.want {
			t.Errorf("%q prints %q, want %q", s.src, got, s.want)
		}
	}
	if got := out.String(); !strings.Contains(got, "got 1\n") || !strings.Contains(got, "int 3\n") || !strings.Contains(got, "hello\n") {
		t.Errorf("output %q", got)
	}
}

func TestEvalPanics(t *testing.T) {
	i, out := newInterp(t, Options{})
	// yaegi itself panics compiling a comma-ok receive at the top level.
	_, err := i.Eval(context.Background(), "ch := make(chan int, 1); v, ok := <-ch")
	var pe *PanicError
	if !errors.As(err, &pe) || !pe.Compile {
		t.Fatalf("comma-ok receive: %v, want a compile *PanicError", err)
	}
	if got := show(t, i, "1 + 1"); got != "2" {
		t.Errorf("after the compile panic: %q", got)
	}

	show(t, i, "func boom() {\n\tpanic(\"boom\")\n}")
	show(t, i, "func caller() int {\n\tboom()\n\treturn 1\n}")
	_, err = i.Eval(context.Background(), "caller()")
	if !errors.As(err, &pe) {
		t.Fatalf("caller(): %v, want a *PanicError", err)
	}
	if pe.Value != "boom" || len(pe.Frames) < 2 || pe.Frames[0] != "main.boom" || pe.Frames[1] != "main.caller" {
		t.Errorf("panic %#v", pe)
	}
	if got, want := ErrorLine(err), "** error: panic: boom [in main.boom, called from main.caller]"; got != want {
		t.Errorf("error line %q, want %q", got, want)
	}
	if strings.Contains(out.String(), "panic:") {
		t.Errorf("yaegi's frame lines leaked to stderr: %q", out.String())
	}
	// A runtime error.
	_, err = i.Eval(context.Background(), "mm := map[string]int(nil)\nmm[\"a\"] = 1")
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "assignment to entry in nil map") {
		t.Errorf("nil map: %v", err)
	}
	// A panic in a go statement is reported, and the process lives on.
	reported := make(chan any, 1)
	defer interrupt.SetOnPanic(func(v any, _ []byte) { reported <- v })()
	if _, err := i.Eval(context.Background(), `go func() { panic("in goroutine") }()`); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-reported:
		if v != "in goroutine" {
			t.Errorf("reported %v", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("goroutine panic not reported")
	}
	if got := show(t, i, "double := func(x int) int { return x * 2 }\ndouble(4)"); got != "8" {
		t.Errorf("after: %q", got)
	}
}

// TestFuncConcurrent calls a function defined at the prompt from several
// goroutines while other evaluations run.
func TestFuncConcurrent(t *testing.T) {
	i, _ := newInterp(t, Options{})
	show(t, i, "func double(x int) int {\n\tfor k := 0; k < 10; k++ {}\n\treturn 2 * x\n}")
	f, ok := i.Func("double")
	if !ok {
		t.Fatal("no func double")
	}
	if _, ok := i.Func("main.double"); !ok {
		t.Error("no func main.double")
	}
	if _, ok := i.Func("nothing"); ok {
		t.Error("found func nothing")
	}
	stop := make(chan struct{})
	var calls atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				out := f.Call([]reflect.Value{reflect.ValueOf(g*1000 + k)})
				if got := out[0].Int(); got != int64(2*(g*1000+k)) {
					errs <- "wrong result"
					return
				}
				calls.Add(1)
			}
		}()
	}
	for k := range 20 {
		src := fmt.Sprintf("func fn%d() int { return %d }\nvar gv%d = 1", k, k, k)
		if _, err := i.Eval(context.Background(), src); err != nil {
			t.Fatal(err)
		}
		if got := show(t, i, "double(3)"); got != "6" {
			t.Fatalf("double(3) = %q", got)
		}
	}
	waitCount(t, &calls, 100)
	close(stop)
	wg.Wait()
	select {
	case e := <-errs:
		t.Fatal(e)
	default:
	}
}

// TestEvalInterrupt: cancelling the context of an endless loop stops it,
// and only it: a goroutine running an interpreted function, started before,
// goes on.
func TestEvalInterrupt(t *testing.T) {
	var count atomic.Int64
	var stopped atomic.Bool
	i, _ := newInterp(t, Options{Exports: []interp.Exports{{
		"gsh/testx/testx": {
			"Inc":     reflect.ValueOf(func() { count.Add(1) }),
			"Stopped": reflect.ValueOf(stopped.Load),
		},
	}}})
	show(t, i, "func worker() int {\n\tn := 0\n\tfor !testx.Stopped() {\n\t\ttestx.Inc()\n\t\tn++\n\t}\n\treturn n\n}")
	worker, ok := i.Func("worker")
	if !ok {
		t.Fatal("no func worker")
	}
	done := make(chan int64, 1)
	go func() { done <- worker.Call(nil)[0].Int() }()
	waitCount(t, &count, 0)

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := i.Eval(ctx, "for {\n}")
		errc <- err
	}()
	// Let the loop run a little: the worker must advance meanwhile.
	waitCount(t, &count, count.Load())
	cancel()
	select {
	case err := <-errc:
		if err != ErrInterrupted {
			t.Fatalf("Eval = %v, want ErrInterrupted", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the endless loop was not interrupted")
	}
	after := count.Load()
	waitCount(t, &count, after) // the worker still advances
	if got := show(t, i, "1 + 1"); got != "2" {
		t.Errorf("after the interrupt: %q", got)
	}
	stopped.Store(true)
	select {
	case n := <-done:
		if n <= after {
			t.Errorf("worker did %d iterations, it had done %d at the interrupt", n, after)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("worker did not finish")
	}

	// time.Sleep is interruptible.
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { errc <- second(i.Eval(ctx2, "time.Sleep(time.Hour)")) }()
	cancel2()
	if err := <-errc; err != ErrInterrupted {
		t.Errorf("sleep: %v", err)
	}
}

// TestEvalInterruptBlocked: an evaluation blocked where Tick cannot reach
// is left behind after the grace period.
func TestEvalInterruptBlocked(t *testing.T) {
	// (The channel is Go's: an interpreted global would be read by the
	// blocked evaluation while later ones add globals, which yaegi does
	// by replacing the slice that holds them, a data race.)
	ready, block := make(chan struct{}), make(chan int)
	i, _ := newInterp(t, Options{Exports: []interp.Exports{{
		"gsh/testx/testx": {
			"Ready": reflect.ValueOf(func() { close(ready) }),
			"Block": reflect.ValueOf(block),
		},
	}}})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- second(i.Eval(ctx, "testx.Ready()\n<-testx.Block")) }()
	<-ready // about to block
	cancel()
	err := <-errc
	if !errors.Is(err, ErrInterrupted) || !strings.Contains(err.Error(), "it is blocked and keeps running in the background") {
		t.Fatalf("Eval = %v", err)
	}
	if got := show(t, i, "1 + 1"); got != "2" {
		t.Errorf("after: %q", got)
	}
	// Unblock it: it ends, quietly.
	close(block)
}

func TestLoadFile(t *testing.T) {
	i, out := newInterp(t, Options{})
	dir := t.TempDir()
	geo := filepath.Join(dir, "geo.go")
	write := func(path, src string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(geo, "package geo\n\nimport \"strings\"\n\nfunc Area(w, h int) int { return w * h }\n\nfunc name() string { return strings.ToUpper(\"geo\") }\n")
	pkg, err := i.LoadFile(context.Background(), geo)
	if err != nil || pkg != "geo" {
		t.Fatalf("LoadFile = %q, %v", pkg, err)
	}
	if got := show(t, i, "geo.Area(2, 3)"); got != "6" {
		t.Errorf("geo.Area(2, 3) = %q", got)
	}
	area, ok := i.Func("geo.Area")
	if !ok || area.Call([]reflect.Value{reflect.ValueOf(4), reflect.ValueOf(5)})[0].Int() != 20 {
		t.Error("Func(geo.Area)")
	}
	name, ok := i.Func("geo.name")
	if !ok || name.Call(nil)[0].String() != "GEO" {
		t.Error("Func(geo.name)")
	}
	// Loaded again, changed: its functions are redefined.
	write(geo, "package geo\n\nimport \"strings\"\n\nfunc Area(w, h int) int { return w * h * 10 }\n\nfunc name() string { return strings.ToLower(\"GEO\") }\n")
	if _, err := i.LoadFile(context.Background(), geo); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if got := show(t, i, "geo.Area(2, 3)"); got != "60" {
		t.Errorf("after reload geo.Area(2, 3) = %q", got)
	}
	if name, _ := i.Func("geo.name"); name.Call(nil)[0].String() != "geo" {
		t.Error("Func(geo.name) after reload")
	}
	// A package main script: main runs once.
	script := filepath.Join(dir, "script.go")
	write(script, "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"main ran\")\n}\n\nfunc helper() int { return 42 }\n")
	if pkg, err := i.LoadFile(context.Background(), script); err != nil || pkg != "main" {
		t.Fatalf("script: %q, %v", pkg, err)
	}
	show(t, i, "1 + 1")
	show(t, i, "2 + 2")
	if n := strings.Count(out.String(), "main ran"); n != 1 {
		t.Errorf("main ran %d times", n)
	}
	if h, ok := i.Func("main.helper"); !ok || h.Call(nil)[0].Int() != 42 {
		t.Error("Func(main.helper)")
	}
	// Errors name the file and line.
	bad := filepath.Join(dir, "bad.go")
	write(bad, "package bad\n\nfunc F() int {\n\treturn nope\n}\n")
	_, err = i.LoadFile(context.Background(), bad)
	var ce *CompileError
	if !errors.As(err, &ce) || ce.File != bad || ce.Line != 4 {
		t.Errorf("bad file: %v", err)
	}
	write(bad, "func F() {}\n")
	if _, err := i.LoadFile(context.Background(), bad); err == nil {
		t.Error("a file without package clause loaded")
	}
	// A panic in a loaded function names its file and line.
	boom := filepath.Join(dir, "boom.go")
	write(boom, "package boom\n\nfunc Boom() {\n\tpanic(\"kaboom\")\n}\n")
	if _, err := i.LoadFile(context.Background(), boom); err != nil {
		t.Fatal(err)
	}
	_, err = i.Eval(context.Background(), "boom.Boom()")
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Value != "kaboom" || len(pe.Frames) == 0 || !strings.HasPrefix(pe.Frames[0], "boom.Boom ("+boom+":") {
		t.Errorf("panic in file: %v", err)
	}
}

func TestIncomplete(t *testing.T) {
	tests := []struct {
		src  string
		want bool
	}{
		{"", false},
		{"1 + 2", false},
		{"func f() int {", true},
		{"func f() int {\n\treturn 1\n}", false},
		{"for i := 0; i < 3; i++ {", true},
		{"x := []int{1,\n2,", true},
		{"fmt.Println(1,", true},
		{"x := 1 +", true},
		{"x := `raw", true},
		{"x := `raw\nstill`", false},
		{"if x {\n} else {", true},
		{"x := \"unterminated", false}, // an error, not more lines
		{"1 +* 2", false},
		{"foo(}", false},
		{"type T struct {", true},
		{"import (", true},
		{"package foo\nfunc F() {", true},
		{"func() {", true},
		{"m := map[string]int{", true},
	}
	for _, tt := range tests {
		if got := Incomplete(tt.src); got != tt.want {
			t.Errorf("Incomplete(%q) = %v, want %v", tt.src, got, tt.want)
		}
	}
}

// waitCount waits until c goes past n.
func waitCount(t *testing.T, c *atomic.Int64, n int64) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for c.Load() <= n {
		select {
		case <-deadline:
			t.Fatalf("counter stuck at %d", c.Load())
		case <-tick.C:
		}
	}
}

func second[T any](_ T, err error) error { return err }
