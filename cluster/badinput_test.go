package cluster

// Bad input from the network: garbage, truncated and oversized frames from
// a peer that passed the handshake, and slowloris clients on the node and
// port mapper ports.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/yamux"

	"gsh/cluster/portmap"
)

// logLines collects a node's log lines.
type logLines struct {
	t     testing.TB
	mu    sync.Mutex
	lines []string
}

func (l *logLines) logf(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	l.t.Log(s)
	l.mu.Lock()
	l.lines = append(l.lines, s)
	l.mu.Unlock()
}

// matching returns the lines that hold s.
func (l *logLines) matching(s string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return out
}

// handshakeAs completes a real handshake with n as a node named name, with
// the cookie given, and returns the connection, ready for yamux. The client
// is the handshake's own client side, on a bare Node value that has only
// what it needs: no listener, no port mapper, no links.
func handshakeAs(t *testing.T, n *Node, name Atom, cookie string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", n.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	me := &Node{cfg: Config{HandshakeTimeout: 10 * time.Second}, name: name, creationV: 1}
	me.SetCookie(cookie)
	if _, err := me.clientHandshake(conn, n.Name()); err != nil {
		t.Fatalf("handshake as %s: %v", name, err)
	}
	return conn
}

func quietYamux() *yamux.Config {
	c := yamux.DefaultConfig()
	c.LogOutput = io.Discard
	return c
}

// TestGarbageOnAuthenticatedLink: a peer that passed the handshake sends
// garbage, truncated and oversized frames, on call and signal streams, and
// streams of unknown kinds. The node drops that link with one log line
// saying why, and goes on serving the other nodes. A well-formed frame with
// a request of the wrong shape is answered with an error instead, the link
// kept.
func TestGarbageOnAuthenticatedLink(t *testing.T) {
	c := newTestCluster(t)
	logs := &logLines{t: t}
	cfg := c.config("b", "abc")
	cfg.Logf = logs.logf
	b := c.startCfg(cfg)
	a := c.start("a", "abc")
	ctx := context.Background()
	there := Pid{Node: b.Name(), ID: 12345}
	cases := []struct {
		name  string
		bytes []byte
		cause string // in the log line
	}{
		{"unknown stream kind", []byte("Z"), "unknown kind"},
		{"call: not CBOR", append([]byte{streamCall}, framed([]byte{0xff, 0xfe, 0xfd})...), "bad call"},
		{"call: bytes after the value", append([]byte{streamCall}, framed(append(encoded(t, []any{"test", "double", []any{1}, 0}), 0))...), "bad call"},
		{"call: truncated frame", append([]byte{streamCall}, append(header(100), make([]byte, 10)...)...), "unexpected EOF"},
		{"call: truncated header", []byte{streamCall, 0, 0}, "unexpected EOF"},
		{"call: oversized", append([]byte{streamCall}, header(0xFFFFFFFF)...), "too large"},
		{"call: declared just over the limit", append([]byte{streamCall}, header(uint32(b.cfg.MaxFrameSize)+1)...), "too large"},
		{"call: declared at the limit, cut short", append([]byte{streamCall}, append(header(uint32(b.cfg.MaxFrameSize)), make([]byte, 1000)...)...), "unexpected EOF"},
		{"signal: not CBOR", append([]byte{streamSignal}, framed([]byte{0x1c})...), "bad signal"},
		{"signal: truncated frame", append([]byte{streamSignal}, append(header(50), 1, 2)...), "unexpected EOF"},
		{"signal: oversized", append([]byte{streamSignal}, header(1<<31)...), "too large"},
		{"signal: unknown op", append([]byte{streamSignal}, framed(encoded(t, []any{99, 1}))...), "unknown signal"},
		{"signal: malformed send", append([]byte{streamSignal}, framed(encoded(t, []any{opSend, 5, "x"}))...), "malformed signal"},
		{"signal: not a list", append([]byte{streamSignal}, framed(encoded(t, "hello"))...), "malformed signal"},
		{"signal: a cast of the wrong shape", append([]byte{streamSignal}, framed(encoded(t, []any{opCast, 1, "test"}))...), "malformed signal"},
		{"signal: a link from another node's pid", append([]byte{streamSignal}, framed(encoded(t, []any{opLink, Pid{Node: a.Name(), ID: 1}, there}))...), "malformed signal"},
	}
	for i, tc := range cases {
		name := Atom(fmt.Sprintf("junk%d@%s", i, ShortHostname()))
		down := watchDown(t, b, name)
		conn := handshakeAs(t, b, name, "abc")
		sess, err := yamux.Client(conn, quietYamux())
		if err != nil {
			t.Fatal(err)
		}
		s, err := sess.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		// The node may drop the link before the write returns: the
		// write's error says nothing.
		s.Write(tc.bytes)
		s.Close() // the truncated ones end here
		reason := waitEvent(t, down, 10*time.Second, tc.name+": the link dropped")
		waitEvent(t, sess.CloseChan(), 10*time.Second, tc.name+": the connection closed")
		if !strings.Contains(reason.Error(), tc.cause) {
			t.Errorf("%s: dropped for %q, want %q", tc.name, reason, tc.cause)
		}
		if lines := logs.matching(string(name)); len(lines) != 1 || !strings.Contains(lines[0], tc.cause) {
			t.Errorf("%s: log lines %q, want one saying %q", tc.name, lines, tc.cause)
		}
		sess.Close()
		// The node serves the others, both ways.
		if v, err := a.Call(ctx, b.Name(), "test", "double", i); err != nil || v != 2*i {
			t.Fatalf("after %s: a→b %v, %v", tc.name, v, err)
		}
		if v, err := b.Call(ctx, a.Name(), "test", "double", i); err != nil || v != 2*i {
			t.Fatalf("after %s: b→a %v, %v", tc.name, v, err)
		}
	}
	if got := b.Nodes(); len(got) != 1 || got[0] != a.Name() {
		t.Fatalf("b's links: %v", got)
	}

	// A well-formed frame holding a request of the wrong shape is answered
	// with an error; the link stays.
	name := Atom("odd@" + ShortHostname())
	conn := handshakeAs(t, b, name, "abc")
	sess, err := yamux.Client(conn, quietYamux())
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	s, err := sess.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	req := append([]byte{streamCall}, framed(encoded(t, []any{1, 2, 3}))...)
	req = append(req, framed(encoded(t, []any{"test", "double", []any{4}, 1000}))...)
	if _, err := s.Write(req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(s)
	for _, want := range []any{"malformed request", 8} {
		s.SetReadDeadline(time.Now().Add(10 * time.Second))
		f, err := readFrame(br, 1<<20, nil)
		if err != nil {
			t.Fatal(err)
		}
		v, err := Decode(f)
		if err != nil {
			t.Fatal(err)
		}
		if re, ok := v.(*RemoteError); ok {
			if w, ok := want.(string); !ok || !strings.Contains(re.Msg, w) || !errors.Is(re, ErrProtocol) {
				t.Fatalf("answer %v, want %v", re, want)
			}
		} else if v != want {
			t.Fatalf("answer %#v, want %v", v, want)
		}
	}
	if l := linkOf(b, name); l == nil {
		t.Fatal("the link was dropped")
	}
}

// slowClients opens k connections to addr: half send nothing, half send a
// byte every interval from prefix (which never completes a request). It
// returns a channel that receives, for each connection, how long after its
// start the server closed it.
func slowClients(t *testing.T, addr string, k int, prefix []byte, interval time.Duration) <-chan time.Duration {
	closed := make(chan time.Duration, k)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() { close(stop); wg.Wait() })
	for i := range k {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		wg.Add(1)
		go func() { // the reader: the server closes the connection
			defer wg.Done()
			var b [64]byte
			for {
				if _, err := conn.Read(b[:]); err != nil {
					closed <- time.Since(start)
					conn.Close()
					return
				}
			}
		}()
		if i%2 == 0 {
			continue
		}
		wg.Add(1)
		go func() { // the dribbler
			defer wg.Done()
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for j := 0; ; j++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				if _, err := conn.Write(prefix[j%len(prefix) : j%len(prefix)+1]); err != nil {
					return
				}
			}
		}()
	}
	return closed
}

// heldBy waits until the server has a goroutine for each of k slow clients
// (the test has k readers and k/2 dribblers of its own), then returns the
// heap in use.
func heldBy(t *testing.T, routines, k int) uint64 {
	poll(t, 10*time.Second, "the server holding every slow client", func() bool {
		return runtime.NumGoroutine() >= routines+k+k/2+k
	})
	return heapInuse()
}

// TestSlowlorisNode opens 200 connections to a node's port that send
// nothing, or a byte now and then of a hello that never completes: each is
// dropped by HandshakeTimeout, which trickling bytes do not extend; the node
// serves calls and new links meanwhile; and 200 of them cost little memory.
func TestSlowlorisNode(t *testing.T) {
	const (
		k = 200
		// Long enough that all k clients are open at once on a loaded
		// machine before the first is dropped (see heldBy).
		timeout = 3 * time.Second
	)
	c := newTestCluster(t)
	cfg := c.config("b", "abc")
	cfg.HandshakeTimeout = timeout
	b := c.startCfg(cfg)
	a := c.start("a", "abc")
	ctx := context.Background()
	if v, err := a.Call(ctx, b.Name(), "test", "double", 1); err != nil || v != 2 {
		t.Fatal(v, err)
	}
	base, routines := heapInuse(), runtime.NumGoroutine()
	// "GSH1", flags, a 255-byte name of which only a few bytes come.
	prefix := append([]byte("GSH1\x00\xff"), bytes.Repeat([]byte("x"), 255)...)
	closed := slowClients(t, b.Addr().String(), k, prefix, timeout/5)
	held := heldBy(t, routines, k)
	// The node serves the others meanwhile, and takes new links.
	for i := range 10 {
		if v, err := a.Call(ctx, b.Name(), "test", "double", i); err != nil || v != 2*i {
			t.Fatalf("a→b among slow clients: %v, %v", v, err)
		}
	}
	x := c.start("x", "abc")
	if v, err := x.Call(ctx, b.Name(), "erlang", "node"); err != nil || v != x.Name() {
		t.Fatalf("a new node among slow clients: %v, %v", v, err)
	}
	var longest time.Duration
	for range k {
		d := waitEvent(t, closed, 10*timeout+10*time.Second, "a slow client dropped")
		longest = max(longest, d)
	}
	poll(t, 10*time.Second, "the server's goroutines for the slow clients gone", func() bool {
		return runtime.NumGoroutine() <= routines+k/2+10 // the dribblers stop at the test's end
	})
	t.Logf("%d slow clients dropped, the last %v after it connected (HandshakeTimeout %v); heap %+d KiB with them all open",
		k, longest.Round(time.Millisecond), timeout, (int64(held)-int64(base))/1024)
	if held > base+4*mib {
		t.Fatalf("heap grew by %d KiB with %d slow clients", (held-base)/1024, k)
	}
	if v, err := a.Call(ctx, b.Name(), "test", "double", 5); err != nil || v != 10 {
		t.Fatalf("after: %v, %v", v, err)
	}
}

// TestSlowlorisPortMapper does the same to the port mapper: slow clients are
// dropped by its timeout, and registrations and lookups go on meanwhile.
func TestSlowlorisPortMapper(t *testing.T) {
	const (
		k = 200
		// Long enough that all k clients are open at once on a loaded
		// machine before the first is dropped (see heldBy).
		timeout = 3 * time.Second
	)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := portmap.NewServer()
	m.Timeout = timeout
	go m.Serve(ln)
	t.Cleanup(func() { m.Close() })
	addr := ln.Addr().String()
	ctx := context.Background()
	base, routines := heapInuse(), runtime.NumGoroutine()
	// A request header declaring 300 bytes of an ALIVE2_REQ (code 'x'), of
	// which a few come.
	prefix := append([]byte{1, 44, 'x'}, bytes.Repeat([]byte{0}, 297)...)
	closed := slowClients(t, addr, k, prefix, timeout/5)
	held := heldBy(t, routines, k)
	for i := range 10 {
		name := fmt.Sprintf("n%d", i)
		r, err := portmap.Register(ctx, addr, name, 1000+i, false)
		if err != nil {
			t.Fatalf("registering among slow clients: %v", err)
		}
		e, err := portmap.Lookup(ctx, addr, name)
		if err != nil || e.Port != 1000+i {
			t.Fatalf("lookup among slow clients: %+v, %v", e, err)
		}
		r.Close()
	}
	var longest time.Duration
	for range k {
		d := waitEvent(t, closed, 10*timeout+10*time.Second, "a slow client dropped")
		longest = max(longest, d)
	}
	poll(t, 10*time.Second, "the server's goroutines for the slow clients gone", func() bool {
		return runtime.NumGoroutine() <= routines+k/2+10 // the dribblers stop at the test's end
	})
	t.Logf("%d slow clients dropped, the last %v after it connected (timeout %v); heap %+d KiB with them all open",
		k, longest.Round(time.Millisecond), timeout, (int64(held)-int64(base))/1024)
	if held > base+4*mib {
		t.Fatalf("heap grew by %d KiB with %d slow clients", (held-base)/1024, k)
	}
	if names, err := portmap.List(ctx, addr); err != nil || len(names) != 0 {
		t.Fatalf("after: %v, %v", names, err)
	}
}

// TestLateReplyToResetStream: a caller gives up on a call and yamux resets
// the call's stream when the node does not answer its close in time
// (StreamCloseTimeout); the function then returns and its reply meets the
// reset stream. That ends the stream, not the link.
func TestLateReplyToResetStream(t *testing.T) {
	c := newTestCluster(t)
	release := make(chan struct{})
	holding := make(chan struct{}, 1)
	cfg := c.config("b", "abc")
	cfg.Handler = Modules{
		"test": testModules()["test"],
		"hold": {"on": reflect.ValueOf(func() int {
			holding <- struct{}{}
			<-release
			return 1
		})},
	}
	b := c.startCfg(cfg)
	name := Atom("caller@" + ShortHostname())
	down := watchDown(t, b, name)
	conn := handshakeAs(t, b, name, "abc")
	ycfg := quietYamux()
	ycfg.StreamCloseTimeout = 50 * time.Millisecond
	sess, err := yamux.Client(conn, ycfg)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	s, err := sess.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(append([]byte{streamCall}, framed(encoded(t, []any{"hold", "on", []any{}, 0}))...)); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, holding, 10*time.Second, "the call running")
	s.Close() // gives up: no answer to the close, so a reset 50 ms later
	l := linkOf(b, name)
	poll(t, 10*time.Second, "the reset reaching the node", func() bool { return l.sess.NumStreams() == 0 })
	close(release)
	poll(t, 10*time.Second, "the reply tried", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return len(l.reading) == 0
	})
	select {
	case reason := <-down:
		t.Fatalf("the link went down: %v", reason)
	default:
	}
	// The link still serves calls.
	s2, err := sess.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Write(append([]byte{streamCall}, framed(encoded(t, []any{"test", "double", []any{4}, 1000}))...)); err != nil {
		t.Fatal(err)
	}
	s2.SetReadDeadline(time.Now().Add(10 * time.Second))
	f, err := readFrame(bufio.NewReader(s2), 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := Decode(f); err != nil || v != 8 {
		t.Fatalf("after the reset: %v, %v", v, err)
	}
}

// TestHandshakeDeadlineNotExtended: a client that sends the first bytes of
// a hello slowly, then the rest as slowly, is dropped HandshakeTimeout after
// it connected: the deadline covers the whole handshake, and bytes that
// trickle in do not move it.
func TestHandshakeDeadlineNotExtended(t *testing.T) {
	const timeout = 2 * time.Second
	c := newTestCluster(t)
	cfg := c.config("b", "abc")
	cfg.HandshakeTimeout = timeout
	b := c.startCfg(cfg)
	conn, err := net.Dial("tcp", b.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	closed := make(chan time.Duration, 1)
	go func() {
		var buf [64]byte
		for {
			if _, err := conn.Read(buf[:]); err != nil {
				closed <- time.Since(start)
				return
			}
		}
	}()
	// "GSH1" by 80% of the timeout, then a name of 255 bytes, a byte at a
	// time, which never completes.
	hello := append([]byte("GSH1\x00\xff"), bytes.Repeat([]byte("x"), 255)...)
	tick := time.NewTicker(timeout / 5)
	defer tick.Stop()
	var took time.Duration
	for i := 0; took == 0; i++ {
		select {
		case took = <-closed:
		case <-tick.C:
			conn.Write(hello[i%len(hello) : i%len(hello)+1])
		}
	}
	t.Logf("dropped %v after it connected (HandshakeTimeout %v)", took.Round(time.Millisecond), timeout)
	if took > timeout+timeout/2 {
		t.Fatalf("a client trickling its hello was held %v, past HandshakeTimeout %v", took, timeout)
	}
}
