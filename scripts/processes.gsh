// Erlang's process builtins, here and on another node: spawn_monitor,
// is_process_alive, process_info, erlang.processes, erlang.send_after and
// erlang.cancel_timer; and a struct typed at the prompt crossing the wire.
// gsh: -sname bilbo
// peer: gandalf

gandalf := strings.Replace(string(node()), "bilbo", "gandalf", 1)
net_adm.ping(gandalf)

// The monitor is in place before the process runs: even one that ends at
// once gives its own reason.
pid, ref := spawn_monitor(func() { panic("boom") })
d := receive(5 * time.Second).(Down)
d.Pid == pid && d.Ref == ref
d.Reason
is_process_alive(pid)
process_info(pid)
is_process_alive(self())
process_info(self()).(ProcessInfo).What

// The same on gandalf.
w, wref := spawn_monitor(gandalf, "main", "nosuch")
receive(5 * time.Second).(Down).Reason
is_process_alive(w)
w, wref = spawn_monitor(gandalf, "erlang", "node")
dw := receive(5 * time.Second).(Down)
dw.Ref == wref && dw.Pid == w && dw.Reason == Atom("normal")
is_process_alive(w)

// erlang.processes lists this node's processes.
len(erlang.processes()) >= 1

// Timers: a message later, or never.
erlang.send_after(10*time.Millisecond, self(), "tick")
receive(5 * time.Second)
t := erlang.send_after(time.Hour, self(), "never")
erlang.cancel_timer(t).(int) > 3590000
erlang.cancel_timer(t)
receive(20 * time.Millisecond)

// A struct typed here prints with its name, on gandalf too, which has no
// such type; what gandalf keeps and sends back is a Point here again.
type Point struct{ X, Y int }
Point{5, 6}
rpc.call(gandalf, "fmt", "Sprint", Point{5, 6})
rpc.call(gandalf, "kvs", "start")
rpc.call(gandalf, "kvs", "store", "p", &Point{7, 8})
p, _ := rpc.call(gandalf, "kvs", "lookup", "p")
p.(Point).X

// Output:
// gandalf@HOST
// pong
// <bilbo@HOST.2>, #Ref<bilbo@HOST.1>
// Down{Ref: #Ref<bilbo@HOST.1>, Pid: <bilbo@HOST.2>, Reason: "boom"}
// true
// boom
// false
// undefined
// true
// shell (the prompt)
// <gandalf@HOST.2>, #Ref<bilbo@HOST.2>
// no function nosuch defined on gandalf@HOST: unknown function
// false
// <gandalf@HOST.3>, #Ref<bilbo@HOST.3>
// Down{Ref: #Ref<bilbo@HOST.3>, Pid: <gandalf@HOST.3>, Reason: normal}
// true
// false
// true
// #TimerRef<bilbo@HOST.1>
// tick
// #TimerRef<bilbo@HOST.2>
// true
// false
// timeout
// Point{X: 5, Y: 6}
// Point{X: 5, Y: 6}
// true
// true
// Point{X: 7, Y: 8}
// 7
