package shell

import (
	"context"
	"testing"
)

// TestGoWords pins the interpreter's wording of type errors that the shell
// says in Go's words: each input must give exactly the line Go gives.
func TestGoWords(t *testing.T) {
	ctx := context.Background()
	i, _ := newInterp(t, Options{})
	for _, src := range []string{"func f(n int) int { return n }", "type P struct{ X int }"} {
		if _, err := i.Eval(ctx, src); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ src, want string }{
		{`func k() { f("x") }`, `1:14: cannot use "x" (untyped string constant) as int value in argument to f`},
		{`func g() int { return "s" }`, `1:23: cannot use "s" (untyped string constant) as int value in return statement`},
		{`func h() { var z []int = []string{"a"}; _ = z }`, `1:26: cannot use []string{…} (value of type []string) as []int value in variable declaration`},
		{`func m() { _ = P{X: "s"} }`, `1:21: cannot use "s" (untyped string constant) as int value in struct literal`},
		{`func n() { var x int; x = "s"; _ = x }`, `1:27: cannot use "s" (untyped string constant) as int value in assignment`},
		{`func o() { var x int = 1.5; _ = x }`, `1:24: cannot use 1.5 (untyped float constant) as int value in variable declaration (truncated)`},
		{`func q() { x := int("s"); _ = x }`, `1:21: cannot convert "s" (untyped string constant) to type int`},
		{`func r() { var x string = 1; _ = x }`, `1:27: cannot use 1 (untyped int constant) as string value in variable declaration`},
		{`func s() { _ = []int{"a"} }`, `1:22: cannot use "a" (untyped string constant) as int value in array or slice literal`},
	} {
		_, err := i.Eval(ctx, c.src)
		if err == nil || err.Error() != c.want {
			t.Errorf("%s:\n got %v\nwant %s", c.src, err, c.want)
		}
	}
	// A loaded file's error names the file and the line, in Go's words.
	_, err := i.LoadSource(ctx, "broken.go", "package broken\n\nfunc F(n int) int { return n }\n\nfunc G() {\n\tF(\"x\")\n}\n")
	if want := `broken.go:6:4: cannot use "x" (untyped string constant) as int value in argument to F`; err == nil || err.Error() != want {
		t.Errorf("LoadSource:\n got %v\nwant %s", err, want)
	}
}
