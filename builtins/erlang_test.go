package builtins_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestProcessBuiltins: spawn_monitor, is_process_alive, process_info,
// erlang.processes, erlang.send_after and erlang.cancel_timer, for local
// and remote pids.
func TestProcessBuiltins(t *testing.T) {
	c := newCluster(t)
	a, b := c.start("pa"), c.start("pb")
	for _, g := range []*gshNode{a, b} {
		g.must(`func crash() { panic("bang") }`, "")
		g.must(`func wait() { receive() }`, "")
	}
	bn := b.name()

	// spawn_monitor: the monitor is in place before the process runs, so
	// one that ends at once gives its own reason, here and there.
	// (A closure typed at the prompt is spawned in scripts/processes.gsh:
	// here its process would race with the prompt inside yaegi.)
	a.must(`pid, ref := spawn_monitor("main", "crash"); pid.Node == ref.Node`, "true")
	a.must(`d := receive(10 * time.Second).(Down); d.Pid == pid && d.Ref == ref`, "true")
	a.must(`d.Reason`, "bang")
	a.must(fmt.Sprintf(`pid, ref = spawn_monitor(%q, "main", "crash"); true`, bn), "true")
	a.must(`d = receive(10 * time.Second).(Down); d.Pid == pid && d.Ref == ref && pid.Node == `+fmt.Sprintf("%q", bn), "true")
	a.must(`d.Reason`, "bang")
	a.must(fmt.Sprintf(`pid, ref = spawn_monitor(%q, "erlang", "node"); true`, bn), "true")
	a.must(`d = receive(10 * time.Second).(Down); d.Ref == ref`, "true")
	a.must(`d.Reason`, "normal")
	a.must(`pid, ref = spawn_monitor("erlang", "node"); true`, "true")
	a.must(`d = receive(10 * time.Second).(Down); d.Ref == ref`, "true")
	a.must(`d.Reason`, "normal")

	// is_process_alive and process_info, local and remote.
	a.must(`is_process_alive(self())`, "true")
	a.must(`process_info(self()).(ProcessInfo).What`, "shell (the prompt)")
	a.must(`is_process_alive(pid)`, "false")
	a.must(`process_info(pid)`, "undefined")
	a.must(fmt.Sprintf(`w, wref := spawn_monitor(%q, "main", "wait"); true`, bn), "true")
	a.must(`is_process_alive(w)`, "true")
	a.must(`info := process_info(w).(ProcessInfo); info.Pid == w && info.What == "main.wait"`, "true")
	a.must(`send(w, "stop"); receive(10 * time.Second).(Down).Ref == wref`, "true")
	a.must(`is_process_alive(w)`, "false")
	a.must(`process_info(w)`, "undefined")

	// erlang.processes lists this node's pids.
	a.must(`func() bool { for _, p := range erlang.processes() { if p == self() { return true } }; return false }()`, "true")
	a.must(`func() bool { for _, p := range erlang.processes() { if p == w { return true } }; return false }()`, "false")

	// Timers.
	a.must(`erlang.send_after(20, self(), "tick")`, fmt.Sprintf("#TimerRef<%s.1>", a.name()))
	a.must(`receive(10 * time.Second)`, "tick")
	a.must(`t := erlang.send_after(time.Hour, self(), "never")`, fmt.Sprintf("#TimerRef<%s.2>", a.name()))
	a.must(`left := erlang.cancel_timer(t).(int); left > 3590000 && left <= 3600000`, "true")
	a.must(`erlang.cancel_timer(t)`, "false")
	a.must(`receive(50 * time.Millisecond)`, "timeout")
	b.must(`register("inbox", self())`, "true")
	a.must(fmt.Sprintf(`erlang.send_after(5*time.Millisecond, at("inbox", %q), Down{Reason: "late"})`, bn), fmt.Sprintf("#TimerRef<%s.3>", a.name()))
	b.must(`receive(10 * time.Second).(Down).Reason`, "late")
	b.must(fmt.Sprintf(`erlang.cancel_timer(TimerRef{Node: %q, ID: 2})`, a.name()), "** error: panic: erlang.cancel_timer: #TimerRef<"+a.name()+".2> is a timer of "+a.name()+"; cancel it there: bad arguments")

	// Bad input is refused at once, and nothing is lost.
	for src, want := range map[string]string{
		`erlang.send_after(-1, self(), 1)`:                                                         "** error: panic: erlang.send_after: the time is a time.Duration or a number of milliseconds, not -1 (int): bad arguments",
		`erlang.send_after(1, self(), make(chan int))`:                                             "** error: panic: erlang.send_after: cannot send chan int to another node: bad arguments",
		`erlang.send_after(1, 42, "x")`:                                                            "** error: panic: erlang.send_after: send to a pid, a registered name or at(name, node), not int: bad arguments",
		fmt.Sprintf(`is_process_alive(Pid{Node: %q, ID: 1})`, "nosuch@"+strings.Split(bn, "@")[1]): "",
	} {
		got := a.eval(src)
		if want == "" {
			if !strings.HasPrefix(got, "** error: panic: is_process_alive(<nosuch@") {
				t.Errorf("%s printed %q, want an error line", src, got)
			}
			continue
		}
		if got != want {
			t.Errorf("%s printed %q\nwant %q", src, got, want)
		}
	}
	a.must(`is_process_alive(self())`, "true")
}

// TestInitStopAnswers: rpc.call(node, "init", "stop") answers true, and
// then the node stops.
func TestInitStopAnswers(t *testing.T) {
	c := newCluster(t)
	a := c.start("caller")
	for k := range 10 {
		b := c.start(fmt.Sprintf("stopped%d", k))
		halted := make(chan int, 1)
		b.env.Halt = func(code int) {
			b.node.Close()
			halted <- code
		}
		a.must(fmt.Sprintf(`rpc.call(%q, "init", "stop")`, b.name()), "true")
		if code := <-halted; code != 0 {
			t.Fatalf("halted with %d, want 0", code)
		}
	}
}
