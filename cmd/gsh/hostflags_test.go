package main

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"gsh/cluster"
	"gsh/cluster/portmap"
)

// -name NAME on a host with no domain is refused, as erl -name refuses it,
// with the full form to give instead.
func TestLongNameNeedsADomain(t *testing.T) {
	if h := cluster.LongHostname(); strings.Contains(h, ".") {
		t.Skipf("this host has a fully qualified name (%s): -name takes it", h)
	}
	_, port := privateMapper(t)
	out, err := exec.Command(gshBin, "-name", "gandalf", "-setcookie", "abc", "-epmd_port", port, "-eval", "node()").CombinedOutput()
	if err == nil {
		t.Fatalf("gsh -name gandalf started on a host without a domain:\n%s", out)
	}
	if !strings.Contains(string(out), "has no domain") || !strings.Contains(string(out), "gandalf@HOST.DOMAIN") {
		t.Errorf("gsh -name gandalf printed:\n%s", out)
	}
}

// -port MIN-MAX listens on the first free port of the range.
func TestPortRange(t *testing.T) {
	_, port := privateMapper(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	lo := busy.Addr().(*net.TCPAddr).Port
	hi := lo + 5
	if hi > 65535 {
		t.Skipf("port %d is too close to the top", lo)
	}
	p := startGsh(t, nil, "-sname", "ranger", "-setcookie", "abc", "-epmd_port", port, "-addr", "127.0.0.1", "-port", strconv.Itoa(lo)+"-"+strconv.Itoa(hi))
	p.send("node()")
	p.expect("ranger@")
	e, err := portmap.Lookup(context.Background(), "127.0.0.1:"+port, "ranger")
	if err != nil {
		t.Fatal(err)
	}
	if e.Port <= lo || e.Port > hi {
		t.Errorf("-port %d-%d (%d taken) listens on %d", lo, hi, lo, e.Port)
	}
	out, err := exec.Command(gshBin, "-sname", "x", "-port", "9105-9100").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "give a port (1-65535) or a range MIN-MAX") {
		t.Errorf("-port 9105-9100: %v\n%s", err, out)
	}
}

// Port mappers on two addresses of one host, on the same port, each
// holding the nodes of its address.
func TestPortMapperPerAddressBinary(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2: %v", err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	for _, a := range []string{"127.0.0.2", "127.0.0.3"} {
		startGsh(t, nil, "-portmapper", "-addr", a, "-epmd_port", port)
		waitNames(t, net.JoinHostPort(a, port), 0)
	}
	g := startGsh(t, nil, "-name", "gandalf@127.0.0.2", "-addr", "127.0.0.2", "-setcookie", "abc", "-epmd_port", port)
	g.send("kvs.start()")
	g.expect("true")
	b := startGsh(t, nil, "-name", "bilbo@127.0.0.3", "-addr", "127.0.0.3", "-setcookie", "abc", "-epmd_port", port)
	b.send(`rpc.call("gandalf@127.0.0.2", "kvs", "store", "weather", "fine")`)
	b.expect("true")
	waitNames(t, net.JoinHostPort("127.0.0.2", port), 1)
	waitNames(t, net.JoinHostPort("127.0.0.3", port), 1)

	// A name that does not resolve to the node's address is refused at
	// start, saying what to fix.
	out, err := exec.Command(gshBin, "-name", "frodo@127.0.0.2", "-addr", "127.0.0.3", "-setcookie", "abc", "-epmd_port", port, "-eval", "node()").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "give -addr 127.0.0.2") {
		t.Errorf("frodo@127.0.0.2 listening on 127.0.0.3: %v\n%s", err, out)
	}
}
