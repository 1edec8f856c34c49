package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gsh/cluster"
	"gsh/cluster/service"
)

// servicesFile writes a services file, readable by its owner only.
func servicesFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "services.json")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestNameServerService: the book's name server offered with -services,
// store and lookup exposed and nothing else, used from a Go program (the
// client package) and from the gsh prompt of another node. os, kvs.start,
// erlang.node and every other function are refused and logged on the
// server, and the clients never become its peers.
func TestNameServerService(t *testing.T) {
	_, port := privateMapper(t)
	host := cluster.ShortHostname()
	file := servicesFile(t, `{
  "listen": "127.0.0.1:0",
  "services": [
    {"name": "nameServer", "secret": "ABXy45", "functions": ["kvs.store", "kvs.lookup"]},
    {"name": "echo", "secret": "s3cret", "process": "echo"}
  ]
}`)
	gandalf := startGsh(t, []string{"GSH_COOKIE=abc"}, "-sname", "gandalf", "-epmd_port", port, "-addr", "127.0.0.1", "-services", file)
	gandalf.expect("services on 127.0.0.1:")
	gandalf.expect("nameServer (kvs.store, kvs.lookup); echo (messages to echo)")
	m := regexp.MustCompile(`services on (127\.0\.0\.1:(\d+))`).FindStringSubmatch(gandalf.out.String())
	addr, sport := m[1], m[2]

	// A Go program.
	ctx := context.Background()
	c, err := service.Dial(ctx, addr, "nameServer", "ABXy45", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if v, err := c.Call(ctx, "store", "weather", "fine"); err != nil || v != true {
		t.Fatalf("store: %v, %v", v, err)
	}
	if v, err := c.Call(ctx, "lookup", "weather"); err != nil || v != "fine" {
		t.Fatalf("lookup: %v, %v", v, err)
	}
	for i, fn := range []string{"os.ReadFile", "ReadFile", "kvs.start", "erlang.node", "strings.ToUpper", "main.double", "shell.eval", "init.stop"} {
		_, err := c.Call(ctx, fn, "/etc/passwd")
		if !errors.Is(err, service.ErrNotExposed) || !strings.Contains(err.Error(), "service nameServer exposes kvs.store, kvs.lookup, not "+fn) {
			t.Fatalf("%s: %v", fn, err)
		}
		if i < 3 { // then they are summed up
			gandalf.expect(`refused a call of "` + fn + `" from a client of service nameServer at 127.0.0.1:`)
		}
	}
	if _, err := service.Dial(ctx, addr, "nameServer", "abc", nil); !errors.Is(err, cluster.ErrAuth) {
		t.Fatalf("the cookie as the secret: %v", err)
	}

	// The prompt of another node.
	bilbo := startGsh(t, []string{"GSH_COOKIE=abc"}, "-sname", "bilbo", "-epmd_port", port, "-addr", "127.0.0.1")
	bilbo.send(`c, err := lib_chan.connect("127.0.0.1", ` + sport + `, "nameServer", "ABXy45")`)
	bilbo.send(`c.Call("lookup", "weather")`)
	bilbo.expect("fine")
	bilbo.send(`c.Call("store", "ring", "precious")`)
	bilbo.expect("true")
	bilbo.send(`lib_chan.rpc(c, "kvs.lookup", "ring")`)
	bilbo.expect("precious")
	bilbo.send(`c.Call("os.ReadFile", "/etc/passwd")`)
	bilbo.expect("** error: service nameServer exposes kvs.store, kvs.lookup, not os.ReadFile")
	bilbo.send(`c.Call("kvs.start")`)
	bilbo.expect("** error: service nameServer exposes kvs.store, kvs.lookup, not kvs.start")
	bilbo.send(`c.Call("erlang.node")`)
	bilbo.expect("not erlang.node")
	bilbo.send(`c.Send("hi")`)
	bilbo.send(`c.Receive(5000)`)
	bilbo.expect("** error: service nameServer takes no messages: not exposed by the service")
	// Through the service, bilbo is no peer of gandalf's.
	bilbo.send(`nodes()`)
	bilbo.expect("[]")
	gandalf.send(`nodes()`)
	gandalf.expect("[]")
	gandalf.send(`kvs.lookup("ring")`)
	gandalf.expect("precious")

	// A handler process defined at gandalf's prompt.
	gandalf.send(`func echo() { for { m := receive().([]any); send(m[0], []any{"echo", m[1]}) } }`)
	gandalf.send(`register("echo", spawn(echo))`)
	gandalf.expect("true")
	bilbo.send(`e, _ := lib_chan.connect("127.0.0.1", ` + sport + `, "echo", "s3cret")`)
	bilbo.send(`e.Send("hello")`)
	bilbo.send(`e.Receive(5000)`)
	bilbo.expect(`["echo", "hello"]`)
	bilbo.send(`e.Call("echo")`)
	bilbo.expect("** error: service echo exposes no functions, so not echo")
	bilbo.send(`lib_chan.connect("127.0.0.1", ` + sport + `, "echo", "wrong")`)
	bilbo.expect("** error: connecting to service echo at 127.0.0.1:" + sport + ": wrong secret for service echo")
	bilbo.send(`lib_chan.connect("127.0.0.1", ` + sport + `, "fileServer", "x")`)
	bilbo.expect("no service fileServer here")
	bilbo.send(`"done"`)
	bilbo.expect("done")
	if strings.Contains(bilbo.out.String(), "gandalf@"+host) {
		t.Fatalf("bilbo heard of gandalf:\n%s", bilbo.out)
	}
	// The refusals past the first three are summed up, at the latest
	// when the node stops.
	gandalf.send("q()")
	gandalf.expect("more refusals in the last 10s; the latest: refused a ")
	<-gandalf.done
}

// TestTLSService: a service that asks for TLS refuses a plain client,
// saying so, and serves one that connects with lib_chan.connect_tls and
// trusts the node's CA; the client needs no certificate of its own.
func TestTLSService(t *testing.T) {
	_, port := privateMapper(t)
	dir := t.TempDir()
	writeTestPKI(t, dir, "gandalf")
	file := servicesFile(t, `{"listen": "127.0.0.1:0", "services": [
    {"name": "nameServer", "secret": "ABXy45", "functions": ["kvs.store", "kvs.lookup"], "tls": true}]}`)
	gandalf := startGsh(t, []string{"GSH_COOKIE=abc"}, "-sname", "gandalf", "-epmd_port", port, "-addr", "127.0.0.1",
		"-tls_cert", filepath.Join(dir, "gandalf.pem"), "-tls_key", filepath.Join(dir, "gandalf.key"), "-tls_ca", filepath.Join(dir, "ca.pem"),
		"-services", file)
	gandalf.expect("nameServer (kvs.store, kvs.lookup, over TLS)")
	sport := regexp.MustCompile(`services on 127\.0\.0\.1:(\d+)`).FindStringSubmatch(gandalf.out.String())[1]
	gandalf.send(`kvs.store("weather", "fine")`)
	gandalf.expect("true")

	client := startGsh(t, nil)
	client.send(`lib_chan.connect("127.0.0.1", ` + sport + `, "nameServer", "ABXy45")`)
	client.expect("** error: connecting to service nameServer at 127.0.0.1:" + sport + ": service nameServer asks for TLS: connect with TLS")
	client.send(`c, err := lib_chan.connect_tls("127.0.0.1", ` + sport + `, "nameServer", "ABXy45", "` + filepath.Join(dir, "ca.pem") + `")`)
	client.send(`c.Call("lookup", "weather")`)
	client.expect("fine")
	gandalf.expect("service nameServer asks for TLS")
}
