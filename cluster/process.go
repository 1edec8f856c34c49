package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Exit reasons that processes end with, as Erlang names them.
const (
	Normal       Atom = "normal"       // the function returned
	Killed       Atom = "killed"       // Kill or an exit signal of reason kill
	NoConnection Atom = "noconnection" // the link to the process's node was lost
	NoProc       Atom = "noproc"       // the process was already gone
)

// Down is the message a monitor delivers when the monitored process ends.
type Down struct {
	Ref    Ref
	Pid    Pid
	Reason any // Normal, the panic's message, NoConnection, NoProc, ...
}

// Exit is the message a process that traps exits receives when a linked
// process ends.
type Exit struct {
	From   Pid
	Reason any
}

// NodeDown is delivered to processes that monitor a node when the link to it
// is lost; NodeUp when a link comes up (net_kernel.monitor_nodes).
type NodeDown struct{ Node Atom }

// NodeUp is delivered when a link to Node comes up, to processes that asked
// for it.
type NodeUp struct{ Node Atom }

// Ref identifies one monitor.
type Ref struct {
	Node Atom
	ID   uint64
}

func (r Ref) String() string { return fmt.Sprintf("#Ref<%s.%d>", r.Node, r.ID) }

// ExitError is why a killed process stops: the reason its exit signal carried.
type ExitError struct{ Reason any }

func (e *ExitError) Error() string { return fmt.Sprintf("process exited: %v", e.Reason) }

// ErrNoProcess: no live process has that pid or name.
var ErrNoProcess = errors.New("no such process")

// Process is a lightweight process: a goroutine with a mailbox, links and
// monitors, addressed by its Pid from any node.
type Process struct {
	node   *Node
	pid    Pid
	ctx    context.Context
	cancel context.CancelCauseFunc
	mbox   mailbox
	trap   atomic.Bool
	what   atomic.Pointer[string] // what it runs, for listings

	mu       sync.Mutex
	links    map[Pid]struct{}
	watchers map[Ref]Pid  // monitors on this process
	watching map[Ref]Pid  // monitors this process holds
	nodeMons map[Atom]int // monitor_node counts
	name     string       // registered name
	dead     bool
	reason   any
	done     chan struct{}
}

// Pid is the process's pid.
func (p *Process) Pid() Pid { return p.pid }

// Node is the node the process runs on.
func (p *Process) Node() *Node { return p.node }

// Context is cancelled when the process is killed; its cause is an *ExitError.
func (p *Process) Context() context.Context { return p.ctx }

// Done is closed once the process has ended.
func (p *Process) Done() <-chan struct{} { return p.done }

// Reason is why the process ended (nil while it runs).
func (p *Process) Reason() any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reason
}

// SetTrapExit makes exit signals from linked processes arrive as Exit
// messages instead of ending this process; it returns the old setting.
func (p *Process) SetTrapExit(on bool) bool { return p.trap.Swap(on) }

// SetWhat records what the process runs, for listings such as i().
func (p *Process) SetWhat(s string) { p.what.Store(&s) }

// ProcessInfo describes a process for listings.
type ProcessInfo struct {
	Pid       Pid
	Name      string
	What      string
	Mailbox   int
	Dropped   uint64 // messages from other nodes dropped over the mailbox limit
	Links     int
	Monitors  int
	TrapExits bool
}

// processTable is a node's live processes and registered names.
type processTable struct {
	next  atomic.Uint64
	refs  atomic.Uint64
	mu    sync.RWMutex
	procs map[uint64]*Process
	names map[string]*Process
	// nodeWatch: processes that asked for nodeup/nodedown messages.
	nodeWatch map[Pid]*Process
	// mailboxLimit is a new process's mailbox limit: 0 for
	// DefaultMailboxLimit, negative for none.
	mailboxLimit atomic.Int64
	castOnce     sync.Once
	casts        *castTable
	stats        nodeStats
}

func (n *Node) procs() *processTable {
	n.ptOnce.Do(func() {
		n.pt = &processTable{procs: map[uint64]*Process{}, names: map[string]*Process{}, nodeWatch: map[Pid]*Process{}}
	})
	return n.pt
}

// NewProcess makes a process whose body is the caller's own code, such as a
// shell's prompt: it lives until Exit or Kill. It counts towards
// Config.MaxProcesses but is never refused (see TryNewProcess).
func (n *Node) NewProcess() *Process {
	p, _ := n.newProcess(false)
	return p
}

// TryNewProcess is NewProcess for a process started on someone's request (a
// spawn, a cast): it fails with ErrTooManyProcesses when the node already
// runs Config.MaxProcesses processes.
func (n *Node) TryNewProcess() (*Process, error) { return n.newProcess(true) }

// DefaultMaxProcesses is Config.MaxProcesses unless set otherwise: 32,768,
// Erlang's own default before OTP R16B03. A process that waits in receive
// costs about 4 KB (its goroutine's stack, mailbox, maps and context); one
// serving a remote spawn that waits in a Go function about 10 KB, most of it
// stack: 32,768 of those take about 340 MB of heap and stacks (490 MB of
// RSS), where Erlang's 262,144 would take 2.7 GB.
const DefaultMaxProcesses = 32768

func (n *Node) newProcess(limited bool) (*Process, error) {
	pt := n.procs()
	p := &Process{
		node:     n,
		pid:      Pid{Node: n.name, ID: pt.next.Add(1), Creation: n.creation()},
		links:    map[Pid]struct{}{},
		watchers: map[Ref]Pid{},
		watching: map[Ref]Pid{},
		nodeMons: map[Atom]int{},
		done:     make(chan struct{}),
	}
	p.mbox.wake = make(chan struct{}, 1)
	p.mbox.limit = pt.defaultMailboxLimit()
	p.ctx, p.cancel = context.WithCancelCause(context.WithValue(n.ctx, processKey{}, p))
	pt.mu.Lock()
	if limited && len(pt.procs) >= n.maxProcesses() {
		k := len(pt.procs)
		pt.mu.Unlock()
		p.cancel(nil)
		return nil, fmt.Errorf("starting a process on %s: it runs %d processes, its limit (Config.MaxProcesses): %w", n.name, k, ErrTooManyProcesses)
	}
	pt.procs[p.pid.ID] = p
	pt.mu.Unlock()
	return p, nil
}

func (n *Node) maxProcesses() int {
	if n.cfg.MaxProcesses <= 0 {
		return DefaultMaxProcesses
	}
	return n.cfg.MaxProcesses
}

type processKey struct{}

// ProcessOf returns the process whose context ctx is, or derives from.
func ProcessOf(ctx context.Context) (*Process, bool) {
	p, ok := ctx.Value(processKey{}).(*Process)
	return p, ok
}

// Spawn runs f as a new process on this node. The process ends with reason
// Normal when f returns, with the panic's message when f panics, and is
// linked to link first when link is not nil.
func (n *Node) Spawn(f func(p *Process), link *Pid) *Process {
	p := n.NewProcess()
	if link != nil {
		p.Link(*link)
	}
	go p.run(f)
	return p
}

func (p *Process) run(f func(p *Process)) {
	var reason any = Normal
	defer func() {
		if r := recover(); r != nil {
			reason = panicReason(p, r)
		} else if ee, ok := context.Cause(p.ctx).(*ExitError); ok {
			// Killed (an exit signal, exit(pid, why)) while its body
			// returned: the reason is the kill's, however the body ended.
			reason = ee.Reason
		}
		p.Exit(reason)
	}()
	f(p)
}

// panicReason is the exit reason of a process whose body panicked with r.
func panicReason(p *Process, r any) any {
	if cause := context.Cause(p.ctx); cause != nil {
		var ee *ExitError
		if errors.As(cause, &ee) {
			return ee.Reason
		}
	}
	var ee *ExitError
	if err, ok := r.(error); ok && errors.As(err, &ee) {
		return ee.Reason
	}
	var pe *PanicError
	if err, ok := r.(error); ok && errors.As(err, &pe) {
		return fmt.Sprint(pe.Value)
	}
	if err, ok := r.(error); ok {
		return err.Error()
	}
	return fmt.Sprint(r)
}

// Exit ends the process with reason: linked processes get an exit signal,
// monitors a Down message, and its name is released. Safe to call more than
// once; the first reason stays.
func (p *Process) Exit(reason any) {
	p.mu.Lock()
	if p.dead {
		p.mu.Unlock()
		return
	}
	p.dead = true
	p.reason = reason
	links := p.links
	watchers := p.watchers
	watching := p.watching
	name := p.name
	p.links, p.watchers, p.watching = nil, nil, nil
	p.mu.Unlock()
	p.cancel(&ExitError{Reason: reason})

	n := p.node
	pt := n.procs()
	pt.mu.Lock()
	delete(pt.procs, p.pid.ID)
	if name != "" && pt.names[name] == p {
		delete(pt.names, name)
	}
	delete(pt.nodeWatch, p.pid)
	pt.mu.Unlock()
	for ref, target := range watching {
		if target.Node != n.name {
			n.signal(target.Node, demonitorSignal{Target: target, Ref: ref.ID})
		}
	}
	for to := range links {
		n.exitSignal(p.pid, to, reason, true)
	}
	for ref, watcher := range watchers {
		n.deliverDown(watcher, ref, p.pid, reason)
	}
	n.processExited(p)
	close(p.done)
}

// Kill ends the process from outside with reason Killed (or the reason
// given): the process's context is cancelled so its code stops at the next
// receive, and links and monitors fire at once.
func (p *Process) Kill(reason any) {
	if reason == nil {
		reason = Killed
	}
	p.cancel(&ExitError{Reason: reason})
	p.Exit(reason)
}

// Alive reports whether the process still runs.
func (p *Process) Alive() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.dead
}

// Link links this process with pid: when either ends, the other gets an
// exit signal. Linking a process that is gone sends this one an exit signal
// of reason NoProc at once.
func (p *Process) Link(to Pid) {
	if to == p.pid {
		return
	}
	p.mu.Lock()
	if p.dead {
		p.mu.Unlock()
		return
	}
	p.links[to] = struct{}{}
	p.mu.Unlock()
	n := p.node
	if to.Node == n.name {
		if q := n.process(to); q != nil && q.addLink(p.pid) {
			return
		}
		n.exitSignal(to, p.pid, NoProc, true)
		return
	}
	if err := n.signal(to.Node, linkSignal{From: p.pid, To: to}); err != nil {
		n.exitSignal(to, p.pid, NoConnection, true)
	}
}

// Unlink removes a link.
func (p *Process) Unlink(to Pid) {
	p.mu.Lock()
	delete(p.links, to)
	p.mu.Unlock()
	n := p.node
	if to.Node == n.name {
		if q := n.process(to); q != nil {
			q.mu.Lock()
			delete(q.links, p.pid)
			q.mu.Unlock()
		}
		return
	}
	n.signal(to.Node, unlinkSignal{From: p.pid, To: to})
}

func (p *Process) addLink(from Pid) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead {
		return false
	}
	p.links[from] = struct{}{}
	return true
}

// Monitor watches pid: when it ends (or is already gone, or its node is
// lost) this process receives a Down message with the reason.
func (p *Process) Monitor(target Pid) Ref {
	n := p.node
	ref := Ref{Node: n.name, ID: n.procs().refs.Add(1)}
	p.mu.Lock()
	if p.dead {
		p.mu.Unlock()
		return ref
	}
	p.watching[ref] = target
	p.mu.Unlock()
	if target.Node == n.name {
		if q := n.process(target); q != nil && q.addWatcher(ref, p.pid) {
			return ref
		}
		n.deliverDown(p.pid, ref, target, NoProc)
		return ref
	}
	if err := n.signal(target.Node, monitorSignal{Watcher: p.pid, Target: target, Ref: ref.ID}); err != nil {
		n.deliverDown(p.pid, ref, target, NoConnection)
	}
	return ref
}

// Demonitor stops a monitor; a Down message already delivered stays.
func (p *Process) Demonitor(ref Ref) {
	p.mu.Lock()
	target, ok := p.watching[ref]
	delete(p.watching, ref)
	p.mu.Unlock()
	if !ok {
		return
	}
	n := p.node
	if target.Node == n.name {
		if q := n.process(target); q != nil {
			q.mu.Lock()
			delete(q.watchers, ref)
			q.mu.Unlock()
		}
		return
	}
	n.signal(target.Node, demonitorSignal{Target: target, Ref: ref.ID})
}

func (p *Process) addWatcher(ref Ref, watcher Pid) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead {
		return false
	}
	p.watchers[ref] = watcher
	return true
}

// MonitorNode asks for a NodeDown message when the link to node is lost
// (on is false to take one such request back). A node with no link now gets
// NodeDown at once after a failed attempt to connect, as in Erlang.
func (p *Process) MonitorNode(node Atom, on bool) {
	p.mu.Lock()
	if on {
		p.nodeMons[node]++
	} else if p.nodeMons[node] > 0 {
		p.nodeMons[node]--
		if p.nodeMons[node] == 0 {
			delete(p.nodeMons, node)
		}
	}
	p.mu.Unlock()
	if on && node != p.node.name {
		ctx, cancel := context.WithTimeout(p.ctx, 2*p.node.cfg.HandshakeTimeout)
		err := p.node.Connect(ctx, node)
		cancel()
		if err != nil {
			p.takeNodeMon(node)
			p.Deliver(NodeDown{Node: node})
		}
	}
}

// takeNodeMon removes every monitor_node request for node and reports how
// many there were.
func (p *Process) takeNodeMon(node Atom) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := p.nodeMons[node]
	delete(p.nodeMons, node)
	return k
}

// MonitorNodes subscribes this process to NodeUp and NodeDown messages for
// every node (net_kernel:monitor_nodes).
func (p *Process) MonitorNodes(on bool) {
	pt := p.node.procs()
	pt.mu.Lock()
	defer pt.mu.Unlock()
	if on {
		pt.nodeWatch[p.pid] = p
	} else {
		delete(pt.nodeWatch, p.pid)
	}
}

// Deliver puts msg in the process's mailbox. It never drops it: the mailbox
// limit applies to messages from other nodes only.
func (p *Process) Deliver(msg any) {
	p.node.procs().stats.messages.Add(1)
	p.mbox.put(msg)
}

// deliverRemote puts a message that came from node from, wireSize bytes on
// the wire, in the mailbox, or drops it when the mailbox is over its limit
// (see DefaultMailboxLimit). It reports whether the message was queued.
func (p *Process) deliverRemote(from Atom, msg any, wireSize int) bool {
	p.node.procs().stats.messages.Add(1)
	ok, first := p.mbox.putRemote(msg, wireSize+mailboxMsgCost)
	if first {
		p.mbox.mu.Lock()
		limit, dropped := p.mbox.limit, p.mbox.dropped
		p.mbox.mu.Unlock()
		p.node.logf("process %v does not keep up: its mailbox reached its limit of %d bytes of messages from other nodes, so a message from %s was dropped, and more will be until it takes messages out (%d dropped so far)", p.pid, limit, from, dropped)
	}
	return ok
}

// SetMailboxLimit sets how many bytes (estimated) of messages from other
// nodes the process's mailbox holds before it drops more, and returns the
// previous limit; 0 or less means no limit. See DefaultMailboxLimit.
func (p *Process) SetMailboxLimit(bytes int) int { return p.mbox.setLimit(bytes) }

// SetMailboxLimit sets the mailbox limit of the processes made from now on
// (DefaultMailboxLimit at start) and returns the previous one; 0 or less
// means no limit.
func (n *Node) SetMailboxLimit(bytes int) int {
	pt := n.procs()
	if bytes <= 0 {
		bytes = -1
	}
	old := int(pt.mailboxLimit.Swap(int64(bytes)))
	if old == 0 {
		old = DefaultMailboxLimit
	}
	return max(old, 0)
}

func (pt *processTable) defaultMailboxLimit() int {
	switch l := pt.mailboxLimit.Load(); {
	case l == 0:
		return DefaultMailboxLimit
	case l < 0:
		return 0
	default:
		return int(l)
	}
}

// Receive takes the first message for which match is true (any message when
// match is nil), leaving the others queued in order. It waits up to timeout
// (forever when timeout < 0) and gives ok false when none came. It returns
// an error when ctx ends or the process is killed.
func (p *Process) Receive(ctx context.Context, match func(any) bool, timeout time.Duration) (msg any, ok bool, err error) {
	var timer *time.Timer
	var expired <-chan time.Time
	for {
		if m, ok := p.mbox.take(match); ok {
			if timer != nil {
				timer.Stop()
			}
			return m, true, nil
		}
		if timeout == 0 {
			return nil, false, nil
		}
		if timeout > 0 && timer == nil {
			timer = time.NewTimer(timeout)
			expired = timer.C
		}
		select {
		case <-p.mbox.wake:
		case <-expired:
			return nil, false, nil
		case <-p.ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return nil, false, context.Cause(p.ctx)
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return nil, false, ctx.Err()
		}
	}
}

// Flush empties the mailbox and returns what was in it.
func (p *Process) Flush() []any { return p.mbox.drain() }

// MailboxLen is how many messages wait in the mailbox.
func (p *Process) MailboxLen() int { return p.mbox.len() }

// Info describes the process.
func (p *Process) Info() ProcessInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	what := ""
	if w := p.what.Load(); w != nil {
		what = *w
	}
	p.mbox.mu.Lock()
	mailbox, dropped := len(p.mbox.q)-p.mbox.head, p.mbox.dropped
	p.mbox.mu.Unlock()
	return ProcessInfo{Pid: p.pid, Name: p.name, What: what, Mailbox: mailbox, Dropped: dropped,
		Links: len(p.links), Monitors: len(p.watchers), TrapExits: p.trap.Load()}
}

// The mailbox limit. A process's mailbox holds the messages that came from
// other nodes up to a limit on their estimated memory: each counts its wire
// size plus mailboxMsgCost bytes, against DefaultMailboxLimit (64 MiB) unless
// Node.SetMailboxLimit or Process.SetMailboxLimit says otherwise. A message
// from another node that would take the mailbox over its limit is dropped:
// counted (ProcessInfo.Dropped) and logged, one line each time the mailbox
// fills. A process that does not keep up loses the excess, as a message to a
// process that has ended is lost, and nothing else waits for it. Holding the
// message instead (backpressure) would hold the link's signals, which the
// goroutine reading the link applies in order, and with them every message,
// link, monitor, exit signal and rpc cast between the two nodes (and, on a
// link with fast frames, the small calls too): one process that stops
// reading would stop every other process hearing from the sender's node.
// The sender's side is bounded apart: a process sending to a node waits
// while 4 MiB are queued for that link (maxQueuedWrite; on a link without
// fast frames, its signal buffer, maxPendingSignals, and the yamux window).
//
// A single message larger than the limit is let in when no other message
// from another node is queued, so that a process that reads can receive any
// message. Messages sent by processes of the same node (Send to a local pid,
// Deliver, and the Down, Exit and NodeDown messages the system sends) are
// never dropped and do not count: a node's own code is its own to bound.
const (
	DefaultMailboxLimit = 64 << 20
	mailboxMsgCost      = 128
)

// mailbox is a process's message queue: ordered, with selective take, and
// bounded for messages from other nodes (see DefaultMailboxLimit).
type mailbox struct {
	mu      sync.Mutex
	q       []mailItem
	head    int
	wake    chan struct{}
	queued  int    // the estimated bytes of the remote messages in q
	limit   int    // on queued; 0 or less: none
	dropped uint64 // remote messages dropped over the limit
	full    bool   // dropping; logged, until the mailbox is down to half its limit
}

type mailItem struct {
	msg  any
	cost int // 0 for local messages
}

func (m *mailbox) put(msg any) {
	m.mu.Lock()
	m.q = append(m.q, mailItem{msg: msg})
	m.mu.Unlock()
	m.signal()
}

func (m *mailbox) signal() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// putRemote queues a message from another node of estimated size cost, or
// drops it when the mailbox is over its limit. first reports a drop that
// starts a run of them (the mailbox just filled), which the caller logs.
func (m *mailbox) putRemote(msg any, cost int) (ok, first bool) {
	m.mu.Lock()
	if m.limit > 0 && m.queued > 0 && m.queued+cost > m.limit {
		m.dropped++
		first = !m.full
		m.full = true
		m.mu.Unlock()
		return false, first
	}
	m.q = append(m.q, mailItem{msg: msg, cost: cost})
	m.queued += cost
	m.mu.Unlock()
	m.signal()
	return true, false
}

// took accounts for a message taken out; m.mu held.
func (m *mailbox) took(cost int) {
	m.queued -= cost
	if m.full && m.queued <= m.limit/2 {
		m.full = false
	}
}

func (m *mailbox) setLimit(limit int) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.limit
	m.limit = limit
	return old
}

func (m *mailbox) take(match func(any) bool) (any, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := m.head; i < len(m.q); i++ {
		it := m.q[i]
		if match != nil && !match(it.msg) {
			continue
		}
		if i == m.head {
			m.q[i] = mailItem{}
			m.head++
			if m.head == len(m.q) {
				m.q, m.head = m.q[:0], 0
			} else if m.head > 1024 && m.head*2 > len(m.q) {
				n := copy(m.q, m.q[m.head:])
				clear(m.q[n:])
				m.q, m.head = m.q[:n], 0
			}
		} else {
			m.q = slices.Delete(m.q, i, i+1)
		}
		m.took(it.cost)
		return it.msg, true
	}
	return nil, false
}

func (m *mailbox) drain() []any {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]any, 0, len(m.q)-m.head)
	for _, it := range m.q[m.head:] {
		out = append(out, it.msg)
	}
	clear(m.q)
	m.q, m.head = m.q[:0], 0
	m.queued = 0
	m.full = false
	return out
}

func (m *mailbox) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.q) - m.head
}

// process finds a live local process by pid.
func (n *Node) process(pid Pid) *Process {
	if pid.Node != n.name || (pid.Creation != 0 && pid.Creation != n.creation()) {
		return nil
	}
	pt := n.procs()
	pt.mu.RLock()
	defer pt.mu.RUnlock()
	return pt.procs[pid.ID]
}

// Process returns the live local process with that pid.
func (n *Node) Process(pid Pid) (*Process, bool) {
	p := n.process(pid)
	return p, p != nil
}

// Processes describes every live process on this node, by pid.
func (n *Node) Processes() []ProcessInfo {
	pt := n.procs()
	pt.mu.RLock()
	ps := make([]*Process, 0, len(pt.procs))
	for _, p := range pt.procs {
		ps = append(ps, p)
	}
	pt.mu.RUnlock()
	out := make([]ProcessInfo, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.Info())
	}
	slices.SortFunc(out, func(a, b ProcessInfo) int { return int(a.Pid.ID) - int(b.Pid.ID) })
	return out
}

// Register gives a local process a name that Send and Whereis accept.
func (n *Node) Register(name string, pid Pid) error {
	p := n.process(pid)
	if p == nil {
		return fmt.Errorf("register %q: %v: %w", name, pid, ErrNoProcess)
	}
	pt := n.procs()
	pt.mu.Lock()
	defer pt.mu.Unlock()
	if q, ok := pt.names[name]; ok {
		return fmt.Errorf("register %q: the name is taken by %v: %w", name, q.pid, ErrBadArgs)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead {
		return fmt.Errorf("register %q: %v: %w", name, pid, ErrNoProcess)
	}
	if p.name != "" {
		return fmt.Errorf("register %q: %v is already registered as %q: %w", name, pid, p.name, ErrBadArgs)
	}
	p.name = name
	pt.names[name] = p
	return nil
}

// Unregister removes a registered name.
func (n *Node) Unregister(name string) error {
	pt := n.procs()
	pt.mu.Lock()
	defer pt.mu.Unlock()
	p, ok := pt.names[name]
	if !ok {
		return fmt.Errorf("unregister %q: no process has that name: %w", name, ErrBadArgs)
	}
	delete(pt.names, name)
	p.mu.Lock()
	p.name = ""
	p.mu.Unlock()
	return nil
}

// Whereis gives the pid registered under name.
func (n *Node) Whereis(name string) (Pid, bool) {
	pt := n.procs()
	pt.mu.RLock()
	defer pt.mu.RUnlock()
	if p, ok := pt.names[name]; ok {
		return p.pid, true
	}
	return Pid{}, false
}

// Registered lists the registered names, sorted.
func (n *Node) Registered() []string {
	pt := n.procs()
	pt.mu.RLock()
	defer pt.mu.RUnlock()
	return slices.Sorted(maps.Keys(pt.names))
}

// Name addresses a process registered under Name on Node (Erlang's
// {Name, Node} ! Msg).
type Name struct {
	Name string
	Node Atom
}

// Send sends msg to a pid, a locally registered name (a string or Atom), or
// a Name on any node. As in Erlang, a message to a process that does not
// exist is dropped; Send returns an error only when the destination cannot
// be understood or its node cannot be reached. Local messages are not copied.
func (n *Node) Send(to any, msg any) error {
	switch d := to.(type) {
	case Pid:
		if d.Node == n.name {
			if p := n.process(d); p != nil {
				p.Deliver(msg)
			}
			return nil
		}
		return n.sendMessage(d.Node, to, msg) // to holds d, boxed already
	case string:
		return n.sendName(d, msg)
	case Atom:
		return n.sendName(string(d), msg)
	case Name:
		if d.Node == n.name || d.Node == "" {
			return n.sendName(d.Name, msg)
		}
		return n.sendMessage(d.Node, d.Name, msg)
	case *Name:
		return n.Send(*d, msg)
	}
	return fmt.Errorf("send to %T: a destination is a Pid, a registered name or a cluster.Name: %w", to, ErrBadArgs)
}

// registered returns the local process registered under name, or nil.
func (n *Node) registered(name string) *Process {
	pt := n.procs()
	pt.mu.RLock()
	defer pt.mu.RUnlock()
	return pt.names[name]
}

func (n *Node) sendName(name string, msg any) error {
	p := n.registered(name)
	if p == nil {
		return fmt.Errorf("send to %q: no process is registered under that name on %s: %w", name, n.name, ErrNoProcess)
	}
	p.Deliver(msg)
	return nil
}

// exitSignal delivers an exit signal from one process to another, on
// whichever node it lives.
func (n *Node) exitSignal(from, to Pid, reason any, linked bool) {
	if to.Node != n.name {
		n.signal(to.Node, exitSignal{From: from, To: to, Reason: reason})
		return
	}
	p := n.process(to)
	if p == nil {
		return
	}
	if linked {
		p.mu.Lock()
		delete(p.links, from)
		p.mu.Unlock()
	}
	if reason == Killed || reason == Atom("kill") {
		p.Kill(Killed)
		return
	}
	if p.trap.Load() {
		p.Deliver(Exit{From: from, Reason: reason})
		return
	}
	if reason != Normal {
		p.Kill(reason)
	}
}

func (n *Node) deliverDown(watcher Pid, ref Ref, pid Pid, reason any) {
	if watcher.Node != n.name {
		n.signal(watcher.Node, downSignal{Watcher: watcher, Ref: ref.ID, Target: pid, Reason: reason})
		return
	}
	if p := n.process(watcher); p != nil {
		p.mu.Lock()
		_, ok := p.watching[ref]
		delete(p.watching, ref)
		p.mu.Unlock()
		if ok {
			p.Deliver(Down{Ref: ref, Pid: pid, Reason: reason})
		}
	}
}

// nodeLost fires what the loss of the link to peer means for this node's
// processes: linked processes there are gone (NoConnection), monitors of
// processes there fire, and node monitors get NodeDown.
func (n *Node) nodeLost(peer Atom) {
	pt := n.procs()
	pt.mu.RLock()
	ps := make([]*Process, 0, len(pt.procs))
	for _, p := range pt.procs {
		ps = append(ps, p)
	}
	watchers := make([]*Process, 0, len(pt.nodeWatch))
	for _, p := range pt.nodeWatch {
		watchers = append(watchers, p)
	}
	pt.mu.RUnlock()
	for _, p := range ps {
		p.mu.Lock()
		var lost []Pid
		for l := range p.links {
			if l.Node == peer {
				lost = append(lost, l)
			}
		}
		var downs []Down
		for ref, target := range p.watching {
			if target.Node == peer {
				downs = append(downs, Down{Ref: ref, Pid: target, Reason: NoConnection})
				delete(p.watching, ref)
			}
		}
		for ref, w := range p.watchers {
			if w.Node == peer {
				delete(p.watchers, ref)
			}
		}
		k := p.nodeMons[peer]
		delete(p.nodeMons, peer)
		p.mu.Unlock()
		for _, d := range downs {
			p.Deliver(d)
		}
		for range k {
			p.Deliver(NodeDown{Node: peer})
		}
		for _, l := range lost {
			n.exitSignal(l, p.pid, NoConnection, true)
		}
	}
	for _, p := range watchers {
		p.Deliver(NodeDown{Node: peer})
	}
}

func (n *Node) nodeFound(peer Atom) {
	pt := n.procs()
	pt.mu.RLock()
	watchers := make([]*Process, 0, len(pt.nodeWatch))
	for _, p := range pt.nodeWatch {
		watchers = append(watchers, p)
	}
	pt.mu.RUnlock()
	for _, p := range watchers {
		p.Deliver(NodeUp{Node: peer})
	}
}

// OnProcessExit calls f after each local process ends (global names use it).
func (n *Node) OnProcessExit(f func(p *Process)) {
	n.mu.Lock()
	n.exitHooks = append(n.exitHooks, f)
	n.mu.Unlock()
}

func (n *Node) processExited(p *Process) {
	n.mu.Lock()
	hooks := n.exitHooks
	n.mu.Unlock()
	for _, f := range hooks {
		f(p)
	}
}
