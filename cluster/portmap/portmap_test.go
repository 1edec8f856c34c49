package portmap

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// pmLog collects a Server's Logf lines.
type pmLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *pmLog) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *pmLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lines)
}

func (l *pmLog) since(n int) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines[n:]...)
}

// pmStart serves a new Server on 127.0.0.1:0 until the test ends, and
// checks then that Serve returned ErrClosed.
func pmStart(t *testing.T, timeout time.Duration) (*Server, string, *pmLog) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &pmLog{}
	m := NewServer()
	m.Logf = logs.logf
	m.Timeout = timeout
	served := make(chan error, 1)
	go func() { served <- m.Serve(l) }()
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		select {
		case err := <-served:
			if !errors.Is(err, ErrClosed) {
				t.Errorf("Serve returned %v, want ErrClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Serve did not return after Close")
		}
	})
	return m, l.Addr().String(), logs
}

// pmWaitFor polls cond on a short ticker until it holds, failing the test
// after a bounded time.
func pmWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func pmCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// pmGone reports whether name is no longer registered at addr.
func pmGone(t *testing.T, addr, name string) bool {
	_, err := Lookup(pmCtx(t), addr, name)
	if err != nil && !errors.Is(err, ErrUnknownNode) {
		t.Fatalf("Lookup(%q): %v", name, err)
	}
	return errors.Is(err, ErrUnknownNode)
}

func TestRegisterLookup(t *testing.T) {
	m, addr, _ := pmStart(t, 0)
	ctx := pmCtx(t)

	reg, err := Register(ctx, addr, "alpha", 5555, false)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	if reg.Creation == 0 {
		t.Errorf("Creation is 0")
	}

	names := m.Names()
	want := Entry{Name: "alpha", Port: 5555, Extra: "gsh", Creation: reg.Creation, HighVersion: 6, LowVersion: 5}
	if len(names) != 1 || names[0] != want {
		t.Errorf("Names() = %+v, want [%+v]", names, want)
	}

	e, err := Lookup(ctx, addr, "alpha")
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	want.Creation = 0 // PORT2_RESP does not carry it
	if e != want {
		t.Errorf("Lookup = %+v, want %+v", e, want)
	}
	if !e.IsGsh() {
		t.Errorf("IsGsh() = false for %+v", e)
	}

	// The same name again is refused while the first registration lives.
	if r2, err := Register(ctx, addr, "alpha", 5556, false); !errors.Is(err, ErrNameTaken) {
		if r2 != nil {
			r2.Close()
		}
		t.Fatalf("second Register: err = %v, want ErrNameTaken", err)
	} else if !strings.Contains(err.Error(), "port mapper at "+addr) {
		t.Errorf("error %q does not name the mapper", err)
	}

	// A hidden node.
	hid, err := Register(ctx, addr, "beta", 6666, true)
	if err != nil {
		t.Fatalf("Register hidden: %v", err)
	}
	defer hid.Close()
	e, err = Lookup(ctx, addr, "beta")
	if err != nil {
		t.Fatalf("Lookup hidden: %v", err)
	}
	if !e.Hidden || e.Port != 6666 || e.Name != "beta" {
		t.Errorf("Lookup hidden = %+v", e)
	}
	if names := m.Names(); len(names) != 2 || names[0].Hidden || !names[1].Hidden {
		t.Errorf("Names() = %+v, want alpha (visible) and beta (hidden)", names)
	}

	list, err := List(ctx, addr)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	got := map[string]int{}
	for _, e := range list {
		got[e.Name] = e.Port
	}
	if len(got) != 2 || got["alpha"] != 5555 || got["beta"] != 6666 {
		t.Errorf("List = %+v", list)
	}

	// Closing the registration frees the name.
	if err := reg.Close(); err != nil {
		t.Errorf("Registration.Close: %v", err)
	}
	if err := reg.Close(); err != nil {
		t.Errorf("second Registration.Close: %v", err)
	}
	select {
	case <-reg.Done():
	default:
		t.Errorf("Done not closed after Close")
	}
	pmWaitFor(t, "alpha to be unregistered", func() bool { return pmGone(t, addr, "alpha") })

	// Registering it again gives a different creation.
	reg2, err := Register(ctx, addr, "alpha", 5557, false)
	if err != nil {
		t.Fatalf("Register again: %v", err)
	}
	defer reg2.Close()
	if reg2.Creation == reg.Creation || reg2.Creation == 0 {
		t.Errorf("creation %d after %d, want a different non-zero one", reg2.Creation, reg.Creation)
	}
	if e, err := Lookup(ctx, addr, "alpha"); err != nil || e.Port != 5557 {
		t.Errorf("Lookup after re-registering = %+v, %v", e, err)
	}

	// A name nobody registered.
	_, err = Lookup(ctx, addr, "nobody")
	if !errors.Is(err, ErrUnknownNode) {
		t.Errorf("Lookup(nobody): err = %v, want ErrUnknownNode", err)
	}
}

func TestBadNamesClientSide(t *testing.T) {
	ctx := pmCtx(t)
	for _, name := range []string{"", "a@b", strings.Repeat("x", 256), "nul\x00"} {
		if _, err := Register(ctx, "127.0.0.1:1", name, 1, false); !errors.Is(err, ErrBadName) {
			t.Errorf("Register(%q): err = %v, want ErrBadName", name, err)
		}
		if _, err := Lookup(ctx, "127.0.0.1:1", name); !errors.Is(err, ErrBadName) {
			t.Errorf("Lookup(%q): err = %v, want ErrBadName", name, err)
		}
	}
}

func TestCloseEndsRegistrations(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := NewServer()
	served := make(chan error, 1)
	go func() { served <- m.Serve(l) }()
	reg, err := Register(pmCtx(t), l.Addr().String(), "gamma", 7777, false)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	defer reg.Close()
	if err := m.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := <-served; !errors.Is(err, ErrClosed) {
		t.Errorf("Serve returned %v, want ErrClosed", err)
	}
	if n := m.Names(); len(n) != 0 {
		t.Errorf("Names() after Close = %+v", n)
	}
	select {
	case <-reg.Done():
	case <-time.After(5 * time.Second):
		t.Fatalf("registration not ended by the mapper's Close")
	}
	// Serve after Close refuses at once and closes the listener.
	l2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Serve(l2); !errors.Is(err, ErrClosed) {
		t.Errorf("Serve after Close returned %v", err)
	}
	if _, err := l2.Accept(); err == nil {
		t.Errorf("listener still open after Serve on a closed mapper")
	}
}

func TestConnRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx := pmCtx(t)
	_, err1 := List(ctx, addr)
	_, err2 := Register(ctx, addr, "x", 1, false)
	_, err3 := Lookup(ctx, addr, "x")
	for _, err := range []error{err1, err2, err3} {
		var op *net.OpError
		if !errors.Is(err, syscall.ECONNREFUSED) || !errors.As(err, &op) {
			t.Errorf("err = %v, want a wrapped *net.OpError with ECONNREFUSED", err)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "port mapper at "+addr+": ") {
			t.Errorf("err = %q, want it to start with the mapper's address", err)
		}
	}
}

func TestClientContext(t *testing.T) {
	// A "mapper" that accepts and never answers.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait() // runs after l.Close below, which ends the goroutine
	defer l.Close()
	wg.Add(1)
	go func() {
		defer wg.Done()
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = Register(ctx, l.Addr().String(), "slow", 1234, false)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Register: err = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Register took %v after its context ended", d)
	}
	_, err = Lookup(ctx, l.Addr().String(), "slow")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lookup: err = %v, want context.DeadlineExceeded", err)
	}
}

// pmAlive2 builds a framed ALIVE2_REQ.
func pmAlive2(name string, port, high int, extra string) []byte {
	b := []byte{0, 0, alive2Req}
	b = binary.BigEndian.AppendUint16(b, uint16(port))
	b = append(b, nodeNormal, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(high))
	b = binary.BigEndian.AppendUint16(b, 5)
	b = binary.BigEndian.AppendUint16(b, uint16(len(name)))
	b = append(b, name...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(extra)))
	b = append(b, extra...)
	binary.BigEndian.PutUint16(b, uint16(len(b)-2))
	return b
}

// pmFrame puts a request's 2-byte length in front of it.
func pmFrame(req ...byte) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(req))), req...)
}

func TestHostileInput(t *testing.T) {
	m, addr, logs := pmStart(t, 200*time.Millisecond)

	// A good registration that must survive all of it.
	keep, err := Register(pmCtx(t), addr, "keeper", 4242, false)
	if err != nil {
		t.Fatal(err)
	}
	defer keep.Close()

	badAlive := pmAlive2("evil", 1, 6, "")
	binary.BigEndian.PutUint16(badAlive[11:], 200) // name length overruns

	cases := []struct {
		name      string
		send      []byte
		halfClose bool   // shut the write side after sending
		answer    []byte // what the server must answer before closing
	}{
		{name: "garbage", send: []byte("GET / HTTP/1.0\r\n\r\n")},
		{name: "unknown code", send: pmFrame('q', 'r', 's')},
		{name: "oversized length", send: []byte{0xff, 0xff, 1, 2, 3}},
		{name: "zero length", send: []byte{0, 0}},
		{name: "just over the limit", send: append(binary.BigEndian.AppendUint16(nil, maxRequest+1), make([]byte, maxRequest+1)...)},
		{name: "truncated request, then silence", send: []byte{0, 20, alive2Req, 1, 2}},
		{name: "truncated request, then EOF", send: []byte{0, 20, alive2Req, 1, 2}, halfClose: true},
		{name: "half a length, then silence", send: []byte{0}},
		{name: "nothing at all"},
		{name: "ALIVE2 with bad lengths", send: badAlive},
		{name: "ALIVE2 too short", send: pmFrame(alive2Req, 0, 1)},
		{name: "ALIVE2 with extra too long", send: pmAlive2("evil", 1, 6, strings.Repeat("e", maxExtra+1)),
			answer: []byte{alive2X, 1, 0, 0, 0, 0}},
		{name: "ALIVE2 with invalid UTF-8 name", send: pmAlive2("\xff\xfe", 1, 6, ""),
			answer: []byte{alive2X, 1, 0, 0, 0, 0}},
		{name: "ALIVE2 of a taken name", send: pmAlive2("keeper", 1, 6, ""),
			answer: []byte{alive2X, 1, 0, 0, 0, 0}},
		{name: "ALIVE2 then more data", send: append(pmAlive2("twice", 1, 6, ""), pmFrame(namesReq)...)},
		{name: "PORT2 with no name", send: pmFrame(port2Req)},
		{name: "PORT2 with a NUL in the name", send: pmFrame(port2Req, 'a', 0, 'b')},
		{name: "NAMES with trailing bytes", send: pmFrame(namesReq, 1)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := logs.count()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if len(tc.send) > 0 {
				if _, err := c.Write(tc.send); err != nil {
					t.Fatalf("write: %v", err)
				}
			}
			if tc.halfClose {
				c.(*net.TCPConn).CloseWrite()
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			got, err := io.ReadAll(c)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the mapper did not drop the connection")
			}
			if tc.name == "ALIVE2 then more data" {
				// It was registered and answered, then dropped.
				if len(got) != 6 || got[0] != alive2X || got[1] != 0 {
					t.Errorf("answer %x, want a successful ALIVE2_X_RESP", got)
				}
			} else if !bytes.Equal(got, tc.answer) {
				t.Errorf("answer %q, want %q", got, tc.answer)
			}
			if lines := logs.since(before); len(lines) != 1 {
				t.Errorf("logged %q, want one line", lines)
			}
		})
	}

	// The mapper still serves, and the good registration is intact.
	names := m.Names()
	if len(names) != 1 || names[0].Name != "keeper" {
		t.Errorf("Names() = %+v, want only keeper", names)
	}
	ctx := pmCtx(t)
	if e, err := Lookup(ctx, addr, "keeper"); err != nil || e.Port != 4242 {
		t.Errorf("Lookup(keeper) = %+v, %v", e, err)
	}
	r, err := Register(ctx, addr, "fresh", 4343, false)
	if err != nil {
		t.Fatalf("Register after hostile input: %v", err)
	}
	r.Close()
}

func TestOldClient(t *testing.T) {
	// A node that speaks only version 5 gets the 16-bit answer, with a
	// creation in 1..3 as epmd gives, different each time.
	m, addr, _ := pmStart(t, 0)
	var last uint16
	for i := range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write(pmAlive2("old", 999, 5, "")); err != nil {
			t.Fatal(err)
		}
		resp := make([]byte, 4)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(c, resp); err != nil {
			t.Fatal(err)
		}
		cr := binary.BigEndian.Uint16(resp[2:])
		if resp[0] != alive2Resp || resp[1] != 0 || cr < 1 || cr > 3 {
			t.Errorf("answer %x, want ALIVE2_RESP ok with creation 1..3", resp)
		}
		if i > 0 && cr == last {
			t.Errorf("creation %d twice in a row", cr)
		}
		last = cr
		if n := m.Names(); len(n) != 1 || n[0].Creation != uint32(cr) || n[0].HighVersion != 5 || n[0].Extra != "" {
			t.Errorf("Names() = %+v", n)
		}
		c.Close()
		pmWaitFor(t, "old to be unregistered", func() bool { return len(m.Names()) == 0 })
	}
}

func TestCreationCounter(t *testing.T) {
	m := NewServer()
	m.mu.Lock()
	defer m.mu.Unlock()
	a1 := m.nextCreation("a")
	b1 := m.nextCreation("b")
	a2 := m.nextCreation("a")
	if a1 == a2 || a1 < 4 || a2 < 4 || b1 < 4 {
		t.Errorf("creations a:%d b:%d a:%d", a1, b1, a2)
	}
	// Wrapping around skips 0..3.
	m.creations["w"] = ^uint32(0)
	if c := m.nextCreation("w"); c != 4 {
		t.Errorf("creation after 0xffffffff = %d, want 4", c)
	}
	// The table of counters stays bounded.
	for i := range maxRemembered + 100 {
		m.nextCreation(strconv.Itoa(i))
	}
	if n := len(m.creations); n > maxRemembered {
		t.Errorf("%d counters remembered, limit %d", n, maxRemembered)
	}
}

func TestKill(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	m := NewServer()
	defer m.Close()
	served := make(chan error, 1)
	go func() { served <- m.Serve(l) }()

	kill := func() string {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write(pmFrame(killReq))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, _ := io.ReadAll(c)
		return string(b)
	}
	reg, err := Register(pmCtx(t), addr, "alive", 1111, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := kill(); got != "NO" {
		t.Errorf("KILL with a live node answered %q, want NO", got)
	}
	reg.Close()
	pmWaitFor(t, "alive to be unregistered", func() bool { return len(m.Names()) == 0 })
	if got := kill(); got != "OK" {
		t.Errorf("KILL with no node answered %q, want OK", got)
	}
	select {
	case err := <-served:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Serve returned %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("Serve still running after KILL")
	}
}

func TestParseNames(t *testing.T) {
	got, err := parseNames("name a at port 1\nname with space at port 65535\n\n")
	if err != nil || len(got) != 2 || got[0] != (Entry{Name: "a", Port: 1}) ||
		got[1] != (Entry{Name: "with space", Port: 65535}) {
		t.Errorf("parseNames = %+v, %v", got, err)
	}
	for _, bad := range []string{"hello\n", "name a at port x\n", "name a at port 70000\n"} {
		if _, err := parseNames(bad); !errors.Is(err, ErrProtocol) {
			t.Errorf("parseNames(%q): err = %v, want ErrProtocol", bad, err)
		}
	}
}

// TestErlangEpmd runs the client against Erlang's own epmd.
func TestErlangEpmd(t *testing.T) {
	const epmd = "/usr/bin/epmd"
	if _, err := os.Stat(epmd); err != nil {
		t.Skipf("%s not installed (it comes with erlang-base)", epmd)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	addr := net.JoinHostPort("127.0.0.1", port)

	var out bytes.Buffer
	cmd := exec.Command(epmd, "-port", port, "-address", "127.0.0.1")
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting epmd: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("epmd output:\n%s", out.String())
		}
	}()

	// Wait until epmd answers.
	pmWaitFor(t, "epmd to answer", func() bool {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("epmd exited early: %v", err)
		default:
		}
		_, err := List(pmCtx(t), addr)
		return err == nil
	})

	ctx := pmCtx(t)
	reg, err := Register(ctx, addr, "gshtest", 40123, false)
	if err != nil {
		t.Fatalf("Register with epmd: %v", err)
	}
	defer reg.Close()
	if reg.Creation == 0 {
		t.Errorf("epmd gave creation 0")
	}

	names, err := exec.Command(epmd, "-port", port, "-names").CombinedOutput()
	if err != nil {
		t.Fatalf("epmd -names: %v\n%s", err, names)
	}
	if !strings.Contains(string(names), "name gshtest at port 40123\n") {
		t.Errorf("epmd -names does not list gshtest:\n%s", names)
	}

	e, err := Lookup(ctx, addr, "gshtest")
	if err != nil {
		t.Fatalf("Lookup with epmd: %v", err)
	}
	want := Entry{Name: "gshtest", Port: 40123, Extra: "gsh", HighVersion: 6, LowVersion: 5}
	if e != want {
		t.Errorf("Lookup = %+v, want %+v", e, want)
	}

	list, err := List(ctx, addr)
	if err != nil || len(list) != 1 || list[0] != (Entry{Name: "gshtest", Port: 40123}) {
		t.Errorf("List = %+v, %v", list, err)
	}

	if r, err := Register(ctx, addr, "gshtest", 40124, false); !errors.Is(err, ErrNameTaken) {
		if r != nil {
			r.Close()
		}
		t.Errorf("second Register with epmd: err = %v, want ErrNameTaken", err)
	}

	hid, err := Register(ctx, addr, "gshhidden", 40125, true)
	if err != nil {
		t.Fatalf("hidden Register with epmd: %v", err)
	}
	if e, err := Lookup(ctx, addr, "gshhidden"); err != nil || !e.Hidden {
		t.Errorf("Lookup(gshhidden) = %+v, %v; want hidden", e, err)
	}
	hid.Close()

	if _, err := Lookup(ctx, addr, "nosuchnode"); !errors.Is(err, ErrUnknownNode) {
		t.Errorf("Lookup(nosuchnode) with epmd: err = %v, want ErrUnknownNode", err)
	}

	first := reg.Creation
	reg.Close()
	pmWaitFor(t, "epmd to drop gshtest", func() bool { return pmGone(t, addr, "gshtest") })
	reg2, err := Register(ctx, addr, "gshtest", 40123, false)
	if err != nil {
		t.Fatalf("Register again with epmd: %v", err)
	}
	defer reg2.Close()
	if reg2.Creation == first {
		t.Errorf("epmd gave the same creation %d twice", first)
	}
}

// FuzzRequest feeds arbitrary bytes as a connection's whole content
// to the mapper's connection handler: it must not panic or hang, and must
// leave no registration behind once the connection is gone.
func FuzzRequest(f *testing.F) {
	f.Add(pmAlive2("fuzz", 1234, 6, "gsh"))
	f.Add(pmAlive2("fuzz", 1234, 5, ""))
	f.Add(pmFrame(append([]byte{port2Req}, "fuzz"...)...))
	f.Add(pmFrame(namesReq))
	f.Add(pmFrame(killReq))
	f.Add([]byte{0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		m := NewServer()
		m.Timeout = time.Second
		srv, cli := net.Pipe()
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { // the client: send everything, then hang up
			defer wg.Done()
			cli.Write(data)
			cli.Close()
		}()
		go func() { // and read whatever comes back
			defer wg.Done()
			io.Copy(io.Discard, cli)
		}()
		done := make(chan struct{})
		go func() {
			defer close(done)
			m.serveConn(srv)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("handler hung on %q", data)
		}
		wg.Wait()
		if n := m.Names(); len(n) != 0 {
			t.Errorf("registrations left after the connection ended: %+v", n)
		}
		m.Close()
	})
}

// TestRefusesForgedNames: a raw client registering names a node
// could not have (a newline that would forge a NAMES line, a space, '@',
// control characters, too long) is refused; NAMES lists only real nodes.
func TestRefusesForgedNames(t *testing.T) {
	m, addr, _ := pmStart(t, 200*time.Millisecond)
	ctx := pmCtx(t)
	r, err := Register(ctx, addr, "bilbo", 4242, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, name := range []string{
		"x at port 1\nname gandalf", "x\rname gandalf", "two words", "a@b", "tab\t", "bell\a",
		"é", strings.Repeat("x", MaxNameLen+1),
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(pmAlive2(name, 1, 6, "")); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(c)
		c.Close()
		if want := []byte{alive2X, 1, 0, 0, 0, 0}; err != nil || !bytes.Equal(got, want) {
			t.Errorf("ALIVE2 of %q: answer %q, %v; want a refusal %q", name, got, err, want)
		}
	}
	list, err := List(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != "bilbo" || list[0].Port != 4242 {
		t.Errorf("NAMES lists %+v, want bilbo alone", list)
	}
	if names := m.Names(); len(names) != 1 {
		t.Errorf("Names() = %+v, want bilbo alone", names)
	}
}
