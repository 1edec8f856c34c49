package builtins_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"gsh/builtins"
	"gsh/cluster"
	"gsh/shell"
)

// remsh makes gandalf serve remote shells as cmd/gsh does, and returns
// bilbo's client for one.
func remsh(t *testing.T, gandalf, bilbo *gshNode) (*shell.Remote, *shell.Server) {
	t.Helper()
	srv := &shell.Server{Interp: gandalf.in}
	gandalf.env.Out = gandalf.in.Stdout()
	gandalf.env.Serve(shell.RemoteModule, srv.Module())
	stop := gandalf.node.Watch(func(peer cluster.Atom, up bool, _ error) {
		if !up {
			srv.DropNode(string(peer))
		}
	})
	t.Cleanup(stop)
	r := &shell.Remote{
		Session: bilbo.name() + "/test",
		Call: func(ctx context.Context, function string, args ...any) (any, error) {
			return bilbo.node.Call(ctx, gandalf.node.Name(), shell.RemoteModule, function, args...)
		},
	}
	return r, srv
}

func remoteEval(t *testing.T, r *shell.Remote, ctx context.Context, src string) (string, error) {
	t.Helper()
	res, err := r.Eval(ctx, src)
	if err != nil {
		return res.Output, err
	}
	return res.Output + shell.FormatResult(res), nil
}

// TestRemoteShell: bilbo's remote shell on gandalf, over the cluster's rpc:
// values and output come back; Ctrl-C (the context's cancellation) stops
// the remote evaluation only, and a process it spawned keeps running.
func TestRemoteShell(t *testing.T) {
	c := newCluster(t)
	gandalf, bilbo := c.start("gandalf"), c.start("bilbo")
	r, _ := remsh(t, gandalf, bilbo)
	ctx := context.Background()
	must := func(src, want string) {
		t.Helper()
		got, err := remoteEval(t, r, ctx, src)
		if err != nil || got != want {
			t.Fatalf("%s: %q, %v; want %q", src, got, err, want)
		}
	}
	must(`node()`, gandalf.name())
	must(`fmt.Println("on", node()); 6 * 7`, "on "+gandalf.name()+"\n42")
	if got, _ := remoteEval(t, r, ctx, `help("args")`); !strings.Contains(got, "func args() []string") {
		t.Errorf("help: %q", got)
	}
	if s := gandalf.out.String(); s != "" {
		t.Errorf("gandalf printed %q", s)
	}
	if _, err := remoteEval(t, r, ctx, `nope`); err == nil || shell.ErrorLine(err) != "** error: 1:1: undefined: nope" {
		t.Errorf("error: %v", err)
	}

	// A package loaded on gandalf does not stand in for the remote shell.
	if _, err := gandalf.in.LoadSource(ctx, "shell.go", "package shell\n\nfunc Eval(a, b, c, d any) int { return 1 }\n"); err != nil {
		t.Fatal(err)
	}
	must(`"still the shell"`, "still the shell")

	// A counting process, then an endless loop that Ctrl-C stops.
	must(`func count() { n := 0; for { n++; if m := receive(0); m != timeout { send(m, n) } } }`, "")
	must(`counter := spawn("main", "count"); "spawned"`, "spawned")
	before, err := remoteEval(t, r, ctx, `send(counter, self()); receive()`)
	if err != nil {
		t.Fatal(err)
	}
	ictx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := remoteEval(t, r, ictx, `for {}`)
		done <- err
	}()
	waitBusy(t, gandalf)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, shell.ErrInterrupted) {
			t.Fatalf("for {}: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Ctrl-C did not stop the remote evaluation")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		after, err := remoteEval(t, r, ctx, `send(counter, self()); receive()`)
		if err != nil {
			t.Fatal(err)
		}
		if after != before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the counting process stopped")
		}
	}

	// bilbo going down stops its session's evaluation on gandalf.
	go r.Eval(ctx, `for {}`)
	waitBusy(t, gandalf)
	bilbo.node.Close()
	fctx, fcancel := context.WithTimeout(ctx, 10*time.Second)
	defer fcancel()
	if got := gandalf.evalCtx(fctx, `"free"`); got != "free" {
		t.Fatalf("gandalf after bilbo left: %q", got)
	}
}

// waitBusy waits until an evaluation runs in g's interpreter: one of g's
// own then waits for it, and gives up when its context ends.
func waitBusy(t *testing.T, g *gshNode) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		got := g.evalCtx(ctx, `"idle"`)
		cancel()
		if strings.Contains(got, "interrupted") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no evaluation started")
		}
	}
}

// TestDocs: every builtin has a help() entry, and every entry a builtin.
func TestDocs(t *testing.T) {
	n, err := cluster.Start(context.Background(), cluster.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	env := builtins.New(n)
	documented := map[string]bool{}
	for _, d := range env.Docs() {
		documented[d.Name] = true
	}
	seen := map[string]bool{}
	for key, syms := range env.Symbols() {
		pkg := key[strings.LastIndexByte(key, '/')+1:]
		for name, v := range syms {
			full := name
			if pkg != "builtins" {
				full = pkg + "." + name
			}
			if !v.IsValid() || v.Kind() != reflect.Func {
				seen[full] = true // types and values may have an entry
				continue
			}
			seen[full] = true
			if !documented[full] {
				t.Errorf("%s has no help() entry", full)
			}
		}
	}
	for name := range documented {
		if !seen[name] {
			t.Errorf("help() documents %s, which is no builtin", name)
		}
	}
}
