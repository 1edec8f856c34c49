package cluster

import (
	"fmt"
	"iter"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Struct is a struct value as it crosses the wire: its type's name and its
// exported fields in declaration order. A struct sent to another node
// arrives as a Struct unless the receiver converts it to a type of its own
// (Convert does, for a struct or pointer-to-struct parameter, by field
// names). It prints as Point{X: 5, Y: 6}; Field reads one field.
//
// The name is the type's own for a program's Go types ("cluster.Down":
// package name, dot, type name) and the name given to RegisterStruct for
// types made at run time (a type declared at gsh's prompt is "Point", one of
// a loaded package "geo.Point"); it is empty for a type that has none.
type Struct struct {
	Name   string
	Fields []Field
}

// Field is one field of a Struct.
type Field struct {
	Name  string
	Value any
}

// Field returns the value of the field called name, or Undefined when s has
// no such field.
func (s Struct) Field(name string) any {
	for _, f := range s.Fields {
		if f.Name == name {
			return f.Value
		}
	}
	return Undefined
}

// TypeName returns s.Name.
func (s Struct) TypeName() string { return s.Name }

// All yields the fields' names and values in order.
func (s Struct) All() iter.Seq2[string, any] {
	return func(yield func(string, any) bool) {
		for _, f := range s.Fields {
			if !yield(f.Name, f.Value) {
				return
			}
		}
	}
}

// Map returns the fields as a map from field name to value.
func (s Struct) Map() map[string]any {
	m := make(map[string]any, len(s.Fields))
	for _, f := range s.Fields {
		m[f.Name] = f.Value
	}
	return m
}

// String gives the value as Go source would write it: Point{X: 5, Y: "a"}.
func (s Struct) String() string {
	var b strings.Builder
	structString(&b, s, 0)
	return b.String()
}

func structString(b *strings.Builder, s Struct, depth int) {
	b.WriteString(s.Name)
	b.WriteByte('{')
	for k, f := range s.Fields {
		if k > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f.Name)
		b.WriteString(": ")
		structFieldString(b, f.Value, depth+1)
	}
	b.WriteByte('}')
}

func structFieldString(b *strings.Builder, v any, depth int) {
	if depth > 16 {
		b.WriteString("…")
		return
	}
	switch x := v.(type) {
	case string:
		b.WriteString(strconv.Quote(x))
	case Struct:
		structString(b, x, depth)
	case []any:
		b.WriteByte('[')
		for k, e := range x {
			if k > 0 {
				b.WriteString(", ")
			}
			structFieldString(b, e, depth+1)
		}
		b.WriteByte(']')
	case map[any]any:
		type kv struct {
			k string
			v any
		}
		es := make([]kv, 0, len(x))
		for k, e := range x {
			var kb strings.Builder
			structFieldString(&kb, k, depth+1)
			es = append(es, kv{kb.String(), e})
		}
		slices.SortFunc(es, func(a, b kv) int { return strings.Compare(a.k, b.k) })
		b.WriteByte('{')
		for k, e := range es {
			if k > 0 {
				b.WriteString(", ")
			}
			b.WriteString(e.k)
			b.WriteString(": ")
			structFieldString(b, e.v, depth+1)
		}
		b.WriteByte('}')
	default:
		fmt.Fprint(b, v)
	}
}

// structNames holds the names given by RegisterStruct: reflect.Type ->
// string ("" when two names were given to one type).
var structNames sync.Map

// RegisterStruct names a struct type that has no name of its own in Go's
// reflection, such as one an interpreter makes at run time, so that its
// values cross the wire, and print, as name{…}. Types with identical fields
// made at run time may be one reflect.Type: given two different names, such
// a type keeps neither. A program's own named types need no registration.
func RegisterStruct(name string, t reflect.Type) {
	if t == nil || t.Kind() != reflect.Struct || t.Name() != "" {
		return
	}
	if old, loaded := structNames.LoadOrStore(t, name); loaded && old.(string) != name {
		structNames.Store(t, "")
	}
}

// StructName returns the name a struct type's values carry on the wire:
// "pkg.Type" for a named Go type, the registered name for a type given one
// with RegisterStruct, and "" otherwise.
func StructName(t reflect.Type) string {
	if t.Name() != "" {
		if p := t.PkgPath(); p != "" {
			return path.Base(p) + "." + t.Name()
		}
		return t.Name()
	}
	if n, ok := structNames.Load(t); ok {
		return n.(string)
	}
	return ""
}

var structType = reflect.TypeFor[Struct]()

// convertStruct fills a value of the struct type t, or of a pointer to one,
// from s, field by field, by name; or a map keyed by field name. A field of t that s lacks keeps its zero
// value; a field of s that t lacks does not fit.
func convertStruct(s Struct, t reflect.Type) (reflect.Value, error) {
	if t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct {
		v, err := convertStruct(s, t.Elem())
		if err != nil {
			return reflect.Value{}, err
		}
		p := reflect.New(t.Elem())
		p.Elem().Set(v)
		return p, nil
	}
	if t.Kind() == reflect.Map && t.Key().Kind() == reflect.String {
		return Convert(s.Map(), t) // by field name
	}
	if t.Kind() != reflect.Struct {
		return reflect.Value{}, fmt.Errorf("%s does not fit %s: %w", s.describe(), t, ErrBadArgs)
	}
	r := reflect.New(t).Elem()
	for _, f := range s.Fields {
		sf, ok := t.FieldByName(f.Name)
		if !ok || len(sf.Index) != 1 || !sf.IsExported() {
			return reflect.Value{}, fmt.Errorf("%s does not fit %s: it has no field %s: %w", s.describe(), t, f.Name, ErrBadArgs)
		}
		v, err := Convert(f.Value, sf.Type)
		if err != nil {
			return reflect.Value{}, fmt.Errorf("field %s: %w", f.Name, err)
		}
		r.Field(sf.Index[0]).Set(v)
	}
	return r, nil
}

func (s Struct) describe() string {
	d := s.String()
	if len(d) > 40 {
		d = d[:37] + "..."
	}
	return d
}
