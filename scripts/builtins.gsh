#!/usr/bin/env gsh
// A tour of the builtins that describe the node and the session: help(),
// i(), regs(), args() and history(). The first line makes the file a
// program: chmod +x builtins.gsh; ./builtins.gsh a b gives args() ["a", "b"].
// The node is named on 127.0.0.1, so that the columns of i() line up the
// same on every host.
// gsh: -name elrond@127.0.0.1

help("rpc.call")
args()

// A process that takes only "stop" keeps the other messages queued, so its
// mailbox holds 2 when i() lists it.
worker := spawn(func() { receive(func(m any) bool { return m == "stop" }) })
register("worker", worker)
send(worker, "one")
send(worker, "two")
i()
regs()

// Stopped, it leaves the table, and its name.
ref := monitor(worker)
send(worker, "stop")
receive().(Down).Reason
regs()
history(3)

// Output:
// rpc.call
//     func rpc.call(node any, module, function string, args ...any) (any, error)
//
// run module.function(args...) on node and return its result
//
// The module is a builtin (kvs, erlang), a Go standard library package
// ("strings", "os", "net/url"), "main" for functions defined at that node's
// prompt or by a script it ran, or a package it loaded. Arguments are converted
// to the function's parameter types. A function's error result comes back as an
// error; a (value, ok) pair comes back as the value, or undefined when not ok.
// Failures print as an error line and can be told apart in Go code with
// errors.Is against cluster.ErrNodeDown, ErrAuth, ErrUnknownNode,
// ErrUnknownModule, ErrUnknownFunction, ErrBadArgs, ErrPanic, ErrTimeout.
//
// Examples:
//     rpc.call("gandalf@host", "kvs", "lookup", "weather")
//     rpc.call("gandalf@host", "strings", "ToUpper", "hi")
//     rpc.call("gandalf@host", "main", "double", 21)
// []
// <elrond@127.0.0.1.2>
// true
// one
// two
// Pid                          Name           Current function             Messages
// <elrond@127.0.0.1.1>                        shell (the prompt)           0
// <elrond@127.0.0.1.2>         worker         func()                       2
// 2 processes
// worker               <elrond@127.0.0.1.2>
// #Ref<elrond@127.0.0.1.1>
// stop
// normal
// 20  receive().(Down).Reason
// 21  regs()
// 22  history(3)
