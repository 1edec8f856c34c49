package builtins

import (
	"reflect"

	"gsh/cluster"
)

// builtinStructs are the struct types of the builtins that other nodes'
// messages may carry, by their wire names.
var builtinStructs = map[string]reflect.Type{}

func init() {
	for _, v := range []any{cluster.Down{}, cluster.Exit{}, cluster.NodeUp{}, cluster.NodeDown{}, cluster.Ref{}, cluster.ProcessInfo{}} {
		t := reflect.TypeOf(v)
		if t.Kind() == reflect.Struct {
			builtinStructs[cluster.StructName(t)] = t
		}
	}
}

// structType finds the local type of a struct that came from another node:
// one declared in the interpreter under that name (Env.Type), or one of the
// builtins'.
func (e *Env) structType(name string) (reflect.Type, bool) {
	if e.Type != nil {
		if t, ok := e.Type(name); ok {
			return t, true
		}
	}
	t, ok := builtinStructs[name]
	return t, ok
}

// retype gives a message from another node the local types of its
// structs: each cluster.Struct whose name this node knows becomes a value of
// that type (see cluster.Convert); the others stay cluster.Structs, with
// their fields retyped likewise. Lists and maps are walked, and copied only
// where something changed.
func (e *Env) retype(v any) any {
	if !mayRetype(v) {
		return v
	}
	out, _ := e.retypeDepth(v, 0)
	return out
}

// mayRetype reports whether retype may change v: whether v is a struct, or
// a list or map that may hold one. The walks below skip the values it says
// no to, which retypeDepth would give back as they are.
func mayRetype(v any) bool {
	switch v.(type) {
	case cluster.Struct, []any, map[any]any:
		return true
	}
	return false
}

func (e *Env) retypeDepth(v any, depth int) (any, bool) {
	if depth > 64 {
		return v, false
	}
	switch x := v.(type) {
	case cluster.Struct:
		if t, ok := e.structType(x.Name); ok {
			if r, err := cluster.Convert(x, t); err == nil {
				return r.Interface(), true
			}
		}
		var fields []cluster.Field
		for k, f := range x.Fields {
			if !mayRetype(f.Value) {
				continue
			}
			if nv, changed := e.retypeDepth(f.Value, depth+1); changed {
				if fields == nil {
					fields = append([]cluster.Field(nil), x.Fields...)
				}
				fields[k].Value = nv
			}
		}
		if fields == nil {
			return v, false
		}
		return cluster.Struct{Name: x.Name, Fields: fields}, true
	case []any:
		var l []any
		for k, el := range x {
			if !mayRetype(el) {
				continue
			}
			if nv, changed := e.retypeDepth(el, depth+1); changed {
				if l == nil {
					l = append([]any(nil), x...)
				}
				l[k] = nv
			}
		}
		if l == nil {
			return v, false
		}
		return l, true
	case map[any]any:
		var m map[any]any
		for k, el := range x {
			if !mayRetype(el) {
				continue
			}
			if nv, changed := e.retypeDepth(el, depth+1); changed {
				if m == nil {
					m = make(map[any]any, len(x))
					for k2, el2 := range x {
						m[k2] = el2
					}
				}
				m[k] = nv
			}
		}
		if m == nil {
			return v, false
		}
		return m, true
	}
	return v, false
}
