package shell

import (
	"errors"
	"go/ast"
	"go/token"
	"regexp"
	"strings"

	"gsh/internal/interrupt"
)

// The interpreter's wording of type errors, matched to say them in Go's
// words (see inGoWords). TestGoWords pins each against the interpreter, so
// that a new wording fails loudly.
var (
	// "cannot convert "x" to int": a value that does not fit where it goes.
	convertRE = regexp.MustCompile(`^cannot convert (.+) to (\S+)$`)
	// "cannot use "s" (type stringT) as type intT in return argument".
	returnRE = regexp.MustCompile(`^cannot use (.+) \(type (\w+)T\) as type (\w+)T in return argument$`)
	// "cannot use type []string as type []int in assignment".
	useTypeRE = regexp.MustCompile(`^cannot use type (\S+) as type (\S+) in assignment$`)
	// "3/2 truncated to int".
	truncatedRE = regexp.MustCompile(`^\S+ truncated to (\S+)$`)
	// "cannot convert expression of type untyped string to type int".
	conversionRE = regexp.MustCompile(`^cannot convert expression of type (untyped \w+) to type (\S+)$`)
)

// basicKinds are the interpreter's type categories that are Go's basic
// types of the same name with a T after it (stringT).
var basicKinds = map[string]bool{
	"bool": true, "int": true, "int8": true, "int16": true, "int32": true, "int64": true,
	"uint": true, "uint8": true, "uint16": true, "uint32": true, "uint64": true, "uintptr": true,
	"float32": true, "float64": true, "complex64": true, "complex128": true, "string": true,
}

// inGoWords rewrites a *CompileError of the interpreter into Go's own words
// when it can tell them from the input: the operand as Go describes it
// ("x" (untyped string constant)) and where it was used (in argument to f,
// in return statement, in assignment, …). Other errors are returned as
// they are.
func inGoWords(err error, p *interrupt.Parsed) error {
	var ce *CompileError
	if !errors.As(err, &ce) || p == nil {
		return err
	}
	msg, ok := inGoWordsMsg(ce.Msg, p, ce.Line, ce.Col)
	if !ok {
		return err
	}
	c := *ce
	c.Msg = msg
	return &c
}

func inGoWordsMsg(msg string, p *interrupt.Parsed, line, col int) (string, bool) {
	x, parents := exprAt(p, line, col)
	if x == nil {
		return "", false
	}
	where := usedIn(p, x, parents)
	use := func(desc, typ, suffix string) (string, bool) {
		s := "cannot use " + exprText(p, x) + " (" + desc + ") as " + typ + " value"
		if where != "" {
			s += " in " + where
		}
		return s + suffix, true
	}
	if m := conversionRE.FindStringSubmatch(msg); m != nil {
		if d := constDesc(x); d != "" {
			return "cannot convert " + exprText(p, x) + " (" + d + ") to type " + m[2], true
		}
		return "", false
	}
	if m := returnRE.FindStringSubmatch(msg); m != nil && basicKinds[m[3]] {
		if d := constDesc(x); d != "" {
			return use(d, m[3], "")
		}
		if basicKinds[m[2]] {
			return use("value of type "+m[2], m[3], "")
		}
		return "", false
	}
	if m := useTypeRE.FindStringSubmatch(msg); m != nil {
		return use("value of type "+m[1], m[2], "")
	}
	if m := truncatedRE.FindStringSubmatch(msg); m != nil {
		if d := constDesc(x); d != "" {
			return use(d, m[1], " (truncated)")
		}
		return "", false
	}
	if m := convertRE.FindStringSubmatch(msg); m != nil && m[1] == p.Text(x) {
		if d := constDesc(x); d != "" {
			return use(d, m[2], "")
		}
	}
	return "", false
}

// exprAt returns the outermost expression of the input that starts at line
// and col, and its ancestors, innermost first.
func exprAt(p *interrupt.Parsed, line, col int) (ast.Expr, []ast.Node) {
	off := 0
	for l := 1; l < line; l++ {
		k := strings.IndexByte(p.Input[off:], '\n')
		if k < 0 {
			return nil, nil
		}
		off += k + 1
	}
	off += col - 1
	if off < 0 || off > len(p.Input) {
		return nil, nil
	}
	var (
		found   ast.Expr
		parents []ast.Node
		stack   []ast.Node
	)
	ast.Inspect(p.File, func(n ast.Node) bool {
		if found != nil {
			return false
		}
		if n == nil {
			stack = stack[:len(stack)-1]
			return false
		}
		if x, ok := n.(ast.Expr); ok && p.Offset(n.Pos()) == off {
			found = x
			for k := len(stack) - 1; k >= 0; k-- {
				parents = append(parents, stack[k])
			}
			return false
		}
		stack = append(stack, n)
		return true
	})
	return found, parents
}

// usedIn says where Go says x was used: "argument to f", "return
// statement", "assignment", "variable declaration", "struct literal".
func usedIn(p *interrupt.Parsed, x ast.Expr, parents []ast.Node) string {
	for _, n := range parents {
		switch n := n.(type) {
		case *ast.CallExpr:
			for _, a := range n.Args {
				if a == x {
					return "argument to " + p.Text(n.Fun)
				}
			}
			return ""
		case *ast.ReturnStmt:
			return "return statement"
		case *ast.AssignStmt:
			return "assignment"
		case *ast.ValueSpec:
			return "variable declaration"
		case *ast.CompositeLit:
			switch n.Type.(type) {
			case *ast.ArrayType:
				return "array or slice literal"
			case *ast.MapType:
				return "map literal"
			}
			return "struct literal"
		case *ast.KeyValueExpr, *ast.ParenExpr:
			continue
		case ast.Stmt, ast.Expr:
			return ""
		}
	}
	return ""
}

// constDesc is how Go describes a literal constant: "untyped string
// constant"; "" for other expressions.
func constDesc(x ast.Expr) string {
	b, ok := ast.Unparen(x).(*ast.BasicLit)
	if !ok {
		return ""
	}
	switch b.Kind {
	case token.STRING:
		return "untyped string constant"
	case token.INT:
		return "untyped int constant"
	case token.FLOAT:
		return "untyped float constant"
	case token.CHAR:
		return "untyped rune constant"
	case token.IMAG:
		return "untyped complex constant"
	}
	return ""
}

// exprText is an expression as Go's messages show it: a composite literal
// as T{…}.
func exprText(p *interrupt.Parsed, x ast.Expr) string {
	if c, ok := x.(*ast.CompositeLit); ok && c.Type != nil {
		return p.Text(c.Type) + "{…}"
	}
	return p.Text(x)
}
