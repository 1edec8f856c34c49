package cluster

// Faults injected into running nodes: a link cut silently, a peer that stops
// reading its socket, the port mapper killed and restarted, a process that
// does not read its mailbox while another node floods it, and a check that
// nodes leave no goroutine behind. Every wait is on an event, or polls
// external state with a ticker and a deadline; detection times are logged,
// never asserted against a tight bound.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"gsh/cluster/portmap"
)

// raceEnabled reports whether the test binary was built with -race, which
// makes the codec about ten times slower: the floods are smaller then.
var raceEnabled = func() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}()

// ---- a TCP proxy that fails on command ----

type proxyMode int32

const (
	proxyForward   proxyMode = iota
	proxyBlackhole           // read and drop everything both ways, close nothing: a silent cut
	proxyStall               // stop reading from the dialing side, close nothing; the other way flows
)

// tcpProxy forwards the connections made to it to target, until told to
// fail. It never closes one side because the other closed once it fails, as
// a lost network would not.
type tcpProxy struct {
	ln     net.Listener
	target string
	mode   atomic.Int32
	quit   chan struct{}
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newProxy(t testing.TB, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target, quit: make(chan struct{})}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *tcpProxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func (p *tcpProxy) set(m proxyMode) { p.mode.Store(int32(m)) }

func (p *tcpProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, s, true)
		go p.pipe(s, c, false)
	}
}

func (p *tcpProxy) pipe(from, to net.Conn, fromDialer bool) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		if fromDialer && proxyMode(p.mode.Load()) == proxyStall {
			<-p.quit
			return
		}
		n, err := from.Read(buf)
		mode := proxyMode(p.mode.Load())
		if err != nil {
			if mode == proxyForward {
				to.Close()
			}
			return
		}
		switch {
		case mode == proxyBlackhole:
			continue
		case mode == proxyStall && fromDialer:
			<-p.quit
			return
		}
		if _, err := to.Write(buf[:n]); err != nil {
			return
		}
	}
}

func (p *tcpProxy) close() {
	select {
	case <-p.quit:
		return
	default:
	}
	close(p.quit)
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// ---- helpers ----

// faultModules are procModules with fault.block, which tells entered that a
// call arrived and then waits for the call's context to end.
func faultModules(entered chan<- struct{}) Modules {
	m := procModules()
	m["fault"] = map[string]reflect.Value{
		"block": reflect.ValueOf(func(ctx context.Context) error {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-ctx.Done()
			return ctx.Err()
		}),
	}
	return m
}

func (c *testCluster) startCfg(cfg *Config) *Node {
	c.t.Helper()
	n, err := Start(context.Background(), cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { n.Close() })
	return n
}

// register makes a port mapper entry for alive at port that lasts the test.
func register(t testing.TB, mapperPort int, alive string, port int) {
	t.Helper()
	r, err := portmap.Register(context.Background(), "127.0.0.1:"+strconv.Itoa(mapperPort), alive, port, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
}

// cutPair starts nodes a and b with the given tick time such that a reaches
// b only through a proxy: b registers with the cluster's port mapper, a with
// a mapper of its own in which "b" is the proxy's port.
func cutPair(t *testing.T, tick time.Duration, entered chan<- struct{}) (c *testCluster, a, b *Node, px *tcpProxy, aMapper int) {
	c = newTestCluster(t)
	cfg := c.config("b", "abc")
	cfg.TickTime = tick
	cfg.Handler = nodeHandler{faultModules(entered)}
	b = c.startCfg(cfg)
	px = newProxy(t, b.Addr().String())
	aMapper = startMapper(t)
	register(t, aMapper, "b", px.port())
	cfg = c.config("a", "abc")
	cfg.TickTime = tick
	cfg.MapperPort = aMapper
	cfg.Handler = nodeHandler{faultModules(entered)}
	a = c.startCfg(cfg)
	if v, err := a.Call(context.Background(), b.Name(), "test", "double", 2); err != nil || v != 4 {
		t.Fatalf("a→b through the proxy: %v, %v", v, err)
	}
	if l := linkOf(a, b.Name()); l == nil || l.conn.RemoteAddr().(*net.TCPAddr).Port != px.port() {
		t.Fatal("a's link to b does not go through the proxy")
	}
	return c, a, b, px, aMapper
}

// watchDown returns a channel that receives why n's link to peer went down,
// the first time it does.
func watchDown(t *testing.T, n *Node, peer Atom) <-chan error {
	ch := make(chan error, 1)
	stop := n.Watch(func(p Atom, up bool, reason error) {
		if p == peer && !up {
			select {
			case ch <- reason:
			default:
			}
		}
	})
	t.Cleanup(stop)
	return ch
}

// waitEvent waits for one value from ch, failing the test after timeout.
func waitEvent[T any](t *testing.T, ch <-chan T, timeout time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(timeout):
		t.Fatalf("no %s within %v", what, timeout)
		panic("unreachable")
	}
}

// poll calls cond every 10 ms until it holds, failing the test after timeout.
// It is for state the test cannot wait on (a mailbox, a port mapper).
func poll(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("%s: not within %v", what, timeout)
		}
	}
}

// heapInuse is the heap in use after a collection.
func heapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// heapSampler records the peak of heapInuse, sampled every period, until
// stopped.
type heapSampler struct {
	peak atomic.Uint64
	stop chan struct{}
	done chan struct{}
}

func sampleHeap(period time.Duration) *heapSampler {
	s := &heapSampler{stop: make(chan struct{}), done: make(chan struct{})}
	s.peak.Store(heapInuse())
	go func() {
		defer close(s.done)
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
			if h := heapInuse(); h > s.peak.Load() {
				s.peak.Store(h)
			}
		}
	}()
	return s
}

func (s *heapSampler) end() uint64 {
	close(s.stop)
	<-s.done
	if h := heapInuse(); h > s.peak.Load() {
		s.peak.Store(h)
	}
	return s.peak.Load()
}

const mib = 1 << 20

// ---- a link cut silently ----

// TestSilentLinkCut cuts the link between a and b without closing either
// socket: no FIN, no RST, the bytes just stop. The keepalive (TickTime)
// finds it: a's pending call fails with ErrNodeDown, Watch reports the link
// down on both sides, and monitors fire with noconnection.
func TestSilentLinkCut(t *testing.T) {
	const tick = 600 * time.Millisecond
	entered := make(chan struct{}, 1)
	_, a, b, px, _ := cutPair(t, tick, entered)
	ctx := context.Background()

	me := a.NewProcess()
	defer me.Exit(Normal)
	waiter, err := a.SpawnRemote(ctx, b.Name(), "proc", "wait", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ref := me.Monitor(waiter)
	me.MonitorNode(b.Name(), true)
	// b watches a process on a too.
	bme := b.NewProcess()
	defer bme.Exit(Normal)
	aProc := a.NewProcess()
	defer aProc.Exit(Normal)
	bref := bme.Monitor(aProc.Pid())

	aDown, bDown := watchDown(t, a, b.Name()), watchDown(t, b, a.Name())
	callErr := make(chan error, 1)
	go func() {
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		_, err := a.Call(cctx, b.Name(), "fault", "block")
		callErr <- err
	}()
	waitEvent(t, entered, 10*time.Second, "pending call on b")

	cut := time.Now()
	px.set(proxyBlackhole)
	deadline := 20 * tick
	reason := waitEvent(t, aDown, deadline, "link down on a")
	t.Logf("a declared b down %v after the cut (TickTime %v): %v", time.Since(cut).Round(time.Millisecond), tick, reason)
	err = waitEvent(t, callErr, deadline, "end of the pending call")
	if !errors.Is(err, ErrNodeDown) {
		t.Fatalf("pending call: %v, want ErrNodeDown", err)
	}
	t.Logf("pending call failed %v after the cut: %v", time.Since(cut).Round(time.Millisecond), err)
	reason = waitEvent(t, bDown, deadline, "link down on b")
	t.Logf("b declared a down %v after the cut: %v", time.Since(cut).Round(time.Millisecond), reason)

	got := map[string]bool{}
	for range 2 {
		switch m := recv(t, me).(type) {
		case Down:
			if m.Ref != ref || m.Pid != waiter || m.Reason != NoConnection {
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
	if d, ok := recv(t, bme).(Down); !ok || d.Ref != bref || d.Reason != NoConnection {
		t.Fatalf("b's monitor of a process on a: %#v", d)
	}
	if len(a.Nodes()) != 0 || len(b.Nodes()) != 0 {
		t.Fatalf("links left: %v %v", a.Nodes(), b.Nodes())
	}
}

// ---- a peer that stops reading ----

// TestStuckPeer stops reading what a writes to b (the connection stays
// open, and b's bytes still reach a) while a floods b with messages: a's
// senders wait once the link's signal buffer is full, so a's memory stays
// bounded; a's calls to another node go on; and the keepalive declares the
// stuck link down, which frees the waiting senders with ErrNodeDown.
func TestStuckPeer(t *testing.T) {
	const tick = 1500 * time.Millisecond
	c, a, b, px, aMapper := cutPair(t, tick, nil)
	cfg := c.config("x", "abc")
	cfg.TickTime = tick
	x := c.startCfg(cfg)
	register(t, aMapper, "x", x.Port()) // a finds x directly
	ctx := context.Background()
	if v, err := a.Call(ctx, x.Name(), "test", "double", 1); err != nil || v != 2 {
		t.Fatalf("a→x: %v, %v", v, err)
	}
	sink := b.NewProcess()
	defer sink.Exit(Normal)
	aDown := watchDown(t, a, b.Name())
	l := linkOf(a, b.Name())
	base := heapInuse()

	stuck := time.Now()
	px.set(proxyStall)
	const senders = 4
	msg := make([]byte, 64<<10)
	var sent atomic.Int64
	floodErr := make(chan error, senders)
	for range senders {
		go func() {
			for {
				if err := a.Send(sink.Pid(), msg); err != nil {
					floodErr <- err
					return
				}
				sent.Add(1)
			}
		}()
	}
	// The flood fills the link's signal buffer and the senders wait.
	poll(t, 10*time.Second, "a full signal buffer", func() bool {
		select {
		case <-l.done:
			t.Fatalf("the link went down before its signal buffer filled (%d messages sent)", sent.Load())
		default:
		}
		if l.fast {
			// Signals go on the connection itself: its queue is full.
			l.fc.mu.Lock()
			defer l.fc.mu.Unlock()
			return len(l.fc.prio.buf) > maxQueuedWrite
		}
		w := l.signals()
		w.mu.Lock()
		defer w.mu.Unlock()
		return len(w.out.buf) > maxPendingSignals
	})
	held := heapInuse()
	t.Logf("buffer full after %d messages of 64 KiB; heap %d MiB over the start", sent.Load(), (int64(held)-int64(base))/mib)
	// Calls to another node go on while the link to b is stuck.
	calls := 0
	for done := false; !done; {
		if v, err := a.Call(ctx, x.Name(), "test", "double", calls); err != nil || v != 2*calls {
			t.Fatalf("a→x while the link to b is stuck: %v, %v", v, err)
		}
		if v, err := x.Call(ctx, a.Name(), "test", "double", calls); err != nil || v != 2*calls {
			t.Fatalf("x→a while the link to b is stuck: %v, %v", v, err)
		}
		calls++
		select {
		case reason := <-aDown:
			t.Logf("a declared b down %v after it stopped reading (TickTime %v): %v; %d calls to x meanwhile", time.Since(stuck).Round(time.Millisecond), tick, reason, calls)
			done = true
		case <-time.After(10 * time.Millisecond):
			if time.Since(stuck) > 20*tick {
				t.Fatalf("the stuck link was not declared down within %v", 20*tick)
			}
		}
	}
	for range senders {
		if err := waitEvent(t, floodErr, 10*time.Second, "a sender let go"); !errors.Is(err, ErrNodeDown) {
			t.Fatalf("sender: %v, want ErrNodeDown", err)
		}
	}
	// The writer held at most two signal buffers (one being written, one
	// filling) and a few messages in flight.
	bound := uint64(2*maxPendingSignals + 8*mib)
	if held > base+bound {
		t.Fatalf("heap grew by %d MiB while the peer did not read, over the bound of %d MiB", (held-base)/mib, bound/mib)
	}
	if v, err := a.Call(ctx, x.Name(), "test", "double", 5); err != nil || v != 10 {
		t.Fatalf("a→x after: %v, %v", v, err)
	}
}

// ---- the port mapper killed ----

// TestPortMapperRestart kills the port mapper under two linked nodes: their
// link and calls go on, and once a mapper is back on the same port they
// register again by themselves (the nodes are not restarted), so that a new
// node finds them.
func TestPortMapperRestart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	addr := ln.Addr().String()
	m1 := portmap.NewServer()
	m1.Logf = t.Logf
	go m1.Serve(ln)
	defer m1.Close()
	c := &testCluster{t: t, mapper: port}
	a, b := c.start("a", "abc"), c.start("b", "abc")
	ctx := context.Background()
	if v, err := a.Call(ctx, b.Name(), "test", "double", 1); err != nil || v != 2 {
		t.Fatalf("%v %v", v, err)
	}
	la, lb := linkOf(a, b.Name()), linkOf(b, a.Name())
	regA, regB := a.reg.Load(), b.reg.Load()

	m1.Close()
	waitEvent(t, regA.Done(), 10*time.Second, "a losing its registration")
	waitEvent(t, regB.Done(), 10*time.Second, "b losing its registration")
	for i := range 20 {
		if v, err := a.Call(ctx, b.Name(), "test", "double", i); err != nil || v != 2*i {
			t.Fatalf("a→b with no port mapper: %v, %v", v, err)
		}
		if v, err := b.Call(ctx, a.Name(), "test", "double", i); err != nil || v != 2*i {
			t.Fatalf("b→a with no port mapper: %v, %v", v, err)
		}
	}

	// A new mapper on the same port.
	var ln2 net.Listener
	poll(t, 10*time.Second, "listening on the mapper's port again", func() bool {
		ln2, err = net.Listen("tcp", addr)
		return err == nil
	})
	m2 := portmap.NewServer()
	m2.Logf = t.Logf
	go m2.Serve(ln2)
	defer m2.Close()
	back := time.Now()
	poll(t, 15*time.Second, "both nodes registered again", func() bool {
		names, err := portmap.List(ctx, addr)
		return err == nil && len(names) == 2
	})
	t.Logf("both nodes registered again %v after the mapper came back", time.Since(back).Round(time.Millisecond))
	for _, e := range m2.Names() {
		want := map[string]int{"a": a.Port(), "b": b.Port()}[e.Name]
		if e.Port != want {
			t.Fatalf("mapper entry %+v, want port %d", e, want)
		}
	}
	if linkOf(a, b.Name()) != la || linkOf(b, a.Name()) != lb {
		t.Fatal("the link was made again")
	}
	// A newcomer finds both through the new mapper.
	x := c.start("x", "abc")
	for _, n := range []*Node{a, b} {
		if v, err := x.Call(ctx, n.Name(), "erlang", "node"); err != nil || v != x.Name() {
			t.Fatalf("x→%s: %v, %v", n.Name(), v, err)
		}
	}
}

// ---- a slow consumer ----

// TestSlowConsumer floods a process that does not read its mailbox. The
// mailbox limit keeps the flood from filling the memory: the messages over
// it are dropped, counted and logged once (see DefaultMailboxLimit), and
// nothing waits for the process: calls on the same link answer both ways
// and other links work throughout, and the sender is never held. Then the
// process reads what it holds: the first messages, in order; with the
// dropped ones they account for every message sent.
func TestSlowConsumer(t *testing.T) {
	c := newTestCluster(t)
	logs := &logLines{t: t}
	cfg := c.config("b", "abc")
	cfg.Handler = nodeHandler{procModules()}
	cfg.Logf = logs.logf
	b := c.startCfg(cfg)
	a, x := c.startProcs("a"), c.startProcs("x")
	ctx := context.Background()
	total := 1_000_000
	if raceEnabled {
		total = 100_000
	}
	const limit = 4 * mib
	consumer := b.NewProcess()
	defer consumer.Exit(Normal)
	consumer.SetMailboxLimit(limit)
	xme := x.NewProcess()
	defer xme.Exit(Normal)
	for _, p := range []Atom{b.Name(), x.Name()} {
		if err := a.Connect(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	base := heapInuse()
	heap := sampleHeap(100 * time.Millisecond)
	floodDone := make(chan error, 1)
	start := time.Now()
	go func() {
		for i := range total {
			if err := a.Send(consumer.Pid(), []any{Atom("m"), i}); err != nil {
				floodDone <- fmt.Errorf("message %d: %w", i, err)
				return
			}
		}
		floodDone <- nil
	}()
	poll(t, time.Minute, "the consumer's mailbox full", func() bool { return consumer.Info().Dropped > 0 })
	t.Logf("mailbox full (%d messages) after %v", consumer.MailboxLen(), time.Since(start).Round(time.Millisecond))

	// Calls on the same link go on, both ways, and other links, during the
	// flood.
	for i := range 20 {
		for _, call := range []struct {
			from *Node
			to   Atom
		}{{a, b.Name()}, {b, a.Name()}, {a, x.Name()}, {x, b.Name()}} {
			if v, err := call.from.Call(ctx, call.to, "test", "double", i); err != nil || v != 2*i {
				t.Fatalf("%s→%s while the consumer is full: %v, %v", call.from.Name(), call.to, v, err)
			}
		}
	}
	if err := a.Send(xme.Pid(), "to x"); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, xme); m != "to x" {
		t.Fatalf("x got %v", m)
	}
	if err := waitEvent(t, floodDone, 5*time.Minute, "the end of the flood"); err != nil {
		t.Fatal(err)
	}
	sent := time.Since(start)
	// Every message is queued or counted as dropped.
	poll(t, time.Minute, "every message queued or dropped", func() bool {
		info := consumer.Info()
		return uint64(info.Mailbox)+info.Dropped == uint64(total)
	})
	info := consumer.Info()
	t.Logf("%d messages sent in %v: %d queued, %d dropped", total, sent.Round(time.Millisecond), info.Mailbox, info.Dropped)
	peak := heap.end()
	// The consumer reads the first messages, in order.
	for i := range info.Mailbox {
		m, ok, err := consumer.Receive(ctx, nil, 0)
		if err != nil || !ok {
			t.Fatalf("message %d: %v", i, err)
		}
		if a, ok := m.([]any); !ok || len(a) != 2 || a[1] != i {
			t.Fatalf("message %d is %#v", i, m)
		}
	}
	if lines := logs.matching(consumer.Pid().String()); len(lines) != 1 || !strings.Contains(lines[0], "does not keep up") {
		t.Fatalf("log lines about the consumer: %q, want one", lines)
	}
	// Once it reads, messages get in again.
	if err := a.Send(consumer.Pid(), "again"); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, consumer); m != "again" {
		t.Fatalf("after reading: %v", m)
	}
	// What the flood may hold at once: the mailbox (its limit is an
	// estimate: allow twice), the sender's two signal buffers, and slack for
	// the rest of the test's heap.
	bound := uint64(2*limit + 2*maxPendingSignals + 16*mib)
	t.Logf("heap peak %d MiB over the start (bound %d MiB)", (int64(peak)-int64(base))/mib, bound/mib)
	if peak > base+bound {
		t.Fatalf("heap grew by %d MiB, over the bound of %d MiB", (peak-base)/mib, bound/mib)
	}
}

// TestMailboxLimit checks the limit's rules: a message alone always gets in,
// the ones over the limit are dropped and counted, reading makes room, a
// limit of 0 means none, and messages from the same node are never dropped.
func TestMailboxLimit(t *testing.T) {
	c := newTestCluster(t)
	a, b := c.startProcs("a"), c.startProcs("b")
	big := make([]byte, 1000)
	p := b.NewProcess()
	defer p.Exit(Normal)
	p.SetMailboxLimit(1)
	settled := func(queued int, dropped uint64) {
		t.Helper()
		poll(t, 10*time.Second, fmt.Sprintf("%d queued, %d dropped", queued, dropped), func() bool {
			info := p.Info()
			return info.Mailbox == queued && info.Dropped == dropped
		})
	}
	for range 3 {
		if err := a.Send(p.Pid(), big); err != nil {
			t.Fatal(err)
		}
	}
	settled(1, 2) // the first fits alone, the others are over the limit
	recv(t, p)
	a.Send(p.Pid(), big)
	settled(1, 2) // reading made room
	for i := range 10 {
		b.Send(p.Pid(), i) // local: never dropped
	}
	settled(11, 2)
	p.SetMailboxLimit(0)
	for range 5 {
		a.Send(p.Pid(), big)
	}
	settled(16, 2)
	if got := len(p.Flush()); got != 16 {
		t.Fatalf("flushed %d", got)
	}
	// The named form counts the same.
	if err := b.Register("named", p.Pid()); err != nil {
		t.Fatal(err)
	}
	p.SetMailboxLimit(1)
	for range 2 {
		a.Send(Name{Name: "named", Node: b.Name()}, big)
	}
	settled(1, 3)
}

// ---- no goroutine left behind ----

// TestNoLeakedGoroutines runs nodes, a port mapper, processes, calls, casts,
// monitors, timeouts and failed connections, closes it all, and checks that
// no goroutine is left.
func TestNoLeakedGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := portmap.NewServer()
	served := make(chan error, 1)
	go func() { served <- m.Serve(ln) }()
	c := &testCluster{t: t, mapper: ln.Addr().(*net.TCPAddr).Port}
	var nodes []*Node
	for _, name := range []string{"a", "b", "x"} {
		cfg := c.config(name, "abc")
		cfg.Handler = nodeHandler{procModules()}
		n, err := Start(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
	}
	a, b, x := nodes[0], nodes[1], nodes[2]
	ctx := context.Background()
	for i := range 50 {
		if v, err := a.Call(ctx, b.Name(), "test", "double", i); err != nil || v != 2*i {
			t.Fatal(v, err)
		}
	}
	var wg sync.WaitGroup
	// More concurrent calls than a link keeps idle streams, so that the
	// closing below has many streams to end (see link.close).
	for i := range 2 * maxIdleStreams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x.Call(ctx, a.Name(), "test", "double", i)
		}()
	}
	wg.Wait()
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	if _, err := a.Call(tctx, b.Name(), "test", "wait"); !errors.Is(err, ErrTimeout) {
		t.Fatalf("timeout: %v", err)
	}
	cancel()
	if _, err := a.Call(ctx, "nobody@"+Atom(ShortHostname()), "test", "double", 1); err == nil {
		t.Fatal("a call to a node that does not exist worked")
	}
	me := a.NewProcess()
	echo, err := a.SpawnRemote(ctx, b.Name(), "proc", "echo", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	me.Monitor(echo)
	me.MonitorNode(x.Name(), true)
	me.Link(echo)
	for i := range 20 {
		a.Send(echo, []any{me.Pid(), i})
		if m := recv(t, me); m != i {
			t.Fatalf("echo %d: %v", i, m)
		}
	}
	if err := a.Cast(b.Name(), "test", "echo", 1); err != nil {
		t.Fatal(err)
	}
	waiter, err := b.SpawnRemote(ctx, x.Name(), "proc", "wait", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.NewProcess().Monitor(waiter)
	local := a.Spawn(func(p *Process) { p.Receive(ctx, nil, -1) }, nil)
	_ = local
	if err := a.RegisterGlobal(ctx, "leak-test", me.Pid()); err != nil {
		t.Fatal(err)
	}
	a.Disconnect(x.Name())
	for _, n := range nodes {
		if err := n.Close(); err != nil {
			t.Fatal(err)
		}
	}
	m.Close()
	if err := <-served; !errors.Is(err, portmap.ErrClosed) {
		t.Fatal(err)
	}
}

// ---- user code that loops ----

// TestEndlessLoopHonoursContext calls a Go function that spins until its
// context ends: the caller gets ErrTimeout at its deadline, the function
// sees its context end (the deadline travels with the call), and the node
// answers other calls while it spins.
func TestEndlessLoopHonoursContext(t *testing.T) {
	c := newTestCluster(t)
	spinning := make(chan struct{}, 1)
	stopped := make(chan error, 1)
	cfg := c.config("b", "abc")
	cfg.Handler = Modules{
		"test": testModules()["test"],
		"loop": {"spin": reflect.ValueOf(func(ctx context.Context) error {
			spinning <- struct{}{}
			for ctx.Err() == nil {
				runtime.Gosched()
			}
			stopped <- ctx.Err()
			return ctx.Err()
		})},
	}
	b := c.startCfg(cfg)
	a, x := c.start("a", "abc"), c.start("x", "abc")
	ctx := context.Background()
	const timeout = 300 * time.Millisecond
	callErr := make(chan error, 1)
	start := time.Now()
	go func() {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		_, err := a.Call(cctx, b.Name(), "loop", "spin")
		callErr <- err
	}()
	waitEvent(t, spinning, 10*time.Second, "the loop starting")
	// b answers others, and a on another stream, while it spins.
	for i := range 10 {
		if v, err := x.Call(ctx, b.Name(), "test", "double", i); err != nil || v != 2*i {
			t.Fatalf("x→b while b spins: %v, %v", v, err)
		}
		if v, err := a.Call(ctx, b.Name(), "test", "double", i); err != nil || v != 2*i {
			t.Fatalf("a→b while b spins: %v, %v", v, err)
		}
	}
	err := waitEvent(t, callErr, 10*time.Second, "the caller's timeout")
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("caller: %v, want ErrTimeout", err)
	}
	t.Logf("caller got %v after %v (timeout %v)", err, time.Since(start).Round(time.Millisecond), timeout)
	if err := waitEvent(t, stopped, 10*time.Second, "the loop seeing its context end"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the loop ended with %v", err)
	}
	t.Logf("the loop stopped %v after the call", time.Since(start).Round(time.Millisecond))
	if v, err := a.Call(ctx, b.Name(), "test", "double", 21); err != nil || v != 42 {
		t.Fatalf("after: %v, %v", v, err)
	}
}

// ---- closed links are freed ----

// TestClosedLinksAreFreed makes and drops links that carried calls and
// signals both ways, and checks that their yamux sessions are garbage once
// the links are down, rather than held by the timers yamux starts for
// streams closed before their session (StreamCloseTimeout, 5 minutes).
func TestClosedLinksAreFreed(t *testing.T) {
	c := newTestCluster(t)
	a, b := c.startProcs("a"), c.startProcs("b")
	ctx := context.Background()
	me := a.NewProcess()
	defer me.Exit(Normal)
	var live atomic.Int64
	track := func(l *link) {
		live.Add(1)
		runtime.AddCleanup(l.sess, func(*atomic.Int64) { live.Add(-1) }, &live)
	}
	const rounds = 20
	for i := range rounds {
		echo, err := a.SpawnRemote(ctx, b.Name(), "proc", "echo", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		a.Send(echo, []any{me.Pid(), i})
		if m := recv(t, me); m != i {
			t.Fatalf("echo: %v", m)
		}
		track(linkOf(a, b.Name()))
		track(linkOf(b, a.Name()))
		aDown, bDown := watchDown(t, a, b.Name()), watchDown(t, b, a.Name())
		if i%2 == 0 {
			a.Disconnect(b.Name())
		} else {
			b.Disconnect(a.Name())
		}
		waitEvent(t, aDown, 10*time.Second, "a's link down")
		waitEvent(t, bDown, 10*time.Second, "b's link down")
	}
	poll(t, 20*time.Second, "the closed links' sessions collected", func() bool {
		runtime.GC()
		return live.Load() == 0
	})
}
