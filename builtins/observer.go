package builtins

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"reflect"
	"runtime/metrics"
	"sort"
	"strconv"
	"strings"
	"sync"

	bolt "go.etcd.io/bbolt"

	"gsh/cluster"
	"gsh/internal/observer"
)

// ObserverOptions are the options of observer.start, as
// observer.Options{Addr: "0.0.0.0:8080", Kill: true} at the prompt.
type ObserverOptions struct {
	// Addr is where the page is served: "" is 127.0.0.1 on a free port.
	// Another address than a loopback one makes the page reachable from
	// other machines (with the token), and a warning says so.
	Addr string
	// Kill lets the page kill processes; without it the page only reads.
	Kill bool
}

// observerProcesses bounds the processes one node lists for the observer:
// those with the longest mailboxes first.
const observerProcesses = 2000

// observerKVS bounds the kvs entries one node lists for the observer.
const observerKVS = 500

// observerState is the node's observer, when one runs.
type observerState struct {
	mu   sync.Mutex
	srv  *observer.Server
	proc *cluster.Process
}

func (e *Env) observer() *observerState { return &e.obs }

// observerModule is the module "observer" other nodes' observers call.
func (e *Env) observerModule() map[string]reflect.Value {
	return map[string]reflect.Value{
		"info": reflect.ValueOf(e.observerInfoWire),
		"kill": reflect.ValueOf(e.observerKill),
	}
}

// StartObserver serves the observer page for the cluster this node sees
// and returns its address, token included. A running observer is returned
// as it is. It runs as a process named in i() as "observer"; killing that
// process, or the node's end, stops it.
func (e *Env) StartObserver(opt ObserverOptions) (string, error) {
	o := e.observer()
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.srv != nil && o.proc.Alive() {
		return o.srv.URL(), nil
	}
	srv, err := observer.Start(observerSource{e}, observer.Options{Addr: opt.Addr, AllowKill: opt.Kill})
	if err != nil {
		return "", err
	}
	p := e.Node.NewProcess()
	p.SetWhat("observer " + srv.Addr().String())
	o.srv, o.proc = srv, p
	go func() {
		<-p.Context().Done()
		srv.Close()
		p.Exit(cluster.Normal)
	}()
	if srv.Public() {
		e.logf("WARNING: the observer on %s is reachable from other machines: anyone who has its address with the token can see this cluster%s", srv.Addr(), map[bool]string{true: " and kill its processes", false: ""}[opt.Kill])
	}
	return srv.URL(), nil
}

// StopObserver stops the node's observer, if one runs.
func (e *Env) StopObserver() bool {
	o := e.observer()
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.srv == nil {
		return false
	}
	o.proc.Kill(cluster.Normal)
	<-o.proc.Done()
	o.srv.Close()
	o.srv, o.proc = nil, nil
	return true
}

func (e *Env) observerStart(opts ...ObserverOptions) (string, error) {
	if len(opts) > 1 {
		return "", fmt.Errorf("observer.start: one observer.Options at most, %d given: %w", len(opts), cluster.ErrBadArgs)
	}
	var opt ObserverOptions
	if len(opts) == 1 {
		opt = opts[0]
	}
	if opt.Addr != "" {
		if _, _, err := net.SplitHostPort(opt.Addr); err != nil {
			return "", fmt.Errorf("observer.start: the address is HOST:PORT, as \"127.0.0.1:8080\", not %q: %w", opt.Addr, cluster.ErrBadArgs)
		}
	}
	url, err := e.StartObserver(opt)
	if err != nil {
		return "", fmt.Errorf("observer.start: %w", err)
	}
	return url, nil
}

func (e *Env) observerSymbols() map[string]reflect.Value {
	return map[string]reflect.Value{
		"start":   reflect.ValueOf(e.observerStart),
		"stop":    reflect.ValueOf(e.StopObserver),
		"Options": reflect.ValueOf((*ObserverOptions)(nil)),
	}
}

// ObserverInfo is what this node tells an observer of itself.
func (e *Env) ObserverInfo() *observer.NodeInfo {
	info := &observer.NodeInfo{Node: string(e.Node.Name())}
	for _, n := range e.Node.Nodes() {
		info.Visible = append(info.Visible, string(n))
	}
	for _, n := range e.Node.HiddenNodes() {
		info.Hidden = append(info.Hidden, string(n))
	}
	globals := map[cluster.Pid]string{}
	for _, name := range e.Node.GlobalNames() {
		if pid, ok := e.Node.WhereisGlobal(name); ok {
			info.Globals = append(info.Globals, observer.Global{Name: name, Pid: pid.String()})
			globals[pid] = name
		}
	}
	ds, total := e.Node.ProcessDetails(observerProcesses)
	info.ProcessCount = total
	pids := func(ps []cluster.Pid) []string {
		out := make([]string, len(ps))
		for k, p := range ps {
			out[k] = p.String()
		}
		return out
	}
	for _, d := range ds {
		info.Processes = append(info.Processes, observer.Process{
			Pid: d.Pid.String(), Name: d.Name, Global: globals[d.Pid], What: d.What,
			Mailbox: d.Mailbox, Dropped: d.Dropped, Memory: d.Memory, TrapExits: d.TrapExits,
			LinkedTo: pids(d.LinkedTo), MonitoredBy: pids(d.MonitoredBy), Monitoring: pids(d.Monitoring),
		})
	}
	info.KVSStarted, info.KVS, info.KVSCount = e.KVS.entries(observerKVS, e.formatValue)
	st := e.Node.Stats()
	samples := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/sched/goroutines:goroutines"}}
	metrics.Read(samples)
	info.Load = observer.Load{Messages: st.Messages, Calls: st.Calls, CallsServed: st.CallsServed,
		Memory: samples[0].Value.Uint64(), Goroutines: int(samples[1].Value.Uint64())}
	return info
}

// observerInfoWire is ObserverInfo for the wire: its JSON encoding, which
// the observer's page reads as it is.
func (e *Env) observerInfoWire() (string, error) {
	b, err := json.Marshal(e.ObserverInfo())
	if err != nil {
		return "", fmt.Errorf("describing %s for the observer: %w", e.Node.Name(), err)
	}
	return string(b), nil
}

// observerKill ends a process of this node, given as printed (<n@h.42>).
func (e *Env) observerKill(pid string) (bool, error) {
	p, err := parsePid(pid)
	if err != nil {
		return false, err
	}
	proc, ok := e.Node.Process(p)
	if !ok || p.Node != e.Node.Name() {
		return false, fmt.Errorf("killing %s on %s: %w", pid, e.Node.Name(), cluster.ErrNoProcess)
	}
	proc.Kill(cluster.Killed)
	return true, nil
}

// parsePid reads a pid as it prints: <node@host.42>.
func parsePid(s string) (cluster.Pid, error) {
	in := strings.TrimSuffix(strings.TrimPrefix(s, "<"), ">")
	i := strings.LastIndexByte(in, '.')
	if i <= 0 || len(in) == len(s) {
		return cluster.Pid{}, fmt.Errorf("a pid prints as <node@host.42>, not %q: %w", s, cluster.ErrBadArgs)
	}
	id, err := strconv.ParseUint(in[i+1:], 10, 64)
	if err != nil {
		return cluster.Pid{}, fmt.Errorf("a pid prints as <node@host.42>, not %q: %w", s, cluster.ErrBadArgs)
	}
	return cluster.Pid{Node: cluster.Atom(in[:i]), ID: id}, nil
}

func (e *Env) formatValue(v any) string {
	if e.Format != nil {
		return e.Format(v)
	}
	return fmt.Sprint(v)
}

// entries lists up to limit entries, by key, as format prints them, and
// how many there are in all.
func (k *KVS) entries(limit int, format func(any) string) (started bool, out []observer.KV, total int) {
	k.mu.RLock()
	started = k.started
	var all []kvsEntry
	if k.db == nil {
		for _, en := range k.m {
			all = append(all, en)
		}
	}
	k.mu.RUnlock()
	if k.durable() {
		k.mu.RLock()
		db := k.db
		k.mu.RUnlock()
		if db != nil {
			db.View(func(tx *bolt.Tx) error {
				b := tx.Bucket(kvsBucket)
				if b == nil {
					return nil
				}
				return b.ForEach(func(kb, vb []byte) error {
					key, err1 := cluster.Decode(kb)
					val, err2 := cluster.Decode(vb)
					if err1 == nil && err2 == nil {
						all = append(all, kvsEntry{key: key, value: val})
					}
					return nil
				})
			})
		}
	}
	for _, en := range all {
		out = append(out, observer.KV{Key: format(en.key), Value: format(en.value)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	total = len(out)
	if len(out) > limit {
		out = out[:limit]
	}
	return started, out, total
}

// observerSource gathers for the observer through the node's own calls.
type observerSource struct{ e *Env }

func (s observerSource) Self() string { return string(s.e.Node.Name()) }

func (s observerSource) Connected() []string {
	var out []string
	for _, n := range append(s.e.Node.Nodes(), s.e.Node.HiddenNodes()...) {
		out = append(out, string(n))
	}
	return out
}

func (s observerSource) Info(ctx context.Context, node string) (*observer.NodeInfo, error) {
	if node == s.Self() {
		return s.e.ObserverInfo(), nil
	}
	v, err := s.e.Node.Call(ctx, cluster.Atom(node), "observer", "info")
	if err != nil {
		return nil, fmt.Errorf("asking %s for the observer: %w", node, err)
	}
	b, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("%s told the observer a %T, not its description: %w", node, v, cluster.ErrProtocol)
	}
	info := &observer.NodeInfo{}
	if err := json.Unmarshal([]byte(b), info); err != nil {
		return nil, fmt.Errorf("reading what %s told the observer: %w", node, err)
	}
	return info, nil
}

func (s observerSource) Kill(ctx context.Context, node, pid string) error {
	if node == s.Self() {
		_, err := s.e.observerKill(pid)
		return err
	}
	_, err := s.e.Node.Call(ctx, cluster.Atom(node), "observer", "kill", pid)
	return err
}

func (s observerSource) Watch(f func(node string, up bool)) (stop func()) {
	return s.e.Node.Watch(func(peer cluster.Atom, up bool, _ error) { f(string(peer), up) })
}

func init() {
	docs = append(docs,
		Doc{"observer.start", "func observer.start(opts ...observer.Options) (string, error)", "serve a web page that shows the whole cluster (Erlang's observer:start()); gives its address, token included",
			`The page shows the nodes and their links, each node's processes (mailbox,
dropped messages, memory, links and monitors), load charts, the kvs and the
global names, updated live. It listens on 127.0.0.1 on a free port, and only
reads; observer.start(observer.Options{Addr: "0.0.0.0:8080", Kill: true})
listens elsewhere (with a warning) and lets the page kill processes.`},
		Doc{"observer.stop", "func observer.stop() bool", "stop this node's observer page; false when none runs", ""},
	)
}
