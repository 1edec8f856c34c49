package cluster

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"gsh/cluster/portmap"
)

// TestNewNodeAfterMapperRestart: right after the port mapper restarts, a new
// node reaches a node that was running before (which registers again by
// itself), instead of being told it is unknown.
func TestNewNodeAfterMapperRestart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	m1 := portmap.NewServer()
	go m1.Serve(ln)
	c := &testCluster{t: t, mapper: ln.Addr().(*net.TCPAddr).Port}
	for round := range 3 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			c.t = t
			old := c.start(fmt.Sprintf("old%d", round), "abc")
			reg := old.reg.Load()
			m1.Close()
			<-reg.Done() // old has lost its registration
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			m1 = portmap.NewServer()
			go m1.Serve(ln)
			young := c.start(fmt.Sprintf("young%d", round), "abc")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			start := time.Now()
			if err := young.Ping(ctx, old.Name()); err != nil {
				t.Fatalf("a new node pinging a node that ran before the port mapper restarted: %v", err)
			}
			t.Logf("pong after %v", time.Since(start))
		})
	}
	m1.Close()
}
