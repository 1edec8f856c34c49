package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
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

func TestErlangCallsGsh(t *testing.T) {
	c := newTestCluster(t)
	g := c.startErlang("gandalf", "abc")
	e := startErl(t, c.mapper, "e", "abc")
	G := "'" + string(g.Name()) + "'"
	for _, tc := range []struct{ expr, want string }{
		{"rpc:call(" + G + ", test, double, [21])", "42"},
		{"erpc:call(" + G + ", test, double, [-4])", "-8"},
		{"rpc:call(" + G + ", test, lookup, [<<\"weather\">>])", "<<102,105,110,101>>"},
		{"rpc:call(" + G + ", test, lookup, [weather])", "<<102,105,110,101>>"},
		{"rpc:call(" + G + ", test, lookup, [<<\"snow\">>])", "undefined"},
		{"rpc:call(" + G + ", test, echo, [{ok, [1, 2 | 3], #{a => <<1,2,255>>}, 1.5, 123456789012345678901234567890}])",
			"{ok,[1,2|3],#{a => <<1,2,255>>},1.5,123456789012345678901234567890}"},
		{"rpc:call(" + G + ", erlang, node, [])", string(e.name)},
		{"rpc:call(" + G + ", test, triple, [1])", "{badrpc,{'EXIT',{undef,[{test,triple,[1],[]}]}}}"},
		{"rpc:call(" + G + ", nosuch, f, [])", "{badrpc,{'EXIT',{undef,[{nosuch,f,[],[]}]}}}"},
		{"rpc:call(" + G + ", test, double, [<<\"x\">>])", "{badrpc,{'EXIT',{badarg,[{test,double,[<<120>>],[]}]}}}"},
		{"rpc:call(" + G + ", test, fail, [])", "{badrpc,{'EXIT',{{error,<<105,116,32,102,97,105,108,101,100>>},[{test,fail,[],[]}]}}}"},
		{"rpc:call(" + G + ", test, echo, [fun() -> ok end])", "{badrpc,{'EXIT',gsh_takes_no_funs_or_ports}}"},
		{"gen_server:call({rex, " + G + "}, {call, test, double, [5], user})", "10"},
		{"rpc:call(" + G + ", test, double, [21])", "42"},
	} {
		if got := e.eval(tc.expr); got != tc.want {
			t.Errorf("%s = %s, want %s", tc.expr, got, tc.want)
		}
	}
	if got := e.eval("{badrpc, {'EXIT', {{panic, M}, _}}} = rpc:call(" + G + ", test, boom, [<<\"x\">>]), M"); !strings.HasPrefix(got, "<<") {
		t.Errorf("a panic came back as %s", got)
	}
}

func TestGshCallsErlang(t *testing.T) {
	c := newTestCluster(t)
	g := c.startErlang("gandalf", "abc")
	e := startErl(t, c.mapper, "e", "abc")
	ctx := ctx5(t)
	v, err := g.Call(ctx, e.name, "lists", "reverse", []any{1, 2, 3})
	if err != nil || !reflect.DeepEqual(v, []any{3, 2, 1}) {
		t.Fatalf("lists:reverse([1,2,3]) = %#v, %v", v, err)
	}
	if v, err := g.Call(ctx, e.name, "erlang", "node"); err != nil || v != e.name {
		t.Fatalf("erlang:node() = %#v, %v; want %s", v, err, e.name)
	}
	if v, err := g.Call(ctx, e.name, "erlang", "list_to_tuple", []any{Atom("ok"), "fine", 1.5}); err != nil ||
		!reflect.DeepEqual(v, Tuple{Atom("ok"), "fine", 1.5}) {
		t.Fatalf("list_to_tuple = %#v, %v", v, err)
	}
	_, err = g.Call(ctx, e.name, "lists", "nosuch")
	if !errors.Is(err, ErrUnknownFunction) || !strings.Contains(err.Error(), "undef") {
		t.Fatalf("an unknown function: %v, want ErrUnknownFunction", err)
	}
	_, err = g.Call(ctx, e.name, "erlang", "atom_to_list", 1)
	if !errors.Is(err, ErrBadArgs) {
		t.Fatalf("bad arguments: %v, want ErrBadArgs", err)
	}
	if _, err := g.Call(ctx, e.name, "erlang", "self", make(chan int)); !errors.Is(err, ErrBadArgs) {
		t.Fatalf("an argument with no Erlang term: %v, want ErrBadArgs", err)
	}
	tctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := g.Call(tctx, e.name, "timer", "sleep", 5000); !errors.Is(err, ErrTimeout) {
		t.Fatalf("a call past its deadline: %v, want ErrTimeout", err)
	}

	// The book's kvs.erl, compiled and started in erl, used from gsh.
	dir := t.TempDir()
	src, _ := os.ReadFile("testdata/kvs.erl")
	os.WriteFile(filepath.Join(dir, "kvs.erl"), src, 0o644)
	if got := e.eval(fmt.Sprintf("compile:file(%q, [{outdir, %q}])", filepath.Join(dir, "kvs"), dir)); got != "{ok,kvs}" {
		t.Fatalf("compile:file(kvs) = %s", got)
	}
	if got := e.eval(fmt.Sprintf("code:load_abs(%q)", filepath.Join(dir, "kvs"))); got != "{module,kvs}" {
		t.Fatalf("code:load_abs(kvs) = %s", got)
	}
	if got := e.eval("kvs:start()"); got != "true" {
		t.Fatalf("kvs:start() = %s", got)
	}
	if v, err := g.Call(ctx, e.name, "kvs", "store", "weather", "fine"); err != nil || v != true {
		t.Fatalf("kvs:store = %#v, %v", v, err)
	}
	if v, err := g.Call(ctx, e.name, "kvs", "lookup", "weather"); err != nil || !reflect.DeepEqual(v, Tuple{Atom("ok"), "fine"}) {
		t.Fatalf("kvs:lookup = %#v, %v", v, err)
	}
	if got := e.eval("kvs:lookup(<<\"weather\">>)"); got != "{ok,<<102,105,110,101>>}" {
		t.Fatalf("kvs:lookup in erl = %s", got)
	}
}
