package shell

import (
	"errors"
	"fmt"
	"go/ast"
	"go/token"
	"path"
	"reflect"
	"slices"
	"strings"

	"gsh/internal/interrupt"
)

// checkAssignments refuses, in Go's own words, an assignment or a var
// declaration whose number of variables is not the number of results of the
// call on its right, anywhere in the input (function bodies included), when
// the callee is known: a function declared in the input, one defined earlier
// at the prompt or by a loaded file, a builtin, or a member of a package of
// the interpreter. The interpreter itself would keep the first result of
// x := f() and drop the others, an error among them.
func (i *Interp) checkAssignments(p *interrupt.Parsed, r *resolver, file string) error {
	var found error
	check := func(at ast.Node, lhs int, rhs []ast.Expr) {
		if found != nil || len(rhs) != 1 {
			return
		}
		call, ok := ast.Unparen(rhs[0]).(*ast.CallExpr)
		if !ok {
			return
		}
		n, ok := r.results(call.Fun)
		if !ok || n == lhs {
			return
		}
		var msg string
		if n == 0 {
			msg = fmt.Sprintf("%s (no value) used as value", p.Text(call))
		} else {
			msg = fmt.Sprintf("assignment mismatch: %s but %s returns %s",
				plural(lhs, "variable"), p.Text(call.Fun), plural(n, "value"))
		}
		line, col := inputPosition(p, at.Pos())
		found = &CompileError{File: file, Line: line, Col: col, Msg: msg}
	}
	// Calls standing where Go takes any number of results: a statement of
	// their own, the one value of an assignment (checked above), of a
	// return or of another call's arguments (f(g())). Anywhere else a
	// call must have one result, as Go requires; the interpreter would
	// take the first of several and drop the rest.
	free := map[*ast.CallExpr]bool{}
	one := func(xs []ast.Expr) {
		if len(xs) == 1 {
			if c, ok := ast.Unparen(xs[0]).(*ast.CallExpr); ok {
				free[c] = true
			}
		}
	}
	ast.Inspect(p.File, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			if n.Tok == token.DEFINE || n.Tok == token.ASSIGN {
				check(n.Lhs[0], len(n.Lhs), n.Rhs)
			}
			one(n.Rhs)
		case *ast.ValueSpec:
			check(n.Names[0], len(n.Names), n.Values)
			one(n.Values)
		case *ast.ExprStmt:
			one([]ast.Expr{n.X})
		case *ast.GoStmt:
			free[n.Call] = true
		case *ast.DeferStmt:
			free[n.Call] = true
		case *ast.ReturnStmt:
			one(n.Results)
		case *ast.CallExpr:
			one(n.Args)
		}
		return found == nil
	})
	if found != nil {
		return found
	}
	// return f() in a function whose results are not f's.
	checkReturns := func(ft *ast.FuncType, body *ast.BlockStmt) {
		if body == nil {
			return
		}
		want := ft.Results.NumFields()
		ast.Inspect(body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncLit:
				return false // its returns are its own
			case *ast.ReturnStmt:
				if found != nil || len(n.Results) != 1 {
					return found == nil
				}
				call, ok := ast.Unparen(n.Results[0]).(*ast.CallExpr)
				if !ok {
					return true
				}
				if k, ok := r.results(call.Fun); ok && k != want && !(k == 1 && want == 1) {
					line, col := inputPosition(p, n.Pos())
					found = &CompileError{File: file, Line: line, Col: col,
						Msg: fmt.Sprintf("%s: have %s from %s, want %d", map[bool]string{true: "too many return values", false: "not enough return values"}[k > want], plural(k, "value"), p.Text(call.Fun), want)}
				}
			}
			return found == nil
		})
	}
	ast.Inspect(p.File, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncDecl:
			checkReturns(n.Type, n.Body)
		case *ast.FuncLit:
			checkReturns(n.Type, n.Body)
		}
		return found == nil
	})
	if found != nil {
		return found
	}
	ast.Inspect(p.File, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || found != nil || free[call] {
			return found == nil
		}
		k, ok := r.results(call.Fun)
		if !ok || k == 1 {
			return true
		}
		msg := fmt.Sprintf("%s (no value) used as value", p.Text(call))
		if k > 1 {
			msg = fmt.Sprintf("multiple-value %s (%s) in single-value context", p.Text(call), plural(k, "value"))
		}
		line, col := inputPosition(p, call.Pos())
		found = &CompileError{File: file, Line: line, Col: col, Msg: msg}
		return false
	})
	return found
}

// checkInput checks an input before it is evaluated (see checkAssignments
// and checkShadowed), and returns the builtins it calls that the user's
// names shadow (see shadowedBuiltins).
func (i *Interp) checkInput(p *interrupt.Parsed, file string) (map[string]string, error) {
	if err := i.checkTypes(p, file); err != nil {
		return nil, err
	}
	r := i.newResolver(p, file)
	if err := i.checkAssignments(p, r, file); err != nil {
		return nil, err
	}
	shadowed := r.shadowedBuiltins(p)
	if err := i.checkShadowed(p, r, shadowed); err != nil {
		return nil, err
	}
	return shadowed, nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// inputPosition returns the line and column (from 1, in bytes) of pos in
// the input.
func inputPosition(p *interrupt.Parsed, pos token.Pos) (line, col int) {
	off := max(0, min(p.Offset(pos), len(p.Input)))
	before := p.Input[:off]
	line = 1 + strings.Count(before, "\n")
	col = off - strings.LastIndex(before, "\n")
	return line, col
}

// resolver finds the functions that an input's calls name.
type resolver struct {
	i        *Interp
	pkg      string
	prompt   bool            // input typed or piped to the shell (not a file)
	local    map[string]bool // names the input declares other than its top-level funcs
	topFuncs map[string]int  // the input's top-level funcs: results
	bound    map[string]bool // names declared earlier in the input's package
	imported map[string]string
	dots     []string
}

func (i *Interp) newResolver(p *interrupt.Parsed, file string) *resolver {
	r := &resolver{i: i, pkg: p.Package(), prompt: file == "", local: map[string]bool{}, topFuncs: map[string]int{}}
	addFields := func(fl *ast.FieldList) {
		if fl == nil {
			return
		}
		for _, f := range fl.List {
			for _, id := range f.Names {
				r.local[id.Name] = true
			}
		}
	}
	ast.Inspect(p.File, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncDecl:
			if n.Recv == nil && n.Name.Name != "main" {
				r.topFuncs[n.Name.Name] = n.Type.Results.NumFields()
			}
			addFields(n.Recv)
			addFields(n.Type.TypeParams)
		case *ast.FuncType:
			addFields(n.Params)
			addFields(n.Results)
		case *ast.AssignStmt:
			if n.Tok == token.DEFINE {
				for _, x := range n.Lhs {
					if id, ok := x.(*ast.Ident); ok {
						r.local[id.Name] = true
					}
				}
			}
		case *ast.RangeStmt:
			if n.Tok == token.DEFINE {
				for _, x := range []ast.Expr{n.Key, n.Value} {
					if id, ok := x.(*ast.Ident); ok {
						r.local[id.Name] = true
					}
				}
			}
		case *ast.ValueSpec:
			for _, id := range n.Names {
				r.local[id.Name] = true
			}
		case *ast.TypeSpec:
			r.local[n.Name.Name] = true
		case *ast.ImportSpec:
			if n.Name != nil && n.Name.Name != "_" && n.Name.Name != "." {
				r.local[n.Name.Name] = true // not worth resolving
			}
		}
		return true
	})
	i.names.mu.Lock()
	r.bound = map[string]bool{}
	for name := range i.names.bound[r.pkg] {
		r.bound[name] = true
	}
	if r.prompt && r.pkg == "main" {
		r.imported = map[string]string{}
		for k, v := range i.names.imported {
			r.imported[k] = v
		}
		r.dots = append(r.dots, i.names.dots...)
	}
	i.names.mu.Unlock()
	return r
}

// results returns how many results the function that fun names returns,
// when it is known.
func (r *resolver) results(fun ast.Expr) (int, bool) {
	switch f := ast.Unparen(fun).(type) {
	case *ast.Ident:
		name := f.Name
		if n, ok := r.topFuncs[name]; ok && !r.local[name] {
			return n, true
		}
		if r.local[name] {
			return 0, false
		}
		if r.bound[name] {
			key := name
			if r.pkg != "main" {
				key = r.pkg + "." + name
			}
			if v, ok := r.i.Func(key); ok {
				return numOut(v)
			}
			return 0, false // a variable, a type
		}
		for _, d := range r.dots {
			if v, ok := r.symbol(d, name); ok {
				return numOut(v)
			}
		}
	case *ast.SelectorExpr:
		x, ok := f.X.(*ast.Ident)
		if !ok || r.local[x.Name] || r.bound[x.Name] {
			return 0, false
		}
		if v, ok := r.i.Func(x.Name + "." + f.Sel.Name); ok && x.Name != "main" {
			return numOut(v)
		}
		if p, ok := r.imported[x.Name]; ok {
			if v, ok := r.symbol(p, f.Sel.Name); ok {
				return numOut(v)
			}
			return 0, false
		}
		// A package of the interpreter's, by its name: known when every
		// package of that name agrees.
		n, seen := 0, false
		for _, e := range r.i.names.exports {
			for key, syms := range e {
				if path.Base(key) != x.Name {
					continue
				}
				v, ok := syms[f.Sel.Name]
				if !ok {
					continue
				}
				k, ok := numOut(v)
				if !ok || (seen && k != n) {
					return 0, false
				}
				n, seen = k, true
			}
		}
		return n, seen
	}
	return 0, false
}

// symbol returns the member name of the package of the exports under the
// import path p.
func (r *resolver) symbol(p, name string) (reflect.Value, bool) {
	for _, e := range r.i.names.exports {
		for key, syms := range e {
			if strings.TrimSuffix(key, "/"+path.Base(key)) != p {
				continue
			}
			if v, ok := syms[name]; ok {
				return v, true
			}
		}
	}
	return reflect.Value{}, false
}

func numOut(v reflect.Value) (int, bool) {
	if !v.IsValid() || v.Kind() != reflect.Func {
		return 0, false
	}
	return v.Type().NumOut(), true
}

// shadowedBuiltins returns the calls of the input to names that are
// builtins (dot-imported at the prompt) but that the user declared, at the
// prompt or in the input: the name is the user's there, and the builtin is
// reached by its qualified name. Each is "name" → "pkg.name".
func (r *resolver) shadowedBuiltins(p *interrupt.Parsed) map[string]string {
	var out map[string]string
	ast.Inspect(p.File, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		id, ok := ast.Unparen(call.Fun).(*ast.Ident)
		if !ok || !(r.local[id.Name] || r.bound[id.Name]) {
			return true
		}
		for _, d := range r.dots {
			if _, ok := r.symbol(d, id.Name); ok {
				if out == nil {
					out = map[string]string{}
				}
				out[id.Name] = path.Base(d) + "." + id.Name
			}
		}
		return true
	})
	return out
}

// checkShadowed refuses a call of a value that is not a function, declared
// at the prompt (x := 3; x()), and, when its name is a builtin's (i := 3;
// i()), says how to reach the builtin.
func (i *Interp) checkShadowed(p *interrupt.Parsed, r *resolver, shadowed map[string]string) error {
	var found error
	ast.Inspect(p.File, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || found != nil {
			return found == nil
		}
		id, ok := ast.Unparen(call.Fun).(*ast.Ident)
		if !ok || r.local[id.Name] || !r.bound[id.Name] || !r.prompt {
			return true
		}
		if _, ok := i.Func(id.Name); ok {
			return true
		}
		vals, err := i.values([]string{id.Name}, false)
		if err != nil || len(vals) != 1 {
			return true
		}
		if v := reflect.ValueOf(vals[0]); v.IsValid() && v.Kind() == reflect.Func {
			return true
		}
		typ := "untyped nil"
		if vals[0] != nil {
			typ = reflect.TypeOf(vals[0]).String()
		}
		line, col := inputPosition(p, call.Pos())
		msg := fmt.Sprintf("invalid operation: cannot call non-function %s (variable of type %s)", id.Name, typ)
		if q := shadowed[id.Name]; q != "" {
			msg += " (" + shadowHint(id.Name, q) + ")"
		}
		found = &CompileError{Line: line, Col: col, Msg: msg}
		return false
	})
	return found
}

func shadowHint(name, qualified string) string {
	return fmt.Sprintf("%s is yours here, the builtin is %s", name, qualified)
}

// withShadowHint adds to the error of an input that calls shadowed builtins
// how to reach them.
func withShadowHint(err error, shadowed map[string]string) error {
	if err == nil || len(shadowed) == 0 || errors.Is(err, ErrInterrupted) {
		return err
	}
	names := make([]string, 0, len(shadowed))
	for n := range shadowed {
		names = append(names, n)
	}
	slices.Sort(names)
	var hints []string
	for _, n := range names {
		hints = append(hints, shadowHint(n, shadowed[n]))
	}
	hint := " (" + strings.Join(hints, "; ") + ")"
	var ce *CompileError
	if errors.As(err, &ce) {
		c := *ce
		c.Msg += hint
		return &c
	}
	var pe *PanicError
	if errors.As(err, &pe) {
		if s, ok := pe.Value.(string); ok {
			p := *pe
			p.Value = s + hint
			return &p
		}
		if e, ok := pe.Value.(error); ok {
			p := *pe
			p.Value = fmt.Errorf("%w%s", e, hint)
			return &p
		}
	}
	return fmt.Errorf("%w%s", err, hint)
}

// promptTypes returns the types that a prompt input (package main, no file)
// declares at its top level.
func promptTypes(p *interrupt.Parsed, file string) []*ast.TypeSpec {
	if file != "" || p.Package() != "main" {
		return nil
	}
	var out []*ast.TypeSpec
	add := func(d ast.Decl) {
		if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.TYPE {
			for _, sp := range g.Specs {
				out = append(out, sp.(*ast.TypeSpec))
			}
		}
	}
	if p.Kind == interrupt.KindStmts {
		for _, s := range p.Stmts {
			if d, ok := s.(*ast.DeclStmt); ok {
				add(d.Decl)
			}
		}
		return out
	}
	for _, d := range p.File.Decls {
		add(d)
	}
	return out
}

// checkTypes refuses a type declared again at the prompt: the interpreter
// would keep the old one and ignore the new.
func (i *Interp) checkTypes(p *interrupt.Parsed, file string) error {
	for _, ts := range promptTypes(p, file) {
		if i.types[ts.Name.Name] {
			line, col := inputPosition(p, ts.Name.Pos())
			return &CompileError{Line: line, Col: col, Msg: fmt.Sprintf(
				"%s redeclared in this block (a type declared at the prompt cannot change: give the new one another name)", ts.Name.Name)}
		}
	}
	return nil
}

// recordTypes notes the types that a successful input declared.
func (i *Interp) recordTypes(p *interrupt.Parsed, file string) {
	for _, ts := range promptTypes(p, file) {
		i.types[ts.Name.Name] = true
	}
	i.recordStructTypes(p)
}
