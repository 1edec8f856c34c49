package service

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"gsh/cluster"
	"gsh/cluster/portmap"
)

// logLines keeps a server's log lines and lets a test wait for one.
type logLines struct {
	t       testing.TB
	mu      sync.Mutex
	lines   []string
	changed chan struct{}
}

func newLogLines(t testing.TB) *logLines { return &logLines{t: t, changed: make(chan struct{})} }

func (l *logLines) logf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	l.mu.Lock()
	l.lines = append(l.lines, line)
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

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

// waitFor waits until a line contains every one of subs.
func (l *logLines) waitFor(subs ...string) string {
	l.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		l.mu.Lock()
		ch := l.changed
		for _, line := range l.lines {
			all := true
			for _, s := range subs {
				all = all && strings.Contains(line, s)
			}
			if all {
				l.mu.Unlock()
				return line
			}
		}
		l.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			l.t.Fatalf("no log line says %q; the lines: %q", subs, l.lines)
		}
	}
}

// testKVS is the book's name server as Go functions, with what a node
// also serves beside it: functions no service exposes.
func testModules(kvs *sync.Map) cluster.Modules {
	return cluster.Modules{
		"kvs": {
			"start":  reflect.ValueOf(func() bool { return true }),
			"store":  reflect.ValueOf(func(k, v any) bool { kvs.Store(k, v); return true }),
			"lookup": reflect.ValueOf(func(k any) (any, bool) { return kvs.Load(k) }),
		},
		"erlang": {"node": reflect.ValueOf(func() string { return "gandalf" })},
		"os":     {"ReadFile": reflect.ValueOf(os.ReadFile)},
		"test": {
			"wait": reflect.ValueOf(func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }),
			"boom": reflect.ValueOf(func() { panic("boom") }),
		},
	}
}

type testServer struct {
	node *cluster.Node
	srv  *Server
	addr string
	logs *logLines
	kvs  *sync.Map
}

// startNode starts a real node on loopback with a private port mapper.
func startNode(t testing.TB, h cluster.Handler) *cluster.Node {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := portmap.NewServer()
	m.Logf = func(string, ...any) {}
	go m.Serve(ln)
	t.Cleanup(func() { m.Close() })
	cfg := cluster.DefaultConfig()
	cfg.Name = cluster.Atom("gandalf@" + cluster.ShortHostname())
	cfg.Cookie = "abc"
	cfg.ListenAddr = "127.0.0.1:0"
	cfg.MapperPort = ln.Addr().(*net.TCPAddr).Port
	cfg.Handler = h
	cfg.Logf = func(string, ...any) {}
	n, err := cluster.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// startServer starts a node and a service server on it, configured by
// change.
func startServer(t testing.TB, change func(*Config)) *testServer {
	t.Helper()
	ts := &testServer{logs: newLogLines(t), kvs: &sync.Map{}}
	ts.node = startNode(t, testModules(ts.kvs))
	cfg := DefaultConfig()
	cfg.Node = ts.node
	cfg.Logf = ts.logs.logf
	cfg.Services = []Service{
		{Name: "nameServer", Secret: "ABXy45", Functions: []string{"kvs.store", "kvs.lookup"}},
		{Name: "echo", Secret: "s3cret", Process: "echo", Functions: []string{"test.wait", "test.boom"}},
	}
	if change != nil {
		change(cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.refused.burst = 1 << 20 // every line, for the tests to find
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	})
	ts.srv, ts.addr = srv, ln.Addr().String()
	return ts
}

func (ts *testServer) dial(t testing.TB, service, secret string) *Conn {
	t.Helper()
	c, err := Dial(context.Background(), ts.addr, service, secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestNameServer: the book's name server with store and lookup exposed,
// nothing else: a client stores and looks up; everything else is refused
// with ErrNotExposed, logged on the server, and reaches no function.
func TestNameServer(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.dial(t, "nameServer", "ABXy45")
	ctx := context.Background()
	if v, err := c.Call(ctx, "store", "weather", "fine"); err != nil || v != true {
		t.Fatalf("store: %v, %v", v, err)
	}
	if v, err := c.Call(ctx, "kvs.lookup", "weather"); err != nil || v != "fine" {
		t.Fatalf("lookup: %v, %v", v, err)
	}
	if v, err := c.Call(ctx, "lookup", "snow"); err != nil || v != cluster.Undefined {
		t.Fatalf("lookup of nothing: %v, %v", v, err)
	}
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("the ring"), 0o600)
	for _, fn := range []string{"os.ReadFile", "ReadFile", "kvs.start", "start", "erlang.node", "node",
		"test.boom", "kvs.Store", "kvs.lookup.x", "", ".", "os/ReadFile", "$spawn.spawn", "global.register"} {
		v, err := c.Call(ctx, fn, secret)
		if !errors.Is(err, ErrNotExposed) {
			t.Fatalf("call %q: %v, %v; want ErrNotExposed", fn, v, err)
		}
		if want := "service nameServer exposes kvs.store, kvs.lookup, not " + fn; !strings.Contains(err.Error(), want) {
			t.Errorf("call %q: %q, want it to say %q", fn, err, want)
		}
	}
	ts.logs.waitFor(`refused a call of "os.ReadFile" from a client of service nameServer at 127.0.0.1:`, "not exposed")
	if _, ok := ts.kvs.Load(secret); ok {
		t.Fatal("a refused call ran")
	}
	// The connection goes on serving, and the client is no node.
	if v, err := c.Call(ctx, "lookup", "weather"); err != nil || v != "fine" {
		t.Fatalf("lookup after refusals: %v, %v", v, err)
	}
	if ns := append(ts.node.Nodes(), ts.node.HiddenNodes()...); len(ns) != 0 {
		t.Fatalf("the node has links to %v", ns)
	}
	// A function's error and bad arguments keep their kind.
	e := ts.dial(t, "echo", "s3cret")
	if _, err := e.Call(ctx, "boom"); !errors.Is(err, cluster.ErrPanic) {
		t.Fatalf("boom: %v", err)
	}
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := e.Call(tctx, "wait"); !errors.Is(err, cluster.ErrTimeout) {
		t.Fatalf("wait past its deadline: %v", err)
	}
}

// TestConnNamesDialledAddress: a connection shows the address as it was
// dialled, a host name included, as the errors of Dial name it.
func TestConnNamesDialledAddress(t *testing.T) {
	ts := startServer(t, nil)
	_, port, _ := net.SplitHostPort(ts.addr)
	addr := net.JoinHostPort("localhost", port)
	c, err := Dial(context.Background(), addr, "nameServer", "ABXy45", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, want := c.String(), "#lib_chan<nameServer@localhost:"+port+">"; got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
	_, err = Dial(context.Background(), addr, "nameServer", "guess", nil)
	if want := "connecting to service nameServer at localhost:" + port + ": "; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("a wrong secret: %v, want it to start with %q", err, want)
	}
}

// TestHandlerProcess: a service's handler process gets {client, msg} for
// each message and answers the client's pid; the client's process ends
// with reason closed when it disconnects.
func TestHandlerProcess(t *testing.T) {
	ts := startServer(t, nil)
	h := ts.node.NewProcess()
	defer h.Exit(cluster.Normal)
	if err := ts.node.Register("echo", h.Pid()); err != nil {
		t.Fatal(err)
	}
	c := ts.dial(t, "echo", "s3cret")
	ctx := context.Background()
	if err := c.Send([]any{"hello", 1}); err != nil {
		t.Fatal(err)
	}
	m, ok, err := h.Receive(ctx, nil, 10*time.Second)
	if !ok || err != nil {
		t.Fatalf("the handler got nothing: %v", err)
	}
	a, _ := m.([]any)
	if len(a) != 2 || !reflect.DeepEqual(a[1], []any{"hello", 1}) {
		t.Fatalf("the handler got %#v", m)
	}
	client, ok := a[0].(cluster.Pid)
	if !ok || client.Node != ts.node.Name() {
		t.Fatalf("client %#v is not a pid of the node", a[0])
	}
	ref := h.Monitor(client)
	ts.node.Send(client, "hi back")
	if v, ok, err := c.Receive(ctx, 10*time.Second); !ok || err != nil || v != "hi back" {
		t.Fatalf("the client received %v, %v, %v", v, ok, err)
	}
	if v, ok, err := c.Receive(ctx, 0); ok || err != nil {
		t.Fatalf("a second receive gave %v, %v", v, err)
	}
	// A service without a process refuses messages, in Receive's turn.
	ns := ts.dial(t, "nameServer", "ABXy45")
	ns.Send("anything")
	if _, _, err := ns.Receive(ctx, 10*time.Second); !errors.Is(err, ErrNotExposed) {
		t.Fatalf("a send to a service without a process: %v", err)
	}
	c.Close()
	m, ok, err = h.Receive(ctx, nil, 10*time.Second)
	if d, isDown := m.(cluster.Down); !ok || err != nil || !isDown || d.Ref != ref || d.Reason != Closed {
		t.Fatalf("after close the handler got %#v, %v", m, err)
	}
	if _, err := c.Call(ctx, "wait"); !errors.Is(err, ErrClosed) {
		t.Fatalf("a call on a closed connection: %v", err)
	}
}

// hello is a client's hello for service.
func hello(service string) []byte {
	b := append([]byte(magic), byte(len(service)))
	return append(append(b, service...), make([]byte, nonceLen)...)
}

// TestBadClients: a wrong secret, an unknown service, a node's handshake,
// garbage and a malformed name are refused with a clear error and logged;
// the server serves the others meanwhile.
func TestBadClients(t *testing.T) {
	ts := startServer(t, nil)
	good := ts.dial(t, "nameServer", "ABXy45")
	ctx := context.Background()
	_, err := Dial(ctx, ts.addr, "nameServer", "guess", nil)
	if !errors.Is(err, cluster.ErrAuth) || !strings.Contains(err.Error(), "wrong secret for service nameServer") {
		t.Fatalf("wrong secret: %v", err)
	}
	ts.logs.waitFor("refused a client of service nameServer at 127.0.0.1:", "wrong secret")
	// The secret of another service proves nothing here.
	if _, err := Dial(ctx, ts.addr, "nameServer", "s3cret", nil); !errors.Is(err, cluster.ErrAuth) {
		t.Fatalf("another service's secret: %v", err)
	}
	_, err = Dial(ctx, ts.addr, "fileServer", "ABXy45", nil)
	if !errors.Is(err, ErrUnknownService) || !strings.Contains(err.Error(), "no service fileServer here") {
		t.Fatalf("unknown service: %v", err)
	}
	ts.logs.waitFor("no service fileServer here")
	if _, err := Dial(ctx, ts.addr, strings.Repeat("x", 65), "s", nil); !errors.Is(err, cluster.ErrBadArgs) {
		t.Fatalf("a name too long: %v", err)
	}
	raw := []struct {
		name  string
		bytes []byte
		reply string // in the refusal
		log   string
	}{
		{"a node's hello", []byte("GSH1\x00\x06a@host"), "a node's handshake on a service port", "a node's handshake"},
		{"garbage", []byte("GET / HTTP/1.1\r\n\r\n"), "not a gsh service handshake", `first bytes "GET "`},
		{"a bad name", hello("a b"), "service name \"a b\"", `service name "a b"`},
		{"an empty name", hello(""), `service name ""`, `service name ""`},
		{"TLS to a server without it", []byte{0x16, 3, 1, 0, 5}, "", "it started TLS, which this server does not offer"},
		{"more than a proof", append(hello("nameServer"), make([]byte, proofLen+5)...), "", ""},
	}
	for _, tc := range raw {
		conn, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		conn.Write(tc.bytes)
		got, _ := io.ReadAll(conn) // until the server closes
		conn.Close()
		if !strings.Contains(string(got), tc.reply) {
			t.Errorf("%s: the server answered %q, want %q", tc.name, got, tc.reply)
		}
		if tc.log != "" {
			ts.logs.waitFor(tc.log)
		}
		if v, err := good.Call(ctx, "store", tc.name, 1); err != nil || v != true {
			t.Fatalf("after %s: %v, %v", tc.name, v, err)
		}
	}
}

// TestBadFrames: garbage, oversized and malformed frames after a good
// handshake. Garbage and frames over the limit end that connection with
// an error frame saying why, and a log line; a well-formed frame that is no
// request is answered with an error, the connection kept.
func TestBadFrames(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxFrameSize = 4096 })
	good := ts.dial(t, "nameServer", "ABXy45")
	ctx := context.Background()
	enc := func(v any) []byte {
		b, err := encodeFrame(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	header := func(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }
	cases := []struct {
		name  string
		bytes []byte
		kind  error
		log   string // "" when the connection stays
	}{
		{"not CBOR", append(header(3), 0xff, 0xfe, 0xfd), cluster.ErrProtocol, "bad frame"},
		{"oversized", header(0xFFFFFFFF), cluster.ErrTooLarge, "over the limit of 4096"},
		{"just over the limit", header(4097), cluster.ErrTooLarge, "over the limit of 4096"},
		{"a value over the limit", enc([]any{"call", 1, "store", []any{strings.Repeat("x", 5000)}, 0}), cluster.ErrTooLarge, "over the limit"},
		{"not a list", enc("hello"), cluster.ErrProtocol, ""},
		{"an unknown op", enc([]any{"spawn", 1, "os", []any{}, 0}), cluster.ErrProtocol, ""},
		{"a call of the wrong shape", enc([]any{"call", 1, 5, []any{}, 0}), cluster.ErrProtocol, ""},
		{"a call with a module", enc([]any{"call", 1, "os", "ReadFile", []any{"/etc/passwd"}}), cluster.ErrProtocol, ""},
	}
	for _, tc := range cases {
		c := ts.dial(t, "nameServer", "ABXy45")
		if err := c.sendRaw(tc.bytes); err != nil {
			t.Fatal(err)
		}
		_, _, err := c.Receive(ctx, 10*time.Second)
		if !errors.Is(err, tc.kind) {
			t.Errorf("%s: received %v, want %v", tc.name, err, tc.kind)
		}
		if tc.log != "" {
			ts.logs.waitFor("dropped a client of service nameServer", tc.log)
			if _, _, err := c.Receive(ctx, 10*time.Second); !errors.Is(err, cluster.ErrNodeDown) {
				t.Errorf("%s: the connection was not closed: %v", tc.name, err)
			}
		} else if v, err := c.Call(ctx, "store", tc.name, 2); err != nil || v != true {
			t.Errorf("%s: the connection was not kept: %v, %v", tc.name, v, err)
		}
		if v, err := good.Call(ctx, "store", tc.name, 1); err != nil || v != true {
			t.Fatalf("after %s: %v, %v", tc.name, v, err)
		}
	}
}

// sendRaw writes bytes as they are, for tests.
func (c *Conn) sendRaw(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.conn.Write(b)
	return err
}

// TestSlowClients: clients that send nothing, or trickle a hello, are
// dropped at the handshake deadline, which trickling bytes do not extend;
// meanwhile the server serves others.
func TestSlowClients(t *testing.T) {
	const timeout = time.Second
	ts := startServer(t, func(c *Config) { c.HandshakeTimeout = timeout })
	good := ts.dial(t, "nameServer", "ABXy45")
	ctx := context.Background()
	h := append(hello("nameServer"), make([]byte, proofLen)...)
	const k = 20
	closed := make(chan time.Duration, k)
	var stop sync.WaitGroup
	quit := make(chan struct{})
	defer func() { close(quit); stop.Wait() }()
	for i := range k {
		conn, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		stop.Add(2)
		go func() {
			defer stop.Done()
			io.Copy(io.Discard, conn)
			closed <- time.Since(start)
		}()
		go func() {
			defer stop.Done()
			defer conn.Close()
			if i%2 == 0 {
				<-quit // sends nothing
				return
			}
			tick := time.NewTicker(timeout / 10)
			defer tick.Stop()
			for j := 0; ; j++ {
				select {
				case <-quit:
					return
				case <-tick.C:
					conn.Write(h[j%len(h) : j%len(h)+1])
				}
			}
		}()
	}
	for i := range 5 {
		if v, err := good.Call(ctx, "store", "k", i); err != nil || v != true {
			t.Fatalf("among slow clients: %v, %v", v, err)
		}
	}
	var longest time.Duration
	for range k {
		select {
		case d := <-closed:
			longest = max(longest, d)
		case <-time.After(10 * timeout):
			t.Fatal("a slow client was not dropped")
		}
	}
	t.Logf("%d slow clients dropped, the last %v after it connected (HandshakeTimeout %v)", k, longest.Round(time.Millisecond), timeout)
	if longest > timeout+timeout/2 {
		t.Fatalf("a slow client was held %v, past the handshake deadline %v", longest, timeout)
	}
	ts.logs.waitFor("refused a service client", "i/o timeout")
}

// TestMaxClients: past MaxClients a client is refused with ErrBusy, and
// gets in once another leaves.
func TestMaxClients(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxClients = 2 })
	a := ts.dial(t, "nameServer", "ABXy45")
	ts.dial(t, "nameServer", "ABXy45")
	_, err := Dial(context.Background(), ts.addr, "nameServer", "ABXy45", nil)
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("a third client: %v", err)
	}
	a.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := Dial(context.Background(), ts.addr, "nameServer", "ABXy45", nil)
		if err == nil {
			c.Close()
			break
		}
		if !errors.Is(err, ErrBusy) || time.Now().After(deadline) {
			t.Fatalf("after one left: %v", err)
		}
		<-time.After(10 * time.Millisecond) // the server sees the close in its own time
	}
}

// TestProofRate: proofs past the rate wait their turn, and one whose turn
// would come after its deadline is refused at once.
func TestProofRate(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.ProofRate = 10; c.HandshakeTimeout = 300 * time.Millisecond })
	ctx := context.Background()
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			c, err := Dial(ctx, ts.addr, "nameServer", "ABXy45", nil)
			if err == nil {
				c.Close()
			}
			errs <- err
		}()
	}
	refused := 0
	for range 8 {
		if err := <-errs; err != nil {
			// Refused for the rate, or (its turn at the very deadline)
			// dropped at the deadline.
			if !errors.Is(err, ErrBusy) && !errors.Is(err, cluster.ErrNodeDown) {
				t.Errorf("refused with %v", err)
			}
			refused++
		}
	}
	// One proof at once, then one each 100 ms: of 8 tried at once within
	// 300 ms, at most 4 (5 at the edge) get a turn.
	if refused < 3 || refused == 8 {
		t.Fatalf("%d of 8 refused at 10 proofs a second within 300 ms", refused)
	}
	ts.logs.waitFor("no turn to check its proof")
}

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "gsh services"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// TestTLS: a service that asks for TLS refuses a plain client with a
// message saying so, and serves one over TLS; a client that does not trust
// the server's certificate stops before it proves the secret.
func TestTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	ts := startServer(t, func(c *Config) {
		c.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}
		c.Services[0].TLS = true
	})
	ctx := context.Background()
	_, err := Dial(ctx, ts.addr, "nameServer", "ABXy45", nil)
	if !errors.Is(err, cluster.ErrTLS) || !strings.Contains(err.Error(), "service nameServer asks for TLS") {
		t.Fatalf("plain: %v", err)
	}
	opts := &DialOptions{TLS: &tls.Config{RootCAs: pool}}
	c, err := Dial(ctx, ts.addr, "nameServer", "ABXy45", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if v, err := c.Call(ctx, "store", "k", "v"); err != nil || v != true {
		t.Fatalf("over TLS: %v, %v", v, err)
	}
	_, other := selfSigned(t)
	if _, err := Dial(ctx, ts.addr, "nameServer", "ABXy45", &DialOptions{TLS: &tls.Config{RootCAs: other}}); !errors.Is(err, cluster.ErrTLS) {
		t.Fatalf("an untrusted certificate: %v", err)
	}
	// A service that does not ask for TLS takes both.
	if c, err := Dial(ctx, ts.addr, "echo", "s3cret", opts); err != nil {
		t.Fatal(err)
	} else {
		c.Close()
	}
	if c, err := Dial(ctx, ts.addr, "echo", "s3cret", nil); err != nil {
		t.Fatal(err)
	} else {
		c.Close()
	}
}

// TestConfig: what New and LoadFile refuse, with what they say.
func TestConfig(t *testing.T) {
	node := startNode(t, nil)
	for _, tc := range []struct {
		svc  Service
		want string
	}{
		{Service{Name: "a b", Secret: "s", Process: "p"}, "service name"},
		{Service{Name: "a", Process: "p"}, "has no secret"},
		{Service{Name: "a", Secret: "s"}, "exposes nothing"},
		{Service{Name: "a", Secret: "s", Functions: []string{"store"}}, `"store" is not module.function`},
		{Service{Name: "a", Secret: "s", Functions: []string{"kvs."}}, "not module.function"},
		{Service{Name: "a", Secret: "s", Process: "p", TLS: true}, "asks for TLS"},
	} {
		cfg := DefaultConfig()
		cfg.Node = node
		cfg.Services = []Service{tc.svc}
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.svc, err, tc.want)
		}
	}
	dir := t.TempDir()
	write := func(text string, mode os.FileMode) string {
		p := filepath.Join(dir, "services.json")
		os.Remove(p)
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ok := `{"listen": "127.0.0.1:0", "services": [{"name": "nameServer", "secret": "ABXy45", "functions": ["kvs.store", "kvs.lookup"]}]}`
	if f, err := LoadFile(write(ok, 0o600)); err != nil || f.Services[0].Functions[1] != "kvs.lookup" {
		t.Fatalf("a good file: %+v, %v", f, err)
	}
	for _, tc := range []struct {
		text string
		mode os.FileMode
		want string
	}{
		{ok, 0o644, "can be read by others (mode -rw-r--r--): run chmod 600"},
		{strings.Replace(ok, "functions", "function", 1), 0o600, `unknown field "function"`},
		{`{"listen": "2233", "services": []}`, 0o600, `"listen" is host:port`},
		{`{"listen": ":2233", "services": []}`, 0o600, "offers no services"},
		{`{"listen": ":2233"`, 0o600, "unexpected EOF"},
	} {
		if _, err := LoadFile(write(tc.text, tc.mode)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.text, err, tc.want)
		}
	}
}

var _ = bytes.Equal

// TestHandlerQueueBound: messages to a handler that does not read are
// dropped past MaxHandlerQueue, each drop told to the client with ErrBusy;
// messages to a service whose handler is not running give ErrNoProcess.
func TestHandlerQueueBound(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxHandlerQueue = 5 })
	ctx := context.Background()
	c := ts.dial(t, "echo", "s3cret")
	c.Send("before the handler runs")
	if _, _, err := c.Receive(ctx, 10*time.Second); !errors.Is(err, cluster.ErrNoProcess) {
		t.Fatalf("a message with no handler: %v", err)
	}
	h := ts.node.NewProcess()
	defer h.Exit(cluster.Normal)
	if err := ts.node.Register("echo", h.Pid()); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := c.Send(i); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		if _, _, err := c.Receive(ctx, 10*time.Second); !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "its handler has 5 messages waiting") {
			t.Fatalf("a message past the bound: %v", err)
		}
	}
	if k := h.MailboxLen(); k != 5 {
		t.Fatalf("the handler has %d messages, want 5", k)
	}
	ts.logs.waitFor("dropped a message from a client of service echo", "its handler echo has 5 messages waiting")
	// Once it reads, messages get in again.
	h.Flush()
	c.Send("again")
	m, ok, err := h.Receive(ctx, nil, 10*time.Second)
	if a, _ := m.([]any); !ok || err != nil || len(a) != 2 || a[1] != "again" {
		t.Fatalf("after the handler read: %v, %v", m, err)
	}
}

// TestClientNotReading: a client that stops reading while its handler
// sends to it is dropped once a write has waited WriteTimeout; its process
// ends, and the handler, which never waits on it, carries on.
func TestClientNotReading(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.WriteTimeout = 200 * time.Millisecond })
	h := ts.node.NewProcess()
	defer h.Exit(cluster.Normal)
	if err := ts.node.Register("echo", h.Pid()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c, _, err := clientHandshake(ctx, conn, ts.addr, "echo", "s3cret", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := encodeFrame(nil, []any{opSend, 0, "hello"})
	c.Write(b) // and then reads nothing
	m, _, _ := h.Receive(ctx, nil, 10*time.Second)
	client := m.([]any)[0].(cluster.Pid)
	ref := h.Monitor(client)
	big := strings.Repeat("x", 64<<10)
	start := time.Now()
	for {
		ts.node.Send(client, big)
		if m, ok, _ := h.Receive(ctx, nil, 0); ok {
			if d, isDown := m.(cluster.Down); !isDown || d.Ref != ref || d.Reason != Closed {
				t.Fatalf("the handler got %#v", m)
			}
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("a client that reads nothing is still served")
		}
		runtime.Gosched()
	}
	ts.logs.waitFor("dropped a client of service echo", "it read nothing for 200ms")
}

// TestIdleClientsCost measures what clients that connect and wait cost
// the server: goroutines and heap each.
func TestIdleClientsCost(t *testing.T) {
	const k = 200
	ts := startServer(t, nil)
	h := ts.node.NewProcess()
	defer h.Exit(cluster.Normal)
	ts.node.Register("echo", h.Pid())
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse + m.StackInuse
	}
	base, routines := heap(), runtime.NumGoroutine()
	var cs []*Conn
	for range k {
		c := ts.dial(t, "echo", "s3cret") // a handler process: the costlier kind
		cs = append(cs, c)
	}
	// Each has been served: a call answered proves its server side runs.
	for _, c := range cs {
		if _, err := c.Call(context.Background(), "nothing"); !errors.Is(err, ErrNotExposed) {
			t.Fatal(err)
		}
	}
	held, g := heap(), runtime.NumGoroutine()
	per := (int64(held) - int64(base)) / k
	t.Logf("%d idle clients, both sides in this process: %d goroutines and %d bytes of heap and stacks each", k, (g-routines)/k, per)
	if per > 128<<10 {
		t.Fatalf("an idle client costs %d bytes", per)
	}
}

// BenchmarkCall is one call of an exposed function over loopback.
func BenchmarkCall(b *testing.B) {
	ts := startServer(b, nil)
	c := ts.dial(b, "nameServer", "ABXy45")
	ctx := context.Background()
	c.Call(ctx, "store", "weather", "fine")
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Call(ctx, "lookup", "weather"); err != nil {
			b.Fatal(err)
		}
	}
}
