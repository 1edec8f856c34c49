package cluster

import (
	"context"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

type structPoint struct{ X, Y int }

type structLine struct {
	A, B  structPoint
	Next  *structLine
	Label string
}

// TestCallStructArgs calls functions of another node with struct
// arguments: each arrives as the parameter's type, by field names, nested,
// through pointers, in slices and maps.
func TestCallStructArgs(t *testing.T) {
	c := newTestCluster(t)
	cfg := c.config("structb", "abc")
	cfg.Handler = Modules{"geo": {
		"norm": reflect.ValueOf(func(p structPoint) float64 { return math.Hypot(float64(p.X), float64(p.Y)) }),
		"len":  reflect.ValueOf(func(l *structLine) int { return l.B.X - l.A.X + l.Next.B.X }),
		"sum": reflect.ValueOf(func(ps []structPoint, m map[string]*structPoint) int {
			n := 0
			for _, p := range ps {
				n += p.X + p.Y
			}
			for _, p := range m {
				n += p.X + p.Y
			}
			return n
		}),
		"echo": reflect.ValueOf(func(v any) any { return v }),
		"keys": reflect.ValueOf(func(m map[string]any) int { return len(m) }),
	}}
	b, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	a := c.start("structa", "abc")
	ctx := context.Background()

	if v, err := a.Call(ctx, b.Name(), "geo", "norm", structPoint{3, 4}); err != nil || v != 5.0 {
		t.Fatalf("norm(Point{3, 4}) = %v, %v; want 5", v, err)
	}
	// A struct of another type with the same fields fits too, as does a
	// pointer to one.
	type other struct{ X, Y int }
	if v, err := a.Call(ctx, b.Name(), "geo", "norm", &other{6, 8}); err != nil || v != 10.0 {
		t.Fatalf("norm(&other{6, 8}) = %v, %v; want 10", v, err)
	}
	line := &structLine{A: structPoint{1, 0}, B: structPoint{4, 0}, Next: &structLine{B: structPoint{10, 0}}}
	if v, err := a.Call(ctx, b.Name(), "geo", "len", line); err != nil || v != 13 {
		t.Fatalf("len(line) = %v, %v; want 13", v, err)
	}
	if v, err := a.Call(ctx, b.Name(), "geo", "sum", []structPoint{{1, 2}, {3, 4}}, map[string]*structPoint{"a": {5, 6}}); err != nil || v != 21 {
		t.Fatalf("sum = %v, %v; want 21", v, err)
	}

	// A map keyed by field name takes one too.
	if v, err := a.Call(ctx, b.Name(), "geo", "keys", structLine{}); err != nil || v != 4 {
		t.Fatalf("keys(structLine{}) = %v, %v; want 4", v, err)
	}

	// Back through an any, the value is a Struct that prints as Go writes
	// it and whose fields can be read.
	v, err := a.Call(ctx, b.Name(), "geo", "echo", structLine{A: structPoint{5, 6}, Label: "a\"b"})
	if err != nil {
		t.Fatal(err)
	}
	s, ok := v.(Struct)
	if !ok {
		t.Fatalf("echo gave %T %#v, want a Struct", v, v)
	}
	if got, want := s.String(), `cluster.structLine{A: cluster.structPoint{X: 5, Y: 6}, B: cluster.structPoint{X: 0, Y: 0}, Next: <nil>, Label: "a\"b"}`; got != want {
		t.Errorf("String() = %s\nwant %s", got, want)
	}
	if got := s.Field("A").(Struct).Field("Y"); got != 6 {
		t.Errorf(`Field("A").Field("Y") = %v, want 6`, got)
	}
	if got := s.Field("Z"); got != Undefined {
		t.Errorf(`Field("Z") = %v, want undefined`, got)
	}
	if got := s.Map()["Label"]; got != `a"b` {
		t.Errorf(`Map()["Label"] = %v`, got)
	}

	// A field the parameter's type lacks does not fit, and says which.
	type point3 struct{ X, Y, Z int }
	_, err = a.Call(ctx, b.Name(), "geo", "norm", point3{1, 2, 3})
	if !errors.Is(err, ErrBadArgs) || !strings.Contains(err.Error(), "it has no field Z") {
		t.Fatalf("norm(point3) error = %v, want bad arguments naming field Z", err)
	}
	_, err = a.Call(ctx, b.Name(), "geo", "norm", Struct{"P", []Field{{"X", "one"}}})
	if !errors.Is(err, ErrBadArgs) || !strings.Contains(err.Error(), "field X") {
		t.Fatalf("norm(P{X: \"one\"}) error = %v, want bad arguments naming field X", err)
	}
	// The node keeps serving.
	if v, err := a.Call(ctx, b.Name(), "geo", "norm", Struct{"P", []Field{{"Y", 2}}}); err != nil || v != 2.0 {
		t.Fatalf("norm(P{Y: 2}) = %v, %v; want 2", v, err)
	}
}

func TestEncodeStructBadFields(t *testing.T) {
	for _, s := range []Struct{
		{"P", []Field{{"", 1}}},
		{"P", []Field{{"X", 1}, {"X", 2}}},
	} {
		if _, err := Encode(nil, s); !errors.Is(err, ErrBadArgs) {
			t.Errorf("Encode(%v) error = %v, want bad arguments", s, err)
		}
	}
}

func TestRegisterStructAmbiguous(t *testing.T) {
	type a = struct{ Q1, Q2 int }
	ty := reflect.TypeFor[a]()
	RegisterStruct("A", ty)
	if got := StructName(ty); got != "A" {
		t.Fatalf("StructName = %q, want A", got)
	}
	RegisterStruct("A", ty)
	if got := StructName(ty); got != "A" {
		t.Fatalf("StructName after the same name = %q, want A", got)
	}
	RegisterStruct("B", ty)
	if got := StructName(ty); got != "" {
		t.Fatalf("StructName of a type given two names = %q, want none", got)
	}
}
