// The book's kvs written with gsh's processes (kvs.go), loaded on both
// nodes and started on gandalf: store and lookup are message round trips
// to a registered process there.
// gsh: -sname bilbo
// peer: gandalf

gandalf := strings.Replace(string(node()), "bilbo", "gandalf", 1)
net_adm.ping(gandalf)
nl("kvs.go")
rpc.call(gandalf, "bookkvs", "start")
rpc.call(gandalf, "bookkvs", "store", "weather", "fine")
rpc.call(gandalf, "bookkvs", "lookup", "weather")
rpc.call(gandalf, "bookkvs", "lookup", "snow")
rpc.call(gandalf, "erlang", "registered")

// Output:
// gandalf@HOST
// pong
// [bilbo@HOST, gandalf@HOST]
// true
// true
// fine
// undefined
// ["bookkvs"]
