package builtins

// docs describes every builtin for help(); each entry's Name is what a user
// types at the prompt.
var docs = []Doc{
	{"node", "func node() Atom", "this node's name (nonode@nohost when started without -sname/-name)", ""},
	{"nodes", "func nodes(kind ...string) []any", "the nodes this node has a link to; nodes(\"hidden\") the hidden ones, nodes(\"connected\") all", ""},
	{"get_cookie", "func get_cookie() string", "this node's cookie", ""},
	{"set_cookie", "func set_cookie(args ...any) (bool, error)", "change the cookie for links made from now on: set_cookie(cookie), or set_cookie(node, cookie) for the links with one node", `set_cookie(node, cookie) sets the cookie both ends of a link with node
prove, in both directions, as Erlang's set_cookie(Node, Cookie) does; other
nodes keep this node's cookie. A link already up stays up.

Examples:
    set_cookie("abc")
    set_cookie("gandalf@alpha.example.com", "xyz")`},
	{"disconnect_node", "func disconnect_node(node any) (bool, error)", "drop the link to node: true when there was one", `As Erlang's disconnect_node: the node is down for this one (monitors
and linked processes are told, with reason noconnection) until a call,
ping or message links them again.`},
	{"halt", "func halt(code ...int)", "stop this node at once with an exit code (0 by default)", ""},
	{"q", "func q()", "stop this node cleanly", ""},
	{"help", "func help(name ...string)", "list the builtins, or show one in full", `Example:
    help("rpc.call")`},
	{"rpc.call", "func rpc.call(node any, module, function string, args ...any) (any, error)",
		"run module.function(args...) on node and return its result",
		`The module is a builtin (kvs, erlang), a Go standard library package
("strings", "os", "net/url"), "main" for functions defined at that node's
prompt or by a script it ran, or a package it loaded. Arguments are converted
to the function's parameter types. A function's error result comes back as an
error; a (value, ok) pair comes back as the value, or undefined when not ok.
Failures print as an error line and can be told apart in Go code with
errors.Is against cluster.ErrNodeDown, ErrAuth, ErrUnknownNode,
ErrUnknownModule, ErrUnknownFunction, ErrBadArgs, ErrPanic, ErrTimeout.

Examples:
    rpc.call("gandalf@host", "kvs", "lookup", "weather")
    rpc.call("gandalf@host", "strings", "ToUpper", "hi")
    rpc.call("gandalf@host", "main", "double", 21)`},
	{"rpc.set_timeout", "func rpc.set_timeout(d time.Duration) time.Duration", "change the rpc timeout (30s at start); returns the old one", `Example:
    rpc.set_timeout(5 * time.Second)`},
	{"rpc.timeout", "func rpc.timeout() time.Duration", "the rpc timeout in force", ""},
	{"kvs.start", "func kvs.start() bool", "start this node's name server (the book's kvs); true, also when it is already started", `With -kvs_dir a node restarted with the same directory finds its kvs started, with every value.`},
	{"kvs.store", "func kvs.store(key, value any) bool", "keep value under key in this node's kvs", `Example:
    kvs.store("weather", "fine")`},
	{"kvs.lookup", "func kvs.lookup(key any) (any, bool)", "the value under key and whether there was one (prints undefined when not)", ""},
	{"net_adm.names", "func net_adm.names(host ...string) ([]any, error)", "the nodes the port mapper on host lists, as [name, port] pairs (this host's by default)", `Example:
    net_adm.names("gandalf-host")`},
	{"memory", "func memory(kind ...string) (any, error)", "this node's memory in bytes, as erlang:memory(): total, heap, stack, other, and the goroutines and gc_runs counts", `total is all the memory the Go runtime holds from the system; memory("heap")
gives one value.`},
	{"net_adm.ping", "func net_adm.ping(node any) Atom", "pong when node answers over a link, pang otherwise", `Example:
    net_adm.ping("gandalf@host")`},
	{"erlang.node", "func erlang.node() Atom", "this node's name; rpc.call(n, \"erlang\", \"node\") gives n's", ""},
	{"erlang.nodes", "func erlang.nodes() []Atom", "the nodes this node has a link to", ""},
	{"spawn", "func spawn(f any, args ...any) Pid", "start a process: spawn(f), spawn(module, function, args...), spawn(node, module, function, args...), spawn(node, f)",
		`spawn(f) runs the function f as a process on this node and returns its pid.
spawn(node, module, function, args...) runs module.function(args...) on node
(Erlang's spawn/4); spawn(node, f) works for a function declared at the top
level (func f() {...}) that node has too (defined there, or loaded with c/nl).
A process ends when its function returns (reason normal), panics (the panic's
message) or is killed; its monitors and links are told why.

Example:
    pid := spawn(func() { for { m := receive(); fmt.Println("got", m) } })
    send(pid, "hello")`},
	{"spawn_link", "func spawn_link(f any, args ...any) Pid", "spawn, linked to the calling process", ""},
	{"spawn_monitor", "func spawn_monitor(f any, args ...any) (Pid, Ref)", "spawn, monitored by the calling process from before it runs: its Down message has its own reason",
		`Takes what spawn takes, here or on another node. The monitor is in place
before the new process runs, so a process that ends at once still gives its
own exit reason (not noproc).
Example:
    pid, ref := spawn_monitor(func() { panic("boom") })
    receive()    // Down{Ref: ref, Pid: pid, Reason: "boom"}`},
	{"is_process_alive", "func is_process_alive(pid Pid) bool", "whether pid runs (a process of another node: asked there)",
		`A pid of another node is asked about on that node; when that node cannot be
reached, is_process_alive fails with its error instead of guessing.
Example:
    is_process_alive(self())    // true`},
	{"process_info", "func process_info(pid Pid) any", "what i() shows of one process (here or on another node), or undefined when it is gone",
		`A cluster.ProcessInfo: Pid, Name (registered), What (its function),
Mailbox (messages waiting), Dropped, Links, Monitors, TrapExits.
Example:
    process_info(self()).(ProcessInfo).Mailbox`},
	{"erlang.processes", "func erlang.processes() []Pid", "the pids of this node's processes (i() prints them in full)", ""},
	{"erlang.send_after", "func erlang.send_after(t any, dest any, msg any) TimerRef", "send msg to dest once t (a time.Duration, or milliseconds) has passed",
		`dest is a pid (of any node), a registered name or at(name, node). A
message to a process or name gone by then is dropped, as in Erlang. msg must
be a wire value: one that is not is refused at once.
Example:
    t := erlang.send_after(500*time.Millisecond, self(), "tick")
    receive()    // tick, half a second later`},
	{"erlang.cancel_timer", "func erlang.cancel_timer(ref TimerRef) any", "stop a send_after timer: the milliseconds it had left, or false if it fired or was cancelled already", ""},
	{"self", "func self() Pid", "the calling process's pid (at the prompt: the prompt's own process)", ""},
	{"send", "func send(dest any, msg any) any", "send msg to a pid, a registered name, or at(name, node)", `Any wire value is a message: numbers, strings, []any, maps, pids, structs.
A struct arrives as its own type on a node that declared a struct type of
that name (at its prompt, or in a package loaded with nl()); elsewhere as a
Struct that prints as Point{X: 5, Y: 6}: m.(Struct).Field("X") reads a field.
Example:
    send(at("kvs", "gandalf@host"), []any{self(), "hi"})`},
	{"receive", "func receive(opts ...any) any", "the next message; receive(500*time.Millisecond) gives timeout when none came; receive(match) takes the first message match accepts",
		`Messages that match does not accept stay queued, in order.
Examples:
    m := receive()
    m := receive(2 * time.Second)          // timeout after 2 s
    m := receive(func(m any) bool { _, ok := m.(Down); return ok })
timeout is an atom, not a string: test for it with m == timeout, or
m == "timeout" (a comparison with the literal "timeout" or "undefined" also
matches the atom; a message that is the string "timeout" matches it too,
m == timeout does not).`},
	{"timeout", "const timeout Atom", "what receive(d) gives when no message came in time: test with m == timeout (or m == \"timeout\")", ""},
	{"undefined", "const undefined Atom", "what whereis, global.whereis_name and a lookup through rpc.call give when nothing is there: test with v == undefined (or v == \"undefined\")", `kvs.lookup(k) at the prompt gives (value, ok): test ok.`},
	{"flush", "func flush()", "print and remove every message in the prompt's mailbox", ""},
	{"register", "func register(name string, pid Pid) bool", "give a process a name on this node", ""},
	{"unregister", "func unregister(name string) bool", "remove a registered name", ""},
	{"whereis", "func whereis(name string) any", "the pid registered under name, or undefined", ""},
	{"registered", "func registered() []string", "the registered names on this node", ""},
	{"at", "func at(name string, node any) Name", "a registered name on a node, for send (Erlang's {Name, Node})", ""},
	{"monitor", "func monitor(pid Pid) Ref", "deliver a Down message (with the reason) when pid ends, or at once if it is gone", ""},
	{"demonitor", "func demonitor(ref Ref) bool", "stop a monitor", ""},
	{"link", "func link(pid Pid) bool", "link the calling process with pid: when one ends abnormally, so does the other", ""},
	{"unlink", "func unlink(pid Pid) bool", "remove a link", ""},
	{"exit", "func exit(args ...any) bool", "exit(reason) ends the calling process; exit(pid, reason) sends pid an exit signal", ""},
	{"process_flag", "func process_flag(flag string, value bool) bool", "process_flag(\"trap_exit\", true): exit signals arrive as Exit messages", ""},
	{"monitor_node", "func monitor_node(node any, on bool) bool", "deliver NodeDown when the link to node is lost", ""},
	{"net_kernel.monitor_nodes", "func net_kernel.monitor_nodes(on bool) bool", "deliver NodeUp / NodeDown for every node", ""},
	{"net_kernel.connect_node", "func net_kernel.connect_node(node any) bool", "make a link to node", ""},
	{"i", "func i()", "list this node's processes: pid, name, current function, mailbox length", ""},
	{"regs", "func regs()", "list the registered names", ""},
	{"c", "func c(path string) (Atom, error)", "load a Go source file into this node; its package becomes a module rpc.call and spawn can name", `Loading it again replaces its functions for new calls.
Example:
    c("scripts/dist_demo.go")`},
	{"nl", "func nl(path string) ([]Atom, error)", "load a Go source file on this node and every connected node", ""},
	{"rpc.cast", "func rpc.cast(node any, module, function string, args ...any) bool", "run module.function(args...) on node without waiting", ""},
	{"rpc.multicall", "func rpc.multicall([nodes any,] module, function string, args ...any) ([]any, []Atom)", "call every node at once: the results, and the nodes that failed", `Without a list of nodes: this node and every node it has a link to.
Examples:
    rpc.multicall(nodes(), "erlang", "node")
    rpc.multicall("erlang", "node")`},
	{"rpc.async_call", "func rpc.async_call(node any, module, function string, args ...any) int", "start a call; rpc.yield(key) waits for its result", ""},
	{"rpc.yield", "func rpc.yield(key int) (any, error)", "the result of an async_call", ""},
	{"global.register_name", "func global.register_name(name string, pid Pid) (bool, error)", "one name, one pid, on every connected node; fails when taken",
		`A name is released when its process ends or its node is lost. When two
nodes that each registered the same name meet, the registration of the node
whose name sorts first wins; the loser's process gets a GlobalConflict message.`},
	{"global.unregister_name", "func global.unregister_name(name string) bool", "release a global name", ""},
	{"global.whereis_name", "func global.whereis_name(name string) any", "the pid of a global name, or undefined", ""},
	{"global.send", "func global.send(name string, msg any) any", "send to the process of a global name", ""},
	{"global.registered_names", "func global.registered_names() []string", "every global name", ""},
	{"args", "func args() []string", "the arguments given after the script's name (gsh file.gsh a b gives [\"a\", \"b\"]); [] at the prompt", `A script can start with #!/usr/bin/env gsh and be run as ./file.gsh a b.`},
	{"history", "func history(last ...int)", "print the prompt's history, numbered (the history file's lines first); history(n) prints the last n", `Each line of a multi-line input is one line of the history, as for the up
arrow. Lines from ~/.gsh_history come first, then "-- this session --".`},
	{"apply", "func apply(module, function string, args ...any) any", "run module.function(args...) here, as a call from another node would; an error comes back as the value", ""},
}
