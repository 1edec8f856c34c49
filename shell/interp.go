package shell

import (
	"context"
	"errors"
	"fmt"
	"go/scanner"
	"go/token"
	"io"
	"os"
	"reflect"
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
	// Bind, if set, is called with the interpreter being made, before its
	// exports are used: it returns exports that call back into it (the
	// builtins), added after Exports.
	Bind func(*Interp) []interp.Exports
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
	names names         // what completion knows

	frames frameCatcher

	// imports records the imports made so far by file (see importKey):
	// the interpreter refuses a second import of a name in a file, so they
	// are removed from later inputs. Guarded by sem.
	imports map[string]map[interrupt.Import]bool

	// types are the types declared at the prompt. Guarded by sem.
	types map[string]bool
	// structs are the struct types declared, by name (see Type).
	structs structTypes

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
	i.out.def = stdout
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
	exports := opt.Exports[:len(opt.Exports):len(opt.Exports)]
	if opt.Bind != nil {
		exports = append(exports, opt.Bind(i)...)
	}
	for _, e := range append([]interp.Exports{syms, interrupt.Symbols, goExtExports}, exports...) {
		if err := i.in.Use(e); err != nil {
			return nil, err
		}
	}
	i.names.exports = append([]interp.Exports{syms, goExtExports}, exports...)
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
