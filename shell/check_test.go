package shell

import (
	"context"
	"errors"
	"testing"
)

// TestAssignmentMismatch: one variable for a call of two results is
// refused with Go's words and the position, wherever the call is, and
// nothing of the input runs.
func TestAssignmentMismatch(t *testing.T) {
	ctx := context.Background()
	i, _ := newInterp(t, Options{})
	if _, err := i.Eval(ctx, "func pair() (int, error) { return 1, nil }"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ src, want string }{
		{`n := strconv.Atoi("1")`, `1:1: assignment mismatch: 1 variable but strconv.Atoi returns 2 values`},
		{`var n = strconv.Atoi("1")`, `1:5: assignment mismatch: 1 variable but strconv.Atoi returns 2 values`},
		{"ran := 1\nx := pair()", `2:1: assignment mismatch: 1 variable but pair returns 2 values`},
		{"func g() int {\n\tx := pair()\n\treturn x\n}", `2:2: assignment mismatch: 1 variable but pair returns 2 values`},
		{"func h() (int, error) { return 2, nil }\nvar y = h()", `2:5: assignment mismatch: 1 variable but h returns 2 values`},
		{`a, b := strings.ToUpper("x")`, `1:1: assignment mismatch: 2 variables but strings.ToUpper returns 1 value`},
		{`x := fmt.Println()`, `1:1: assignment mismatch: 1 variable but fmt.Println returns 2 values`},
		// Several results where one value is wanted, and returns of the
		// wrong count: the interpreter would keep the first result.
		{`pair() == 1`, `1:1: multiple-value pair() (2 values) in single-value context`},
		{`s := []any{strconv.Atoi("3")}`, `1:12: multiple-value strconv.Atoi("3") (2 values) in single-value context`},
		{`strconv.Atoi("3") + 1`, `1:1: multiple-value strconv.Atoi("3") (2 values) in single-value context`},
		{"func one() int { return pair() }", `1:18: too many return values: have 2 values from pair, want 1`},
	} {
		_, err := i.Eval(ctx, c.src)
		var ce *CompileError
		if !errors.As(err, &ce) || ce.Error() != c.want {
			t.Errorf("%q: error %v, want %s", c.src, err, c.want)
		}
	}
	if _, err := i.Eval(ctx, "ran"); err == nil {
		t.Error("a refused input ran")
	}
	// What Go accepts stays accepted, and a local name is not the builtin.
	for _, src := range []string{
		`n, err := strconv.Atoi("1")`,
		`s := strings.ToUpper("x")`,
		"func k(pair func() int) int { x := pair(); return x }",
		`fmt.Println(strconv.Atoi("4"))`,
		"func two() (int, error) { return pair() }",
		`pair()`,
		`if v, err := strconv.Atoi("5"); err == nil { _ = v }`,
		"func lit() { f := func() (int, error) { return pair() }; f() }",
		`strconv := func(s string) int { return 1 }; n2 := strconv("x")`,
	} {
		if _, err := i.Eval(ctx, src); err != nil {
			t.Errorf("%q: %v", src, err)
		}
	}
	// A file: the error names it.
	_, err := i.LoadSource(ctx, "/some/where/broken.go", "package broken\n\nfunc F() int {\n\tn := strconv.Atoi(\"x\")\n\treturn n\n}\n")
	if want := "/some/where/broken.go:4:2: assignment mismatch: 1 variable but strconv.Atoi returns 2 values"; err == nil || err.Error() != want {
		t.Errorf("LoadSource: %v, want %s", err, want)
	}
}
