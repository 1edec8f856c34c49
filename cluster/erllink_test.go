package cluster

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"gsh/cluster/frame"
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
	if !errors.Is(err, ErrErlangOff) || strings.Contains(err.Error(), "-erlang") {
		t.Fatalf("ping of erl from a node without Erlang links: %v, want ErrErlangOff, naming no flag", err)
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
	logs := &logCatcher{t: t}
	cfg := c.config("gandalf", "abc")
	cfg.Erlang = true
	cfg.Logf = logs.logf
	g, err := Start(t0(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
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
	// Output of a called function goes to this node as its group leader,
	// which answers it.
	if v, err := g.Call(ctx, e.name, "io", "format", "hello ~p from erl~n", []any{42}); err != nil || v != Atom("ok") {
		t.Fatalf("io:format = %#v, %v", v, err)
	}
	waitLog(t, logs, string(e.name)+": hello 42 from erl")
	if v, err := g.Call(ctx, e.name, "io", "put_chars", []any{"two", "\n", []any{108, 105, 110, 101, 115}}); err != nil || v != Atom("ok") {
		t.Fatalf("io:put_chars = %#v, %v", v, err)
	}
	waitLog(t, logs, string(e.name)+": lines")
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
	src, _ := os.ReadFile("../scripts/kvs.erl")
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

func TestErlangMessagesLinksMonitors(t *testing.T) {
	c := newTestCluster(t)
	g := c.startErlang("gandalf", "abc")
	e := startErl(t, c.mapper, "e", "abc")
	G := "'" + string(g.Name()) + "'"
	inbox := g.NewProcess()
	defer inbox.Exit(Normal)
	if err := g.Register("inbox", inbox.Pid()); err != nil {
		t.Fatal(err)
	}

	// Erlang to a registered gsh name, gsh to an Erlang pid.
	e.eval("process_flag(trap_exit, true)")
	e.eval("{inbox, " + G + "} ! {hello, self()}")
	m, ok := recv(t, inbox).(Tuple)
	if !ok || len(m) != 2 || m[0] != Atom("hello") {
		t.Fatalf("inbox got %#v", m)
	}
	erlShell := m[1].(Pid)
	if erlShell.Node != e.name {
		t.Fatalf("the Erlang pid %v names node %s", erlShell, erlShell.Node)
	}
	if err := g.Send(erlShell, Tuple{Atom("reply"), 42, inbox.Pid()}); err != nil {
		t.Fatal(err)
	}
	if got := e.eval("receive {reply, N, P} -> put(gshpid, P), N after 5000 -> timeout end"); got != "42" {
		t.Fatalf("erl got %s", got)
	}
	// The gsh pid went to Erlang and comes back as itself.
	e.eval("P = get(gshpid)")
	e.eval("P ! {pid_back, P}")
	if m := recv(t, inbox); !reflect.DeepEqual(m, Tuple{Atom("pid_back"), inbox.Pid()}) {
		t.Fatalf("inbox got %#v, want its own pid back", m)
	}
	// gsh to {Name, Node}.
	e.eval("register(shell, self())")
	g.Send(Name{Name: "shell", Node: e.name}, "to a name")
	if got := e.eval("receive M -> M after 5000 -> timeout end"); got != "<<116,111,32,97,32,110,97,109,101>>" {
		t.Fatalf("erl got %s", got)
	}

	// An Erlang monitor and link on gsh processes.
	w := g.NewProcess()
	l := g.NewProcess()
	g.Send(erlShell, Tuple{w.Pid(), l.Pid()})
	e.eval("{W, L} = receive WL -> WL end")
	e.eval("R = erlang:monitor(process, W)")
	e.eval("link(L)")
	waitFor(t, "the link and monitor", func() bool { i := w.Info(); j := l.Info(); return i.Monitors == 1 && j.Links == 1 })
	w.Exit(Atom("bye"))
	if got := e.eval("receive {'DOWN', R, process, W, Why} -> Why after 5000 -> timeout end"); got != "bye" {
		t.Fatalf("the monitor said %s", got)
	}
	l.Exit(Atom("crash"))
	if got := e.eval("receive {'EXIT', L, Why2} -> Why2 after 5000 -> timeout end"); got != "crash" {
		t.Fatalf("the link said %s", got)
	}
	if got := e.eval("erlang:monitor(process, W), receive {'DOWN', _, process, W, Why3} -> Why3 after 5000 -> timeout end"); got != "noproc" {
		t.Fatalf("monitoring a gone gsh process said %s", got)
	}

	// gsh monitors and links Erlang processes.
	e.eval("Q = spawn(fun() -> receive stop -> exit(done) end end)")
	e.eval("Q2 = spawn(fun() -> receive stop -> exit(crashed) end end)")
	e.eval("{inbox, " + G + "} ! {Q, Q2}")
	qs := recv(t, inbox).(Tuple)
	q, q2 := qs[0].(Pid), qs[1].(Pid)
	ref := inbox.Monitor(q)
	inbox.SetTrapExit(true)
	inbox.Link(q2)
	waitFor(t, "erl to see the monitor and the link", func() bool {
		return !strings.Contains(e.eval("{process_info(Q, monitored_by), process_info(Q2, links)}"), "[]")
	})
	e.eval("Q ! stop, Q2 ! stop")
	got := map[string]any{}
	for range 2 {
		switch m := recv(t, inbox).(type) {
		case Down:
			if m.Ref != ref || m.Pid != q {
				t.Fatalf("Down %#v, want ref %v pid %v", m, ref, q)
			}
			got["down"] = m.Reason
		case Exit:
			got["exit"] = m.Reason
		default:
			t.Fatalf("inbox got %#v", m)
		}
	}
	if got["down"] != Atom("done") || got["exit"] != Atom("crashed") {
		t.Fatalf("got %v", got)
	}

	// Spawn from gsh on the Erlang node, and from Erlang on gsh.
	pid, err := g.SpawnRemote(ctx5(t), e.name, "erlang", "send", []any{inbox.Pid(), "spawned"}, nil)
	if err != nil || pid.Node != e.name {
		t.Fatalf("spawn on erl: %v, %v", pid, err)
	}
	if m := recv(t, inbox); m != "spawned" {
		t.Fatalf("inbox got %#v", m)
	}
	if got := e.eval("node(spawn(" + G + ", test, double, [1]))"); got != string(g.Name()) {
		t.Fatalf("spawn on gsh from erl made a process on %s", got)
	}
}

// TestErlangNoConnection checks both sides see the other go down: gsh when
// erl is killed with SIGKILL, erl when the gsh node closes.
func TestErlangNoConnection(t *testing.T) {
	c := newTestCluster(t)
	g := c.startErlang("gandalf", "abc")
	e := startErl(t, c.mapper, "e", "abc")
	G := "'" + string(g.Name()) + "'"
	inbox := g.NewProcess()
	g.Register("inbox", inbox.Pid())
	e.eval("{inbox, " + G + "} ! spawn(fun() -> receive _ -> ok end end)")
	q := recv(t, inbox).(Pid)
	inbox.SetTrapExit(true)
	inbox.MonitorNode(e.name, true)
	ref := inbox.Monitor(q)
	inbox.Link(q)
	e.kill()
	got := map[string]any{}
	for range 3 {
		switch m := recv(t, inbox).(type) {
		case Down:
			if m.Ref == ref {
				got["down"] = m.Reason
			}
		case Exit:
			got["exit"] = m.Reason
		case NodeDown:
			got["nodedown"] = m.Node
		}
	}
	if got["down"] != NoConnection || got["exit"] != NoConnection || got["nodedown"] != e.name {
		t.Fatalf("after kill -9 of erl: %v", got)
	}
	if slices.Contains(g.Nodes(), e.name) {
		t.Fatalf("nodes() still lists %s", e.name)
	}

	e2 := startErl(t, c.mapper, "e", "abc")
	p := g.NewProcess()
	e2.eval("true = net_kernel:connect_node(" + G + ")")
	e2.eval("monitor_node(" + G + ", true)")
	e2.eval("register(shell, self())")
	g.Send(Name{Name: "shell", Node: e2.name}, p.Pid())
	e2.eval("P = receive Pid -> Pid end, R = erlang:monitor(process, P)")
	g.Close()
	if got := e2.eval("receive {'DOWN', R, process, P, Why} -> Why after 5000 -> timeout end"); got != "noconnection" {
		t.Fatalf("erl's monitor said %s", got)
	}
	if got := e2.eval("receive {nodedown, N} -> N after 5000 -> timeout end"); got != string(g.Name()) {
		t.Fatalf("erl's node monitor said %s", got)
	}
	if got := e2.eval("nodes()"); got != "[]" {
		t.Fatalf("erl's nodes() = %s after gsh closed", got)
	}
}

// erlDialRaw makes an Erlang link to g from this test, as an Erlang node
// named name would, and returns the connection past the handshake.
func erlDialRaw(t *testing.T, g *Node, name Atom) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", g.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := erlClientHandshake(conn, name, 1, erlOffered, g.Cookie(), g.Name()); err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Time{})
	waitFor(t, "the link", func() bool { return slices.Contains(g.Nodes(), name) })
	return conn
}

// erlFrame is one distribution message: the control message and, when
// msg is not nil, the message.
func erlFrame(t *testing.T, ctl Tuple, msg any) []byte {
	t.Helper()
	b, start := frame.Begin(nil)
	b, err := EncodeETF(append(b, erlPassThrough), ctl)
	if err == nil && msg != nil {
		b, err = EncodeETF(b, msg)
	}
	if err != nil {
		t.Fatal(err)
	}
	frame.End(b, start)
	return b
}

// waitClosed waits for the node to close conn.
func waitClosed(t *testing.T, conn net.Conn, within time.Duration) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(within))
	if _, err := io.Copy(io.Discard, conn); err != nil {
		t.Fatalf("the connection was not closed within %v: %v", within, err)
	}
}

// TestErlangBadInput: garbage, oversized and undecodable messages and a
// peer that stalls in the handshake each cost only their own connection or
// message, with a log line saying why, and the node goes on serving.
func TestErlangBadInput(t *testing.T) {
	c := newTestCluster(t)
	cfg := c.config("gandalf", "abc")
	cfg.Erlang = true
	cfg.MaxFrameSize = 1 << 20
	cfg.HandshakeTimeout = 300 * time.Millisecond
	logs := &logCatcher{t: t}
	cfg.Logf = logs.logf
	g, err := Start(t0(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	host := ShortHostname()
	inbox := g.NewProcess()
	g.Register("inbox", inbox.Pid())
	from := Pid{Node: Atom("bad@" + host), ID: 1, Creation: 1}

	// Garbage after the handshake.
	conn := erlDialRaw(t, g, Atom("bad@"+host))
	conn.Write([]byte{0, 0, 0, 3, 1, 2, 3})
	waitClosed(t, conn, 5*time.Second)
	waitLog(t, logs, "it sent a bad message")

	// A frame over MaxFrameSize: refused from its length alone.
	conn = erlDialRaw(t, g, Atom("bad@"+host))
	conn.Write([]byte{0x7f, 0xff, 0xff, 0xff, erlPassThrough})
	waitClosed(t, conn, 5*time.Second)
	waitLog(t, logs, "too large")

	// A message with no Go value is dropped; the link goes on.
	conn = erlDialRaw(t, g, Atom("bad@"+host))
	funMsg := erlFrame(t, Tuple{erlRegSend, from, Atom(""), Atom("inbox")}, Atom("x"))
	funMsg = append(funMsg[:len(funMsg)-3], etfExport, 119, 1, 'm', 119, 1, 'f', 97, 0) // the message: fun m:f/0
	frame.End(funMsg, 0)
	conn.Write(funMsg)
	conn.Write(erlFrame(t, Tuple{erlRegSend, from, Atom(""), Atom("inbox")}, "after"))
	if m := recv(t, inbox); m != "after" {
		t.Fatalf("inbox got %#v", m)
	}
	waitLog(t, logs, "a fun cannot cross to gsh")

	// New atoms by the hundred thousand leave nothing behind.
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var batch []byte
	for i := range 100000 {
		name := Atom(fmt.Sprintf("no_such_name_%d", i))
		batch = append(batch, erlFrame(t, Tuple{erlRegSend, from, Atom(""), name}, Tuple{name, Atom(fmt.Sprintf("atom_%d", i))})...)
		if len(batch) > 64<<10 {
			conn.Write(batch)
			batch = batch[:0]
		}
	}
	conn.Write(append(batch, erlFrame(t, Tuple{erlRegSend, from, Atom(""), Atom("inbox")}, "done")...))
	if m := recv(t, inbox); m != "done" {
		t.Fatalf("inbox got %#v", m)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap after 100,000 new atoms: %+d bytes", growth)
	if growth > 4<<20 {
		t.Fatalf("the heap grew %d bytes after 100,000 new atoms", growth)
	}

	// A peer that stalls in the handshake is cut off at its deadline.
	slow, err := net.Dial("tcp", g.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	slow.Write(erlSendName("slow@"+host, erlOffered)[:8])
	start := time.Now()
	waitClosed(t, slow, 5*time.Second)
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("a stalled handshake was cut after %v", d)
	}

	// The node still serves Erlang nodes.
	e := startErl(t, c.mapper, "e", "abc")
	if got := e.eval(fmt.Sprintf("rpc:call('%s', test, double, [4])", g.Name())); got != "8" {
		t.Fatalf("after bad input, rpc from erl = %s", got)
	}
}

func waitLog(t *testing.T, logs *logCatcher, sub string) {
	t.Helper()
	waitFor(t, "a log line with "+sub, func() bool { return logs.count(sub) > 0 })
}

// TestErlangMonitorsByNameCastsHidden: an Erlang monitor on a registered
// gsh name, a demonitor from gsh, rpc casts from gsh, and a hidden erl.
func TestErlangMonitorsByNameCastsHidden(t *testing.T) {
	c := newTestCluster(t)
	g := c.startErlang("gandalf", "abc")
	e := startErl(t, c.mapper, "e", "abc")
	G := "'" + string(g.Name()) + "'"
	named := g.NewProcess()
	g.Register("named", named.Pid())
	e.eval("R = erlang:monitor(process, {named, " + G + "})")
	waitFor(t, "the monitor", func() bool { return named.Info().Monitors == 1 })
	named.Exit(Atom("gone"))
	if got := e.eval("receive {'DOWN', R, process, Who, Why} -> {Who, Why} after 5000 -> timeout end"); got != "{{named,"+string(g.Name())+"},gone}" {
		t.Fatalf("the monitor by name said %s", got)
	}

	inbox := g.NewProcess()
	g.Register("inbox", inbox.Pid())
	e.eval("Q = spawn(fun() -> receive stop -> ok end end), {inbox, " + G + "} ! Q")
	q := recv(t, inbox).(Pid)
	ref := inbox.Monitor(q)
	waitFor(t, "erl to see the monitor", func() bool { return e.eval("process_info(Q, monitored_by)") != "{monitored_by,[]}" })
	inbox.Demonitor(ref)
	waitFor(t, "erl to see the demonitor", func() bool { return e.eval("process_info(Q, monitored_by)") == "{monitored_by,[]}" })

	if err := g.Cast(e.name, "erlang", "send", inbox.Pid(), "cast"); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, inbox); m != "cast" {
		t.Fatalf("inbox got %#v", m)
	}

	h := startErl(t, c.mapper, "h", "abc", "-hidden")
	if got := h.eval("net_adm:ping(" + G + ")"); got != "pong" {
		t.Fatalf("ping from a hidden erl = %s", got)
	}
	waitFor(t, "the hidden link", func() bool { return slices.Contains(g.HiddenNodes(), h.name) })
	if slices.Contains(g.Nodes(), h.name) {
		t.Fatalf("nodes() lists the hidden %s", h.name)
	}
}

func TestErlangConfig(t *testing.T) {
	cfg := DefaultConfig()
	if cfg.Erlang {
		t.Fatal("links with Erlang nodes are on by default")
	}
	cfg.Erlang = true
	if err := cfg.Verify(); err != nil {
		t.Fatal(err)
	}
	cfg.TLS = &tls.Config{Certificates: []tls.Certificate{{}}}
	if err := cfg.Verify(); err == nil || !strings.Contains(err.Error(), "TLS") {
		t.Fatalf("Erlang and TLS together: %v, want an error", err)
	}
}

// TestErlangSimultaneousConnect: gsh and erl connect to each other at the
// same moment, again and again; each time they settle on one link that
// both use.
func TestErlangSimultaneousConnect(t *testing.T) {
	c := newTestCluster(t)
	for _, name := range []string{"a", "zz"} { // sorting before and after erl's name
		g := c.startErlang(name, "abc")
		e := startErl(t, c.mapper, "m", "abc")
		G := "'" + string(g.Name()) + "'"
		e.eval("Ping = fun() -> net_adm:ping(" + G + ") end")
		for i := range 5 {
			done := make(chan error, 1)
			e.in.Write([]byte("Ping().\n"))
			go func() { done <- g.Ping(ctx5(t), e.name) }()
			if got := e.read(); got != "pong" {
				t.Fatalf("%s, round %d: ping from erl = %s", name, i, got)
			}
			if err := <-done; err != nil {
				t.Fatalf("%s, round %d: ping from gsh: %v", name, i, err)
			}
			if got := e.eval("nodes()"); !strings.Contains(got, string(g.Name())) {
				t.Fatalf("%s, round %d: erl lists %s", name, i, got)
			}
			if v, err := g.Call(ctx5(t), e.name, "erlang", "node"); err != nil || v != e.name {
				t.Fatalf("%s, round %d: a call after: %v, %v", name, i, v, err)
			}
			e.eval("erlang:disconnect_node(" + G + ")")
			waitFor(t, "the link to go", func() bool { return !slices.Contains(g.Nodes(), e.name) })
		}
	}
}

// registerErlangEntry registers name with the port mapper as an Erlang
// node does (no "gsh" in Extra), pointing at port; the entry lasts as long
// as the test.
func registerErlangEntry(t *testing.T, mapper int, name string, port int) {
	t.Helper()
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", mapper))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	req := []byte{120}
	req = binary.BigEndian.AppendUint16(req, uint16(port))
	req = append(req, 77, 0, 0, 6, 0, 5)
	req = binary.BigEndian.AppendUint16(req, uint16(len(name)))
	req = append(req, name...)
	req = append(req, 0, 0)
	c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(req))), req...))
	var resp [2]byte
	if _, err := io.ReadFull(c, resp[:]); err != nil || resp[1] != 0 {
		t.Fatalf("registering %s: %v %v", name, resp, err)
	}
}

// TestErlangSimultaneousStatus: while gsh is still making its link to an
// Erlang node, that node's own connection is told "ok_simultaneous" when
// its name sorts after gsh's (its link wins) and "nok" when before.
func TestErlangSimultaneousStatus(t *testing.T) {
	c := newTestCluster(t)
	g := c.startErlang("m", "abc")
	host := ShortHostname()
	for _, tc := range []struct {
		alive string
		wins  bool
	}{{"zeta", true}, {"alpha", false}} {
		// A listener that takes gsh's connection and never answers it.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		accepted := make(chan net.Conn, 1)
		go func() {
			conn, err := ln.Accept()
			if err == nil {
				accepted <- conn
			}
		}()
		registerErlangEntry(t, c.mapper, tc.alive, ln.Addr().(*net.TCPAddr).Port)
		peer := Atom(tc.alive + "@" + host)
		go g.Ping(t0(), peer)
		stalled := <-accepted
		defer stalled.Close()

		conn, err := net.Dial("tcp", g.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = erlClientHandshake(conn, peer, 1, erlOffered, "abc", g.Name())
		if tc.wins {
			if err != nil {
				t.Fatalf("%s: %v, want its link to win", peer, err)
			}
			waitFor(t, "the link", func() bool { return slices.Contains(g.Nodes(), peer) })
		} else if !errors.Is(err, errDuplicate) {
			t.Fatalf("%s: %v, want nok", peer, err)
		}
	}
}

// TestErlangNameKinds: an Erlang node with a long name and a gsh node with
// a short one refuse each other, saying why.
func TestErlangNameKinds(t *testing.T) {
	c := newTestCluster(t)
	g := c.startErlang("gandalf", "abc")
	conn, err := net.Dial("tcp", g.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := erlClientHandshake(conn, "e@host.example.com", 1, erlOffered, "abc", g.Name()); !errors.Is(err, ErrAuth) {
		t.Fatalf("a long-name Erlang node: %v, want not_allowed", err)
	}
	registerErlangEntry(t, c.mapper, "long", 1)
	if err := g.Ping(ctx5(t), "long@127.0.0.1"); !errors.Is(err, ErrNameType) {
		t.Fatalf("ping of a long-name Erlang node: %v, want ErrNameType", err)
	}
}

// TestErlangGlobalSync: an Erlang node linked with gsh registers global
// names and its global:sync() returns.
func TestErlangGlobalSync(t *testing.T) {
	c := newTestCluster(t)
	g := c.startErlang("gandalf", "abc")
	e := startErl(t, c.mapper, "e", "abc")
	G := "'" + string(g.Name()) + "'"
	if got := e.eval("net_adm:ping(" + G + ")"); got != "pong" {
		t.Fatalf("ping = %s", got)
	}
	if got := e.eval("global:register_name(foo, self())"); got != "yes" {
		t.Fatalf("global:register_name = %s", got)
	}
	e.in.Write([]byte("global:sync().\n"))
	if got := e.read(); got != "ok" {
		t.Fatalf("global:sync() = %s", got)
	}
	if got := e.eval("global:whereis_name(foo) =:= self()"); got != "true" {
		t.Fatalf("global:whereis_name = %s", got)
	}
}

// TestErlangSlowPeer: an Erlang peer that stops reading costs at most
// TickTime of a sender's time, then its link; the node goes on serving.
func TestErlangSlowPeer(t *testing.T) {
	c := newTestCluster(t)
	cfg := c.config("gandalf", "abc")
	cfg.Erlang = true
	cfg.TickTime = time.Second
	logs := &logCatcher{t: t}
	cfg.Logf = logs.logf
	g, err := Start(t0(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	slow := Atom("slow@" + ShortHostname())
	erlDialRaw(t, g, slow) // never read
	to := Pid{Node: slow, ID: 1, Creation: 1}
	big := strings.Repeat("x", 1<<20)
	start := time.Now()
	var sendErr error
	for i := 0; i < 1000 && sendErr == nil; i++ {
		sendErr = g.Send(to, big)
	}
	if !errors.Is(sendErr, ErrNodeDown) {
		t.Fatalf("sending to a peer that does not read: %v, want ErrNodeDown", sendErr)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the sender was held %v", d)
	}
	waitLog(t, logs, "write failed")
	waitFor(t, "the link to go", func() bool { return !slices.Contains(g.Nodes(), slow) })
	e := startErl(t, c.mapper, "e", "abc")
	if got := e.eval(fmt.Sprintf("rpc:call('%s', test, double, [4])", g.Name())); got != "8" {
		t.Fatalf("after a slow peer, rpc from erl = %s", got)
	}
}
