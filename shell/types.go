package shell

import (
	"go/ast"
	"go/token"
	"reflect"
	"sync"

	"gsh/internal/interrupt"
)

// structTypes are the struct types declared at the prompt, by scripts and
// by loaded files, by name: "Point" for package main, "geo.Point" for an
// exported type of package geo.
type structTypes struct {
	mu      sync.RWMutex
	m       map[string]reflect.Type
	declare []func(name string, t reflect.Type)
}

// OnStructType has f called with each struct type declared from now on,
// and its name (see Type): gsh names them for the wire this way.
func (i *Interp) OnStructType(f func(name string, t reflect.Type)) {
	i.structs.mu.Lock()
	defer i.structs.mu.Unlock()
	i.structs.declare = append(i.structs.declare, f)
}

// structNames are the names of the struct types declared in interpreters,
// for printing: reflect.Type -> string, "" when two names were given to one
// type (struct types with the same fields are one type to Go).
var structNames sync.Map

// structName is the name a struct type was declared with, "" if none.
func structName(t reflect.Type) string {
	if n, ok := structNames.Load(t); ok {
		return n.(string)
	}
	return ""
}

func nameStruct(name string, t reflect.Type) {
	if old, loaded := structNames.LoadOrStore(t, name); loaded && old.(string) != name {
		structNames.Store(t, "")
	}
}

// Type returns the struct type declared at the prompt or by a script under
// name ("Point"), or by a loaded package ("geo.Point"). Values of other
// nodes' types of that name are converted to it (see builtins.Env.Type). It
// may be called from any goroutine.
func (i *Interp) Type(name string) (reflect.Type, bool) {
	i.structs.mu.RLock()
	defer i.structs.mu.RUnlock()
	t, ok := i.structs.m[name]
	return t, ok
}

// recordStructTypes notes the struct types that a successful input
// declared at its top level, and names them for the wire and for printing
// (the interpreter's struct types have no name in Go's reflection).
func (i *Interp) recordStructTypes(p *interrupt.Parsed) {
	pkg := p.Package()
	var names, exprs []string
	add := func(d ast.Decl) {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.TYPE {
			return
		}
		for _, sp := range g.Specs {
			ts := sp.(*ast.TypeSpec)
			if _, isStruct := ts.Type.(*ast.StructType); !isStruct || ts.Assign.IsValid() || ts.TypeParams != nil || ts.Name.Name == "_" {
				continue
			}
			name := ts.Name.Name
			if pkg != "main" {
				if !ts.Name.IsExported() {
					continue // the prompt cannot name it
				}
				name = pkg + "." + name
			}
			names = append(names, name)
			exprs = append(exprs, "(*"+name+")(nil)")
		}
	}
	if p.Kind == interrupt.KindStmts {
		for _, s := range p.Stmts {
			if d, ok := s.(*ast.DeclStmt); ok {
				add(d.Decl)
			}
		}
	} else if p.File != nil {
		for _, d := range p.File.Decls {
			add(d)
		}
	}
	if len(exprs) == 0 {
		return
	}
	vals, err := i.values(exprs, false)
	if err != nil || len(vals) != len(names) {
		return
	}
	i.structs.mu.Lock()
	if i.structs.m == nil {
		i.structs.m = map[string]reflect.Type{}
	}
	declare := i.structs.declare
	var declared []int
	for k, v := range vals {
		t := reflect.TypeOf(v)
		if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct || t.Elem().Name() != "" {
			continue
		}
		i.structs.m[names[k]] = t.Elem()
		nameStruct(names[k], t.Elem())
		declared = append(declared, k)
	}
	i.structs.mu.Unlock()
	for _, k := range declared {
		for _, f := range declare {
			f(names[k], reflect.TypeOf(vals[k]).Elem())
		}
	}
}
