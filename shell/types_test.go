package shell

import (
	"context"
	"iter"
	"os"
	"path/filepath"
	"testing"
)

// TestStructTypesPrintTheirName: struct types declared at the prompt and by
// a loaded package print with their name, and Type finds them.
func TestStructTypesPrintTheirName(t *testing.T) {
	i, _ := newInterp(t, Options{})
	if got := show(t, i, "type Vec struct{ Vx, Vy int; Tag string }"); got != "" {
		t.Fatalf("declaring a type printed %q", got)
	}
	for src, want := range map[string]string{
		`Vec{1, 2, "a"}`:                     `Vec{Vx: 1, Vy: 2, Tag: "a"}`,
		`&Vec{Vx: 3}`:                        `&Vec{Vx: 3, Vy: 0, Tag: ""}`,
		`map[string]Vec{"k": {Vy: 4}}`:       `{"k": Vec{Vx: 0, Vy: 4, Tag: ""}}`,
		`struct{ Vx, Vy int; Tag string }{}`: `Vec{Vx: 0, Vy: 0, Tag: ""}`, // one type to Go
	} {
		if got := show(t, i, src); got != want {
			t.Errorf("%s printed %q, want %q", src, got, want)
		}
	}
	file := filepath.Join(t.TempDir(), "shapes.go")
	if err := os.WriteFile(file, []byte("package shapes\n\ntype Square struct{ Side int }\n\ntype hidden struct{ H int }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := i.LoadFile(context.Background(), file); err != nil {
		t.Fatal(err)
	}
	if got, want := show(t, i, "shapes.Square{2}"), "shapes.Square{Side: 2}"; got != want {
		t.Errorf("shapes.Square{2} printed %q, want %q", got, want)
	}
	for _, name := range []string{"Vec", "shapes.Square"} {
		if ty, ok := i.Type(name); !ok || ty.NumField() == 0 {
			t.Errorf("Type(%q) = %v, %v", name, ty, ok)
		}
	}
	for _, name := range []string{"Square", "shapes.hidden", "int"} {
		if ty, ok := i.Type(name); ok {
			t.Errorf("Type(%q) = %v, want none", name, ty)
		}
	}
}

// wireStruct is a struct value that is no Go struct, as one from another
// node is.
type wireStruct struct {
	name   string
	fields []string
	values []any
}

func (w wireStruct) TypeName() string { return w.name }

func (w wireStruct) All() iter.Seq2[string, any] {
	return func(yield func(string, any) bool) {
		for k, f := range w.fields {
			if !yield(f, w.values[k]) {
				return
			}
		}
	}
}

func TestFormatFieldsValue(t *testing.T) {
	v := []any{wireStruct{"Point", []string{"X", "Tag", "In"}, []any{5, "a", wireStruct{"In", []string{"B"}, []any{[]byte("b")}}}}}
	if got, want := Format(v), `[Point{X: 5, Tag: "a", In: In{B: []byte("b")}}]`; got != want {
		t.Errorf("Format = %s, want %s", got, want)
	}
}
