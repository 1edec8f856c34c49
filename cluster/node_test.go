package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"gsh/cluster/portmap"
)

// startMapper runs a port mapper on a private loopback port for one test.
func startMapper(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := portmap.NewServer()
	m.Logf = t.Logf
	go m.Serve(ln)
	t.Cleanup(func() { m.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

func testModules() Modules {
	return Modules{
		"test": {
			"double": reflect.ValueOf(func(x int) int { return 2 * x }),
			"boom":   reflect.ValueOf(func(s string) { panic("boom: " + s) }),
			"fail":   reflect.ValueOf(func() (int, error) { return 0, errors.New("it failed") }),
			"down":   reflect.ValueOf(func() error { return ErrNodeDown }),
			"wait": reflect.ValueOf(func(ctx context.Context) error {
				<-ctx.Done()
				return ctx.Err()
			}),
			"echo": reflect.ValueOf(func(v any) any { return v }),
			"lookup": reflect.ValueOf(func(k string) (string, bool) {
				if k == "weather" {
					return "fine", true
				}
				return "", false
			}),
		},
	}
}

type testCluster struct {
	t      testing.TB
	mapper int
}

func newTestCluster(t testing.TB) *testCluster {
	return &testCluster{t: t, mapper: startMapper(t)}
}

func (c *testCluster) config(name, cookie string) *Config {
	cfg := DefaultConfig()
	cfg.Name = Atom(name + "@" + ShortHostname())
	cfg.Cookie = cookie
	cfg.ListenAddr = "127.0.0.1:0"
	cfg.MapperPort = c.mapper
	cfg.Handler = nodeHandler{testModules()}
	cfg.Logf = c.t.Logf
	return cfg
}

// waitUnregistered waits until the cluster's port mapper no longer lists name.
func (c *testCluster) waitUnregistered(name string) {
	c.t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", c.mapper)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for {
		if _, err := portmap.Lookup(context.Background(), addr, name); errors.Is(err, ErrUnknownNode) {
			return
		}
		select {
		case <-tick.C:
		case <-deadline:
			c.t.Fatalf("the port mapper still lists %s", name)
		}
	}
}

func (c *testCluster) start(name, cookie string) *Node {
	c.t.Helper()
	n, err := Start(context.Background(), c.config(name, cookie))
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { n.Close() })
	return n
}

// nodeHandler adds erlang.node to the test modules, as the builtins do.
type nodeHandler struct{ Modules }

func (h nodeHandler) HandleCall(ctx context.Context, from Atom, m, f string, args []any) (any, error) {
	if m == "erlang" && f == "node" {
		return from, nil // the caller's name: the test checks the callee knows it
	}
	return h.Modules.HandleCall(ctx, from, m, f, args)
}

func TestCallRoundTrip(t *testing.T) {
	c := newTestCluster(t)
	a, b := c.start("a", "abc"), c.start("b", "abc")
	ctx := context.Background()
	v, err := a.Call(ctx, b.Name(), "test", "double", 21)
	if err != nil || v != 42 {
		t.Fatalf("double(21) = %#v, %v; want 42", v, err)
	}
	v, err = a.Call(ctx, b.Name(), "erlang", "node")
	if err != nil || v != a.Name() {
		t.Fatalf("erlang.node() = %#v, %v; want %v", v, err, a.Name())
	}
	v, err = a.Call(ctx, b.Name(), "test", "lookup", "weather")
	if err != nil || v != "fine" {
		t.Fatalf("lookup(weather) = %#v, %v", v, err)
	}
	v, err = a.Call(ctx, b.Name(), "test", "lookup", "snow")
	if err != nil || v != Undefined {
		t.Fatalf("lookup(snow) = %#v, %v; want undefined", v, err)
	}
	// Both sides see one link, and calls go both ways over it.
	if got := a.Nodes(); len(got) != 1 || got[0] != b.Name() {
		t.Fatalf("a.Nodes() = %v", got)
	}
	v, err = b.Call(ctx, a.Name(), "test", "double", 1)
	if err != nil || v != 2 {
		t.Fatalf("b→a double(1) = %v, %v", v, err)
	}
	if got := b.Nodes(); len(got) != 1 || got[0] != a.Name() {
		t.Fatalf("b.Nodes() = %v", got)
	}
	// A call to this node's own name runs here.
	v, err = a.Call(ctx, a.Name(), "test", "double", 4)
	if err != nil || v != 8 {
		t.Fatalf("local double(4) = %v, %v", v, err)
	}
}

func TestCallConcurrent(t *testing.T) {
	c := newTestCluster(t)
	a, b := c.start("a", "abc"), c.start("b", "abc")
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				v, err := a.Call(context.Background(), b.Name(), "test", "double", i*100+j)
				if err != nil || v != 2*(i*100+j) {
					errs <- errors.Join(err, errors.New("wrong answer"))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestCallErrorKinds(t *testing.T) {
	c := newTestCluster(t)
	a, b := c.start("a", "abc"), c.start("b", "abc")
	ctx := context.Background()
	cases := []struct {
		module, function string
		args             []any
		want             error
		text             string
	}{
		{"nope", "f", nil, ErrUnknownModule, "nope"},
		{"test", "nope", nil, ErrUnknownFunction, "test.nope"},
		{"test", "double", []any{"x"}, ErrBadArgs, "does not fit int"},
		{"test", "double", []any{1, 2}, ErrBadArgs, "2 arguments given"},
		{"test", "boom", []any{"now"}, ErrPanic, "boom: now"},
		{"test", "fail", nil, nil, "it failed"},
		{"test", "down", nil, ErrNodeDown, "node down"},
	}
	for _, tc := range cases {
		_, err := a.Call(ctx, b.Name(), tc.module, tc.function, tc.args...)
		if err == nil {
			t.Errorf("%s.%s: no error", tc.module, tc.function)
			continue
		}
		if tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s.%s: %v is not %v", tc.module, tc.function, err, tc.want)
		}
		var re *RemoteError
		if !errors.As(err, &re) || re.Node != b.Name() {
			t.Errorf("%s.%s: %#v is not a RemoteError from %s", tc.module, tc.function, err, b.Name())
		}
		if !strings.Contains(err.Error(), tc.text) || !strings.Contains(err.Error(), string(b.Name())) {
			t.Errorf("%s.%s: %q does not say %q and the node", tc.module, tc.function, err, tc.text)
		}
	}
	// The link survives every failure.
	if v, err := a.Call(ctx, b.Name(), "test", "double", 3); err != nil || v != 6 {
		t.Fatalf("after the failures: %v, %v", v, err)
	}
}

func TestCallTimeout(t *testing.T) {
	c := newTestCluster(t)
	a, b := c.start("a", "abc"), c.start("b", "abc")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := a.Call(ctx, b.Name(), "test", "wait")
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("got %v, want ErrTimeout", err)
	}
	if v, err := a.Call(context.Background(), b.Name(), "test", "double", 5); err != nil || v != 10 {
		t.Fatalf("after a timeout: %v, %v", v, err)
	}
}

func TestWrongCookie(t *testing.T) {
	c := newTestCluster(t)
	var mu sync.Mutex
	var logged []string
	cfg := c.config("b", "right")
	cfg.Logf = func(f string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		logged = append(logged, sprintf(f, args...))
	}
	b, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	a := c.start("a", "wrong")
	_, err = a.Call(context.Background(), b.Name(), "test", "double", 1)
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "authentication failed") {
		t.Fatalf("got %v, want ErrAuth", err)
	}
	if err := a.Ping(context.Background(), b.Name()); !errors.Is(err, ErrAuth) {
		t.Fatalf("ping: %v", err)
	}
	if len(a.Nodes()) != 0 || len(b.Nodes()) != 0 {
		t.Fatalf("a link was made: %v %v", a.Nodes(), b.Nodes())
	}
	// The accepting side logged the claimed name and the address. The log
	// line is written before the connection closes, which the caller saw.
	mu.Lock()
	defer mu.Unlock()
	found := false
	for _, l := range logged {
		if strings.Contains(l, string(a.Name())) && strings.Contains(l, "127.0.0.1:") && strings.Contains(l, "authentication failed") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no log line naming %s and its address: %q", a.Name(), logged)
	}
}

func TestNodeDownAndRestart(t *testing.T) {
	c := newTestCluster(t)
	a, b := c.start("a", "abc"), c.start("b", "abc")
	ctx := context.Background()
	if err := a.Ping(ctx, b.Name()); err != nil {
		t.Fatal(err)
	}
	down := make(chan Atom, 1)
	stop := a.Watch(func(p Atom, up bool, _ error) {
		if !up {
			down <- p
		}
	})
	defer stop()
	b.Close()
	if p := <-down; p != b.Name() {
		t.Fatalf("down: %v", p)
	}
	_, err := a.Call(ctx, b.Name(), "test", "double", 1)
	if !errors.Is(err, ErrUnknownNode) && !errors.Is(err, ErrNodeDown) {
		t.Fatalf("call after close: %v", err)
	}
	// The same name starts again, once the port mapper has seen the old
	// registration's connection close, and calls to it work.
	c.waitUnregistered("b")
	b2 := c.start("b", "abc")
	if v, err := a.Call(ctx, b2.Name(), "test", "double", 2); err != nil || v != 4 {
		t.Fatalf("after restart: %v, %v", v, err)
	}
}

func TestNotDistributed(t *testing.T) {
	n, err := Start(context.Background(), DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if n.Name() != NoNode {
		t.Fatalf("name %v", n.Name())
	}
	_, err = n.Call(context.Background(), "gandalf@"+Atom(ShortHostname()), "erlang", "node")
	if !errors.Is(err, ErrNotDistributed) || strings.Contains(err.Error(), "-sname") {
		t.Fatalf("got %v", err)
	}
}

func TestNameTaken(t *testing.T) {
	c := newTestCluster(t)
	c.start("a", "abc")
	_, err := Start(context.Background(), c.config("a", "abc"))
	if !errors.Is(err, ErrNameTaken) || !strings.Contains(err.Error(), "already in use") {
		t.Fatalf("got %v", err)
	}
}

func TestShortAndLongNamesRefuse(t *testing.T) {
	c := newTestCluster(t)
	a := c.start("a", "abc")
	cfg := c.config("long", "abc")
	cfg.Name = "long@localhost.localdomain"
	cfg.LongNames = true
	l, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// The long-name node reaches the short-name node through this host's mapper.
	err = l.Ping(context.Background(), a.Name())
	if !errors.Is(err, ErrNameType) || !strings.Contains(err.Error(), "uses short names") || strings.Contains(err.Error(), "-sname") {
		t.Fatalf("got %v", err)
	}
}

func TestSimultaneousConnect(t *testing.T) {
	c := newTestCluster(t)
	for i := range 10 {
		a := c.start("x"+string(rune('a'+i)), "abc")
		b := c.start("y"+string(rune('a'+i)), "abc")
		var wg sync.WaitGroup
		var ea, eb error
		wg.Add(2)
		go func() { defer wg.Done(); ea = a.Connect(context.Background(), b.Name()) }()
		go func() { defer wg.Done(); eb = b.Connect(context.Background(), a.Name()) }()
		wg.Wait()
		if ea != nil || eb != nil {
			t.Fatalf("connect: %v / %v", ea, eb)
		}
		// Both sides settle on the same connection (one side may still be
		// registering it when Connect returns on the other).
		deadline := time.Now().Add(5 * time.Second)
		for {
			la, lb := linkOf(a, b.Name()), linkOf(b, a.Name())
			if la != nil && lb != nil && la.conn.LocalAddr().String() == lb.conn.RemoteAddr().String() {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: the nodes did not settle on one link: %v / %v", i, describeLink(la), describeLink(lb))
			}
			waitChange(a, b)
		}
		a.Close()
		b.Close()
	}
}

func describeLink(l *link) string {
	if l == nil {
		return "none"
	}
	return fmt.Sprintf("%v↔%v (dialled here: %v)", l.conn.LocalAddr(), l.conn.RemoteAddr(), l.client)
}

// waitChange waits until the links of a or b change, or a moment passes.
func waitChange(a, b *Node) {
	a.mu.Lock()
	ca := a.changed
	a.mu.Unlock()
	b.mu.Lock()
	cb := b.changed
	b.mu.Unlock()
	select {
	case <-ca:
	case <-cb:
	case <-time.After(50 * time.Millisecond):
	}
}

func linkOf(n *Node, peer Atom) *link {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.links[peer]
}

func TestGarbageOnNodePort(t *testing.T) {
	c := newTestCluster(t)
	a, b := c.start("a", "abc"), c.start("b", "abc")
	for _, junk := range []string{"", "GET / HTTP/1.0\r\n\r\n", "GSH1\x00\xff", strings.Repeat("\x00", 100)} {
		conn, err := net.Dial("tcp", b.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conn.Write([]byte(junk))
		if junk == "" {
			conn.Close()
			continue
		}
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 512)
		for { // the node closes the connection
			if _, err := conn.Read(buf); err != nil {
				break
			}
		}
		conn.Close()
	}
	if v, err := a.Call(context.Background(), b.Name(), "test", "double", 1); err != nil || v != 2 {
		t.Fatalf("after garbage: %v, %v", v, err)
	}
}

func TestValuesCrossTheWire(t *testing.T) {
	c := newTestCluster(t)
	a, b := c.start("a", "abc"), c.start("b", "abc")
	pid := Pid{Node: a.Name(), ID: 7, Creation: 1}
	for _, v := range []any{nil, true, 1, -5, 1.5, "s", []byte{1, 2}, []any{1, "a", []any{2.0}}, map[any]any{"k": 1}, Atom("pong"), pid} {
		got, err := a.Call(context.Background(), b.Name(), "test", "echo", v)
		if err != nil || !reflect.DeepEqual(got, v) {
			t.Errorf("echo(%#v) = %#v, %v", v, got, err)
		}
	}
}

func BenchmarkCall(b *testing.B) {
	c := newTestCluster(b)
	x, y := c.start("a", "abc"), c.start("b", "abc")
	ctx := context.Background()
	if err := x.Connect(ctx, y.Name()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := x.Call(ctx, y.Name(), "erlang", "node"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCallParallel(b *testing.B) {
	c := newTestCluster(b)
	x, y := c.start("a", "abc"), c.start("b", "abc")
	ctx := context.Background()
	if err := x.Connect(ctx, y.Name()); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := x.Call(ctx, y.Name(), "erlang", "node"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func sprintf(f string, args ...any) string { return fmt.Sprintf(f, args...) }

// TestCallRightAfterDisconnect: a call made while the old link is still
// closing waits for it to go and links again, as after disconnect_node in
// Erlang, instead of failing on the link being closed.
func TestCallRightAfterDisconnect(t *testing.T) {
	c := newTestCluster(t)
	a, b := c.start("a", "abc"), c.start("b", "abc")
	ctx := context.Background()
	for i := range 100 {
		if err := a.Connect(ctx, b.Name()); err != nil {
			t.Fatalf("round %d: connect: %v", i, err)
		}
		a.Disconnect(b.Name())
		if v, err := a.Call(ctx, b.Name(), "test", "double", i); err != nil || v != 2*i {
			t.Fatalf("round %d: a call right after Disconnect: %v, %v", i, v, err)
		}
		a.Disconnect(b.Name())
	}
}

// TestCallTimeoutIsATimeout: a served function stopped at the caller's
// deadline may reply before the caller's own timer fires; the caller must
// see a timeout either way, never the function's reaction to being stopped.
func TestCallTimeoutIsATimeout(t *testing.T) {
	c := newTestCluster(t)
	a := c.start("a", "abc")
	cfg := c.config("b", "abc")
	cfg.Handler = Modules{"t": {"stopped": reflect.ValueOf(func(ctx context.Context) {
		<-ctx.Done()
		panic("interrupted") // as interpreted code does when stopped
	})}}
	b, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for i := range 50 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		_, err := a.Call(ctx, b.Name(), "t", "stopped")
		cancel()
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("call %d: got %v, want ErrTimeout", i, err)
		}
	}
}
