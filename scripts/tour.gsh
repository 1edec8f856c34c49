// A tour of the builtins on one node.
// gsh: -sname frodo

node()
kvs.start()
kvs.store("ring", 1)
kvs.lookup("ring")
kvs.lookup("sword")

// Functions defined here can be called by other nodes as module main.
func double(x int) int { return 2 * x }
rpc.call(node(), "main", "double", 21)

// Processes and messages.
echo := spawn(func() {
	for {
		m := receive().([]any)
		send(m[0], m[1])
	}
})
send(echo, []any{self(), "hello"})
receive()
receive(10 * time.Millisecond)
register("echo", echo)
whereis("echo") == echo
send("echo", []any{self(), "by name"})
receive()

// A monitor tells why a process ended.
crasher := spawn(func() { receive(); panic("out of mithril") })
ref := monitor(crasher)
send(crasher, "go")
d := receive().(Down)
d.Reason
d.Ref == ref

// Output:
// frodo@HOST
// true
// true
// 1
// undefined
// 42
// <frodo@HOST.3>
// [<frodo@HOST.1>, "hello"]
// hello
// timeout
// true
// true
// [<frodo@HOST.1>, "by name"]
// by name
// <frodo@HOST.4>
// #Ref<frodo@HOST.1>
// go
// Down{Ref: #Ref<frodo@HOST.1>, Pid: <frodo@HOST.4>, Reason: "out of mithril"}
// out of mithril
// true
