package shell

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func runBatch(t *testing.T, input string, cfg Config) (string, error) {
	t.Helper()
	i, out := newInterp(t, Options{})
	cfg.Interp = i
	cfg.In = strings.NewReader(input)
	cfg.Out = out
	err := New(cfg).Run(context.Background())
	return out.String(), err
}

func TestShellBatch(t *testing.T) {
	input := `x := 2

func square(n int) int {
	return n * n
}

square(x)
m := map[string]int{
	"a": 1,
}
v, ok := m["b"]
fmt.Println("printed", square(3))
s := ` + "`raw\nstring`" + `
len(s)
for i := 0; i < 2; i++ {
	fmt.Println(i)
}
strings.Cut("k=v", "=")
`
	got, err := runBatch(t, input, Config{Name: "session.gsh"})
	if err != nil {
		t.Fatal(err)
	}
	want := "2\n4\n{\"a\": 1}\nundefined\nprinted 9\nraw\nstring\n10\n0\n1\nk, v, true\n"
	if got != want {
		t.Errorf("output\n%s\nwant\n%s", got, want)
	}
}

func TestShellBatchStopsAtError(t *testing.T) {
	input := "x := 1\n\ny := x +\n  nope\nfmt.Println(\"never\")\n"
	got, err := runBatch(t, input, Config{Name: "session.gsh"})
	var ie *InputError
	if !errors.As(err, &ie) || ie.Name != "session.gsh" || ie.Line != 4 {
		t.Fatalf("error %#v", err)
	}
	var ce *CompileError
	if !errors.As(err, &ce) {
		t.Errorf("%v does not wrap a *CompileError", err)
	}
	want := "1\nsession.gsh:4: ** error: undefined: nope\n"
	if got != want {
		t.Errorf("output %q, want %q", got, want)
	}
	if err.Error() != "session.gsh:4: undefined: nope" {
		t.Errorf("error text %q", err.Error())
	}

	// A panic: the input's first line.
	got, err = runBatch(t, "a := 1\nfunc() {\n\tpanic(\"oops\")\n}()\n", Config{Name: "p.gsh"})
	if !errors.As(err, &ie) || ie.Line != 2 || !strings.Contains(got, "p.gsh:2: ** error: panic: oops") {
		t.Errorf("panic: %q, %v", got, err)
	}

	// OnError may let it go on.
	var seen []error
	got, err = runBatch(t, "nope1\n1 + 1\nnope2\n", Config{OnError: func(err error) bool {
		seen = append(seen, err)
		return true
	}})
	if err != nil || len(seen) != 2 {
		t.Errorf("with OnError: %v, %d errors", err, len(seen))
	}
	if want := "input:1: ** error: undefined: nope1\n2\ninput:3: ** error: undefined: nope2\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}

	// Unfinished at the end.
	_, err = runBatch(t, "1\nfunc f() {\n", Config{})
	if !errors.As(err, &ie) || ie.Line < 2 {
		t.Errorf("unfinished: %v", err)
	}
}

func TestShellBatchContext(t *testing.T) {
	i, out := newInterp(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := New(Config{Interp: i, In: strings.NewReader("1\n2\n"), Out: out}).Run(ctx)
	if err != nil || out.String() != "" {
		t.Errorf("cancelled: %v, %q", err, out.String())
	}
}

func TestLogfBatch(t *testing.T) {
	i, out := newInterp(t, Options{})
	var errw syncBuffer
	sh := New(Config{Interp: i, In: strings.NewReader(""), Out: out, Err: &errw})
	sh.Logf("node %s up", "frodo@vm")
	if errw.String() != "node frodo@vm up\n" {
		t.Errorf("Logf wrote %q", errw.String())
	}
}
