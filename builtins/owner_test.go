package builtins_test

import (
	"fmt"
	"strings"
	"testing"

	"gsh/cluster"
)

// TestGoroutineBelongsToItsProcess: a goroutine that a spawned process
// starts is that process: self() is its pid, receive() reads its mailbox.
func TestGoroutineBelongsToItsProcess(t *testing.T) {
	c := newCluster(t)
	a := c.start("a")
	a.eval(`func parent(me Pid) {
	done := make(chan bool)
	go func() {
		send(me, []any{"child", self()})
		send(me, []any{"got", receive(5*time.Second)})
		done <- true
	}()
	<-done
}`)
	a.must(`p := spawn("main", "parent", self()); m := receive(5*time.Second).([]any); m[1] == p`, "true")
	a.must(`send(p, "ping"); receive(5*time.Second)`, `["got", "ping"]`)
	// The prompt's own goroutines are the prompt.
	a.must(`me := self(); ch := make(chan Pid); go func() { ch <- self() }(); <-ch == me`, "true")
}

// TestServedCallOutputGoesToCaller: what a function called from another
// node prints, in its own goroutine or in one it starts, goes to the
// caller's Output, not to the called node's stdout.
func TestServedCallOutputGoesToCaller(t *testing.T) {
	c := newCluster(t)
	var got lockedBuffer
	a := c.startWith("a", func(cfg *cluster.Config) {
		cfg.Output = func(_ cluster.Pid, text string) { got.Write([]byte(text)) }
	})
	b := c.start("b")
	b.eval(`func chatty() string {
	fmt.Println("from the call")
	done := make(chan bool)
	go func() { fmt.Println("from its goroutine"); done <- true }()
	<-done
	return "ok"
}`)
	a.must(fmt.Sprintf(`rpc.call(%q, "main", "chatty")`, b.name()), "ok")
	if s := got.String(); s != "from the call\nfrom its goroutine\n" {
		t.Errorf("a got %q", s)
	}
	if s := b.out.String(); strings.Contains(s, "from") {
		t.Errorf("b printed %q", s)
	}
}
