package cluster

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"

	"gsh/cluster/portmap"
)

// mapperOn starts a port mapper on addr:port (port 0 picks one) and returns
// its port.
func mapperOn(t *testing.T, addr string, port int) int {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(addr, strconv.Itoa(port)))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	m := portmap.NewServer()
	m.Logf = t.Logf
	go m.Serve(ln)
	t.Cleanup(func() { m.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// hostConfig is a long-name node at host, listening on listen, with the
// port mapper on port.
func hostConfig(t *testing.T, name string, listen string, port int) *Config {
	cfg := DefaultConfig()
	cfg.Name = Atom(name)
	cfg.LongNames = true
	cfg.CheckHost = true
	cfg.Cookie = "abc"
	cfg.ListenAddr = listen
	cfg.MapperPort = port
	cfg.Handler = nodeHandler{testModules()}
	cfg.Logf = t.Logf
	return cfg
}

// Two hosts on one machine, each with its own address and its own port
// mapper on the same port: each node registers with its host's mapper and
// is dialled at the address its name resolves to.
func TestPortMapperPerAddress(t *testing.T) {
	port := mapperOn(t, "127.0.0.2", 0)
	mapperOn(t, "127.0.0.3", port)
	ctx := context.Background()
	g, err := Start(ctx, hostConfig(t, "gandalf@127.0.0.2", "127.0.0.2:0", port))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	b, err := Start(ctx, hostConfig(t, "bilbo@127.0.0.3", "127.0.0.3:0", port))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Ping(ctx, g.Name()); err != nil {
		t.Fatalf("bilbo pinging gandalf: %v", err)
	}
	for host, want := range map[string]string{"127.0.0.2": "gandalf", "127.0.0.3": "bilbo"} {
		es, err := portmap.List(ctx, net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil || len(es) != 1 || es[0].Name != want {
			t.Errorf("the port mapper on %s lists %v (%v), want %s alone", host, es, err, want)
		}
	}
	if got := g.PeerAddr(b.Name()); got == nil || !strings.HasPrefix(got.String(), "127.0.0.3:") {
		t.Errorf("gandalf sees bilbo at %v, want 127.0.0.3", got)
	}
}

// A node whose name does not resolve to where it listens is refused at
// start, with what to fix.
func TestStartChecksNameResolves(t *testing.T) {
	port := mapperOn(t, "127.0.0.1", 0)
	ctx := context.Background()
	for _, c := range []struct{ name, listen, want string }{
		{"gandalf@127.0.0.2", "127.0.0.3:0", "listen on 127.0.0.2 (Config.ListenAddr)"},
		{"gandalf@nowhere.gsh.invalid", "127.0.0.1:0", "/etc/hosts"},
		{"gandalf@192.0.2.7", ":0", "not an address of this machine"},
	} {
		n, err := Start(ctx, hostConfig(t, c.name, c.listen, port))
		if err == nil {
			n.Close()
			t.Errorf("%s listening on %s started", c.name, c.listen)
			continue
		}
		if !errors.Is(err, ErrBadName) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s on %s: %v; want ErrBadName saying %q", c.name, c.listen, err, c.want)
		}
		var am *AddrMismatchError
		if errors.As(err, &am) != (c.listen == "127.0.0.3:0") {
			t.Errorf("%s on %s: %v; *AddrMismatchError %v", c.name, c.listen, err, am)
		} else if am != nil && (am.Name != Atom(c.name) || !am.Resolved.Equal(net.IPv4(127, 0, 0, 2)) || !am.Listen.Equal(net.IPv4(127, 0, 0, 3))) {
			t.Errorf("%s on %s: %+v", c.name, c.listen, am)
		}
	}
}

// set_cookie(Node, Cookie): the cookie for one peer is used by both sides
// of the handshake, whichever dials; other peers keep the node's cookie.
func TestCookieForOnePeer(t *testing.T) {
	c := newTestCluster(t)
	a := c.start("a", "alpha")
	b := c.start("b", "beta")
	x := c.start("x", "alpha")
	ctx := context.Background()
	if err := a.Ping(ctx, b.Name()); !errors.Is(err, ErrAuth) {
		t.Fatalf("a pinging b with different cookies: %v, want ErrAuth", err)
	}
	if err := a.SetCookieFor(b.Name(), "beta"); err != nil {
		t.Fatal(err)
	}
	if err := a.Ping(ctx, b.Name()); err != nil {
		t.Fatalf("a pinging b after set_cookie(b, beta): %v", err)
	}
	a.Disconnect(b.Name())
	waitFor(t, "the link to go", func() bool { return !a.Connected(b.Name()) && !b.Connected(a.Name()) })
	if err := b.Ping(ctx, a.Name()); err != nil {
		t.Fatalf("b pinging a: %v", err)
	}
	if err := a.Ping(ctx, x.Name()); err != nil {
		t.Fatalf("a pinging x with the node's cookie: %v", err)
	}
	if a.CookieFor(x.Name()) != "alpha" || a.CookieFor(b.Name()) != "beta" {
		t.Errorf("CookieFor: x %q, b %q", a.CookieFor(x.Name()), a.CookieFor(b.Name()))
	}
	if err := a.SetCookieFor("nohost", "k"); !errors.Is(err, ErrBadName) {
		t.Errorf("SetCookieFor(nohost): %v, want ErrBadName", err)
	}
}
