package main

import (
	"context"
	"net"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"gsh/cluster"
	"gsh/cluster/portmap"
)

// mapperHas polls the port mapper at addr until name's presence is want.
func mapperHas(t *testing.T, addr, name string, want bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for {
		names, err := portmap.List(context.Background(), addr)
		if err == nil && slices.ContainsFunc(names, func(e portmap.Entry) bool { return e.Name == name }) == want {
			return
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("mapper at %s lists %v (%v); want %s there: %v", addr, names, err, name, want)
		}
	}
}

// TestKillNodeMidCalls kills a node with SIGKILL while another calls it in
// a loop and a third monitors one of its processes and the node itself: the
// caller's call fails with node down within a second, the monitor reports
// noconnection and monitor_node a NodeDown, the port mapper forgets the
// node, and the same name starts again and answers.
func TestKillNodeMidCalls(t *testing.T) {
	_, port := privateMapper(t)
	addr := net.JoinHostPort("127.0.0.1", port)
	host := cluster.ShortHostname()
	args := func(name string) []string {
		return []string{"-sname", name, "-setcookie", "abc", "-epmd_port", port, "-addr", "127.0.0.1"}
	}
	bilbo := `"bilbo@` + host + `"`

	b := startGsh(t, nil, args("bilbo")...)
	b.send(`func waiter() { receive() }`)
	b.send(`"defined"`)
	b.expect("defined")

	// arwen watches a process on bilbo, and bilbo itself.
	a := startGsh(t, nil, args("arwen")...)
	a.send(`bpid := spawn(` + bilbo + `, "main", "waiter")`)
	a.send(`spawn(func() { monitor(bpid); fmt.Println("MONITORING"); fmt.Println("DOWN", receive()) })`)
	a.expect("MONITORING")
	a.send(`spawn(func() { monitor_node(` + bilbo + `, true); fmt.Println("WATCHING"); fmt.Println("NODEMSG", receive()) })`)
	a.expect("WATCHING")

	// celeborn calls bilbo in a loop, saying when it has made 200 calls.
	c := startGsh(t, nil, args("celeborn")...)
	c.send(`n := 0`)
	c.send(`for { if _, err := rpc.call(` + bilbo + `, "erlang", "node"); err != nil { fmt.Println("CALLFAIL", n, err); break }; n++; if n == 200 { fmt.Println("CALLING") } }`)
	c.expect("CALLING")

	killed := time.Now()
	b.cmd.Process.Signal(syscall.SIGKILL)
	<-b.done
	c.mark = c.out.WaitFor(t, c.mark, "CALLFAIL", time.Second)
	fail := c.out.String()[c.mark:]
	fail = fail[:strings.IndexByte(fail+"\n", '\n')]
	t.Logf("celeborn's call failed %v after the kill:%s", time.Since(killed).Round(100*time.Microsecond), fail)
	c.expect("node down")
	// The two messages come in either order.
	from := a.mark
	a.mark = max(a.out.WaitFor(t, from, "DOWN {#Ref", 10*time.Second), a.out.WaitFor(t, from, "NODEMSG {bilbo@"+host+"}", 10*time.Second))
	if down := a.out.String()[from:]; !strings.Contains(down, "> noconnection}") {
		t.Fatalf("arwen's monitor: %q, want noconnection", down)
	}
	t.Logf("arwen's monitors fired within %v of the kill", time.Since(killed).Round(100*time.Microsecond))
	mapperHas(t, addr, "bilbo", false)
	t.Logf("the port mapper forgot bilbo within %v of the kill", time.Since(killed).Round(100*time.Microsecond))

	// The same name starts again and answers both.
	b2 := startGsh(t, nil, args("bilbo")...)
	b2.send(`"started"`)
	b2.expect("started")
	mapperHas(t, addr, "bilbo", true)
	c.send(`rpc.call(` + bilbo + `, "erlang", "node")`)
	c.expect("bilbo@" + host)
	a.send(`net_adm.ping(` + bilbo + `)`)
	a.expect("pong")
}
