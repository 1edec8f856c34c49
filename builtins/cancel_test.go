package builtins_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestCancelledCallStopsRemoteLoop: cancelling a waiting rpc.call (Ctrl-C at
// the prompt) interrupts the remote function, even an endless loop, as the
// call's timeout does.
func TestCancelledCallStopsRemoteLoop(t *testing.T) {
	c := newCluster(t)
	a, b := c.start("a"), c.start("b")
	b.must(`kvs.start()`, "true")
	b.eval(`func spin() { kvs.store("spin", "running"); defer kvs.store("spin", "stopped"); for {} }`)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan string, 1)
	go func() { done <- a.evalCtx(ctx, fmt.Sprintf(`rpc.call(%q, "main", "spin")`, b.name())) }()
	waitLookup := func(want string) {
		t.Helper()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		deadline := time.After(10 * time.Second)
		for {
			got := b.eval(`kvs.lookup("spin")`)
			if got == want {
				return
			}
			select {
			case <-tick.C:
			case <-deadline:
				t.Fatalf("spin on b: %s, want %s", got, want)
			}
		}
	}
	waitLookup("running")
	cancel()
	if got := <-done; !strings.Contains(got, "interrupted") && !strings.Contains(got, "cancel") {
		t.Fatalf("the cancelled rpc.call: %s", got)
	}
	waitLookup("stopped")
	a.must(fmt.Sprintf(`rpc.call(%q, "strings", "ToUpper", "still here")`, b.name()), "STILL HERE")
}
