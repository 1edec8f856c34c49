package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"gsh/cluster"
	"gsh/cluster/service"
)

// TestExplainNameType: a long-name node pinging a short-name one fails with
// the library's ErrNameType, which gsh explains with its flags.
func TestExplainNameType(t *testing.T) {
	_, port := privateMapper(t)
	mapperPort, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	start := func(name string, long bool) *cluster.Node {
		cfg := cluster.DefaultConfig()
		cfg.Name = cluster.Atom(name)
		cfg.LongNames = long
		cfg.Cookie = "abc"
		cfg.ListenAddr = "127.0.0.1:0"
		cfg.MapperPort = mapperPort
		cfg.Logf = func(string, ...any) {}
		n, err := cluster.Start(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n
	}
	a := start("a@"+cluster.ShortHostname(), false)
	l := start("long@localhost.localdomain", true)
	err = l.Ping(ctx, a.Name())
	if !errors.Is(err, cluster.ErrNameType) || strings.Contains(err.Error(), "-sname") {
		t.Fatalf("the library's error: %v", err)
	}
	x := explain(err)
	if !errors.Is(x, cluster.ErrNameType) || !strings.HasSuffix(x.Error(), err.Error()+": start both with -sname or both with -name") {
		t.Fatalf("explained: %v", x)
	}
	if explain(x) != x {
		t.Errorf("explained twice: %v", explain(x))
	}
	if e := errors.New("other"); explain(e) != e {
		t.Errorf("an error gsh's flags do not avoid: %v", explain(e))
	}
}

// TestExplainNotDistributed: gsh started without a name says, at its
// prompt, how to start it for rpc.
func TestExplainNotDistributed(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	out := &lockedBuffer{written: make(chan struct{}, 1)}
	in := strings.NewReader(`rpc.call("gandalf@nohost", "erlang", "node")` + "\n")
	err := run(context.Background(), nil, in, out, out)
	want := "** error: calling gandalf@nohost: this node is not distributed: start it with -sname NAME or -name NAME"
	if !strings.Contains(out.String(), want) {
		t.Fatalf("run: %v; want %q in:\n%s", err, want, out.String())
	}
}

// flagWords are gsh's flags as they would appear in an error's text.
var flagWords = []string{"-sname", "-name", "-addr", "-erlang", "-procs", "-tls_cert", "-tls_key", "-setcookie", "-port"}

// checkHint checks that the library's err names none of gsh's flags and
// that explain adds hint to it, keeping what errors.Is sees.
func checkHint(t *testing.T, err, target error, hint string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range flagWords {
		if strings.Contains(err.Error(), w+" ") || strings.Contains(err.Error(), w+")") || strings.HasSuffix(err.Error(), w) {
			t.Errorf("the library's error names %s: %v", w, err)
		}
	}
	x := explain(err)
	if !errors.Is(x, target) || x.Error() != err.Error()+": "+hint {
		t.Errorf("explained: %v; want %q after the library's error", x, hint)
	}
}

// TestExplainNoDomain: a long name without a host on a host without a
// domain; gsh points at -sname.
func TestExplainNoDomain(t *testing.T) {
	err := fmt.Errorf("-remsh gandalf: %w", &cluster.NoDomainError{Name: "gandalf", Host: "box"})
	checkHint(t, err, cluster.ErrBadName, "-sname gandalf gives a short name")
	if _, err := cluster.MakeName("gandalf", true); err != nil {
		// This host has no domain: the real error is the same.
		var nd *cluster.NoDomainError
		if !errors.As(err, &nd) {
			t.Fatalf("MakeName: %v, want a *NoDomainError", err)
		}
		checkHint(t, err, cluster.ErrBadName, "-sname gandalf gives a short name")
	}
}

// TestExplainAddrMismatch: a name whose host resolves to an address the
// node does not listen on; gsh points at -addr and -name.
func TestExplainAddrMismatch(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.3:0")
	if err != nil {
		t.Skipf("no 127.0.0.3: %v", err)
	}
	ln.Close()
	_, port := privateMapper(t)
	mapperPort, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	cfg := cluster.DefaultConfig()
	cfg.Name = "gandalf@127.0.0.2"
	cfg.LongNames = true
	cfg.Cookie = "abc"
	cfg.ListenAddr = "127.0.0.3:0"
	cfg.MapperPort = mapperPort
	cfg.CheckHost = true
	cfg.Logf = func(string, ...any) {}
	n, err := cluster.Start(context.Background(), cfg)
	if err == nil {
		n.Close()
		t.Fatal("gandalf@127.0.0.2 listening on 127.0.0.3 started")
	}
	if !strings.Contains(err.Error(), "listen on 127.0.0.2 (Config.ListenAddr)") {
		t.Errorf("the library's error: %v", err)
	}
	checkHint(t, err, cluster.ErrBadName, "give -addr 127.0.0.2, or -name gandalf@127.0.0.3")
}

// TestExplainErlangOff: a node without Erlang links calling a node that the
// port mapper lists as an Erlang one; gsh points at -erlang, in the error
// and in the log line.
func TestExplainErlangOff(t *testing.T) {
	_, port := privateMapper(t)
	mapperPort, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	// An Erlang node's registration: its Extra is not "gsh".
	c, err := net.Dial("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := []byte{'x', 0x9c, 0x40, 'M', 0, 0, 6, 0, 5, 0, 3, 'e', 'r', 'l', 0, 0}
	if _, err := c.Write(append([]byte{0, byte(len(req))}, req...)); err != nil {
		t.Fatal(err)
	}
	resp := make([]byte, 6)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, resp); err != nil || resp[1] != 0 {
		t.Fatalf("registering erl: %x, %v", resp, err)
	}
	cfg := cluster.DefaultConfig()
	cfg.Name = cluster.Atom("g@" + cluster.ShortHostname())
	cfg.Cookie = "abc"
	cfg.ListenAddr = "127.0.0.1:0"
	cfg.MapperPort = mapperPort
	cfg.Logf = func(string, ...any) {}
	n, err := cluster.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	err = n.Ping(context.Background(), cluster.Atom("erl@"+cluster.ShortHostname()))
	checkHint(t, err, cluster.ErrErlangOff, "start gsh with -erlang")
	line := "refused a link from 127.0.0.1:1234: " + cluster.ErrErlangOff.Error()
	if got := explainLine(line); got != line+": start gsh with -erlang" {
		t.Errorf("explainLine(%q) = %q", line, got)
	}
}

// TestExplainTooManyProcesses: past Config.MaxProcesses; gsh points at -procs.
func TestExplainTooManyProcesses(t *testing.T) {
	cfg := cluster.DefaultConfig()
	cfg.MaxProcesses = 1
	cfg.Logf = func(string, ...any) {}
	n, err := cluster.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	p, err := n.TryNewProcess()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Exit(cluster.Normal)
	_, err = n.TryNewProcess()
	checkHint(t, err, cluster.ErrTooManyProcesses, "-procs N sets a gsh node's limit")
}

// TestExplainServiceTLS: a service that asks for TLS on a node without a
// certificate; gsh points at -tls_cert and -tls_key.
func TestExplainServiceTLS(t *testing.T) {
	n, err := cluster.Start(context.Background(), cluster.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	cfg := service.DefaultConfig()
	cfg.Node = n
	cfg.Services = []service.Service{{Name: "kvs", Secret: "s", Functions: []string{"kvs.lookup"}, TLS: true}}
	err = cfg.Verify()
	checkHint(t, err, service.ErrNoCertificate, "give gsh -tls_cert and -tls_key")
}
