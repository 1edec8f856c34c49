package shell

import (
	"context"
	"errors"
	"fmt"
	"gsh/internal/gshtest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// directCall calls a Server's module in process, as the cluster's rpc
// would: a first context parameter gets ctx, and maps come back as the
// codec decodes them (map[any]any).
func directCall(s *Server) func(ctx context.Context, function string, args ...any) (any, error) {
	mod := s.Module()
	return func(ctx context.Context, function string, args ...any) (any, error) {
		fn, ok := mod[function]
		if !ok {
			return nil, fmt.Errorf("no function %s", function)
		}
		in := []reflect.Value{}
		if fn.Type().NumIn() > 0 && fn.Type().In(0) == reflect.TypeFor[context.Context]() {
			in = append(in, reflect.ValueOf(ctx))
		}
		for _, a := range args {
			in = append(in, reflect.ValueOf(a))
		}
		v := fn.Call(in)[0].Interface()
		if m, ok := v.(map[string]any); ok {
			out := map[any]any{}
			for k, e := range m {
				out[k] = e
			}
			v = out
		}
		return v, nil
	}
}

func newRemote(t *testing.T) (*Remote, *Server, *syncBuffer) {
	t.Helper()
	i, out := newInterp(t, Options{})
	srv := &Server{Interp: i}
	return &Remote{Session: "bilbo@h/1", Call: directCall(srv)}, srv, out
}

func TestRemoteEval(t *testing.T) {
	r, srv, out := newRemote(t)
	ctx := context.Background()
	res, err := r.Eval(ctx, `fmt.Println("printed"); 1 + 2`)
	if err != nil || res.Output != "printed\n" || FormatResult(res) != "3" {
		t.Fatalf("eval: %#v, %v", res, err)
	}
	// Long values are formatted over there, and not cut again here.
	res, _ = r.Eval(ctx, `strings.Repeat("x", 5000)`)
	if got := FormatResult(res); !strings.HasSuffix(got, "… (904 more bytes)") || len(got) < 4096 {
		t.Errorf("long string: %d bytes, ends %q", len(got), got[max(0, len(got)-30):])
	}
	// A compile error keeps its position; a value that is an error fails.
	_, err = r.Eval(ctx, "x := 1\nfmt.Println(nope)")
	var ce *CompileError
	if !errors.As(err, &ce) || ce.Line != 2 || ErrorLine(err) != "** error: 2:13: undefined: nope" {
		t.Errorf("compile error: %v (%#v)", err, err)
	}
	res, err = r.Eval(ctx, `errors.New("bad")`)
	if err != nil || FormatResult(res) != "** error: bad" || resultError(res) == nil {
		t.Errorf("error value: %#v, %v", res, err)
	}
	_, err = r.Eval(ctx, `panic("oops")`)
	if err == nil || ErrorLine(err) != "** error: panic: oops" {
		t.Errorf("panic: %v", err)
	}
	// Quiet calls print nothing but what they printed.
	res, err = r.Eval(ctx, `fmt.Print("a", "b")`)
	if err != nil || res.Output != "ab" || FormatResult(res) != "" {
		t.Errorf("quiet: %#v, %v", res, err)
	}
	// Nothing of it reached the node's own stdout.
	if s := out.String(); s != "" {
		t.Errorf("the serving node printed %q", s)
	}
	// The session's history.
	h, ok := srv.History(context.WithValue(ctx, sessionKey{}, "bilbo@h/1"))
	if !ok || len(h) != 7 || h[0] != `fmt.Println("printed"); 1 + 2` || h[2] != "x := 1" {
		t.Errorf("history: %q, %v", h, ok)
	}
	if _, ok := srv.History(ctx); ok {
		t.Error("a context of no session has a history")
	}
}

// TestRemoteOutputIsPerEvaluation: what other goroutines print while a
// remote evaluation runs goes to the node's stdout, not to the session.
func TestRemoteOutputIsPerEvaluation(t *testing.T) {
	r, _, out := newRemote(t)
	res, err := r.Eval(context.Background(), `func() {
	ch, done := make(chan int), make(chan bool)
	go func() {
		for n := range ch {
			fmt.Println("beside", n)
		}
		done <- true
	}()
	fmt.Println("mine")
	ch <- 1
	ch <- 2
	close(ch)
	<-done
	fmt.Println("mine too")
}()`)
	if err != nil || res.Output != "mine\nmine too\n" {
		t.Fatalf("%#v, %v", res, err)
	}
	gshtest.Eventually(t, 5*time.Second, "the node printing beside 2", func() bool { return strings.Contains(out.String(), "beside 2") })
	if strings.Contains(out.String(), "mine") {
		t.Errorf("the node printed the session's output: %q", out.String())
	}
}

func TestRemoteInterrupt(t *testing.T) {
	r, srv, _ := newRemote(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := r.Eval(ctx, `n := 0; for { n++ }`)
		done <- err
	}()
	// Wait until it runs over there.
	gshtest.Eventually(t, 10*time.Second, "the evaluation starting", func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		return srv.running["bilbo@h/1"] != nil
	})
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, ErrInterrupted) || ErrorLine(err) != "** error: interrupted" {
			t.Fatalf("interrupted evaluation: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the interrupt did not stop the remote evaluation")
	}
	// The session goes on.
	if res, err := r.Eval(context.Background(), `"next"`); err != nil || FormatResult(res) != "next" {
		t.Fatalf("after the interrupt: %#v, %v", res, err)
	}

	// An interrupt that overtakes its evaluation stops it when it starts.
	if srv.Interrupt("bilbo@h/1", int(r.seq.Load())+1) {
		t.Error("an interrupt of an evaluation not yet started found it running")
	}
	if _, err := r.Eval(context.Background(), `for {}`); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("early interrupt: %v", err)
	}

	// The node of the session going down stops its evaluation.
	done2 := make(chan error, 1)
	go func() {
		_, err := r.Eval(context.Background(), `for {}`)
		done2 <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		srv.DropNode("bilbo@h")
		select {
		case err := <-done2:
			if !errors.Is(err, ErrInterrupted) {
				t.Fatalf("dropped node: %v", err)
			}
			return
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("DropNode did not stop the evaluation")
		}
	}
}

// TestRemoteInterruptWhileWaiting: an evaluation waiting for the one that
// runs (the serving node's own prompt's) is interrupted without waiting.
func TestRemoteInterruptWhileWaiting(t *testing.T) {
	r, srv, _ := newRemote(t)
	local, cancelLocal := context.WithCancel(context.Background())
	defer cancelLocal()
	localDone := make(chan struct{})
	go func() { srv.Interp.Eval(local, `for {}`); close(localDone) }()
	defer func() { cancelLocal(); <-localDone }()
	// The local evaluation holds the interpreter: give it time to start.
	gshtest.Eventually(t, 10*time.Second, "the local evaluation starting", func() bool { return srv.Interp.evalG.Load() != 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	if _, err := r.Eval(ctx, `1`); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("waiting evaluation: %v", err)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestRemoteShellBatch(t *testing.T) {
	r, _, _ := newRemote(t)
	var out syncBuffer
	sh := New(Config{Eval: r, In: strings.NewReader("fmt.Println(\"hi\")\nx := 2\nx * 21\nnope\n"), Out: &out, Name: "s.gsh"})
	err := sh.Run(context.Background())
	var ie *InputError
	if !errors.As(err, &ie) || ie.Line != 4 {
		t.Fatalf("Run: %v", err)
	}
	if want := "hi\n2\n42\ns.gsh:4: ** error: undefined: nope\n"; out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
}

func TestRemoteComplete(t *testing.T) {
	r, srv, _ := newRemote(t)
	if _, err := srv.Interp.Eval(context.Background(), "func doubleIt(x int) int { return 2 * x }"); err != nil {
		t.Fatal(err)
	}
	if got := complete(t, r, "x := doub"); !slices.Equal(got, []string{"doubleIt"}) {
		t.Errorf("remote completion: %q", got)
	}
	srv.Complete = CompleterFunc(func(line string, pos int) ([]string, int) { return []string{"zz"}, pos })
	if got, start := r.Complete("abc", 3); !slices.Equal(got, []string{"zz"}) || start != 3 {
		t.Errorf("the server's Complete: %q, %d", got, start)
	}
}

func TestHistoryAndShebang(t *testing.T) {
	i, out := newInterp(t, Options{})
	sh := New(Config{Interp: i, In: strings.NewReader("#!/usr/bin/env gsh\n1 + 1\n\n1 + 1\nfunc f() int {\n\treturn 3\n}\nf()\n"), Out: out})
	if err := sh.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if out.String() != "2\n2\n3\n" {
		t.Errorf("output %q", out.String())
	}
	old, session := sh.History()
	if want := []string{"1 + 1", "func f() int {", "return 3", "}", "f()"}; len(old) != 0 || !slices.Equal(session, want) {
		t.Errorf("history %q, %q; want %q", old, session, want)
	}
	// A #! line is a line like any other after the first.
	_, err := runBatch(t, "1\n#!/bin/sh\n", Config{})
	if err == nil {
		t.Error("#! on line 2 evaluated")
	}

	// The history file's lines come first.
	file := filepath.Join(t.TempDir(), "history")
	if err := os.WriteFile(file, []byte("a\n\n  b  \nb\nc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sh = New(Config{Interp: i, HistoryFile: file})
	sh.loadHistory()
	sh.addHistory("c")
	sh.addHistory("d")
	sh.addHistory("d")
	old, session = sh.History()
	if !slices.Equal(old, []string{"a", "b", "c"}) || !slices.Equal(session, []string{"c", "d"}) {
		t.Errorf("with a file: %q, %q", old, session)
	}
}
