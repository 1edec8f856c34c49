package interrupt

import (
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"path"
	"sort"
	"strconv"
	"strings"
)

// ImportPath is the path under which the interpreter imports this package
// (see Symbols), and ImportName the name instrumented code uses for it.
const (
	ImportPath = "gsh/internal/interrupt"
	ImportName = "_gsh"
)

// TickStmt is what Instrument inserts at the top of loop bodies.
const TickStmt = "if len(" + ImportName + ".Pending) != 0 { " + ImportName + ".Tick() };"

// EnterStmt is what Instrument inserts at the top of function bodies.
const EnterStmt = ImportName + ".Enter();"

// ImportDecl is the import that instrumented REPL input relies on: the shell
// evaluates it once before anything else.
const ImportDecl = `import ` + ImportName + ` "` + ImportPath + `"`

// Wrappers used to parse REPL input the way yaegi does: declarations are put
// in a pseudo file, statements in a pseudo main function. Each prefix ends
// with a newline so that columns are those of the input and lines are off by
// exactly one.
const (
	declPrefix = "package main;\n"
	stmtPrefix = "package main; func main() {\n"
	stmtSuffix = "\n}"
)

// Kind tells how a source was parsed.
type Kind int

const (
	// KindFile: a whole file, with its package clause.
	KindFile Kind = iota + 1
	// KindDecls: top-level declarations (const, func, import, type, var).
	KindDecls
	// KindStmts: statements, including expressions.
	KindStmts
)

// Parsed is an input parsed the way the interpreter parses it.
type Parsed struct {
	Kind       Kind
	FirstToken token.Token // the input's first token
	Input      string      // the input
	Prefix     string      // wrapper before Input, so that Prefix+Input+Suffix is a file
	Suffix     string
	Fset       *token.FileSet
	File       *ast.File
	// Stmts are the statements of a KindStmts input (the body of the
	// wrapper function); nil otherwise.
	Stmts []ast.Stmt
}

// Parse parses src as the interpreter would: a whole file when it starts
// with a package clause, declarations when it starts with const, func,
// import, type or var, and otherwise (or when an input starting with func
// does not parse as declarations) statements in a function body.
//
// On failure the error is a scanner.ErrorList whose positions are those of
// src, not of the wrapper.
func Parse(src string) (*Parsed, error) {
	p, errs := parseAll(src)
	if p != nil {
		return p, nil
	}
	return nil, errs[0]
}

// ParseErrors returns the errors of each way Parse tried to parse src (two
// for an input starting with func: declarations, then statements), or nil
// when src parses.
func ParseErrors(src string) []error {
	_, errs := parseAll(src)
	return errs
}

func parseAll(src string) (*Parsed, []error) {
	p, err := parse1(src, false)
	if err == nil {
		return p, nil
	}
	if firstToken(src) != token.FUNC {
		return nil, []error{err}
	}
	// A function literal, called or not: a statement.
	p, err2 := parse1(src, true)
	if err2 == nil {
		return p, nil
	}
	return nil, []error{err, err2}
}

func parse1(src string, stmts bool) (*Parsed, error) {
	tok := firstToken(src)
	parse := func(kind Kind, prefix, suffix string) (*Parsed, error) {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, "", prefix+src+suffix, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return nil, unwrapErr(err, strings.Count(prefix, "\n"))
		}
		p := &Parsed{Kind: kind, FirstToken: tok, Input: src, Prefix: prefix, Suffix: suffix, Fset: fset, File: f}
		if kind == KindStmts {
			p.Stmts = f.Decls[0].(*ast.FuncDecl).Body.List
		}
		return p, nil
	}
	if stmts {
		return parse(KindStmts, stmtPrefix, stmtSuffix)
	}
	switch tok {
	case token.PACKAGE:
		return parse(KindFile, "", "")
	case token.CONST, token.FUNC, token.IMPORT, token.TYPE, token.VAR:
		return parse(KindDecls, declPrefix, "")
	}
	return parse(KindStmts, stmtPrefix, stmtSuffix)
}

// unwrapErr moves the positions of a parse error from the wrapped source to
// the input.
func unwrapErr(err error, lines int) error {
	el, ok := err.(scanner.ErrorList)
	if !ok {
		return err
	}
	out := make(scanner.ErrorList, len(el))
	for k, e := range el {
		e2 := *e
		if e2.Pos.Line > lines {
			e2.Pos.Line -= lines
		} else {
			e2.Pos.Line, e2.Pos.Column = 1, 1
		}
		e2.Pos.Offset = 0
		out[k] = &e2
	}
	return out
}

func firstToken(src string) token.Token {
	var s scanner.Scanner
	fset := token.NewFileSet()
	file := fset.AddFile("", fset.Base(), len(src))
	s.Init(file, []byte(src), nil, 0)
	_, tok, _ := s.Scan()
	return tok
}

// Offset returns the offset in Input of a position in p's AST.
func (p *Parsed) Offset(pos token.Pos) int {
	return p.Fset.Position(pos).Offset - len(p.Prefix)
}

// Text returns the text of node n.
func (p *Parsed) Text(n ast.Node) string {
	return p.Input[p.Offset(n.Pos()):p.Offset(n.End())]
}

// Package returns the name of the package that the input belongs to: its
// package clause, or main for REPL input.
func (p *Parsed) Package() string { return p.File.Name.Name }

// Import is one import of a file.
type Import struct {
	Name string // the local name: explicit, or the last element of Path
	Path string
}

// Imports returns the input's imports.
func (p *Parsed) Imports() []Import {
	var out []Import
	for _, s := range p.File.Imports {
		out = append(out, importOf(s))
	}
	return out
}

func importOf(s *ast.ImportSpec) Import {
	ip, _ := strconv.Unquote(s.Path.Value)
	name := path.Base(ip)
	if s.Name != nil {
		name = s.Name.Name
	}
	return Import{Name: name, Path: ip}
}

// Edit replaces the input's text from Pos to End (positions in the Parsed's
// AST; End == Pos inserts) with Text.
type Edit struct {
	Pos, End token.Pos
	Text     string
}

type offEdit struct {
	off  int // offset in the input
	del  int // bytes deleted at off
	text string
	// nest orders insertions at one offset: an opening that must come
	// inside the others has 1, a closing that must come inside them -1.
	nest int
}

// Rewritten is an input after Instrument and other edits.
type Rewritten struct {
	Input string // the new input
	// Prefix+Input+Suffix is a Go file that parses like the input would in
	// the interpreter.
	Prefix, Suffix string
	orig           string
	edits          []offEdit // ascending
}

// Full returns Prefix+Input+Suffix.
func (r *Rewritten) Full() string { return r.Prefix + r.Input + r.Suffix }

// Position maps a position (1-based line and byte column) in Full to the
// position in the original input.
func (r *Rewritten) Position(line, col int) (int, int) {
	full := r.Full()
	off := 0
	for l := 1; l < line; l++ {
		k := strings.IndexByte(full[off:], '\n')
		if k < 0 {
			break
		}
		off += k + 1
	}
	off += col - 1
	off -= len(r.Prefix)
	if off < 0 {
		return 1, 1
	}
	// Undo the edits.
	shift := 0
	o := -1
	for _, e := range r.edits {
		start := e.off + shift
		if off < start {
			break
		}
		if off < start+len(e.text) {
			o = e.off
			break
		}
		shift += len(e.text) - e.del
	}
	if o < 0 {
		o = off - shift
	}
	o = min(max(o, 0), len(r.orig))
	before := r.orig[:o]
	l := strings.Count(before, "\n") + 1
	c := o - (strings.LastIndexByte(before, '\n') + 1) + 1
	return l, c
}

// builtins cannot be passed as values: go statements calling them are left
// alone.
var builtins = map[string]bool{
	"append": true, "cap": true, "clear": true, "close": true, "complex": true,
	"copy": true, "delete": true, "imag": true, "len": true, "make": true,
	"max": true, "min": true, "new": true, "panic": true, "print": true,
	"println": true, "real": true, "recover": true,
}

// atomNames are the atoms that builtins give for "nothing": a comparison of
// a value with one of them as a string literal is rewritten (see Instrument).
var atomNames = map[string]bool{"timeout": true, "undefined": true}

// atomLiteral returns e when it is the string literal of one of atomNames.
func atomLiteral(e ast.Expr) *ast.BasicLit {
	lit, ok := ast.Unparen(e).(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return nil
	}
	if s, err := strconv.Unquote(lit.Value); err != nil || !atomNames[s] {
		return nil
	}
	return lit
}

// Instrument rewrites Go source for interruptible evaluation:
//
//   - EnterStmt, `_gsh.Enter();`, is inserted right after the opening brace
//     of every function body (declarations and literals), and TickStmt,
//     `if len(_gsh.Pending) != 0 { _gsh.Tick() };`, after that of every for
//     and range body;
//   - a statement `go f(a, b)` becomes `_gsh.Go(f, a, b)` (not when the call
//     uses `...` or f is a builtin), so that a panic in the goroutine is
//     recovered and reported (see SetOnPanic) instead of killing the process;
//   - a comparison x == "timeout" or x == "undefined" (either way round,
//     or with !=) becomes _gsh.SameName(x, "timeout"), which holds
//     when x is the atom that receive or a lookup gives, which is not a
//     string and would otherwise compare unequal to the literal;
//   - in a whole file (one with a package clause),
//     `; import _gsh "gsh/internal/interrupt"` is added on the package
//     clause's line.
//
// All insertions are made on the line where they apply, so line numbers in
// errors and panics stay those of the input. REPL input (declarations or
// statements, see Parse) is expected to run where _gsh is already imported.
// Input made of statements that starts with the keyword func (a function
// literal) gets a leading ';': yaegi's Eval would otherwise keep it as a
// func main that runs again after every later evaluation.
//
// When src does not parse, Instrument returns it unchanged together with the
// parse error: the interpreter will report the error in its own words.
func Instrument(src string) (string, error) {
	p, err := Parse(src)
	if err != nil {
		return src, err
	}
	return p.Instrument(nil).Input, nil
}

// Instrument applies the instrumentation described for the function
// Instrument to p's input, together with the extra edits (which must not
// overlap each other, nor cut through a function or loop body's opening brace
// or a go statement's keyword and parenthesis). For a whole file, the
// imports for which have reports true are removed (the interpreter refuses to
// import a name twice in a package; lines are kept), and the import of _gsh
// is added unless have(ImportName, ImportPath). have may be nil.
func (p *Parsed) Instrument(have func(Import) bool, extra ...Edit) *Rewritten {
	var edits []offEdit
	off := p.Offset
	insert := func(b *ast.BlockStmt, text string) {
		if b != nil && b.Lbrace.IsValid() {
			edits = append(edits, offEdit{off: off(b.Lbrace) + 1, text: text})
		}
	}
	var wrapper ast.Node
	if p.Kind == KindStmts {
		wrapper = p.File.Decls[0]
	}
	ast.Inspect(p.File, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncDecl:
			if n != wrapper {
				insert(n.Body, EnterStmt)
			}
		case *ast.FuncLit:
			insert(n.Body, EnterStmt)
		case *ast.ForStmt:
			insert(n.Body, TickStmt)
		case *ast.RangeStmt:
			insert(n.Body, TickStmt)
		case *ast.CallExpr:
			// spawn(node, f): pass f's name along with it, so that f can
			// be started on another node that has a function of that name.
			id, ok := ast.Unparen(n.Fun).(*ast.Ident)
			if !ok || (id.Name != "spawn" && id.Name != "spawn_link") || len(n.Args) < 2 {
				break
			}
			name := ""
			switch a := n.Args[1].(type) {
			case *ast.Ident:
				name = a.Name
			case *ast.SelectorExpr:
				if x, ok := a.X.(*ast.Ident); ok {
					name = x.Name + "." + a.Sel.Name
				}
			}
			if name != "" {
				edits = append(edits, offEdit{off: off(n.Args[1].Pos()), text: ImportName + ".Named(" + strconv.Quote(name) + ", "})
				edits = append(edits, offEdit{off: off(n.Args[1].End()), text: ")"})
			}
		case *ast.BinaryExpr:
			// x == "timeout": true for the atom timeout too (see SameName).
			if n.Op != token.EQL && n.Op != token.NEQ {
				break
			}
			lit, other := atomLiteral(n.Y), n.X
			if lit == nil {
				lit, other = atomLiteral(n.X), n.Y
			}
			if lit == nil || atomLiteral(other) != nil {
				break
			}
			open := ImportName + ".SameName("
			if n.Op == token.NEQ {
				open = "!" + open
			}
			edits = append(edits, offEdit{off: off(n.X.Pos()), text: open, nest: 1})
			edits = append(edits, offEdit{off: off(n.X.End()), del: off(n.Y.Pos()) - off(n.X.End()), text: ", "})
			edits = append(edits, offEdit{off: off(n.Y.End()), text: ")", nest: -1})
		case *ast.GoStmt:
			c := n.Call
			if c.Ellipsis.IsValid() {
				break
			}
			if id, ok := ast.Unparen(c.Fun).(*ast.Ident); ok && builtins[id.Name] {
				break
			}
			edits = append(edits, offEdit{off: off(n.Go), del: len("go"), text: ImportName + ".Go("})
			sep := ""
			if len(c.Args) > 0 {
				sep = ", "
			}
			edits = append(edits, offEdit{off: off(c.Lparen), del: 1, text: sep})
		}
		return true
	})
	if p.Kind != KindStmts && have != nil {
		for _, d := range p.File.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.IMPORT {
				continue
			}
			if !g.Lparen.IsValid() {
				if len(g.Specs) == 1 && have(importOf(g.Specs[0].(*ast.ImportSpec))) {
					edits = append(edits, offEdit{off: off(g.Pos()), del: off(g.End()) - off(g.Pos())})
				}
				continue
			}
			for _, s := range g.Specs {
				if have(importOf(s.(*ast.ImportSpec))) {
					edits = append(edits, offEdit{off: off(s.Pos()), del: off(s.End()) - off(s.Pos())})
				}
			}
		}
	}
	if p.Kind == KindFile && (have == nil || !have(Import{ImportName, ImportPath})) {
		edits = append(edits, offEdit{off: off(p.File.Name.End()), text: "; " + ImportDecl})
	}
	if p.Kind == KindStmts && p.FirstToken == token.FUNC {
		edits = append(edits, offEdit{off: 0, text: ";"})
	}
	for _, e := range extra {
		end := e.End
		if !end.IsValid() {
			end = e.Pos
		}
		edits = append(edits, offEdit{off: off(e.Pos), del: off(end) - off(e.Pos), text: e.Text})
	}
	// Ascending; at the same offset, insertions first (closings that go
	// inside others, then in the order they were made, then openings that
	// go inside others), then the replacement.
	sort.SliceStable(edits, func(a, b int) bool {
		if edits[a].off != edits[b].off {
			return edits[a].off < edits[b].off
		}
		if edits[a].del != edits[b].del {
			return edits[a].del < edits[b].del
		}
		return edits[a].nest < edits[b].nest
	})
	var b strings.Builder
	last := 0
	kept := edits[:0]
	for _, e := range edits {
		if e.off < last { // overlaps the previous edit: drop it
			continue
		}
		kept = append(kept, e)
		b.WriteString(p.Input[last:e.off])
		b.WriteString(e.text)
		last = e.off + e.del
	}
	b.WriteString(p.Input[last:])
	return &Rewritten{Input: b.String(), Prefix: p.Prefix, Suffix: p.Suffix, orig: p.Input, edits: kept}
}
