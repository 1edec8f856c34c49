package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func t0() context.Context { return context.Background() }

func ctx5(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestErlangPingBothWays(t *testing.T) {
	c := newTestCluster(t)
	g := c.startErlang("gandalf", "abc")
	e := startErl(t, c.mapper, "e", "abc")

	if got := e.eval(fmt.Sprintf("net_adm:ping('%s')", g.Name())); got != "pong" {
		t.Fatalf("net_adm:ping from erl = %s, want pong", got)
	}
	if got := e.eval("nodes()"); got != fmt.Sprintf("['%s']", g.Name()) && got != fmt.Sprintf("[%s]", g.Name()) {
		t.Fatalf("nodes() on erl = %s, want [%s]", got, g.Name())
	}
	waitFor(t, "gsh to list erl", func() bool { return slices.Contains(g.Nodes(), e.name) })
	if err := g.Ping(ctx5(t), e.name); err != nil {
		t.Fatalf("ping from gsh: %v", err)
	}

	// The other way round, from a fresh pair.
	g2 := c.startErlang("bilbo", "abc")
	if err := g2.Ping(ctx5(t), e.name); err != nil {
		t.Fatalf("ping from a gsh node that dials erl: %v", err)
	}
	if !slices.Contains(g2.Nodes(), e.name) {
		t.Fatalf("nodes() on gsh = %v, want %s in it", g2.Nodes(), e.name)
	}
	waitFor(t, "erl to list bilbo", func() bool { return strings.Contains(e.eval("nodes()"), string(g2.Name())) })
}

func TestErlangWrongCookieAndOff(t *testing.T) {
	c := newTestCluster(t)
	g := c.startErlang("gandalf", "abc")
	off := c.start("frodo", "abc")
	e := startErl(t, c.mapper, "e", "other")
	if got := e.eval(fmt.Sprintf("net_adm:ping('%s')", g.Name())); got != "pang" {
		t.Fatalf("ping with a wrong cookie from erl = %s, want pang", got)
	}
	if err := g.Ping(ctx5(t), e.name); !errors.Is(err, ErrAuth) {
		t.Fatalf("ping with a wrong cookie from gsh: %v, want ErrAuth", err)
	}
	e2 := startErl(t, c.mapper, "e", "abc")
	if got := e2.eval(fmt.Sprintf("net_adm:ping('%s')", off.Name())); got != "pang" {
		t.Fatalf("ping of a node without Erlang links from erl = %s, want pang", got)
	}
	err := off.Ping(ctx5(t), e2.name)
	if err == nil || !strings.Contains(err.Error(), "-erlang") {
		t.Fatalf("ping of erl from a node without Erlang links: %v, want a hint at -erlang", err)
	}
	// Both gsh nodes still serve.
	if err := g.Ping(ctx5(t), e2.name); err != nil {
		t.Fatal(err)
	}
	if err := off.Ping(ctx5(t), g.Name()); err != nil {
		t.Fatal(err)
	}
}
