package shell

// How an input is evaluated: the rewrites of yaegi's weak spots and the
// ways to show its value.

import (
	"go/ast"
	"go/token"

	"gsh/internal/interrupt"
)

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
