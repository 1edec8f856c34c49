// Package builtins is what gsh's Go interpreter sees of the cluster: rpc.call,
// kvs.*, net_adm.ping, node(), nodes() and the rest, as one interp.Exports
// map under "path/pkg" keys (the shape of yaegi's stdlib.Symbols), and the
// Handler that serves other nodes' rpc calls to this node's modules: the
// builtins, the Go standard library and the functions defined at the prompt.
package builtins

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/traefik/yaegi/interp"
	"github.com/traefik/yaegi/stdlib"

	"gsh/cluster"
	"gsh/internal/interrupt"
)

// PathPrefix is the import path under which the builtin packages live:
// "gsh/builtins" holds the unqualified names (node(), nodes(), help(), …) and
// "gsh/builtins/rpc", "gsh/builtins/kvs", … the qualified ones.
const PathPrefix = "gsh/builtins"

// Env is one node's builtins: the node they act on and the hooks into the
// program that runs them, which NewWith sets from an Interpreter and a Host.
type Env struct {
	Node *cluster.Node
	KVS  *KVS

	// Out is where help() and other printing builtins write.
	Out io.Writer
	// Halt stops the node's program with an exit code (halt(), q()).
	Halt func(code int)
	// Context, if set, gives the context of the evaluation running on the
	// calling goroutine, so that Ctrl-C interrupts a waiting rpc.call.
	Context func() context.Context
	// Lookup finds a function defined in the interpreter: module "main" for
	// the prompt and scripts, or a loaded package's name.
	Lookup func(module, function string) (reflect.Value, bool)
	// Type finds a struct type declared in the interpreter by name: "Point"
	// at the prompt, "geo.Point" in a loaded package. A struct from another
	// node whose type has that name is received as a value of it.
	Type func(name string) (reflect.Type, bool)
	// Logf prints a line above the prompt.
	Logf func(format string, args ...any)
	// Format prints a value the way the prompt does (flush()).
	Format func(v any) string
	// LoadSource evaluates a Go source file's text in the interpreter and
	// returns its package name (c() and nl() use it).
	LoadSource func(name, src string) (string, error)
	// Args are the arguments given after a script's name (gsh file.gsh a
	// b): args() returns them.
	Args []string
	// History gives the prompt's history for history(): the lines read
	// from the history file, then this session's.
	History func() (old, session []string)

	shell   shellProc
	timers  timers
	asyncMu sync.Mutex
	asyncs  map[int]chan asyncResult
	asyncN  int

	timeout   time.Duration
	mu        sync.Mutex
	modules   cluster.Modules // served to other nodes: kvs, erlang, init, net_adm
	reserved  cluster.Modules // served ahead of the interpreter's functions (see Serve)
	stdlibIdx map[string]string
	docs      []Doc
	obs       observerState
}

// Doc describes one builtin for help().
type Doc struct {
	Name    string // as typed at the prompt: "rpc.call"
	Sig     string // its Go signature
	Summary string // one line
	Detail  string // more, with an example
}

// New returns the builtins for node, with no interpreter: the builtin
// modules and the standard library (see NewWith).
func New(node *cluster.Node) *Env {
	e := &Env{Node: node, KVS: NewKVS(node.Name()), Out: io.Discard, timeout: node.Config().CallTimeout}
	e.asyncs = map[int]chan asyncResult{}
	e.startShell()
	e.stdlibIdx = stdlibIndex()
	e.modules = cluster.Modules{
		"kvs": {
			"start":  reflect.ValueOf(e.KVS.Start),
			"store":  reflect.ValueOf(e.KVS.Store),
			"lookup": reflect.ValueOf(e.KVS.Lookup),
		},
		"erlang": {
			"node":       reflect.ValueOf(e.node),
			"nodes":      reflect.ValueOf(e.nodes),
			"byte_size":  reflect.ValueOf(func(b []byte) int { return len(b) }),
			"length":     reflect.ValueOf(func(l []any) int { return len(l) }),
			"whereis":    reflect.ValueOf(e.whereis),
			"registered": reflect.ValueOf(node.Registered),
			"processes":  reflect.ValueOf(e.pidList),

			"is_process_alive": reflect.ValueOf(e.processAlive),
			"process_info":     reflect.ValueOf(e.localProcessInfo),
		},
		"net_adm":  {"ping": reflect.ValueOf(e.ping)},
		"init":     {"stop": reflect.ValueOf(e.stop)},
		"code":     {"load_source": reflect.ValueOf(e.loadSource)},
		"observer": e.observerModule(),
	}
	return e
}

// ctx is the context of the calls the calling goroutine makes: the
// evaluation's, which Ctrl-C ends, naming the group leader that what they
// run on other nodes prints for.
func (e *Env) ctx() context.Context {
	if e.Context != nil {
		if c := e.Context(); c != nil {
			return e.withLeader(c)
		}
	}
	return e.withLeader(currentCtx())
}

func (e *Env) logf(format string, args ...any) {
	if e.Logf != nil {
		e.Logf(format, args...)
		return
	}
	fmt.Fprintf(e.Out, format+"\n", args...)
}

// nodeName accepts a node name given as a string or an Atom.
func nodeName(v any) (cluster.Atom, error) {
	switch n := v.(type) {
	case cluster.Atom:
		return n, nil
	case string:
		return cluster.Atom(n), nil
	}
	return "", fmt.Errorf("a node name is a string like \"gandalf@host\", not %T: %w", v, cluster.ErrBadArgs)
}

// nodeList accepts a list of node names: []Atom, []string, or []any of
// strings and Atoms.
func nodeList(v any) ([]cluster.Atom, error) {
	switch l := v.(type) {
	case []cluster.Atom:
		return l, nil
	case []string:
		ns := make([]cluster.Atom, len(l))
		for k, s := range l {
			ns[k] = cluster.Atom(s)
		}
		return ns, nil
	case []any:
		ns := make([]cluster.Atom, len(l))
		for k, s := range l {
			n, err := nodeName(s)
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", k, err)
			}
			ns[k] = n
		}
		return ns, nil
	}
	return nil, fmt.Errorf("give a list of nodes, such as nodes(), not %T: %w", v, cluster.ErrBadArgs)
}

func (e *Env) node() cluster.Atom { return e.Node.Name() }

// nodesList is nodes() at the prompt: a list of any, as the names come back
// from another node, so that append(nodes(), "name@host") works.
func (e *Env) nodesList(kind ...string) []any {
	ns := e.nodes(kind...)
	l := make([]any, len(ns))
	for k, n := range ns {
		l[k] = n
	}
	return l
}

// nodes lists the linked nodes: the visible ones, or nodes("hidden"), or
// nodes("connected") for both.
func (e *Env) nodes(kind ...string) []cluster.Atom {
	if len(kind) == 0 {
		return e.Node.Nodes()
	}
	switch kind[0] {
	case "visible":
		return e.Node.Nodes()
	case "hidden":
		return e.Node.HiddenNodes()
	case "connected":
		return append(e.Node.Nodes(), e.Node.HiddenNodes()...)
	}
	panic(fmt.Errorf("nodes(%q): the kinds are visible, hidden and connected: %w", kind[0], cluster.ErrBadArgs))
}

// Call is rpc.call: module.function(args...) on node.
func (e *Env) Call(node any, module, function string, args ...any) (any, error) {
	n, err := nodeName(node)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(e.ctx(), e.Timeout())
	defer cancel()
	v, err := e.Node.Call(ctx, n, module, function, args...)
	return e.retype(v), err
}

// Timeout is the rpc timeout in force.
func (e *Env) Timeout() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.timeout
}

// SetTimeout changes the rpc timeout and returns the previous one.
func (e *Env) SetTimeout(d time.Duration) time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	old := e.timeout
	if d > 0 {
		e.timeout = d
	}
	return old
}

// ping is net_adm.ping: pong when a link to node works, pang otherwise.
func (e *Env) ping(node any) cluster.Atom {
	n, err := nodeName(node)
	if err == nil {
		ctx, cancel := context.WithTimeout(e.ctx(), e.Timeout())
		err = e.Node.Ping(ctx, n)
		cancel()
	}
	if err != nil {
		e.logf("net_adm.ping(%v): %v", node, err)
		return "pang"
	}
	return "pong"
}

// stop is init.stop: the node stops once the caller has its answer.
func (e *Env) stop(ctx context.Context) bool {
	if e.Halt != nil {
		halt := func() { go e.Halt(0) }
		if !cluster.AfterReply(ctx, halt) {
			halt()
		}
	}
	return true
}

func (e *Env) halt(code ...int) {
	c := 0
	if len(code) > 0 {
		c = code[0]
	}
	if e.Halt != nil {
		e.Halt(c)
	}
}

// kvsLookup is kvs.lookup at the prompt: the value and whether it was found.
func (e *Env) kvsLookup(key any) (any, bool) {
	v, ok, err := e.KVS.Lookup(key)
	if err != nil {
		panic(err)
	}
	return v, ok
}

func (e *Env) kvsStore(key, value any) bool {
	ok, err := e.KVS.Store(key, value)
	if err != nil {
		panic(err)
	}
	return ok
}

func (e *Env) kvsStart() bool {
	ok, err := e.KVS.Start()
	if err != nil {
		panic(err)
	}
	return ok
}

// HandleCall serves other nodes' rpc calls: the builtin modules (kvs,
// erlang, net_adm, init), then functions defined in the interpreter (module
// "main" or a loaded package), then the Go standard library ("strings",
// "os", or a full path such as "net/url").
func (e *Env) HandleCall(ctx context.Context, from cluster.Atom, module, function string, args []any) (any, error) {
	v, err := e.handleCall(ctx, from, module, function, args)
	return wireValue(v), err
}

// Serve adds a module that other nodes can call: module.function(args...)
// runs funcs[function] (through cluster.Invoke, so that a first
// context.Context parameter gets the call's context). Unlike the builtin
// modules, it is reserved: no package loaded in the interpreter stands in
// for it. gsh serves its remote shells this way, as module "shell".
func (e *Env) Serve(module string, funcs map[string]reflect.Value) {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := cluster.Modules{module: funcs} // a new map: calls being served read the old one
	for k, v := range e.reserved {
		if k != module {
			m[k] = v
		}
	}
	e.reserved = m
}

type callerKey struct{}

// Caller returns the node that makes the call of ctx, for the functions of
// the modules added with Serve.
func Caller(ctx context.Context) (cluster.Atom, bool) {
	a, ok := ctx.Value(callerKey{}).(cluster.Atom)
	return a, ok
}

func (e *Env) handleCall(ctx context.Context, from cluster.Atom, module, function string, args []any) (any, error) {
	e.mu.Lock()
	_, reserved := e.reserved[module]
	res := e.reserved
	e.mu.Unlock()
	if reserved {
		return res.HandleCall(context.WithValue(ctx, callerKey{}, from), from, module, function, args)
	}
	if fn, ok := e.lookup(module, function); ok {
		return e.invokeInterpreted(ctx, fn, args)
	}
	if _, ok := e.modules[module]; ok {
		return e.modules.HandleCall(ctx, from, module, function, args)
	}
	if module == "main" {
		return nil, fmt.Errorf("no function %s defined on %s: %w", function, e.Node.Name(), cluster.ErrUnknownFunction)
	}
	key, ok := e.stdlibIdx[module]
	if !ok {
		return nil, fmt.Errorf("no module %q on %s: %w", module, e.Node.Name(), cluster.ErrUnknownModule)
	}
	fn, ok := stdlib.Symbols[key][function]
	if out := e.remoteOutput(ctx); out != nil && key == "fmt/fmt" {
		if f, isPrint := printTo(function, out); isPrint {
			fn = f
		}
	}
	if !ok || fn.Kind() != reflect.Func {
		return nil, fmt.Errorf("no function %s.%s on %s: %w", module, function, e.Node.Name(), cluster.ErrUnknownFunction)
	}
	return cluster.Invoke(ctx, fn, args)
}

// lookup finds a function defined in the interpreter: module "main" for the
// prompt and scripts, else a loaded package, which stands in for a builtin
// module of the same name. A lower-case function name also finds its
// exported spelling (store finds Store), as Erlang's names are lower case.
func (e *Env) lookup(module, function string) (reflect.Value, bool) {
	if e.Lookup == nil || function == "" {
		return reflect.Value{}, false
	}
	if fn, ok := e.Lookup(module, function); ok {
		return fn, true
	}
	if c := function[0]; c >= 'a' && c <= 'z' {
		return e.Lookup(module, string(c-'a'+'A')+function[1:])
	}
	return reflect.Value{}, false
}

// invokeInterpreted calls a function defined in the interpreter on behalf
// of another node: inside the process that serves a remote spawn, or else in
// a process of its own for the call, so that self() and receive() work. The
// call stops at its deadline or when its process is killed, even in an
// endless loop. It runs on a goroutine of its own, which an overflow of its
// stack may end (see interrupt.Own): the caller's goroutine may be a link's.
func (e *Env) invokeInterpreted(ctx context.Context, fn reflect.Value, args []any) (any, error) {
	p, ok := cluster.ProcessOf(ctx)
	if !ok {
		p = e.Node.NewProcess()
		p.SetWhat("rpc call")
		defer p.Exit(cluster.Normal)
	}
	owner := &interrupt.Owner{Process: p, Out: e.remoteOutput(ctx)}
	if cur := interrupt.CurrentOwner(); cur != nil && owner.Out == nil { // a call to this node from its own code
		owner.Ctx, owner.Out = cur.Ctx, cur.Out
	}
	// The function runs on a goroutine of its own, which a stack overflow
	// can end at once (see interrupt.Contain).
	type result struct {
		v   any
		err error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() { done <- r }()
		defer func() {
			if v := recover(); v != nil {
				r = result{nil, &cluster.PanicError{Value: v}}
			}
		}()
		defer interrupt.Contain()()
		defer interrupt.Own(owner)()
		stop := interrupt.Watch(ctx)
		defer stop()
		r.v, r.err = cluster.Invoke(ctx, fn, args)
	}()
	r := <-done
	return r.v, r.err
}

// stdlibIndex maps a package's import path, and its name when no other
// package has it, to its stdlib.Symbols key.
func stdlibIndex() map[string]string {
	idx := map[string]string{}
	byName := map[string][]string{}
	for k := range stdlib.Symbols {
		i := strings.LastIndexByte(k, '/')
		if i <= 0 {
			continue
		}
		path, name := k[:i], k[i+1:]
		idx[path] = k
		byName[name] = append(byName[name], k)
	}
	for name, ks := range byName {
		if len(ks) == 1 {
			if _, taken := idx[name]; !taken {
				idx[name] = ks[0]
			}
		}
	}
	return idx
}

// Docs lists every builtin, sorted by name.
func (e *Env) Docs() []Doc {
	ds := append([]Doc(nil), docs...)
	sort.Slice(ds, func(i, j int) bool { return ds[i].Name < ds[j].Name })
	return ds
}

// Symbols returns the builtins as yaegi exports: "gsh/builtins/builtins"
// for the unqualified names (a prompt dot-imports it) and one package per
// qualified prefix ("gsh/builtins/rpc/rpc", …).
func (e *Env) Symbols() interp.Exports {
	v := reflect.ValueOf
	return interp.Exports{
		PathPrefix + "/builtins": {
			"node":       v(e.node),
			"nodes":      v(e.nodesList),
			"get_cookie": v(func() string { return e.Node.Cookie() }),
			"set_cookie": v(e.setCookie),
			"halt":       v(e.halt),
			"q":          v(func() { e.halt(0) }),
			"help":       v(e.help),
			"Atom":       v((*cluster.Atom)(nil)),
			"Pid":        v((*cluster.Pid)(nil)),
			"Ref":        v((*cluster.Ref)(nil)),
			"Down":       v((*cluster.Down)(nil)),
			"Exit":       v((*cluster.Exit)(nil)),
			"NodeUp":     v((*cluster.NodeUp)(nil)),
			"NodeDown":   v((*cluster.NodeDown)(nil)),
			"Named":      v((*Named)(nil)),
			"Struct":     v((*cluster.Struct)(nil)),
			"Field":      v((*cluster.Field)(nil)),
			"undefined":  v(cluster.Undefined),
			"timeout":    v(Timeout),

			// Erlang's terms (see cluster/etf.go).
			"Tuple":        v((*cluster.Tuple)(nil)),
			"ImproperList": v((*cluster.ImproperList)(nil)),
			"ErlRef":       v((*cluster.ErlRef)(nil)),

			"disconnect_node": v(e.disconnectNode),

			"spawn":            v(e.spawn),
			"spawn_link":       v(e.spawnLink),
			"spawn_monitor":    v(e.spawnMonitor),
			"is_process_alive": v(e.isProcessAlive),
			"process_info":     v(e.processInfo),
			"TimerRef":         v((*TimerRef)(nil)),
			"ProcessInfo":      v((*cluster.ProcessInfo)(nil)),
			"self":             v(func() cluster.Pid { return e.self().Pid() }),
			"send":             v(e.send),
			"receive":          v(e.receive),
			"flush":            v(e.flush),
			"register":         v(e.register),
			"unregister":       v(e.unregister),
			"whereis":          v(e.whereis),
			"registered":       v(e.Node.Registered),
			"monitor":          v(e.monitor),
			"demonitor":        v(e.demonitor),
			"link":             v(e.link),
			"unlink":           v(e.unlink),
			"exit":             v(e.exit),
			"process_flag":     v(e.processFlag),
			"monitor_node":     v(e.monitorNode),
			"i":                v(e.processes),
			"regs":             v(e.regs),
			"at":               v(at),
			"apply":            v(e.apply),
			"c":                v(e.compile),
			"nl":               v(e.netLoad),
			"args":             v(e.args),
			"memory":           v(e.memory),
			"history":          v(e.history),
		},
		PathPrefix + "/rpc/rpc": {
			"call":        v(e.Call),
			"cast":        v(e.cast),
			"multicall":   v(e.multicall),
			"async_call":  v(e.asyncCall),
			"yield":       v(e.yield),
			"set_timeout": v(e.SetTimeout),
			"timeout":     v(e.Timeout),
		},
		PathPrefix + "/global/global": {
			"register_name":    v(e.globalRegister),
			"unregister_name":  v(e.globalUnregister),
			"whereis_name":     v(e.globalWhereis),
			"send":             v(e.globalSend),
			"registered_names": v(e.Node.GlobalNames),
		},
		PathPrefix + "/net_kernel/net_kernel": {
			"monitor_nodes": v(e.monitorNodes),
			"connect_node":  v(e.connectNode),
		},
		PathPrefix + "/kvs/kvs": {
			"start":  v(e.kvsStart),
			"store":  v(e.kvsStore),
			"lookup": v(e.kvsLookup),
		},
		PathPrefix + "/net_adm/net_adm": {
			"ping":  v(e.ping),
			"names": v(e.names),
		},
		PathPrefix + "/lib_chan/lib_chan": e.libChanSymbols(),
		PathPrefix + "/observer/observer": e.observerSymbols(),
		PathPrefix + "/erlang/erlang": {
			"node":         v(e.node),
			"nodes":        v(e.nodes),
			"processes":    v(e.pidList),
			"send_after":   v(e.sendAfter),
			"cancel_timer": v(e.cancelTimer),
		},
	}
}

// Prelude is what a new interpreter evaluates so that the unqualified
// builtins need no import.
const Prelude = `import . "gsh/builtins"`

// help prints every builtin, or one in full.
func (e *Env) help(name ...string) {
	if len(name) == 0 {
		fmt.Fprintln(e.Out, "gsh builtins (help(\"name\") shows one in full):")
		for _, d := range e.Docs() {
			fmt.Fprintf(e.Out, "  %-22s %s\n", d.Name, d.Summary)
		}
		return
	}
	for _, d := range docs {
		if d.Name == name[0] || strings.TrimSuffix(d.Name, "()") == name[0] {
			fmt.Fprintf(e.Out, "%s\n    %s\n\n%s\n", d.Name, d.Sig, d.Summary)
			if d.Detail != "" {
				fmt.Fprintf(e.Out, "\n%s\n", d.Detail)
			}
			return
		}
	}
	fmt.Fprintf(e.Out, "no builtin named %q: help() lists them\n", name[0])
}

// Inline names the calls that HandleCall answers at once (cluster's
// InlineHandler): the builtin kvs and erlang functions that only read or
// change this node's memory, unless a function loaded in the interpreter or
// a module added with Serve stands in for them. A node serves those on the
// goroutine that reads the caller's link, with no hand-off to another.
func (e *Env) Inline(module, function string) bool {
	switch module + "." + function {
	case "erlang.node", "erlang.nodes", "erlang.byte_size", "erlang.length", "erlang.whereis",
		"erlang.registered", "erlang.processes", "erlang.is_process_alive", "erlang.process_info",
		"kvs.lookup":
	case "kvs.store":
		if e.KVS.durable() { // a commit to disk
			return false
		}
	default:
		return false
	}
	e.mu.Lock()
	_, reserved := e.reserved[module]
	e.mu.Unlock()
	if reserved {
		return false
	}
	_, shadowed := e.lookup(module, function)
	return !shadowed
}
