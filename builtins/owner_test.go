package builtins_test

import "testing"

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
