package cluster

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	der  []byte
}

func newTestCA(t testing.TB, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, der: der}
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

func (ca *testCA) pem() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.der})
}

var serial struct {
	sync.Mutex
	n int64
}

// issue makes a node certificate for cn, valid for 127.0.0.1 (and for the
// DNS names given), usable as both server and client certificate. It
// returns the certificate and key in PEM.
func (ca *testCA) issue(t testing.TB, cn string, dnsNames ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial.Lock()
	serial.n++
	sn := serial.n + 1
	serial.Unlock()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(sn),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     dnsNames,
	}
	if dnsNames == nil {
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// tlsConfig is a node's TLS configuration: its certificate from ca, and
// trust in the CAs given.
func (ca *testCA) tlsConfig(t testing.TB, cn string, trust ...*testCA) *tls.Config {
	t.Helper()
	c, k := ca.issue(t, cn)
	return tlsConfigOf(t, c, k, trust...)
}

func tlsConfigOf(t testing.TB, certPEM, keyPEM []byte, trust ...*testCA) *tls.Config {
	t.Helper()
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	for _, ca := range trust {
		pool.AddCert(ca.cert)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS13,
	}
}

// logSink collects a node's log lines and lets a test wait for one.
type logSink struct {
	t       testing.TB
	mu      sync.Mutex
	lines   []string
	changed chan struct{}
}

func newLogSink(t testing.TB) *logSink { return &logSink{t: t, changed: make(chan struct{})} }

func (s *logSink) logf(format string, args ...any) {
	line := sprintf(format, args...)
	s.t.Log(line)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, line)
	close(s.changed)
	s.changed = make(chan struct{})
}

// wait waits for a line holding every one of parts and returns it.
func (s *logSink) wait(parts ...string) string {
	s.t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		lines, ch := s.lines, s.changed
		s.mu.Unlock()
	line:
		for _, l := range lines {
			for _, p := range parts {
				if !strings.Contains(l, p) {
					continue line
				}
			}
			return l
		}
		select {
		case <-ch:
		case <-deadline.C:
			s.t.Fatalf("no log line with %q in %q", parts, lines)
		}
	}
}

// startTLS starts a node with a TLS configuration (nil: plain TCP) whose
// log lines go to the sink returned.
func (c *testCluster) startTLS(name, cookie string, tc *tls.Config) (*Node, *logSink) {
	c.t.Helper()
	sink := newLogSink(c.t)
	cfg := c.config(name, cookie)
	cfg.TLS = tc
	cfg.Logf = sink.logf
	n, err := Start(context.Background(), cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { n.Close() })
	return n, sink
}

// writeTLSFiles writes a node's certificate, key and the CA as PEM files.
func writeTLSFiles(t *testing.T, ca *testCA, cn string) (certFile, keyFile, caFile string) {
	t.Helper()
	dir := t.TempDir()
	c, k := ca.issue(t, cn)
	certFile, keyFile, caFile = filepath.Join(dir, cn+".pem"), filepath.Join(dir, cn+".key"), filepath.Join(dir, "ca.pem")
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{{certFile, c, 0o644}, {keyFile, k, 0o600}, {caFile, ca.pem(), 0o644}} {
		if err := os.WriteFile(f.name, f.data, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile, caFile
}

func TestTLSLink(t *testing.T) {
	ca := newTestCA(t, "gsh test CA")
	c := newTestCluster(t)
	cfgs := map[string]*tls.Config{}
	for _, name := range []string{"a", "b"} {
		tc, err := LoadTLS(writeTLSFiles(t, ca, name))
		if err != nil {
			t.Fatal(err)
		}
		cfgs[name] = tc
	}
	a, _ := c.startTLS("a", "abc", cfgs["a"])
	b, _ := c.startTLS("b", "abc", cfgs["b"])
	ctx := context.Background()
	if v, err := a.Call(ctx, b.Name(), "test", "double", 21); err != nil || v != 42 {
		t.Fatalf("a→b double(21) = %v, %v", v, err)
	}
	if v, err := b.Call(ctx, a.Name(), "test", "double", 2); err != nil || v != 4 {
		t.Fatalf("b→a double(2) = %v, %v", v, err)
	}
	for _, x := range []struct {
		n    *Node
		peer Atom
		cn   string
	}{{a, b.Name(), "b"}, {b, a.Name(), "a"}} {
		l := linkOf(x.n, x.peer)
		if l == nil {
			t.Fatalf("%s has no link to %s", x.n.Name(), x.peer)
		}
		tc, ok := l.conn.(*tls.Conn)
		if !ok {
			t.Fatalf("%s's link to %s runs on %T, not TLS", x.n.Name(), x.peer, l.conn)
		}
		st := tc.ConnectionState()
		if st.Version != tls.VersionTLS13 || len(st.PeerCertificates) == 0 || st.PeerCertificates[0].Subject.CommonName != x.cn {
			t.Fatalf("%s's link to %s: version %x, peer certificates %v", x.n.Name(), x.peer, st.Version, st.PeerCertificates)
		}
	}
}

func TestTLSAndPlainRefuse(t *testing.T) {
	ca := newTestCA(t, "gsh test CA")
	c := newTestCluster(t)
	s, slog := c.startTLS("secure", "abc", ca.tlsConfig(t, "secure", ca))
	p, plog := c.startTLS("plain", "abc", nil)
	ctx := context.Background()

	// The TLS node dials the plain one: a TLS error here, garbage there.
	err := s.Ping(ctx, p.Name())
	if !errors.Is(err, ErrTLS) || !strings.Contains(err.Error(), "TLS") || !strings.Contains(err.Error(), string(p.Name())) {
		t.Fatalf("TLS node pinging the plain one: %v", err)
	}
	plog.wait("refused a connection", "not a gsh handshake", "TLS")

	// The plain node dials the TLS one: a refusal that says why.
	err = p.Ping(ctx, s.Name())
	if !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), "accepts TLS links only") {
		t.Fatalf("plain node pinging the TLS one: %v", err)
	}
	slog.wait("refused a connection", "without TLS")

	if len(s.Nodes()) != 0 || len(p.Nodes()) != 0 {
		t.Fatalf("a link was made: %v %v", s.Nodes(), p.Nodes())
	}
}

func TestTLSOtherCA(t *testing.T) {
	ca := newTestCA(t, "gsh test CA")
	other := newTestCA(t, "another CA")
	c := newTestCluster(t)
	a, alog := c.startTLS("a", "abc", ca.tlsConfig(t, "a", ca))
	// The rogue node has a certificate from another CA but trusts the
	// cluster's (the CA's certificate is no secret), and the right cookie.
	r, rlog := c.startTLS("rogue", "abc", other.tlsConfig(t, "rogue", ca))
	ctx := context.Background()

	err := r.Ping(ctx, a.Name())
	if !errors.Is(err, ErrTLS) || !strings.Contains(err.Error(), "refused this node's TLS certificate") {
		t.Fatalf("rogue pinging a: %v", err)
	}
	alog.wait("refused a connection", "TLS", "certificate")

	err = a.Ping(ctx, r.Name())
	if !errors.Is(err, ErrTLS) || !strings.Contains(err.Error(), "unknown authority") {
		t.Fatalf("a pinging the rogue: %v", err)
	}
	rlog.wait("refused a connection", "TLS")

	// A node that trusts only the other CA refuses the cluster too.
	o, _ := c.startTLS("o", "abc", other.tlsConfig(t, "o", other))
	if err := o.Ping(ctx, a.Name()); !errors.Is(err, ErrTLS) {
		t.Fatalf("o pinging a: %v", err)
	}
	if len(a.Nodes()) != 0 {
		t.Fatalf("a link was made: %v", a.Nodes())
	}
}

func TestTLSWrongCookie(t *testing.T) {
	ca := newTestCA(t, "gsh test CA")
	c := newTestCluster(t)
	a, _ := c.startTLS("a", "wrong", ca.tlsConfig(t, "a", ca))
	b, blog := c.startTLS("b", "right", ca.tlsConfig(t, "b", ca))
	err := a.Ping(context.Background(), b.Name())
	if !errors.Is(err, ErrAuth) || errors.Is(err, ErrTLS) {
		t.Fatalf("got %v, want ErrAuth", err)
	}
	blog.wait(string(a.Name()), "127.0.0.1:", "authentication failed")
	if len(a.Nodes()) != 0 || len(b.Nodes()) != 0 {
		t.Fatalf("a link was made: %v %v", a.Nodes(), b.Nodes())
	}
}

// TestTLSCertificateNames: a node's certificate must be valid for the host
// in its node name or for the address it was dialed on.
func TestTLSCertificateNames(t *testing.T) {
	ca := newTestCA(t, "gsh test CA")
	c := newTestCluster(t)
	a, _ := c.startTLS("a", "abc", ca.tlsConfig(t, "a", ca))

	// A certificate for the host name only (no 127.0.0.1) will do.
	cp, kp := ca.issue(t, "named", ShortHostname())
	named, _ := c.startTLS("named", "abc", tlsConfigOf(t, cp, kp, ca))
	if err := a.Ping(context.Background(), named.Name()); err != nil {
		t.Fatalf("a certificate for %s: %v", ShortHostname(), err)
	}

	// One for another host will not.
	cp, kp = ca.issue(t, "elsewhere", "elsewhere.example")
	else_, _ := c.startTLS("elsewhere", "abc", tlsConfigOf(t, cp, kp, ca))
	err := a.Ping(context.Background(), else_.Name())
	if !errors.Is(err, ErrTLS) || !strings.Contains(err.Error(), "elsewhere.example") {
		t.Fatalf("a certificate for elsewhere.example: %v", err)
	}
}

func TestLoadTLSErrors(t *testing.T) {
	ca := newTestCA(t, "gsh test CA")
	certFile, keyFile, caFile := writeTLSFiles(t, ca, "a")
	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadTLS(certFile, keyFile, caFile)
	if err == nil || !strings.Contains(err.Error(), "chmod 600 "+keyFile) {
		t.Fatalf("a key every user can read: %v", err)
	}
	if err := os.Chmod(keyFile, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadTLS(certFile, keyFile, certFile+".missing")
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "TLS CA") {
		t.Fatalf("a missing CA file: %v", err)
	}
	_, err = LoadTLS(certFile, keyFile, keyFile)
	if err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("a CA file without a certificate: %v", err)
	}
	_, err = LoadTLS(caFile, keyFile, caFile)
	if err == nil || !strings.Contains(err.Error(), "certificate and key") {
		t.Fatalf("a key that does not match: %v", err)
	}
	cfg := DefaultConfig()
	cfg.TLS = &tls.Config{}
	if err := cfg.Verify(); err == nil {
		t.Fatal("a TLS configuration without a certificate passed Verify")
	}
}
