package shell

import (
	"fmt"
	"go/ast"
	"go/token"
	"reflect"
	"strings"

	"github.com/traefik/yaegi/interp"

	"gsh/internal/interrupt"
)

// goExtPath is the import path of the Go functions that fill the
// interpreter's gaps (clear), dot-imported at the prompt.
const goExtPath = "gsh/shell/goext"

// goExtExports are the Go functions under goExtPath.
var goExtExports = interp.Exports{
	goExtPath + "/goext": {
		"clear": reflect.ValueOf(clearValue),
	},
}

// goExtSource declares, at the prompt, what the interpreter lacks of Go's
// predeclared functions and can be written in Go it runs: min and max.
var goExtSource = []string{
	`import . "` + goExtPath + `"`,
	`func min[T ` + orderedTypes + `](x T, y ...T) T { for _, v := range y { if v < x { x = v } }; return x }`,
	`func max[T ` + orderedTypes + `](x T, y ...T) T { for _, v := range y { if v > x { x = v } }; return x }`,
}

const orderedTypes = "int | int8 | int16 | int32 | int64 | uint | uint8 | uint16 | uint32 | uint64 | uintptr | float32 | float64 | string"

// clearValue is Go's clear: it deletes a map's entries, or zeroes a slice's
// elements.
func clearValue(v any) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map, reflect.Slice:
		rv.Clear()
	default:
		panic(fmt.Sprintf("invalid argument: %v (%T) is not a map or a slice", v, v))
	}
}

// integerTypes are the names of Go's integer types.
var integerTypes = map[string]bool{
	"int": true, "int8": true, "int16": true, "int32": true, "int64": true,
	"uint": true, "uint8": true, "uint16": true, "uint32": true, "uint64": true, "uintptr": true,
	"byte": true, "rune": true,
}

// rangeIntEdits rewrites the loops over an integer (for i := range n) that
// the interpreter does not know into counted loops (for i := 0; i < n; i++),
// where the integer is known to be one: a constant expression of integer
// literals, a variable of the input declared with an integer type or an
// integer literal, or an integer declared at the prompt (isInt).
func rangeIntEdits(p *interrupt.Parsed, isInt func(name string) bool) []interrupt.Edit {
	ints := map[string]bool{}
	ast.Inspect(p.File, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.Field:
			if id, ok := n.Type.(*ast.Ident); ok && integerTypes[id.Name] {
				for _, name := range n.Names {
					ints[name.Name] = true
				}
			}
		case *ast.ValueSpec:
			if id, ok := n.Type.(*ast.Ident); ok && integerTypes[id.Name] {
				for _, name := range n.Names {
					ints[name.Name] = true
				}
			}
		case *ast.AssignStmt:
			if n.Tok == token.DEFINE && len(n.Lhs) == len(n.Rhs) {
				for k, r := range n.Rhs {
					if b, ok := r.(*ast.BasicLit); ok && b.Kind == token.INT {
						if id, ok := n.Lhs[k].(*ast.Ident); ok {
							ints[id.Name] = true
						}
					}
				}
			}
		}
		return true
	})
	var intExpr func(x ast.Expr) bool
	intExpr = func(x ast.Expr) bool {
		switch x := ast.Unparen(x).(type) {
		case *ast.BasicLit:
			return x.Kind == token.INT
		case *ast.Ident:
			return ints[x.Name] || (isInt != nil && isInt(x.Name))
		case *ast.BinaryExpr:
			switch x.Op {
			case token.ADD, token.SUB, token.MUL, token.QUO, token.REM:
				return intExpr(x.X) && intExpr(x.Y)
			}
		case *ast.CallExpr:
			if id, ok := x.Fun.(*ast.Ident); ok && id.Name == "len" && len(x.Args) == 1 {
				return true
			}
		}
		return false
	}
	var edits []interrupt.Edit
	n := 0
	ast.Inspect(p.File, func(node ast.Node) bool {
		r, ok := node.(*ast.RangeStmt)
		if !ok || r.Value != nil || !intExpr(r.X) {
			return true
		}
		key := "_"
		if id, ok := r.Key.(*ast.Ident); ok {
			key = id.Name
		} else if r.Key != nil {
			return true // for x.f = range n: leave it to the interpreter
		}
		if r.Key != nil && r.Tok != token.DEFINE {
			return true // for i = range n: leave it to the interpreter
		}
		if key == "_" {
			n++
			key = fmt.Sprintf("_gshI%d", n)
		}
		// The bound is evaluated once, as range does.
		n++
		limit := fmt.Sprintf("_gshN%d", n)
		text := fmt.Sprintf("%s, %s := 0, %s; %s < %s; %s++ ", key, limit, p.Text(r.X), key, limit, key)
		from := r.For + token.Pos(len("for"))
		edits = append(edits, interrupt.Edit{Pos: from, End: r.Body.Lbrace, Text: " " + text})
		return true
	})
	return edits
}

// runtimeErrors are the interpreter's panics that are Go's runtime errors,
// in Go's words.
var runtimeErrors = []struct{ yaegi, goText string }{
	{"reflect: call of reflect.Value.Field on zero Value", "runtime error: invalid memory address or nil pointer dereference"},
	{"reflect: call of reflect.Value.Elem on zero Value", "runtime error: invalid memory address or nil pointer dereference"},
	{"reflect: slice index out of range", "runtime error: index out of range"},
	{"reflect: array index out of range", "runtime error: index out of range"},
	{"reflect: string index out of range", "runtime error: index out of range"},
}

// goRuntimeError returns Go's runtime error for a panic of the interpreter
// that is one, or v as it is.
func goRuntimeError(v any) any {
	var msg string
	switch x := v.(type) {
	case string:
		msg = x
	case error:
		msg = x.Error()
	default:
		return v
	}
	for _, r := range runtimeErrors {
		if strings.HasPrefix(msg, r.yaegi) {
			return r.goText
		}
	}
	return v
}
