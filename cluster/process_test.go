package cluster

import (
	"context"
	"reflect"
	"runtime"
	"testing"
	"time"
)

// procModules are functions that run as processes in the tests.
func procModules() Modules {
	m := testModules()
	m["proc"] = map[string]reflect.Value{
		// echo answers {from, x} with x until it gets "stop".
		"echo": reflect.ValueOf(func(ctx context.Context) error {
			p, _ := ProcessOf(ctx)
			for {
				msg, _, err := p.Receive(ctx, nil, -1)
				if err != nil {
					return err
				}
				if msg == "stop" {
					return nil
				}
				if a, ok := msg.([]any); ok && len(a) == 2 {
					p.node.Send(a[0], a[1])
				}
			}
		}),
		"crash": reflect.ValueOf(func(ctx context.Context, why string) {
			p, _ := ProcessOf(ctx)
			p.Receive(ctx, nil, -1)
			panic(why)
		}),
		"wait": reflect.ValueOf(func(ctx context.Context) error {
			p, _ := ProcessOf(ctx)
			_, _, err := p.Receive(ctx, func(any) bool { return false }, -1)
			return err
		}),
	}
	return m
}

func (c *testCluster) startProcs(name string) *Node {
	c.t.Helper()
	cfg := c.config(name, "abc")
	cfg.Handler = nodeHandler{procModules()}
	n, err := Start(context.Background(), cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { n.Close() })
	return n
}

func recv(t *testing.T, p *Process) any {
	t.Helper()
	m, ok, err := p.Receive(context.Background(), nil, 10*time.Second)
	if err != nil || !ok {
		t.Fatalf("no message: %v", err)
	}
	return m
}

func TestLocalSpawnSendReceive(t *testing.T) {
	c := newTestCluster(t)
	n := c.startProcs("a")
	me := n.NewProcess()
	defer me.Exit(Normal)
	echo := n.Spawn(func(p *Process) {
		for {
			m, _, err := p.Receive(context.Background(), nil, -1)
			if err != nil || m == "stop" {
				return
			}
			a := m.([]any)
			n.Send(a[0], a[1])
		}
	}, nil)
	n.Send(echo.Pid(), []any{me.Pid(), "hello"})
	if m := recv(t, me); m != "hello" {
		t.Fatalf("got %v", m)
	}
	// Selective receive leaves the others queued in order.
	me.Deliver(1)
	me.Deliver("two")
	me.Deliver(3)
	m, ok, _ := me.Receive(context.Background(), func(v any) bool { _, s := v.(string); return s }, 0)
	if !ok || m != "two" {
		t.Fatalf("selective: %v", m)
	}
	if a, b := recv(t, me), recv(t, me); a != 1 || b != 3 {
		t.Fatalf("order after selective receive: %v %v", a, b)
	}
	// A timeout gives ok false.
	if _, ok, err := me.Receive(context.Background(), nil, 10*time.Millisecond); ok || err != nil {
		t.Fatalf("timeout: %v %v", ok, err)
	}
	// Registered names.
	if err := n.Register("echo", echo.Pid()); err != nil {
		t.Fatal(err)
	}
	if err := n.Register("echo", me.Pid()); err == nil {
		t.Fatal("a taken name was registered again")
	}
	n.Send("echo", []any{me.Pid(), "by name"})
	if m := recv(t, me); m != "by name" {
		t.Fatalf("got %v", m)
	}
	if pid, ok := n.Whereis("echo"); !ok || pid != echo.Pid() {
		t.Fatalf("whereis: %v %v", pid, ok)
	}
	ref := me.Monitor(echo.Pid())
	n.Send("echo", "stop")
	if d := recv(t, me).(Down); d.Ref != ref || d.Reason != Normal || d.Pid != echo.Pid() {
		t.Fatalf("down: %+v", d)
	}
	if _, ok := n.Whereis("echo"); ok {
		t.Fatal("the name outlived its process")
	}
}

func TestLinksAndTrapExit(t *testing.T) {
	c := newTestCluster(t)
	n := c.startProcs("a")
	me := n.NewProcess()
	defer me.Exit(Normal)
	me.SetTrapExit(true)
	crasher := n.Spawn(func(p *Process) {
		p.Receive(context.Background(), nil, -1)
		panic("bad thing")
	}, ptr(me.Pid()))
	// A plain process linked to the crasher dies with it.
	bystander := n.Spawn(func(p *Process) {
		p.Receive(context.Background(), func(any) bool { return false }, -1)
	}, ptr(crasher.Pid()))
	ref := me.Monitor(bystander.Pid())
	n.Send(crasher.Pid(), "go")
	got := map[string]any{}
	for range 2 {
		switch m := recv(t, me).(type) {
		case Exit:
			got["exit"] = m.Reason
		case Down:
			if m.Ref != ref {
				t.Fatalf("down for %v", m.Ref)
			}
			got["down"] = m.Reason
		}
	}
	if got["exit"] != "bad thing" || got["down"] != "bad thing" {
		t.Fatalf("got %v", got)
	}
	if !me.Alive() {
		t.Fatal("the trapping process died")
	}
	// Monitoring a dead process gives noproc at once.
	me.Monitor(crasher.Pid())
	if d := recv(t, me).(Down); d.Reason != NoProc {
		t.Fatalf("got %v", d)
	}
}

func ptr(p Pid) *Pid { return &p }

func TestRemoteProcesses(t *testing.T) {
	c := newTestCluster(t)
	a, b := c.startProcs("a"), c.startProcs("b")
	ctx := context.Background()
	me := a.NewProcess()
	defer me.Exit(Normal)
	echo, err := a.SpawnRemote(ctx, b.Name(), "proc", "echo", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if echo.Node != b.Name() {
		t.Fatalf("spawned on %v", echo.Node)
	}
	for i := range 100 {
		a.Send(echo, []any{me.Pid(), i})
		if m := recv(t, me); m != i {
			t.Fatalf("ping %d: got %v", i, m)
		}
	}
	// Named send to another node.
	if err := b.Register("echo", echo); err != nil {
		t.Fatal(err)
	}
	a.Send(Name{Name: "echo", Node: b.Name()}, []any{me.Pid(), "by name"})
	if m := recv(t, me); m != "by name" {
		t.Fatalf("got %v", m)
	}
	// A remote panic: the monitor gets the panic's message.
	crasher, err := a.SpawnRemote(ctx, b.Name(), "proc", "crash", []any{"oops"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ref := me.Monitor(crasher)
	a.Send(crasher, "now")
	d := recv(t, me).(Down)
	if d.Ref != ref || d.Pid != crasher || d.Reason != "oops" {
		t.Fatalf("down: %+v", d)
	}
	// spawn_link across nodes: a trapping caller gets the exit.
	me.SetTrapExit(true)
	linked, err := a.SpawnRemote(ctx, b.Name(), "proc", "crash", []any{"linked"}, ptr(me.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	a.Send(linked, "now")
	if e := recv(t, me).(Exit); e.From != linked || e.Reason != "linked" {
		t.Fatalf("exit: %+v", e)
	}
	// Losing the node: monitors fire with noconnection, monitor_node fires.
	waiter, err := a.SpawnRemote(ctx, b.Name(), "proc", "wait", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	wref := me.Monitor(waiter)
	me.MonitorNode(b.Name(), true)
	b.Close()
	got := map[string]bool{}
	for range 2 {
		switch m := recv(t, me).(type) {
		case Down:
			if m.Ref != wref || m.Reason != NoConnection {
				t.Fatalf("down: %+v", m)
			}
			got["down"] = true
		case NodeDown:
			if m.Node != b.Name() {
				t.Fatalf("nodedown: %+v", m)
			}
			got["nodedown"] = true
		default:
			t.Fatalf("unexpected %#v", m)
		}
	}
}

func TestTransitiveConnections(t *testing.T) {
	c := newTestCluster(t)
	a, b, x := c.startProcs("a"), c.startProcs("b"), c.startProcs("c")
	ctx := context.Background()
	w := x.NewProcess()
	w.MonitorNodes(true)
	if err := a.Connect(ctx, b.Name()); err != nil {
		t.Fatal(err)
	}
	if err := x.Connect(ctx, b.Name()); err != nil {
		t.Fatal(err)
	}
	// c hears of a from b and connects to it.
	seen := map[Atom]bool{}
	for len(seen) < 2 {
		if up, ok := recv(t, w).(NodeUp); ok {
			seen[up.Node] = true
		}
	}
	if !seen[a.Name()] || !seen[b.Name()] {
		t.Fatalf("nodeup for %v", seen)
	}
	for _, n := range []*Node{a, b, x} {
		waitLinks(t, n, 2)
	}
}

// waitLinks waits until n has k links.
func waitLinks(t *testing.T, n *Node, k int) {
	t.Helper()
	changed := make(chan struct{}, 1)
	stop := n.Watch(func(Atom, bool, error) {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	defer stop()
	deadline := time.After(10 * time.Second)
	for len(n.Nodes()) != k {
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("%s knows %v, want %d nodes", n.Name(), n.Nodes(), k)
		}
	}
}

func TestCast(t *testing.T) {
	c := newTestCluster(t)
	a, b := c.startProcs("a"), c.startProcs("b")
	me := a.NewProcess()
	defer me.Exit(Normal)
	// echo on b, reached by a cast that starts nothing but sends.
	if err := a.Cast(b.Name(), "test", "echo", 1); err != nil {
		t.Fatal(err)
	}
	// A cast to a missing function is only logged on b; the link lives.
	if err := a.Cast(b.Name(), "test", "nothere"); err != nil {
		t.Fatal(err)
	}
	if v, err := a.Call(context.Background(), b.Name(), "test", "double", 2); err != nil || v != 4 {
		t.Fatalf("after casts: %v %v", v, err)
	}
}

func BenchmarkPingPong(b *testing.B) {
	c := newTestCluster(b)
	x, y := c.startProcs("a"), c.startProcs("b")
	ctx := context.Background()
	me := x.NewProcess()
	echo, err := x.SpawnRemote(ctx, y.Name(), "proc", "echo", nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	msg := []any{me.Pid(), "x"}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		x.Send(echo, msg)
		if _, ok, err := me.Receive(ctx, nil, -1); !ok || err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSendOneWay(b *testing.B) {
	c := newTestCluster(b)
	x, y := c.startProcs("a"), c.startProcs("b")
	me := x.NewProcess()
	done := make(chan int, 1)
	sink := y.Spawn(func(p *Process) {
		k := 0
		for {
			m, _, err := p.Receive(context.Background(), nil, -1)
			if err != nil {
				return
			}
			if a, ok := m.([]any); ok && a[0] == "done" {
				done <- k
				k = 0
				continue
			}
			k++
		}
	}, nil)
	msg := []any{Atom("msg"), 42}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		x.Send(sink.Pid(), msg)
	}
	x.Send(sink.Pid(), []any{"done", me.Pid()})
	if k := <-done; k != b.N {
		b.Fatalf("sink counted %d of %d", k, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkSpawnLocal(b *testing.B) {
	c := newTestCluster(b)
	x := c.startProcs("a")
	b.ReportAllocs()
	for b.Loop() {
		p := x.Spawn(func(*Process) {}, nil)
		<-p.Done()
	}
}

func TestHiddenNodes(t *testing.T) {
	c := newTestCluster(t)
	a, b := c.startProcs("a"), c.startProcs("b")
	cfg := c.config("h", "abc")
	cfg.Hidden = true
	h, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ctx := context.Background()
	if err := a.Connect(ctx, b.Name()); err != nil {
		t.Fatal(err)
	}
	if err := h.Ping(ctx, a.Name()); err != nil {
		t.Fatal(err)
	}
	// The link is hidden on both sides, and h is not passed on to b.
	waitLinks(t, a, 1)
	// h's ping is answered by a's yamux, which may come before a records
	// the link: wait for a to list h.
	poll(t, 10*time.Second, "a listing h as hidden", func() bool { return len(a.HiddenNodes()) == 1 })
	if got := a.HiddenNodes(); len(got) != 1 || got[0] != h.Name() {
		t.Fatalf("a's hidden nodes: %v", got)
	}
	if got := h.Nodes(); len(got) != 0 {
		t.Fatalf("h's visible nodes: %v", got)
	}
	if got := h.HiddenNodes(); len(got) != 1 || got[0] != a.Name() {
		t.Fatalf("h's hidden nodes: %v", got)
	}
	if v, err := b.Call(ctx, a.Name(), "test", "double", 1); err != nil || v != 2 {
		t.Fatal(v, err)
	}
	if got := append(b.Nodes(), b.HiddenNodes()...); len(got) != 1 || got[0] != a.Name() {
		t.Fatalf("b knows %v", got)
	}
}

// BenchmarkIdleProcess reports the memory one idle process (blocked in
// Receive) costs.
func BenchmarkIdleProcess(b *testing.B) {
	c := newTestCluster(b)
	n := c.startProcs("a")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ps := make([]*Process, 0, b.N)
	for b.Loop() {
		ps = append(ps, n.Spawn(func(p *Process) { p.Receive(context.Background(), nil, -1) }, nil))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapInuse+after.StackInuse-before.HeapInuse-before.StackInuse)/float64(len(ps)), "bytes/process")
	for _, p := range ps {
		p.Kill(nil)
	}
}

// TestKilledProcessReason: a process killed while its body returns as its
// context ends exits with the kill's reason, never normal. Kill cancels the
// context before it records the reason; the body may return in between,
// which the test makes certain by cancelling alone.
func TestKilledProcessReason(t *testing.T) {
	c := newTestCluster(t)
	n := c.start("a", "abc")
	p := n.Spawn(func(p *Process) { <-p.Context().Done() }, nil)
	p.cancel(&ExitError{Reason: Killed}) // as Kill does first
	<-p.Done()
	if r := p.Reason(); r != Killed {
		t.Fatalf("a killed process ended with %v", r)
	}
}
