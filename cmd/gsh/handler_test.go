package main

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"gsh/builtins"
	"gsh/cluster"
)

// TestEnvHandlerInline: the node's handler tells the builtins' short calls
// apart (served on the reading goroutine), and answers nothing before the
// builtins are ready.
func TestEnvHandlerInline(t *testing.T) {
	var p atomic.Pointer[builtins.Env]
	var h cluster.Handler = envHandler{&p}
	ih, ok := h.(cluster.InlineHandler)
	if !ok {
		t.Fatal("the node's handler names no short calls")
	}
	if ih.Inline("erlang", "node") {
		t.Fatal("a call is served inline before the builtins are ready")
	}
	if _, err := h.HandleCall(context.Background(), "x@y", "erlang", "node", nil); !errors.Is(err, cluster.ErrUnknownModule) {
		t.Fatalf("a call before the builtins are ready: %v", err)
	}
	n, err := cluster.Start(context.Background(), cluster.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	p.Store(builtins.New(n))
	if !ih.Inline("erlang", "node") || ih.Inline("init", "stop") {
		t.Fatal("Inline does not follow the builtins")
	}
}
