package shell

// Evaluation jobs: one input at a time, in a goroutine of its own that can
// be abandoned.

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/traefik/yaegi/interp"

	"gsh/internal/interrupt"
)

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

// job is one evaluation, run in its own goroutine so that it can be
// abandoned.
type job struct {
	mu        sync.Mutex // held by the job while it uses the interpreter after running user code
	abandoned bool
	owner     *interrupt.Owner // who runs it, while its goroutine is owned; guarded by mu
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
	if j.owner != nil { // what it prints from now on is nobody's
		interrupt.Release(j.owner)
		j.owner = nil
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
	owner := &interrupt.Owner{Ctx: ctx}
	j.mu.Lock()
	j.owner = owner
	restore := interrupt.Own(owner)
	j.mu.Unlock()
	defer func() {
		j.mu.Lock()
		if j.owner != nil {
			restore()
			j.owner = nil
		}
		j.mu.Unlock()
	}()
	stop := interrupt.Watch(ctx)
	defer stop()
	compiling := true
	defer func() {
		frames := owner.TakeFrames()
		if r := recover(); r != nil {
			j.res, j.err = Result{}, panicError(r, frames, compiling)
		}
	}()
	defer interrupt.Contain()()
	j.res, j.err = i.run(j, pl, file, &compiling)
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
			return Result{}, panicError(pe.Value, takeFrames(), false)
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
