// Package interrupt stops one evaluation of interpreted code, one goroutine,
// without touching the others.
//
// The yaegi interpreter can only cancel all interpreted code at once, so gsh
// never uses its context support. Instead every source that gsh evaluates is
// first rewritten by [Instrument]: a call of [Enter] is inserted at the top of
// every function body, and a check that calls [Tick] when something is
// pending at the top of every loop body. A goroutine that wants to be
// stoppable calls [Watch] with a context; when that context is done the
// goroutine is "doomed" and its next Tick panics with [ErrInterrupted], which
// unwinds the interpreted code back to whoever called it (the shell's Eval, a
// spawned process, a remote-call handler), where it is recovered. Other
// goroutines, even when they run the very same interpreted functions, go on.
//
// Instrumented code pays, per function call and loop iteration, one test of
// the length of the channel Pending while no watched context is done, and a
// call of Tick otherwise; Tick called from Go costs one atomic load. While some
// goroutine is doomed but has not yet reached a Tick (it may be blocked in a
// channel operation, or in a Go call), every Tick in the process also looks
// itself up in the set of doomed goroutines, a few nanoseconds on amd64 and
// arm64 where the goroutine is identified by its runtime descriptor (getg, in
// assembly), microseconds elsewhere (runtime.Stack is parsed).
//
// Enter also bounds recursion: a goroutine whose stack passes [StackLimit]
// is stopped with a [StackOverflow] error instead of reaching the Go
// runtime's limit, a fatal error that no recover can stop and that kills the
// whole process. A goroutine that its runner owns (see [Own]) is ended with
// runtime.Goexit, which unwinds in linear time, and its runner gets the
// StackOverflow as a panic; any other panics with it, which unwinds like
// ErrInterrupted, in time quadratic in the depth.
//
// Code that blocks cannot be reached by Tick: [Sleep] replaces time.Sleep in
// the interpreter, and Go code that blocks on behalf of interpreted code
// should select on [Done]. Callers of Watch should also stop waiting for a
// doomed goroutine after a grace period.
//
// [Go] replaces interpreted go statements so that a panic in an interpreted
// goroutine is reported through [SetOnPanic]'s function instead of killing the process.
package interrupt

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// ErrInterrupted is the panic value of a Tick or Sleep in a doomed goroutine,
// and the error that callers report for an interrupted evaluation.
var ErrInterrupted error = Interrupted{}

// Interrupted is the type of ErrInterrupted. errors.Is(err, ErrInterrupted)
// holds for any Interrupted value.
type Interrupted struct{}

func (Interrupted) Error() string { return "interrupted" }

// pending counts the doomed watches that have not been stopped yet. Tick only
// does real work when it is not zero.
var pending atomic.Int64

// Pending holds one element while some watched goroutine is doomed, and is
// empty otherwise. Instrumented code tests len(_gsh.Pending) before calling
// Tick: the length of a channel that is never reassigned is the cheapest
// thing interpreted code can read without a data race, about a quarter of
// the cost of a call to a Go function (see the benchmarks). Never send to it
// or receive from it.
var Pending = make(chan struct{}, 1)

// addPendingLocked changes pending by d, keeping Pending in step. mu is held.
func addPendingLocked(d int64) {
	n := pending.Add(d)
	switch {
	case n > 0 && len(Pending) == 0:
		Pending <- struct{}{}
	case n == 0 && len(Pending) > 0:
		<-Pending
	}
}

var (
	mu     sync.Mutex
	states = map[uintptr]*gstate{} // goroutine (gkey) -> its watches
	// doomedSet is the set of doomed goroutines, replaced (never modified)
	// under mu, read without locking by Tick.
	doomedSet atomic.Pointer[map[uintptr]bool]
)

// gstate is the interrupt state of one watched goroutine.
type gstate struct {
	watches []*watch
	doomed  int           // how many of watches are doomed
	done    chan struct{} // closed while doomed > 0
}

type watch struct {
	g      uintptr
	doomed bool
}

// Watch marks the current goroutine as cancellable by ctx: once ctx is done
// (and until stop is called) the goroutine is doomed, and its next Tick or
// Sleep panics with ErrInterrupted. Watches nest: a goroutine is doomed when
// any of its watches is. stop unregisters the watch; it must be called on
// every path, typically with defer, by any goroutine, and may be called more
// than once. A watch costs nothing to Tick until ctx is done.
func Watch(ctx context.Context) (stop func()) {
	if ctx.Done() == nil { // never done: nothing to do
		return func() {}
	}
	w := &watch{g: gkey()}
	mu.Lock()
	gs := states[w.g]
	if gs == nil {
		gs = &gstate{done: make(chan struct{})}
		states[w.g] = gs
	}
	gs.watches = append(gs.watches, w)
	mu.Unlock()

	stopAfter := context.AfterFunc(ctx, func() { doom(w) })
	var once sync.Once
	return func() {
		once.Do(func() {
			stopAfter()
			unwatch(w)
		})
	}
}

// doom marks w's goroutine as doomed, if w is still registered.
func doom(w *watch) {
	mu.Lock()
	defer mu.Unlock()
	gs := states[w.g]
	if gs == nil || w.doomed || !gs.has(w) {
		return
	}
	w.doomed = true
	gs.doomed++
	if gs.doomed == 1 {
		close(gs.done)
		updateDoomedLocked()
	}
	addPendingLocked(1)
}

func unwatch(w *watch) {
	mu.Lock()
	defer mu.Unlock()
	gs := states[w.g]
	if gs == nil {
		return
	}
	for i, x := range gs.watches {
		if x == w {
			gs.watches = append(gs.watches[:i], gs.watches[i+1:]...)
			break
		}
	}
	if w.doomed {
		w.doomed = false
		gs.doomed--
		addPendingLocked(-1)
		if gs.doomed == 0 {
			gs.done = make(chan struct{})
			updateDoomedLocked()
		}
	}
	if len(gs.watches) == 0 {
		delete(states, w.g)
	}
}

func updateDoomedLocked() {
	m := map[uintptr]bool{}
	for g, gs := range states {
		if gs.doomed > 0 {
			m[g] = true
		}
	}
	doomedSet.Store(&m)
}

func (gs *gstate) has(w *watch) bool {
	for _, x := range gs.watches {
		if x == w {
			return true
		}
	}
	return false
}

// Doomed reports whether the current goroutine is watched by a context that
// is done.
func Doomed() bool {
	if pending.Load() == 0 {
		return false
	}
	m := doomedSet.Load()
	return m != nil && (*m)[gkey()]
}

// Tick panics with ErrInterrupted when the current goroutine is doomed.
// Instrumented code calls it at the top of every function and loop body
// when Pending is not empty.
// It costs one atomic load when no watched context is done, and a map lookup
// while some goroutine is doomed.
func Tick() {
	if pending.Load() != 0 && Doomed() {
		panic(ErrInterrupted)
	}
}

// StackLimit is how many bytes of its stack a goroutine may use before Enter
// stops its interpreted code with a StackOverflow. Past 1 GB the Go runtime
// kills the whole process, with no way to recover; but the limit has to be
// far lower. An owned goroutine (see Own) that passes it unwinds in time
// linear in the depth, about 10 ms of CPU for 3,500 calls; but a panic of
// the user's own that starts as deep unwinds in quadratic time (each call's
// frame recovers and panics again, and the runtime walks the whole chain
// every time): about 0.1 s of CPU through 1,000 calls, 0.3 s through 2,000,
// 0.8 s through 3,400, 3 s through 7,000. The limit keeps that under a
// second. yaegi needs about 600 bytes of stack per interpreted call, so this
// allows some 3,500 nested calls of a small function, fewer of larger ones.
const StackLimit = 2 << 20

// ErrStackOverflow is what errors.Is matches for any StackOverflow.
var ErrStackOverflow error = StackOverflow{}

// StackOverflow is the panic value of Enter in a goroutine whose stack has
// passed StackLimit.
type StackOverflow struct {
	// Calls is how many nested interpreted calls were running (0 when they
	// could not be counted).
	Calls int
}

func (e StackOverflow) Error() string {
	if e.Calls <= 0 {
		return fmt.Sprintf("stack overflow (more than %d MiB of stack)", StackLimit>>20)
	}
	return fmt.Sprintf("stack overflow (more than %d nested calls)", e.Calls)
}

// Is reports whether target is a StackOverflow, whatever its count.
func (StackOverflow) Is(target error) bool {
	_, ok := target.(StackOverflow)
	return ok
}

// Enter is what instrumented code calls at the top of every function body.
// It stops the goroutine with a StackOverflow when its stack has passed
// StackLimit (runaway recursion, which would otherwise kill the process; see
// Own), and panics with ErrInterrupted when the goroutine is doomed. It
// costs about what the test of Pending in TickStmt costs (see
// BenchmarkInterpCalls*). On platforms other than amd64 and arm64 it does
// not bound recursion.
func Enter() {
	if stackUsed() > StackLimit {
		overflow()
	}
	if pending.Load() != 0 && Doomed() {
		panic(ErrInterrupted)
	}
}

// runCfg is the interpreter's function that runs one function body: each
// nested interpreted call has one frame of it on the Go stack.
const runCfg = "github.com/traefik/yaegi/interp.runCfg"

// nestedCalls counts the interpreted calls on the current goroutine's stack,
// less one for the evaluation that started them. It walks the whole stack,
// which is only done once, when the limit is passed. The count is a lower bound when the stack holds more
// frames than it looks at.
func nestedCalls() int {
	pcs := make([]uintptr, stackUsed()/128+64)
	pcs = pcs[:runtime.Callers(2, pcs)]
	frames := runtime.CallersFrames(pcs)
	n := 0
	for {
		f, more := frames.Next()
		if f.Function == runCfg {
			n++
		}
		if !more {
			break
		}
	}
	return max(n-1, 0)
}

// Done returns a channel that is closed when the current goroutine becomes
// doomed, or nil when the goroutine is not watched. Go code that blocks on
// behalf of interpreted code (a receive, a remote call) should select on it
// and give up with ErrInterrupted.
func Done() <-chan struct{} {
	mu.Lock()
	defer mu.Unlock()
	if gs := states[gkey()]; gs != nil {
		return gs.done
	}
	return nil
}

// Sleep pauses the current goroutine for at least d, like time.Sleep, but
// panics with ErrInterrupted as soon as the goroutine is doomed.
func Sleep(d time.Duration) {
	done := Done()
	if done == nil {
		time.Sleep(d)
		return
	}
	select {
	case <-done:
		panic(ErrInterrupted)
	default:
	}
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-done:
		panic(ErrInterrupted)
	}
}

// GoroutineKey identifies the calling goroutine for as long as it runs (a
// key may be reused after its goroutine exited). It costs a few nanoseconds
// on amd64 and arm64, against microseconds (more with a deep stack) for
// GoroutineID: prefer it for lookups made often, such as "which process is
// this goroutine".
func GoroutineKey() uintptr { return gkey() }

// GoroutineID returns the id of the calling goroutine, as runtime.Stack
// prints it. It parses runtime.Stack: see GoroutineKey for a cheap key.
func GoroutineID() int64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	// "goroutine 123 [running]:..."
	const prefix = "goroutine "
	if len(b) < len(prefix) {
		return 0
	}
	var id int64
	for _, c := range b[len(prefix):] {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + int64(c-'0')
	}
	return id
}

// onPanic is what SetOnPanic set; nil for the default.
var onPanic atomic.Pointer[func(v any, stack []byte)]

// SetOnPanic makes f what reports, in the goroutine that panicked, the
// value and stack of a panic in a function started by Go, until restore is
// called. Without one (or with f nil) a panic prints one line to os.Stderr;
// a shell gives one that writes where it keeps its prompt whole.
func SetOnPanic(f func(v any, stack []byte)) (restore func()) {
	var p *func(v any, stack []byte)
	if f != nil {
		p = &f
	}
	old := onPanic.Swap(p)
	return func() { onPanic.CompareAndSwap(p, old) }
}

// reportPanic reports a panic in a function started by Go.
func reportPanic(v any, stack []byte) {
	if f := onPanic.Load(); f != nil {
		(*f)(v, stack)
		return
	}
	fmt.Fprintf(os.Stderr, "gsh: panic in goroutine: %v\n", v)
}

// Go runs f(args...) in a new goroutine, through reflection. Arguments are
// converted to f's parameter types when they are assignable or convertible
// (untyped nil becomes the zero value). A panic in f, or a StackOverflow
// (the goroutine is contained, see Contain), is recovered and reported
// through SetOnPanic's function. The new goroutine inherits the caller's Owner.
// Instrumented code calls Go in place of go statements.
// Go panics in the caller, before starting anything, when f is not a function
// or the arguments do not fit.
func Go(f any, args ...any) {
	fv := reflect.ValueOf(f)
	if fv.Kind() != reflect.Func {
		panic(fmt.Sprintf("go: %T is not a function", f))
	}
	if fv.IsNil() {
		panic("go: nil function")
	}
	in, err := callArgs(fv.Type(), args)
	if err != nil {
		panic("go: " + err.Error())
	}
	own := inheritOwner()
	go func() {
		defer own()()
		defer func() {
			if v := recover(); v != nil {
				v = PanicValue(v)
				buf := make([]byte, 16<<10)
				buf = buf[:runtime.Stack(buf, false)]
				reportPanic(v, buf)
			}
		}()
		defer Contain()()
		fv.Call(in)
	}()
}

// callArgs converts args to the parameter types of ft, spreading variadic
// arguments.
func callArgs(ft reflect.Type, args []any) ([]reflect.Value, error) {
	n := ft.NumIn()
	if ft.IsVariadic() {
		if len(args) < n-1 {
			return nil, fmt.Errorf("not enough arguments: want at least %d, have %d", n-1, len(args))
		}
	} else if len(args) != n {
		return nil, fmt.Errorf("wrong number of arguments: want %d, have %d", n, len(args))
	}
	in := make([]reflect.Value, len(args))
	for k, a := range args {
		var t reflect.Type
		if ft.IsVariadic() && k >= n-1 {
			t = ft.In(n - 1).Elem()
		} else {
			t = ft.In(k)
		}
		v, err := convert(a, t)
		if err != nil {
			return nil, fmt.Errorf("argument %d: %v", k+1, err)
		}
		in[k] = v
	}
	return in, nil
}

func convert(a any, t reflect.Type) (reflect.Value, error) {
	if a == nil {
		switch t.Kind() {
		case reflect.Chan, reflect.Func, reflect.Interface, reflect.Map, reflect.Pointer, reflect.Slice:
			return reflect.Zero(t), nil
		}
		return reflect.Value{}, fmt.Errorf("cannot use nil as %v", t)
	}
	v := reflect.ValueOf(a)
	if v.Type().AssignableTo(t) {
		return v, nil
	}
	if v.Type().ConvertibleTo(t) {
		return v.Convert(t), nil
	}
	return reflect.Value{}, fmt.Errorf("cannot use %v as %v", v.Type(), t)
}

// PanicValue returns the value given to panic, from a value recovered from
// interpreted code: yaegi may wrap it in a reflect.Value.
func PanicValue(v any) any {
	if rv, ok := v.(reflect.Value); ok {
		if !rv.IsValid() {
			return nil
		}
		if rv.CanInterface() {
			return rv.Interface()
		}
	}
	return v
}

// SameName reports whether x and y are strings, or values of other string
// types (atoms), with the same spelling. Instrumented code compares x ==
// "timeout" and x == "undefined" with it: receive and lookups give atoms,
// which a string literal never equals in Go.
func SameName(x, y any) bool {
	vx, vy := reflect.ValueOf(x), reflect.ValueOf(y)
	return vx.Kind() == reflect.String && vy.Kind() == reflect.String && vx.String() == vy.String()
}

// Results returns its arguments. The shell evaluates a call c as
// _gsh.Results(c) to see all of c's results.
func Results(v ...any) []any { return v }

// NamedFunc is a function value with the name it was declared under.
// Instrumented code passes spawn(node, f) as spawn(node, Named("f", f)), so
// that f can be started on another node that has a function of that name.
type NamedFunc struct {
	Name string
	Fn   any
}

// Named pairs a value with the name it was written as.
func Named(name string, fn any) NamedFunc { return NamedFunc{Name: name, Fn: fn} }
