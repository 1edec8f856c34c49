package shell

import (
	"go/ast"
	"go/scanner"
	"go/token"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/traefik/yaegi/interp"

	"gsh/internal/interrupt"
)

// Completer completes the word before the cursor (Tab at the prompt).
type Completer interface {
	// Complete returns the words that could replace line[start:pos], the
	// part of the word being typed that is before the cursor (pos is a
	// byte offset in line); each word starts with that part. No words:
	// nothing to offer.
	Complete(line string, pos int) (words []string, start int)
}

// CompleterFunc adapts a function to the Completer interface.
type CompleterFunc func(line string, pos int) (words []string, start int)

// Complete calls f.
func (f CompleterFunc) Complete(line string, pos int) ([]string, int) { return f(line, pos) }

// Complete completes Go names at the prompt: keywords and Go's builtin
// functions, package names, the members of a package after "pkg." (the
// standard library's exported ones, and all of the Exports given to the
// interpreter, e.g. rpc.call), the names of dot-imported packages (the
// unqualified builtins), and the names bound by inputs that succeeded:
// variables, constants, types and functions declared at the prompt, and
// those of packages loaded from files (after "pkg."). Nothing is offered
// inside a string or a comment.
func (i *Interp) Complete(line string, pos int) (words []string, start int) {
	pos = max(0, min(pos, len(line)))
	if lx := lexLine(line[:pos]); lx.inString || lx.inComment {
		return nil, pos
	}
	start = wordStart(line, pos)
	word := line[start:pos]
	if word == "" || (word[0] >= '0' && word[0] <= '9') {
		return nil, pos
	}
	return i.names.complete(word), start
}

// wordStart returns where the (possibly qualified) identifier that ends at
// pos starts.
func wordStart(line string, pos int) int {
	start := pos
	for start > 0 {
		r, n := utf8.DecodeLastRuneInString(line[:start])
		if r != '.' && r != '_' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			break
		}
		start -= n
	}
	return start
}

// names is what completion knows of the interpreter. The package tables are
// built at the first completion, not at start.
type names struct {
	exports []interp.Exports // set by NewInterp

	once     sync.Once
	pkgs     map[string][]string // package name → sorted member names
	pkgNames []string            // the unambiguous package names, sorted

	mu       sync.Mutex
	imported map[string]string          // name → path, imported at the prompt
	dots     []string                   // paths dot-imported at the prompt
	bound    map[string]map[string]bool // package → names declared ("main": at the prompt)
}

// goWords are Go's keywords and predeclared names.
var goWords = strings.Fields(`break case chan const continue default defer else fallthrough for func go goto
if import interface map package range return select struct switch type var
append cap clear close complex copy delete imag len make max min new panic print println real recover
any bool byte comparable complex64 complex128 error float32 float64 int int8 int16 int32 int64 rune string
uint uint8 uint16 uint32 uint64 uintptr true false iota nil`)

func (n *names) index() {
	n.once.Do(func() {
		n.pkgs = map[string][]string{}
		count := map[string]int{}
		for _, e := range n.exports {
			for key, syms := range e {
				name := path.Base(key)
				if strings.HasPrefix(name, "_") {
					continue
				}
				count[name]++
				std := !strings.HasPrefix(key, "gsh/")
				m := n.pkgs[name]
				for s := range syms {
					if strings.HasPrefix(s, "_") || (std && !token.IsExported(s)) {
						continue
					}
					m = append(m, s)
				}
				n.pkgs[name] = m
			}
		}
		for name, m := range n.pkgs {
			slices.Sort(m)
			n.pkgs[name] = slices.Compact(m)
			if count[name] == 1 {
				// Packages that share a name need an import (as in yaegi).
				n.pkgNames = append(n.pkgNames, name)
			}
		}
		sort.Strings(n.pkgNames)
	})
}

// members returns the members of the package of the exports under the
// import path p.
func (n *names) membersOfPath(p string) []string {
	var out []string
	for _, e := range n.exports {
		for key, syms := range e {
			if strings.TrimSuffix(key, "/"+path.Base(key)) != p {
				continue
			}
			for s := range syms {
				if !strings.HasPrefix(s, "_") {
					out = append(out, s)
				}
			}
		}
	}
	return out
}

// record notes the names that a successful input bound.
func (n *names) record(p *interrupt.Parsed, file string) {
	pkg := p.Package()
	var bound []string
	addSpecs := func(g *ast.GenDecl) {
		for _, sp := range g.Specs {
			switch sp := sp.(type) {
			case *ast.ValueSpec:
				for _, id := range sp.Names {
					bound = append(bound, id.Name)
				}
			case *ast.TypeSpec:
				bound = append(bound, sp.Name.Name)
			}
		}
	}
	if p.Kind == interrupt.KindStmts {
		for _, s := range p.Stmts {
			switch s := s.(type) {
			case *ast.AssignStmt:
				if s.Tok == token.DEFINE {
					for _, x := range s.Lhs {
						if id, ok := x.(*ast.Ident); ok {
							bound = append(bound, id.Name)
						}
					}
				}
			case *ast.DeclStmt:
				if g, ok := s.Decl.(*ast.GenDecl); ok {
					addSpecs(g)
				}
			}
		}
	} else {
		for _, d := range p.File.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					bound = append(bound, d.Name.Name)
				}
			case *ast.GenDecl:
				addSpecs(d)
			}
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if file == "" && pkg == "main" {
		for _, im := range p.Imports() {
			switch im.Name {
			case "_":
			case ".":
				if !slices.Contains(n.dots, im.Path) {
					n.dots = append(n.dots, im.Path)
				}
			default:
				if n.imported == nil {
					n.imported = map[string]string{}
				}
				n.imported[im.Name] = im.Path
			}
		}
	}
	if n.bound == nil {
		n.bound = map[string]map[string]bool{}
	}
	m := n.bound[pkg]
	if m == nil {
		m = map[string]bool{}
		n.bound[pkg] = m
	}
	for _, name := range bound {
		if name != "_" && name != "init" && !strings.HasPrefix(name, "_gsh") {
			m[name] = true
		}
	}
}

// complete returns the completions of word, a possibly qualified
// identifier.
func (n *names) complete(word string) []string {
	n.index()
	n.mu.Lock()
	defer n.mu.Unlock()
	var cands []string
	if k := strings.LastIndexByte(word, '.'); k >= 0 {
		qual := word[:k]
		var members []string
		if p, ok := n.imported[qual]; ok {
			members = n.membersOfPath(p)
		} else if slices.Contains(n.pkgNames, qual) {
			members = n.pkgs[qual]
		}
		if qual != "main" {
			for name := range n.bound[qual] {
				members = append(members, name)
			}
		}
		for _, m := range members {
			cands = append(cands, qual+"."+m)
		}
	} else {
		cands = append(cands, goWords...)
		cands = append(cands, n.pkgNames...)
		for name := range n.imported {
			cands = append(cands, name)
		}
		for _, p := range n.dots {
			cands = append(cands, n.membersOfPath(p)...)
		}
		for pkg, m := range n.bound {
			if pkg != "main" {
				cands = append(cands, pkg) // a loaded package
				continue
			}
			for name := range m {
				cands = append(cands, name)
			}
		}
	}
	var out []string
	for _, c := range cands {
		if strings.HasPrefix(c, word) && !strings.HasPrefix(c[strings.LastIndexByte(c, '.')+1:], "_") {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// lexed is what lexLine found in the text before the cursor.
type lexed struct {
	inString  bool   // the text ends inside a string literal
	inComment bool   // ... or inside a comment
	strStart  int    // where that string literal starts (its quote)
	call      string // the function called by the innermost open call, "rpc.call"
	arg       int    // which of its arguments the text ends in, from 0
	inCall    bool   // the innermost open bracket is a call's parenthesis
}

// lexLine scans the text before the cursor.
func lexLine(src string) lexed {
	var lx lexed
	var s scanner.Scanner
	fset := token.NewFileSet()
	file := fset.AddFile("", fset.Base(), len(src))
	var errOff []int
	s.Init(file, []byte(src), func(pos token.Position, msg string) {
		errOff = append(errOff, pos.Offset)
	}, scanner.ScanComments)
	type frame struct {
		call   string
		isCall bool
		arg    int
	}
	var stack []frame
	var prev []string // the identifier chain before the current token: rpc . call
	var lastTok token.Token
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF {
			break
		}
		off := file.Offset(pos)
		end := off + len(lit)
		if lit == "" {
			end = off + len(tok.String())
		}
		switch tok {
		case token.STRING:
			if end >= len(src) && unterminated(lit) {
				lx.inString, lx.strStart = true, off
			}
		case token.COMMENT:
			if end >= len(src) && strings.HasPrefix(lit, "//") {
				lx.inComment = true
			}
			if strings.HasPrefix(lit, "/*") && !strings.HasSuffix(lit, "*/") {
				lx.inComment = true
			}
		case token.LPAREN:
			f := frame{}
			if len(prev) > 0 && lastTok == token.IDENT {
				f.call, f.isCall = strings.Join(prev, "."), true
			}
			stack = append(stack, f)
		case token.LBRACK, token.LBRACE:
			stack = append(stack, frame{})
		case token.RPAREN, token.RBRACK, token.RBRACE:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case token.COMMA:
			if len(stack) > 0 {
				stack[len(stack)-1].arg++
			}
		}
		switch {
		case tok == token.IDENT && lastTok == token.PERIOD && len(prev) > 0:
			prev = append(prev, lit)
		case tok == token.IDENT:
			prev = []string{lit}
		case tok == token.PERIOD && lastTok == token.IDENT:
		default:
			prev = nil
		}
		if !(tok == token.SEMICOLON && lit == "\n") {
			lastTok = tok
		}
	}
	if len(stack) > 0 {
		f := stack[len(stack)-1]
		lx.call, lx.arg, lx.inCall = f.call, f.arg, f.isCall
	}
	return lx
}

// unterminated reports whether a string literal's text lacks its closing
// quote.
func unterminated(lit string) bool {
	if len(lit) < 2 {
		return true
	}
	q := lit[0]
	if lit[len(lit)-1] != q {
		return true
	}
	if q == '`' {
		return false
	}
	// "…\" : the last quote is escaped when an odd number of backslashes
	// precede it.
	k := len(lit) - 2
	bs := 0
	for k > 0 && lit[k] == '\\' {
		bs++
		k--
	}
	return bs%2 == 1
}

// StringArg reports whether the cursor at pos in line is inside a string
// literal that is an argument of a call: it returns the function called as
// written ("rpc.call", "spawn"), which argument the string is (from 0), and
// where the string's text starts (after its opening quote). Completion of
// node names inside rpc.call("ga… uses it.
func StringArg(line string, pos int) (call string, arg, start int, ok bool) {
	pos = max(0, min(pos, len(line)))
	lx := lexLine(line[:pos])
	if !lx.inString || !lx.inCall {
		return "", 0, 0, false
	}
	return lx.call, lx.arg, lx.strStart + 1, true
}
