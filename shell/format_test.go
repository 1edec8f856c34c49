package shell

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

type Atom string

type pid struct {
	node Atom
	id   int
}

func (p pid) String() string { return fmt.Sprintf("<%s.%d>", p.node, p.id) }

type point struct {
	X, Y int
	name string
}

type tree struct {
	Left, Right *tree
	V           int
}

func TestFormat(t *testing.T) {
	var nilErr error
	var nilPtr *point
	var nilMap map[string]int
	long := strings.Repeat("x", MaxString+10)
	many := make([]int, MaxElems+5)
	bigMap := map[int]bool{}
	for k := range MaxElems + 3 {
		bigMap[k] = true
	}
	loop := &tree{V: 1}
	loop.Left = loop
	tests := []struct {
		v    any
		want string
	}{
		{nil, "nil"},
		{nilErr, "nil"},
		{"fine", "fine"},
		{"two\nlines", "two\nlines"},
		{42, "42"},
		{-7, "-7"},
		{uint8(200), "200"},
		{3.5, "3.5"},
		{float32(0.1), "0.1"},
		{true, "true"},
		{2 + 3i, "(2+3i)"},
		{Atom("undefined"), "undefined"},
		{Atom("pong"), "pong"},
		{[]Atom{"ping", "pong"}, "[ping, pong]"},
		{pid{"gandalf@vm", 12}, "<gandalf@vm.12>"},
		{[]any{pid{"n@h", 1}}, "[<n@h.1>]"},
		{errors.New("boom"), "** error: boom"},
		{errors.New("two\nlines"), "** error: two lines"},
		{[]any{1, "a", true, nil}, `[1, "a", true, nil]`},
		{[]string{}, "[]"},
		{[]int(nil), "[]"},
		{[2]int{1, 2}, "[1, 2]"},
		{[]byte("hi\n"), `[]byte("hi\n")`},
		{map[string]int{"b": 2, "a": 1}, `{"a": 1, "b": 2}`},
		{map[int]string{10: "x", 9: "y", -1: "z"}, `{-1: "z", 9: "y", 10: "x"}`},
		{map[any]int{"b": 1, 2: 2, "a": 3}, `{2: 2, "a": 3, "b": 1}`},
		{nilMap, "nil"},
		{map[string][]int{"k": {1}}, `{"k": [1]}`},
		{point{1, 2, "p"}, `point{X: 1, Y: 2, name: "p"}`},
		{&point{1, 2, "p"}, `&point{X: 1, Y: 2, name: "p"}`},
		{nilPtr, "nil"},
		{[]any{errors.New("e")}, `[error("e")]`},
		{func(int) string { return "" }, "func(int) string"},
		{make(chan int), "chan int"},
		{struct{}{}, "{}"},
		{long, strings.Repeat("x", MaxString) + "… (10 more bytes)"},
		{[]any{"a\"b"}, `["a\"b"]`},
		{many, "[" + strings.TrimSuffix(strings.Repeat("0, ", MaxElems), ", ") + ", … (5 more)]"},
		{loop, "&tree{Left: &tree{Left: &tree{Left: &tree{Left: &…, Right: nil, V: 1}, Right: nil, V: 1}, Right: nil, V: 1}, Right: nil, V: 1}"},
	}
	for _, tt := range tests {
		if got := Format(tt.v); got != tt.want {
			t.Errorf("Format(%#v)\n got %q\nwant %q", tt.v, got, tt.want)
		}
	}
	if got := Format(bigMap); !strings.HasSuffix(got, ", … (3 more)}") || !strings.HasPrefix(got, "{0: true, 1: true,") {
		t.Errorf("big map: %q", got)
	}
}

func TestFormatResult(t *testing.T) {
	var nilErr error
	tests := []struct {
		r    Result
		want string
	}{
		{Result{}, ""},
		{Result{Values: []any{3}}, "3"},
		{Result{Values: []any{nil}}, "nil"},
		{Result{Values: []any{"fine"}}, "fine"},
		{Result{Values: []any{1, errors.New("bad")}}, "** error: bad"},
		{Result{Values: []any{1, nil}}, "1"},
		{Result{Values: []any{1, nilErr}}, "1"},
		{Result{Values: []any{"v", true}}, "v"},
		{Result{Values: []any{"v", false}}, "undefined"},
		{Result{Values: []any{"k", "v", true}}, "k, v, true"},
		{Result{Values: []any{1, 2}}, "1, 2"},
		{Result{Values: []any{1, "two", nil}}, "1, two"},
		{Result{Values: []any{errors.New("alone")}}, "** error: alone"},
		{Result{Values: []any{6, nil}, Quiet: true}, ""},
		{Result{Values: []any{0, errors.New("write failed")}, Quiet: true}, "** error: write failed"},
	}
	for _, tt := range tests {
		if got := FormatResult(tt.r); got != tt.want {
			t.Errorf("FormatResult(%#v) = %q, want %q", tt.r, got, tt.want)
		}
	}
}
