package shell

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/traefik/yaegi/interp"
	"github.com/traefik/yaegi/stdlib"

	"gsh/internal/interrupt"
)

// ErrInterrupted is the error of an evaluation stopped by the cancellation
// of its context (Ctrl-C). Test with errors.Is: an evaluation that could not
// be stopped returns an error that wraps it.
var ErrInterrupted = interrupt.ErrInterrupted

// Grace is how long Eval waits, after its context is cancelled, for the
// evaluation to stop before returning without it.
const Grace = 250 * time.Millisecond

// Options configure an Interp.
type Options struct {
	// Stdout is where interpreted code's fmt.Print* go (except for an
	// evaluation given an output of its own, see WithOutput), and its
	// os.Stdout when Stdout is an *os.File. Stderr is where its log.* go,
	// and its os.Stderr when Stderr is an *os.File (otherwise os.Stdout
	// and os.Stderr are the process's). Nil means os.Stdout and
	// os.Stderr.
	Stdout, Stderr io.Writer
	// Exports are added after the standard library, e.g. builtins'
	// symbols. Every used package is importable without an import
	// statement, under its name.
	Exports []interp.Exports
	// Prelude are sources evaluated once at start, after the import of
	// the interrupt package, e.g. `import . "gsh/builtins"`.
	Prelude []string
	// GoPath is the interpreter's GOPATH, for imports of source packages.
	GoPath string
}

// Interp is the node's one Go interpreter. Eval and LoadFile run one at a
// time (an Eval waiting for another gives up when its context ends); Func
// and Complete may be called at any time from any goroutine.
type Interp struct {
	sem chan struct{} // one evaluation at a time: holds one element while one runs
	in  *interp.Interpreter

	out   *routedWriter // the interpreter's stdout
	evals evalContexts  // the contexts of the evaluations running, by goroutine
	names names         // what completion knows

	frames frameCatcher

	// imports records the imports made so far by file (see importKey):
	// the interpreter refuses a second import of a name in a file, so they
	// are removed from later inputs. Guarded by sem.
	imports map[string]map[interrupt.Import]bool

	// types are the types declared at the prompt. Guarded by sem.
	types map[string]bool

	funcsMu sync.RWMutex
	funcs   map[string]reflect.Value

	// evalG is the goroutine running the current evaluation's code, so
	// that a load it asks for (c("file.go") at the prompt) runs there and
	// then, inside it, instead of waiting for it to end.
	evalG atomic.Uintptr
}

// NewInterp returns an interpreter with the standard library (its time.Sleep
// is interruptible; net/rpc is left out, gsh's own rpc owns the name), the
// interrupt package, opt.Exports, and opt.Prelude evaluated.
func NewInterp(opt Options) (*Interp, error) {
	stdout, stderr := opt.Stdout, opt.Stderr
	if stdout == nil {
		stdout = os.Stdout
	}
	if stderr == nil {
		stderr = os.Stderr
	}
	i := &Interp{
		sem:     make(chan struct{}, 1),
		out:     &routedWriter{},
		imports: map[string]map[interrupt.Import]bool{},
		funcs:   map[string]reflect.Value{},
		types:   map[string]bool{},
	}
	i.out.def, i.out.evals = stdout, &i.evals
	i.frames.out = stderr
	i.in = interp.New(interp.Options{Stdout: i.out, Stderr: &i.frames, GoPath: opt.GoPath})

	syms := interp.Exports{}
	for k, v := range stdlib.Symbols {
		switch k {
		case "net/rpc/rpc", "net/rpc/jsonrpc/jsonrpc":
			continue
		case "time/time":
			v = withSymbol(v, "Sleep", reflect.ValueOf(interrupt.Sleep))
		case "os/os":
			// yaegi gives os.Stdout and os.Stderr the interpreter's
			// stdout and stderr only when they are files, which the
			// output router and the frame catcher are not.
			if f, ok := stdout.(*os.File); ok {
				v = withSymbol(v, "Stdout", reflect.ValueOf(&f).Elem())
			}
			if f, ok := stderr.(*os.File); ok {
				v = withSymbol(v, "Stderr", reflect.ValueOf(&f).Elem())
			}
		}
		syms[k] = v
	}
	for _, e := range append([]interp.Exports{syms, interrupt.Symbols, goExtExports}, opt.Exports...) {
		if err := i.in.Use(e); err != nil {
			return nil, err
		}
	}
	i.names.exports = append([]interp.Exports{syms, goExtExports}, opt.Exports...)
	i.in.ImportUsed()
	if _, err := i.in.Eval(interrupt.ImportDecl); err != nil {
		return nil, err
	}
	i.addImport(importKey("main", ""), interrupt.Import{Name: interrupt.ImportName, Path: interrupt.ImportPath})
	for _, src := range append(goExtSource[:len(goExtSource):len(goExtSource)], opt.Prelude...) {
		if _, err := i.Eval(context.Background(), src); err != nil {
			return nil, fmt.Errorf("prelude %q: %w", src, err)
		}
	}
	return i, nil
}

// intGlobal reports whether name is a variable of an integer type declared
// at the prompt.
func (i *Interp) intGlobal(name string) bool {
	i.names.mu.Lock()
	bound := i.names.bound["main"][name]
	i.names.mu.Unlock()
	if !bound {
		return false
	}
	vals, err := i.values([]string{name}, false)
	if err != nil || len(vals) != 1 {
		return false
	}
	switch reflect.ValueOf(vals[0]).Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return true
	}
	return false
}

// withSymbol returns a copy of the package's symbols with name set to v.
func withSymbol(syms map[string]reflect.Value, name string, v reflect.Value) map[string]reflect.Value {
	out := make(map[string]reflect.Value, len(syms))
	for k, s := range syms {
		out[k] = s
	}
	out[name] = v
	return out
}

// Result is what an evaluation gives to print.
type Result struct {
	// Values: for an expression statement, all its results; for an
	// assignment (x := …, x = …, x += …, x++), the assigned value(s);
	// nothing for declarations, imports and other statements.
	Values []any
	// Quiet is true for calls whose results are noise (fmt.Print*,
	// fmt.Fprint*, log.*, Write and WriteString methods): print only a
	// non-nil error.
	Quiet bool
	// Assigned is true when Values are the values an assignment stored:
	// they are shown as values, an error among them too, and never count
	// as the input's failure.
	Assigned bool
	// Output is what the evaluation printed, when it was captured rather
	// than written out (a remote shell's evaluation, see Remote): the shell
	// prints it before the values.
	Output string
}

// PanicError is a panic recovered from the evaluation, in the user's code
// or in the interpreter itself.
type PanicError struct {
	Value any
	// Frames are the interpreted functions the panic went through,
	// innermost first: "main.f" for a function defined at the prompt,
	// "pkg.f (file.go:12)" for one loaded from a file, with the line where
	// yaegi places the frame (the start of the function's body).
	Frames []string
	// Compile is true when the interpreter panicked while compiling the
	// input (a construct it does not support), before running anything.
	Compile bool
}

func (e *PanicError) Error() string {
	var msg string
	switch v := e.Value.(type) {
	case error:
		msg = v.Error()
	case string:
		msg = v
	default:
		msg = fmt.Sprint(v)
	}
	s := "panic: " + oneLine(msg)
	if e.Compile {
		s += " (while compiling: the interpreter does not support this construct)"
	}
	if len(e.Frames) > 0 {
		s += " [in " + strings.Join(e.Frames, ", called from ") + "]"
	}
	return s
}

// Unwrap returns the panic value when it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// CompileError is an error that the parser or the interpreter reported at a
// position of the input.
type CompileError struct {
	File      string // "" for input typed or piped to the shell
	Line, Col int    // in the input, from 1
	Msg       string
}

func (e *CompileError) Error() string {
	if e.File != "" {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
	}
	return fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Msg)
}

// Incomplete reports whether src is an unfinished input that needs more
// lines: an open brace, parenthesis or raw string, an expression cut after an
// operator. It parses src and never evaluates it; it uses the same rules as
// yaegi's own REPL.
func Incomplete(src string) bool {
	if strings.TrimSpace(src) == "" {
		return false
	}
	if openBrackets(src) {
		return true
	}
	// An input starting with func is tried as declarations, then as
	// statements (a function literal): unfinished if either is.
	for _, err := range interrupt.ParseErrors(src) {
		var el scanner.ErrorList
		if !errors.As(err, &el) || len(el) == 0 {
			continue
		}
		msg := el[0].Msg
		if strings.HasSuffix(msg, "found 'EOF'") || msg == "raw string literal not terminated" {
			return true
		}
		if strings.HasPrefix(msg, "expected operand, found '}'") &&
			!strings.HasSuffix(strings.TrimRight(src, " \t\r\n"), "}") {
			// The '}' is the wrapper's: the last line does not end
			// with one of its own.
			return true
		}
	}
	return false
}

// Eval evaluates one complete input: statements, declarations, an
// expression, or a whole file (with its package clause). The source is
// instrumented (see interrupt.Instrument) so that cancelling ctx stops this
// evaluation, and only this one: it then returns ErrInterrupted. When the
// evaluation does not stop within Grace of the cancellation (it is blocked in
// a channel operation or a Go call that cannot be reached), Eval returns an
// error wrapping ErrInterrupted and leaves it running in the background.
//
// A panic, in the user's code or in the interpreter, is returned as a
// *PanicError; a syntax or type error as a *CompileError.
func (i *Interp) Eval(ctx context.Context, src string) (Result, error) {
	return i.eval(ctx, src, "")
}

// LoadFile evaluates the Go file at path, which must have a package clause,
// instrumented like Eval's input. Its package becomes usable at the prompt
// under its name (pkg.Name(...)) and all its top-level functions, exported or
// not, can then be found by Func("pkg.name"), so that other nodes can call
// module pkg, function name. Loading a file again redefines its functions. A
// func main in package main runs once, when its file is loaded.
func (i *Interp) LoadFile(ctx context.Context, path string) (pkg string, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return i.LoadSource(ctx, path, string(b))
}

// LoadSource is LoadFile for a file's text: name is used in error
// positions. Other nodes send sources this way (nl).
func (i *Interp) LoadSource(ctx context.Context, name, src string) (pkg string, err error) {
	p, err := interrupt.Parse(src)
	if err != nil {
		return "", compileErrorFromParse(err, name)
	}
	if p.Kind != interrupt.KindFile {
		return "", fmt.Errorf("%s: not a Go file: it has no package clause", name)
	}
	_, err = i.evalParsed(ctx, p, name)
	return p.Package(), err
}

// openBrackets reports whether src leaves a bracket open or ends with a
// token that needs more (a binary operator, a comma, a dot): a multi-line
// call such as spawn(func() { is unfinished whatever the parser says of it.
func openBrackets(src string) bool {
	var s scanner.Scanner
	fset := token.NewFileSet()
	file := fset.AddFile("", fset.Base(), len(src))
	s.Init(file, []byte(src), nil, 0)
	depth := 0
	last := token.ILLEGAL
	for {
		_, tok, lit := s.Scan()
		if tok == token.EOF {
			break
		}
		switch tok {
		case token.LPAREN, token.LBRACK, token.LBRACE:
			depth++
		case token.RPAREN, token.RBRACK, token.RBRACE:
			depth--
		}
		if tok == token.SEMICOLON && lit == "\n" {
			continue // an automatic semicolon: look at the token before it
		}
		last = tok
	}
	if depth > 0 {
		return true
	}
	switch last {
	case token.COMMA, token.PERIOD, token.ADD, token.SUB, token.MUL, token.QUO, token.REM,
		token.AND, token.OR, token.XOR, token.SHL, token.SHR, token.AND_NOT,
		token.LAND, token.LOR, token.EQL, token.NEQ, token.LSS, token.GTR, token.LEQ, token.GEQ,
		token.ASSIGN, token.DEFINE, token.ARROW, token.COLON:
		return true
	}
	return false
}

// outputKey is the context key of WithOutput's writer.
type outputKey struct{}

// WithOutput returns a context for Eval whose evaluation prints to w: what
// its code prints with fmt.Print* (and builtins that print to Stdout, such as
// help()) goes to w instead of the interpreter's stdout, while the
// evaluation runs. Other goroutines, processes it spawned included, print as
// before. A remote shell's evaluations are captured this way.
func WithOutput(ctx context.Context, w io.Writer) context.Context {
	return context.WithValue(ctx, outputKey{}, w)
}

// Stdout returns the interpreter's stdout: Options.Stdout, except for the
// goroutine of an evaluation given its own output by WithOutput. Builtins
// that print (help(), i()) should print here.
func (i *Interp) Stdout() io.Writer { return i.out }

// Context returns the context given to Eval for the evaluation that the
// calling goroutine runs, or nil when it runs none (a spawned process, a
// call from another node). Builtins use it to tell whose evaluation calls
// them (a remote shell's: see Server.History).
func (i *Interp) Context() context.Context {
	return i.evals.get(interrupt.GoroutineKey())
}

// evalContexts maps the goroutines running evaluations to their contexts.
type evalContexts struct {
	n  atomic.Int32 // len(m): no lookup while there is none
	mu sync.RWMutex
	m  map[uintptr]context.Context
}

func (e *evalContexts) get(g uintptr) context.Context {
	if e.n.Load() == 0 {
		return nil
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.m[g]
}

func (e *evalContexts) set(g uintptr, ctx context.Context) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = map[uintptr]context.Context{}
	}
	e.m[g] = ctx
	e.n.Store(int32(len(e.m)))
}

func (e *evalContexts) clear(g uintptr) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, g)
	e.n.Store(int32(len(e.m)))
}

// routedWriter is the interpreter's stdout: what an evaluation given its
// own output (WithOutput) prints goes there, the rest to def.
type routedWriter struct {
	def   io.Writer
	evals *evalContexts
}

func (w *routedWriter) Write(p []byte) (int, error) {
	if ctx := w.evals.get(interrupt.GoroutineKey()); ctx != nil {
		if out, ok := ctx.Value(outputKey{}).(io.Writer); ok && out != nil {
			return out.Write(p)
		}
	}
	return w.def.Write(p)
}

// Func returns a top-level function defined at the prompt or by a loaded
// file: "f" or "main.f" for package main, "pkg.f" for a file of package pkg.
// The value may be called from any goroutine, even while an Eval runs.
func (i *Interp) Func(name string) (reflect.Value, bool) {
	name = strings.TrimPrefix(name, "main.")
	i.funcsMu.RLock()
	defer i.funcsMu.RUnlock()
	f, ok := i.funcs[name]
	return f, ok
}

// TakeFrames returns, and forgets, the interpreted frames that a panic in
// the calling goroutine went through (innermost first), outside Eval: for a
// spawned process or a remote call that recovered a panic of an interpreted
// function.
func (i *Interp) TakeFrames() []string {
	return i.frames.take(interrupt.GoroutineKey())
}

func (i *Interp) eval(ctx context.Context, src, file string) (Result, error) {
	if strings.TrimSpace(src) == "" {
		return Result{}, nil
	}
	p, err := interrupt.Parse(src)
	if err != nil {
		return Result{}, compileErrorFromParse(err, file)
	}
	return i.evalParsed(ctx, p, file)
}

func compileErrorFromParse(err error, file string) error {
	var el scanner.ErrorList
	if errors.As(err, &el) && len(el) > 0 {
		return &CompileError{File: file, Line: el[0].Pos.Line, Col: el[0].Pos.Column, Msg: el[0].Msg}
	}
	return err
}

// job is one evaluation, run in its own goroutine so that it can be
// abandoned.
type job struct {
	mu        sync.Mutex // held by the job while it uses the interpreter after running user code
	abandoned bool
	g         uintptr // the goroutine running it, while it is registered in evals; guarded by mu
	done      chan struct{}
	res       Result
	err       error
}

func (i *Interp) evalParsed(ctx context.Context, p *interrupt.Parsed, file string) (Result, error) {
	if g := interrupt.GoroutineKey(); i.evalG.Load() == g {
		return i.evalNested(p, file)
	}
	// Wait for the evaluation running now (another node's remote shell,
	// or this prompt's), unless this one is cancelled first.
	select {
	case i.sem <- struct{}{}:
	case <-ctx.Done():
		return Result{}, ErrInterrupted
	}
	defer func() { <-i.sem }()
	shadowed, err := i.checkInput(p, file)
	if err != nil {
		return Result{}, err
	}
	pl := i.plan(p)
	j := &job{done: make(chan struct{})}
	go i.runJob(ctx, j, pl, file)
	select {
	case <-j.done:
		return j.res, withShadowHint(j.err, shadowed)
	case <-ctx.Done():
	}
	t := time.NewTimer(Grace)
	defer t.Stop()
	select {
	case <-j.done:
		return j.res, withShadowHint(j.err, shadowed)
	case <-t.C:
	}
	j.mu.Lock()
	j.abandoned = true
	if j.g != 0 { // what it prints from now on is nobody's
		i.evals.clear(j.g)
		j.g = 0
	}
	j.mu.Unlock()
	select { // it may have just finished
	case <-j.done:
		return j.res, j.err
	default:
	}
	return Result{}, fmt.Errorf("%w: it is blocked and keeps running in the background", ErrInterrupted)
}

// evalNested evaluates an input that the running evaluation asked for, in
// its goroutine, which holds the interpreter already.
func (i *Interp) evalNested(p *interrupt.Parsed, file string) (res Result, err error) {
	shadowed, err := i.checkInput(p, file)
	if err != nil {
		return Result{}, err
	}
	defer func() { err = withShadowHint(err, shadowed) }()
	pl := i.plan(p)
	j := &job{done: make(chan struct{})}
	compiling := true
	defer func() {
		if r := recover(); r != nil {
			res, err = Result{}, panicError(r, nil, compiling)
		}
	}()
	return i.run(j, pl, file, &compiling)
}

func (i *Interp) runJob(ctx context.Context, j *job, pl *plan, file string) {
	defer close(j.done)
	g := interrupt.GoroutineKey()
	i.evalG.Store(g)
	defer i.evalG.CompareAndSwap(g, 0)
	j.mu.Lock()
	j.g = g
	i.evals.set(g, ctx)
	j.mu.Unlock()
	defer func() {
		j.mu.Lock()
		if j.g != 0 {
			i.evals.clear(g)
			j.g = 0
		}
		j.mu.Unlock()
	}()
	stop := interrupt.Watch(ctx)
	defer stop()
	i.frames.start(g)
	compiling := true
	defer func() {
		frames := i.frames.take(g)
		if r := recover(); r != nil {
			j.res, j.err = Result{}, panicError(r, frames, compiling)
		}
	}()
	defer interrupt.Own()()
	j.res, j.err = i.run(j, pl, file, &compiling)
}

func panicError(r any, frames []string, compiling bool) error {
	r = interrupt.PanicValue(r)
	if err, ok := r.(error); ok && errors.Is(err, ErrInterrupted) {
		return ErrInterrupted
	}
	if err, ok := r.(error); ok && errors.Is(err, interrupt.ErrStackOverflow) {
		return err
	}
	if !compiling {
		r = goRuntimeError(r)
	}
	return &PanicError{Value: r, Frames: frames, Compile: compiling}
}

// plan is how an input is evaluated.
type plan struct {
	p        *interrupt.Parsed
	pkg      string
	edits    []interrupt.Edit // rewrites of yaegi's weak spots
	attempts []attempt        // ways to evaluate the last statement, tried in order until one compiles
	lhs      []string         // expressions to show after an assignment
	quiet    bool
	funcs    []string // top-level funcs declared
	main     bool     // declares func main in package main
}

func (i *Interp) plan(p *interrupt.Parsed) *plan {
	pl := &plan{p: p, pkg: p.Package()}
	pl.edits = rangeIntEdits(p, i.intGlobal)
	switch p.Kind {
	case interrupt.KindFile, interrupt.KindDecls:
		for _, d := range p.File.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv != nil || fd.Name.Name == "_" || fd.Name.Name == "init" {
				continue
			}
			if fd.Name.Name == "main" && pl.pkg == "main" {
				pl.main = true
				continue
			}
			pl.funcs = append(pl.funcs, fd.Name.Name)
		}
		return pl
	}
	for _, s := range p.Stmts {
		pl.edits = append(pl.edits, rewriteStmt(p, s)...)
		if a, ok := s.(*ast.AssignStmt); ok && a.Tok == token.DEFINE && len(a.Lhs) == len(a.Rhs) {
			for k, r := range a.Rhs {
				if _, ok := r.(*ast.FuncLit); ok {
					if id, ok := a.Lhs[k].(*ast.Ident); ok && id.Name != "_" {
						pl.funcs = append(pl.funcs, id.Name)
					}
				}
			}
		}
	}
	if len(p.Stmts) == 0 {
		return pl
	}
	switch s := p.Stmts[len(p.Stmts)-1].(type) {
	case *ast.ExprStmt:
		// In a function literal: function values made there do not
		// belong to yaegi's global frame (see privateFuncs).
		x := s.X
		pl.attempts = []attempt{{
			edits: []interrupt.Edit{
				{Pos: x.Pos(), Text: "func() []any { return " + interrupt.ImportName + ".Results("},
				{Pos: x.End(), Text: ") }()"},
			},
			show: showResults,
		}}
		if c, ok := ast.Unparen(x).(*ast.CallExpr); ok {
			pl.quiet = quietCall(c)
			// A call without results.
			pl.attempts = append(pl.attempts, attempt{edits: []interrupt.Edit{
				{Pos: x.Pos(), Text: "func() { "},
				{Pos: x.End(), Text: " }()"},
			}})
		}
		pl.attempts = append(pl.attempts, attempt{show: showValue})
	case *ast.AssignStmt:
		pl.lhs = showable(p, s.Lhs)
	case *ast.IncDecStmt:
		pl.lhs = showable(p, []ast.Expr{s.X})
	}
	return pl
}

// attempt is one way to evaluate an input's last statement: extra edits,
// and what the evaluation's value is.
type attempt struct {
	edits []interrupt.Edit
	show  int // showNone, showResults or showValue
}

const (
	showNone    = iota
	showResults // the value is the []any of _gsh.Results
	showValue   // the value is the expression's value
)

// showable returns the text of the expressions that can be evaluated again
// without side effects.
func showable(p *interrupt.Parsed, xs []ast.Expr) []string {
	var out []string
	for _, x := range xs {
		if id, ok := x.(*ast.Ident); ok && id.Name == "_" {
			continue
		}
		pure := true
		ast.Inspect(x, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr, *ast.FuncLit:
				pure = false
			case *ast.UnaryExpr:
				if n.Op == token.ARROW {
					pure = false
				}
			}
			return pure
		})
		if pure {
			out = append(out, p.Text(x))
		}
	}
	return out
}

var quietMethods = map[string]bool{
	"Print": true, "Printf": true, "Println": true,
	"Fprint": true, "Fprintf": true, "Fprintln": true,
	"Write": true, "WriteString": true, "WriteByte": true, "WriteRune": true,
}

// quietCall reports whether c is a call whose results are noise.
func quietCall(c *ast.CallExpr) bool {
	sel, ok := ast.Unparen(c.Fun).(*ast.SelectorExpr)
	if !ok {
		return false
	}
	if id, ok := sel.X.(*ast.Ident); ok && id.Name == "log" {
		return true
	}
	return quietMethods[sel.Sel.Name]
}

// rewriteStmt works around yaegi's handling of statements at the top level
// of the prompt, where their variables are globals:
//
//   - a comma-ok define (v, ok := m[k] or x.(T)) panics with "nil type"; it
//     becomes a define of v followed by an assignment of both;
//   - compound statements (if, for, switch, select, blocks) declaring
//     variables of their own have the same trouble and worse (a type switch
//     panics); they run in a function literal, where their variables belong;
//   - so do go statements, and expression statements (see plan), so that
//     the function values they make do not keep yaegi's global frame (see
//     privateFuncs).
func rewriteStmt(p *interrupt.Parsed, s ast.Stmt) []interrupt.Edit {
	switch s := s.(type) {
	case *ast.IfStmt, *ast.ForStmt, *ast.RangeStmt, *ast.SwitchStmt, *ast.TypeSwitchStmt,
		*ast.SelectStmt, *ast.BlockStmt, *ast.LabeledStmt, *ast.GoStmt:
		return []interrupt.Edit{
			{Pos: s.Pos(), Text: "func() { "},
			{Pos: s.End(), Text: " }()"},
		}
	case *ast.AssignStmt:
		if s.Tok != token.DEFINE || len(s.Lhs) != 2 || len(s.Rhs) != 1 {
			return nil
		}
		a, b := p.Text(s.Lhs[0]), p.Text(s.Lhs[1])
		switch r := ast.Unparen(s.Rhs[0]).(type) {
		case *ast.IndexExpr:
			// v, ok := M[K]  →  _gshM, _gshK := M, K; v := _gshM[_gshK]; var ok bool; v, ok = _gshM[_gshK]
			tail := ""
			if a != "_" {
				tail += "; " + a + " := _gshM[_gshK]"
			}
			if b != "_" {
				tail += "; var " + b + " bool"
			}
			tail += "; " + a + ", " + b + " = _gshM[_gshK]"
			return []interrupt.Edit{
				{Pos: s.Pos(), End: r.X.Pos(), Text: "_gshM, _gshK := "},
				{Pos: r.X.End(), End: r.Index.Pos(), Text: ", "},
				{Pos: r.Index.End(), End: s.End(), Text: tail},
			}
		case *ast.TypeAssertExpr:
			if r.Type == nil {
				return nil
			}
			// v, ok := X.(T)  →  var v T; var ok bool; v, ok = X.(T)
			head := ""
			if a != "_" {
				head += "var " + a + " " + p.Text(r.Type) + "; "
			}
			if b != "_" {
				head += "var " + b + " bool; "
			}
			head += a + ", " + b + " = "
			return []interrupt.Edit{{Pos: s.Pos(), End: s.Rhs[0].Pos(), Text: head}}
		}
	}
	return nil
}

// run compiles and executes the plan in the job's goroutine.
func (i *Interp) run(j *job, pl *plan, file string, compiling *bool) (Result, error) {
	prog, rw, show, err := i.compilePlan(j, pl, file)
	if err != nil {
		return Result{}, err
	}
	*compiling = false
	v, err := i.in.Execute(prog)
	*compiling = true
	if err != nil {
		var pe interp.Panic
		if errors.As(err, &pe) {
			return Result{}, panicError(pe.Value, i.frames.take(interrupt.GoroutineKey()), false)
		}
		return Result{}, inGoWords(mapCompileError(err, rw, file), pl.p)
	}

	// The user's code is done: what follows uses the interpreter again,
	// which must not happen once Eval has returned without us.
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.abandoned {
		return Result{}, ErrInterrupted
	}
	if pl.main {
		// yaegi runs a package main's func main again after every
		// later evaluation: it ran once, now make it harmless, before
		// anything else is evaluated.
		i.evalQuiet("func main() {}")
	}
	p := pl.p
	if p.Kind != interrupt.KindStmts {
		key := importKey(pl.pkg, file)
		i.addImport(key, interrupt.Import{Name: interrupt.ImportName, Path: interrupt.ImportPath})
		for _, im := range p.Imports() {
			i.addImport(key, im)
		}
	}
	res := Result{Quiet: pl.quiet}
	switch {
	case show == showResults:
		if v.IsValid() && v.Kind() == reflect.Slice {
			if vals, ok := v.Interface().([]any); ok {
				res.Values = vals
			}
		}
	case show == showValue && v.IsValid() && v.CanInterface():
		res.Values = []any{v.Interface()}
	case len(pl.lhs) > 0:
		if vals, err := i.values(pl.lhs, false); err == nil {
			res.Values, res.Assigned = vals, true
		}
	}
	i.recordFuncs(pl)
	i.recordTypes(pl.p, file)
	i.names.record(pl.p, file)
	return res, nil
}

// compilePlan instruments, rewrites and compiles the input, and tells how
// to show its value. It holds the job's lock: an abandoned job must not use
// the interpreter any more.
func (i *Interp) compilePlan(j *job, pl *plan, file string) (*interp.Program, *interrupt.Rewritten, int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.abandoned {
		return nil, nil, showNone, ErrInterrupted
	}
	p := pl.p
	key := importKey(pl.pkg, file)
	have := func(im interrupt.Import) bool { return i.imports[key][im] }
	attempts := pl.attempts
	if len(attempts) == 0 {
		attempts = []attempt{{}}
	}
	var (
		prog  *interp.Program
		rw    *interrupt.Rewritten
		err   error
		edits []interrupt.Edit
		show  int
	)
	for _, a := range attempts {
		edits = append(append([]interrupt.Edit(nil), pl.edits...), a.edits...)
		show = a.show
		rw = p.Instrument(have, edits...)
		if prog, err = i.compile(rw, p.Kind, file); err == nil {
			break
		}
	}
	for tries := 0; err != nil && tries < 10; tries++ {
		// An import that an earlier, failed evaluation made anyway.
		name, ok := redeclaredImport(err)
		if !ok {
			break
		}
		found := false
		for _, im := range append(p.Imports(), interrupt.Import{Name: interrupt.ImportName, Path: interrupt.ImportPath}) {
			if im.Name == name && !have(im) {
				i.addImport(key, im)
				found = true
			}
		}
		if !found {
			break
		}
		rw = p.Instrument(have, edits...)
		prog, err = i.compile(rw, p.Kind, file)
	}
	if err != nil {
		return nil, rw, showNone, inGoWords(mapCompileError(err, rw, file), p)
	}
	return prog, rw, show, nil
}

// importKey names the scope of imports in the interpreter: a package and
// the base name of a file (yaegi's own name for input typed at the prompt).
func importKey(pkg, file string) string {
	if file == "" {
		file = interp.DefaultSourceName
	}
	return pkg + "\x00" + filepath.Base(file)
}

func (i *Interp) addImport(key string, im interrupt.Import) {
	m := i.imports[key]
	if m == nil {
		m = map[interrupt.Import]bool{}
		i.imports[key] = m
	}
	m[im] = true
}

// compile parses the rewritten input with the interpreter's file set (so
// that positions name file) and compiles it.
func (i *Interp) compile(rw *interrupt.Rewritten, kind interrupt.Kind, file string) (*interp.Program, error) {
	name := file
	if name == "" {
		name = interp.DefaultSourceName
	}
	f, err := parser.ParseFile(i.in.FileSet(), name, rw.Full(), parser.ParseComments|parser.DeclarationErrors)
	if err != nil {
		return nil, err
	}
	var n ast.Node = f
	if kind == interrupt.KindStmts {
		n = f.Decls[0].(*ast.FuncDecl).Body
	}
	return i.in.CompileAST(n)
}

var posRE = regexp.MustCompile(`^(\d+):(\d+): (?s:(.*))$`)

// mapCompileError turns an interpreter error "[file:]L:C: msg", whose
// position is in the rewritten source, into a *CompileError at the position
// in the input.
func mapCompileError(err error, rw *interrupt.Rewritten, file string) error {
	var el scanner.ErrorList
	if errors.As(err, &el) && len(el) > 0 {
		l, c := rw.Position(el[0].Pos.Line, el[0].Pos.Column)
		return &CompileError{File: file, Line: l, Col: c, Msg: el[0].Msg}
	}
	msg := err.Error()
	if file != "" {
		msg = strings.TrimPrefix(msg, file+":")
	}
	msg = strings.TrimPrefix(msg, interp.DefaultSourceName+":")
	m := posRE.FindStringSubmatch(msg)
	if m == nil {
		return err
	}
	line, _ := strconv.Atoi(m[1])
	col, _ := strconv.Atoi(m[2])
	l, c := rw.Position(line, col)
	return &CompileError{File: file, Line: l, Col: c, Msg: stripPositions(m[3])}
}

var innerPosRE = regexp.MustCompile(`\b\d+:\d+: `)

// stripPositions removes positions of the rewritten source that yaegi nests
// in some messages.
func stripPositions(s string) string { return innerPosRE.ReplaceAllString(s, "") }

var redeclRE = regexp.MustCompile(`(\S+)/_\.go redeclared in this block`)

func redeclaredImport(err error) (string, bool) {
	m := redeclRE.FindStringSubmatch(err.Error())
	if m == nil {
		return "", false
	}
	return m[1], true
}

// values evaluates expressions (already evaluated once, without side
// effects) and returns their values, in a function literal when private.
func (i *Interp) values(xs []string, private bool) ([]any, error) {
	src := interrupt.ImportName + ".Results(" + strings.Join(xs, ", ") + ")"
	if private {
		// The ';' keeps yaegi from taking it for a func declaration.
		src = ";func() []any { return " + src + " }()"
	}
	v, err := i.evalQuiet(src)
	if err != nil {
		return nil, err
	}
	if !v.IsValid() || !v.CanInterface() {
		return nil, errors.New("no values")
	}
	vals, ok := v.Interface().([]any)
	if !ok {
		return nil, errors.New("no values")
	}
	return vals, nil
}

// evalQuiet evaluates internal source, in the interpreter's lock.
func (i *Interp) evalQuiet(src string) (v reflect.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return i.in.Eval(src)
}

func (i *Interp) recordFuncs(pl *plan) {
	if len(pl.funcs) == 0 {
		return
	}
	keys := make([]string, len(pl.funcs))
	for k, name := range pl.funcs {
		keys[k] = name
		if pl.pkg != "main" {
			keys[k] = pl.pkg + "." + name
		}
	}
	found := map[string]reflect.Value{}
	if vals, err := i.privateFuncs(keys); err == nil {
		for k, v := range vals {
			found[keys[k]] = v
		}
	} else {
		for _, key := range keys { // one of them is not a value (generic?)
			if vals, err := i.privateFuncs([]string{key}); err == nil {
				found[key] = vals[0]
			}
		}
	}
	i.funcsMu.Lock()
	for k, v := range found {
		i.funcs[k] = v
	}
	i.funcsMu.Unlock()
}

// privateFuncs returns the functions named by exprs as Go function values
// made in a frame of their own. yaegi's function values made at the top
// level keep its global frame, and read a field of it at every call that the
// start of every evaluation writes: a data race, harmless but reported by
// the race detector, between remote calls and the prompt.
func (i *Interp) privateFuncs(exprs []string) ([]reflect.Value, error) {
	vals, err := i.values(exprs, true)
	if err != nil {
		return nil, err
	}
	out := make([]reflect.Value, len(vals))
	for k, v := range vals {
		rv := reflect.ValueOf(v)
		if rv.Kind() != reflect.Func || rv.IsNil() {
			return nil, fmt.Errorf("%s is not a function", exprs[k])
		}
		out[k] = rv
	}
	return out, nil
}

// frameCatcher is the interpreter's stderr. It keeps the lines that yaegi
// writes for each interpreted frame a panic goes through ("L:C: panic:
// main.f(...)") out of the user's stderr, and files them by goroutine: those
// of the evaluation's goroutine go to its PanicError.
type frameCatcher struct {
	out io.Writer

	mu    sync.Mutex
	byG   map[uintptr][]string // by interrupt.GoroutineKey
	order []uintptr            // goroutines with frames, oldest first, to bound byG
}

var frameRE = regexp.MustCompile(`^(?:(.*):)?(\d+):(\d+): panic: (.*)\(\.\.\.\)\r?\n?$`)

func (c *frameCatcher) Write(b []byte) (int, error) {
	if !strings.Contains(string(b), ": panic: ") {
		return c.out.Write(b)
	}
	m := frameRE.FindStringSubmatch(string(b))
	if m == nil {
		return c.out.Write(b)
	}
	file, line, fn := m[1], m[2], m[4]
	frame := fn
	if file != "" {
		frame += " (" + file + ":" + line + ")"
	} else if fn == "main" || fn == "main.func" {
		return len(b), nil // the prompt's own statements
	}
	gid := interrupt.GoroutineKey()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byG == nil {
		c.byG = map[uintptr][]string{}
	}
	if _, ok := c.byG[gid]; !ok {
		c.order = append(c.order, gid)
		if len(c.order) > 64 {
			delete(c.byG, c.order[0])
			c.order = c.order[1:]
		}
	}
	if len(c.byG[gid]) < 32 {
		c.byG[gid] = append(c.byG[gid], frame)
	}
	return len(b), nil
}

// start forgets stale frames of goroutine gid.
func (c *frameCatcher) start(gid uintptr) { c.take(gid) }

func (c *frameCatcher) take(gid uintptr) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, ok := c.byG[gid]
	if !ok {
		return nil
	}
	delete(c.byG, gid)
	for k, g := range c.order {
		if g == gid {
			c.order = append(c.order[:k], c.order[k+1:]...)
			break
		}
	}
	return f
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\r", "")), " ")
}
