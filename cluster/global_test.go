package cluster

import (
	"context"
	"errors"
	"testing"
	"time"
)

// waitGlobal waits until n's view of a global name is want (ok false: gone).
func waitGlobal(t *testing.T, n *Node, name string, want Pid, ok bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for {
		pid, found := n.WhereisGlobal(name)
		if found == ok && (!ok || pid == want) {
			return
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%s: global %q is %v (%v), want %v (%v)", n.Name(), name, pid, found, want, ok)
		}
	}
}

func TestGlobalNames(t *testing.T) {
	c := newTestCluster(t)
	a, b := c.startProcs("a"), c.startProcs("b")
	ctx := context.Background()
	if err := a.Connect(ctx, b.Name()); err != nil {
		t.Fatal(err)
	}
	pa := a.NewProcess()
	pb := b.NewProcess()
	if err := a.RegisterGlobal(ctx, "boss", pa.Pid()); err != nil {
		t.Fatal(err)
	}
	if pid, ok := b.WhereisGlobal("boss"); !ok || pid != pa.Pid() {
		t.Fatalf("b sees %v %v", pid, ok)
	}
	err := b.RegisterGlobal(ctx, "boss", pb.Pid())
	if !errors.Is(err, ErrGlobalNameTaken) {
		t.Fatalf("second registration: %v", err)
	}
	if err := b.SendGlobal("boss", "hi"); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, pa); m != "hi" {
		t.Fatalf("got %v", m)
	}
	// The name goes with its process, on every node.
	pa.Exit(Normal)
	waitGlobal(t, b, "boss", Pid{}, false)
	waitGlobal(t, a, "boss", Pid{}, false)
	// ... and with its node.
	if err := b.RegisterGlobal(ctx, "boss", pb.Pid()); err != nil {
		t.Fatal(err)
	}
	waitGlobal(t, a, "boss", pb.Pid(), true)
	b.Close()
	waitGlobal(t, a, "boss", Pid{}, false)
}

func TestGlobalConflict(t *testing.T) {
	c := newTestCluster(t)
	a, b := c.startProcs("a"), c.startProcs("b")
	ctx := context.Background()
	pa, pb := a.NewProcess(), b.NewProcess()
	// Apart, both take the name.
	if err := a.RegisterGlobal(ctx, "leader", pa.Pid()); err != nil {
		t.Fatal(err)
	}
	if err := b.RegisterGlobal(ctx, "leader", pb.Pid()); err != nil {
		t.Fatal(err)
	}
	if err := b.Connect(ctx, a.Name()); err != nil {
		t.Fatal(err)
	}
	// a sorts first: its registration wins on both sides; b's process is told.
	waitGlobal(t, b, "leader", pa.Pid(), true)
	waitGlobal(t, a, "leader", pa.Pid(), true)
	m := recv(t, pb)
	if gc, ok := m.(GlobalConflict); !ok || gc.Name != "leader" || gc.Winner != pa.Pid() {
		t.Fatalf("loser got %#v", m)
	}
}

// TestGlobalNamesOnlyForConnectedNodes: a node refuses a claim for a pid of
// a node it is not connected to, takes from a peer's table only the names
// of pids it may hold, and a node that joins later sees none of them.
func TestGlobalNamesOnlyForConnectedNodes(t *testing.T) {
	c := newTestCluster(t)
	a, b, d := c.startProcs("a"), c.startProcs("b"), c.startProcs("d")
	ctx := context.Background()
	if err := a.Connect(ctx, b.Name()); err != nil {
		t.Fatal(err)
	}
	ghost := Pid{Node: "ghost@nowhere", ID: 7}
	// A raw claim, as a buggy or hostile peer would send it.
	_, err := a.Call(ctx, b.Name(), globalModule, "claim", "ghost7", ghost)
	if !errors.Is(err, ErrNodeDown) {
		t.Fatalf("claim for a pid of an unconnected node: %v", err)
	}
	t.Logf("the claimer sees: %v", err)
	if pid, ok := b.WhereisGlobal("ghost7"); ok {
		t.Fatalf("b holds ghost7 for %v", pid)
	}
	// Nor may a node register one for itself.
	if err := a.RegisterGlobal(ctx, "ghost8", ghost); !errors.Is(err, ErrNodeDown) {
		t.Fatalf("registering a pid of an unconnected node: %v", err)
	}
	// A claim for a process of b's own that is gone is refused too.
	gone := b.NewProcess()
	gone.Exit(Normal)
	if _, err := a.Call(ctx, b.Name(), globalModule, "claim", "gone", gone.Pid()); !errors.Is(err, ErrNoProcess) {
		t.Fatalf("claim for a dead local pid: %v", err)
	}
	if _, ok := b.WhereisGlobal("gone"); ok {
		t.Fatal("b holds a name for its own dead process")
	}
	// A sync that names ghosts and a live pid of its sender: only the
	// latter is taken.
	pa := a.NewProcess()
	if err := a.signal(b.Name(), castSignal{Module: globalModule, Function: "sync", Args: []any{[]any{"ghost9", ghost, "real", pa.Pid()}}}); err != nil {
		t.Fatal(err)
	}
	waitGlobal(t, b, "real", pa.Pid(), true)
	if pid, ok := b.WhereisGlobal("ghost9"); ok {
		t.Fatalf("b took ghost9 for %v from a sync", pid)
	}
	// A node that joins later sees none of the ghosts, and the name is free.
	pa2 := a.NewProcess()
	if err := a.RegisterGlobal(ctx, "boss", pa2.Pid()); err != nil {
		t.Fatal(err)
	}
	if err := d.Connect(ctx, b.Name()); err != nil {
		t.Fatal(err)
	}
	waitGlobal(t, d, "boss", pa2.Pid(), true)
	for _, name := range []string{"ghost7", "ghost8", "ghost9", "gone"} {
		if pid, ok := d.WhereisGlobal(name); ok {
			t.Fatalf("d sees %s held by %v", name, pid)
		}
	}
	pd := d.NewProcess()
	if err := d.RegisterGlobal(ctx, "ghost7", pd.Pid()); err != nil {
		t.Fatalf("registering ghost7 for a live process: %v", err)
	}
	waitGlobal(t, a, "ghost7", pd.Pid(), true)
	waitGlobal(t, b, "ghost7", pd.Pid(), true)
	// When d goes, its name goes on every node.
	d.Close()
	waitGlobal(t, a, "ghost7", Pid{}, false)
	waitGlobal(t, b, "ghost7", Pid{}, false)
}
