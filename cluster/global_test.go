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
