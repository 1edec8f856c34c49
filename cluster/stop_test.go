package cluster

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"gsh/cluster/portmap"
)

// TestCloseDuringConnectLogsNothing: a node closed while it connects to a
// node that a peer told it of (a node stopped with init.stop right after a
// peer connected) logs no failure for that connection.
func TestCloseDuringConnectLogsNothing(t *testing.T) {
	c := newTestCluster(t)
	// ghost is registered but never answers the handshake.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if conn, err := ln.Accept(); err == nil {
			accepted <- conn
		}
	}()
	reg, err := portmap.Register(context.Background(), fmt.Sprintf("127.0.0.1:%d", c.mapper), "ghost", ln.Addr().(*net.TCPAddr).Port, false)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()

	var mu sync.Mutex
	var logs []string
	cfg := c.config("closing", "abc")
	cfg.HandshakeTimeout = time.Minute
	cfg.Logf = func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		logs = append(logs, fmt.Sprintf(format, args...))
	}
	n, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.connectKnown("peer@"+Atom(ShortHostname()), []any{Atom("ghost@" + ShortHostname())})
	conn := <-accepted // the connection is under way
	defer conn.Close()
	closed := make(chan struct{})
	go func() {
		n.Close() // waits for the connecting goroutine
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("Close waited for the handshake under way")
	}
	mu.Lock()
	defer mu.Unlock()
	for _, l := range logs {
		if strings.Contains(l, "could not connect") {
			t.Errorf("closing node logged %q", l)
		}
	}
}
