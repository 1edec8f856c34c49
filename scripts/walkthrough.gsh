// The two-terminal walkthrough of the README, from bilbo's side: gandalf
// runs the book's name server, and bilbo stores and looks up through rpc.
// gsh: -sname bilbo
// peer: gandalf -eval 'kvs.start()'

gandalf := strings.Replace(string(node()), "bilbo", "gandalf", 1)
rpc.call(gandalf, "kvs", "store", "weather", "fine")
rpc.call(gandalf, "kvs", "lookup", "weather")
rpc.call(gandalf, "kvs", "lookup", "snow")
net_adm.ping(gandalf)
nodes()
rpc.call(gandalf, "strings", "ToUpper", "hi")
rpc.call(gandalf, "erlang", "node")

// Output:
// gandalf@HOST
// true
// fine
// undefined
// pong
// [gandalf@HOST]
// HI
// gandalf@HOST
