package shell

import (
	"bytes"
	"errors"
	"go/parser"
	"strings"
	"testing"

	"github.com/traefik/yaegi/interp"
	"github.com/traefik/yaegi/stdlib"

	"gsh/internal/interrupt"
)

// TestYaegiWording pins the messages of yaegi that the shell reads with
// regular expressions: a second import of a package, and the lines it
// writes to its stderr for each interpreted frame a panic goes through. A
// yaegi that words them otherwise fails here, not quietly at the prompt.
func TestYaegiWording(t *testing.T) {
	var stderr bytes.Buffer
	in := interp.New(interp.Options{Stderr: &stderr})
	if err := in.Use(stdlib.Symbols); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Eval(`import "strings"`); err != nil {
		t.Fatal(err)
	}
	_, err := in.Eval(`import "strings"`)
	if want := "1:21: strings/_.go redeclared in this block"; err == nil || err.Error() != want {
		t.Fatalf("second import:\n got %v\nwant %s", err, want)
	}
	if name, ok := redeclaredImport(err); !ok || name != "strings" {
		t.Errorf("redeclaredImport(%q) = %q, %v; want strings, true", err, name, ok)
	}
	if name, ok := redeclaredImport(errors.New("1:3: undefined: strings")); ok {
		t.Errorf("redeclaredImport of another error = %q, true", name)
	}

	// Frames: a function of the prompt, then one of a file of package p.
	if _, err := in.Eval("func f() {\n\tpanic(\"x\")\n}"); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	if _, err := in.Eval("f()"); err == nil {
		t.Fatal("f() did not panic")
	}
	if got, want := stderr.String(), "2:2: panic: main.f(...)\n1:28: panic: main(...)\n"; got != want {
		t.Errorf("frames of main.f:\n got %q\nwant %q", got, want)
	}
	src := "package p\n\nfunc G() {\n\tpanic(\"y\")\n}\n"
	f, err := parser.ParseFile(in.FileSet(), "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := in.CompileAST(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Execute(prog); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	if _, err := in.Eval("p.G()"); err == nil {
		t.Fatal("p.G() did not panic")
	}
	if got, want := stderr.String(), "p.go:4:2: panic: p.G(...)\n1:28: panic: main(...)\n"; got != want {
		t.Errorf("frames of p.G:\n got %q\nwant %q", got, want)
	}

	// What the frame catcher makes of those lines.
	var out bytes.Buffer
	c := &frameCatcher{out: &out}
	owner := &interrupt.Owner{}
	defer interrupt.Own(owner)()
	for _, l := range []string{"2:2: panic: main.f(...)\n", "p.go:4:2: panic: p.G(...)\n", "1:28: panic: main(...)\n", "1:28: panic: main.func(...)\n"} {
		c.Write([]byte(l))
	}
	if got, want := strings.Join(owner.TakeFrames(), ", "), "main.f, p.G (p.go:4)"; got != want {
		t.Errorf("frames filed: got %q, want %q", got, want)
	}
	if out.Len() != 0 {
		t.Errorf("frame lines reached stderr: %q", out.String())
	}
	c.Write([]byte("a line that names no frame: panic: ok\n"))
	if got := out.String(); got != "a line that names no frame: panic: ok\n" {
		t.Errorf("other stderr: got %q", got)
	}
}
