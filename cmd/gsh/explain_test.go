package main

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"gsh/cluster"
)

// TestExplainNameType: a long-name node pinging a short-name one fails with
// the library's ErrNameType, which gsh explains with its flags.
func TestExplainNameType(t *testing.T) {
	_, port := privateMapper(t)
	mapperPort, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	start := func(name string, long bool) *cluster.Node {
		cfg := cluster.DefaultConfig()
		cfg.Name = cluster.Atom(name)
		cfg.LongNames = long
		cfg.Cookie = "abc"
		cfg.ListenAddr = "127.0.0.1:0"
		cfg.MapperPort = mapperPort
		cfg.Logf = func(string, ...any) {}
		n, err := cluster.Start(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n
	}
	a := start("a@"+cluster.ShortHostname(), false)
	l := start("long@localhost.localdomain", true)
	err = l.Ping(ctx, a.Name())
	if !errors.Is(err, cluster.ErrNameType) || strings.Contains(err.Error(), "-sname") {
		t.Fatalf("the library's error: %v", err)
	}
	x := explain(err)
	if !errors.Is(x, cluster.ErrNameType) || !strings.HasSuffix(x.Error(), err.Error()+": start both with -sname or both with -name") {
		t.Fatalf("explained: %v", x)
	}
	if explain(x) != x {
		t.Errorf("explained twice: %v", explain(x))
	}
	if e := errors.New("other"); explain(e) != e {
		t.Errorf("an error gsh's flags do not avoid: %v", explain(e))
	}
}

// TestExplainNotDistributed: gsh started without a name says, at its
// prompt, how to start it for rpc.
func TestExplainNotDistributed(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	out := &lockedBuffer{written: make(chan struct{}, 1)}
	in := strings.NewReader(`rpc.call("gandalf@nohost", "erlang", "node")` + "\n")
	err := run(context.Background(), nil, in, out, out)
	want := "** error: calling gandalf@nohost: this node is not distributed: start it with -sname NAME or -name NAME"
	if !strings.Contains(out.String(), want) {
		t.Fatalf("run: %v; want %q in:\n%s", err, want, out.String())
	}
}
