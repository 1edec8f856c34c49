package cluster

import (
	"context"
	"reflect"
	"testing"
)

// TestImpostorIsLogged: a second node with the cookie and the name of a
// linked node (registered with another port mapper) displaces its link; the
// node it connects to, the displaced node and the newcomer each log it.
func TestImpostorIsLogged(t *testing.T) {
	c := newTestCluster(t)
	g, gLog := c.startTLS("gandalf", "abc", nil)
	b, bLog := c.startTLS("bilbo", "abc", nil)
	ctx := context.Background()
	if err := b.Ping(ctx, g.Name()); err != nil {
		t.Fatal(err)
	}
	other := startMapper(t)
	register(t, other, "gandalf", g.Port())
	iLog := newLogSink(t)
	icfg := c.config("bilbo", "abc")
	icfg.MapperPort = other
	icfg.Logf = iLog.logf
	icfg.Handler = Modules{"test": {"double": reflect.ValueOf(func(x int) int { return -x })}}
	imp := c.startCfg(icfg)
	if err := imp.Ping(ctx, g.Name()); err != nil {
		t.Fatal(err)
	}
	gLog.wait("WARNING: a node calling itself "+string(b.Name())+" connected from 127.0.0.1:", "while "+string(b.Name())+" was linked from 127.0.0.1:", "the new link replaces the old one")
	bLog.wait("WARNING: " + string(g.Name()) + " dropped its link with this node, " + string(b.Name()) + ": another node calling itself " + string(b.Name()) + " connected to it from 127.0.0.1:")
	iLog.wait("WARNING: "+string(g.Name())+" had a live link with another node calling itself "+string(b.Name())+", from 127.0.0.1:", "this node's link replaced it")
	// gandalf's calls to bilbo now go to the impostor, as Erlang's would.
	if v, err := g.Call(ctx, b.Name(), "test", "double", 2); err != nil || v != -2 {
		t.Fatalf("gandalf's call after the impostor came: %v, %v", v, err)
	}
}
