package cluster

import (
	"slices"
	"sync/atomic"
)

// nodeStats counts what a node does, for observers: every count only grows.
type nodeStats struct {
	messages atomic.Uint64 // messages put in this node's mailboxes
	calls    atomic.Uint64 // calls this node made (Node.Call)
	served   atomic.Uint64 // calls this node served for itself or others
}

// NodeStats are a node's running totals since it started: subtract two
// readings to get rates.
type NodeStats struct {
	Messages    uint64 // messages delivered to this node's processes, from anywhere
	Calls       uint64 // calls made with Node.Call
	CallsServed uint64 // calls served, for other nodes and for this one
	Processes   int    // live processes now
}

// Stats reads the node's running totals.
func (n *Node) Stats() NodeStats {
	pt := n.procs()
	pt.mu.RLock()
	k := len(pt.procs)
	pt.mu.RUnlock()
	return NodeStats{
		Messages:    pt.stats.messages.Load(),
		Calls:       pt.stats.calls.Load(),
		CallsServed: pt.stats.served.Load(),
		Processes:   k,
	}
}

// processBaseCost is the estimated memory of a process waiting in receive:
// its goroutine's stack, mailbox, maps and context (see DefaultMaxProcesses).
const processBaseCost = 4096

// ProcessDetail is ProcessInfo with whom the process is tied to and an
// estimate of the memory it holds, for observers.
type ProcessDetail struct {
	ProcessInfo
	// Memory is an estimate in bytes, read in constant time: the process
	// itself (about 4 KB), 128 bytes for each message waiting in its
	// mailbox, and the wire size of those that came from other nodes.
	Memory      int
	LinkedTo    []Pid // the processes linked to it
	MonitoredBy []Pid // the processes monitoring it
	Monitoring  []Pid // the processes it monitors
}

// Detail describes the process with its links and monitors.
func (p *Process) Detail() ProcessDetail {
	d := ProcessDetail{ProcessInfo: p.Info()}
	p.mu.Lock()
	for pid := range p.links {
		d.LinkedTo = append(d.LinkedTo, pid)
	}
	for _, pid := range p.watchers {
		d.MonitoredBy = append(d.MonitoredBy, pid)
	}
	for _, pid := range p.watching {
		d.Monitoring = append(d.Monitoring, pid)
	}
	p.mu.Unlock()
	p.mbox.mu.Lock()
	d.Memory = processBaseCost + p.mbox.queued + (len(p.mbox.q)-p.mbox.head)*mailboxMsgCost
	p.mbox.mu.Unlock()
	byPid := func(a, b Pid) int { return comparePid(a, b) }
	slices.SortFunc(d.LinkedTo, byPid)
	slices.SortFunc(d.MonitoredBy, byPid)
	slices.SortFunc(d.Monitoring, byPid)
	return d
}

// ProcessDetails describes up to limit live processes of this node (all
// when limit is 0 or less), those with the longest mailboxes first, then by
// pid, and says how many live processes there are in all.
func (n *Node) ProcessDetails(limit int) (ds []ProcessDetail, total int) {
	pt := n.procs()
	pt.mu.RLock()
	ps := make([]*Process, 0, len(pt.procs))
	for _, p := range pt.procs {
		ps = append(ps, p)
	}
	pt.mu.RUnlock()
	total = len(ps)
	type entry struct {
		p *Process
		n int
	}
	es := make([]entry, len(ps))
	for k, p := range ps {
		es[k] = entry{p, p.MailboxLen()}
	}
	slices.SortFunc(es, func(a, b entry) int {
		if a.n != b.n {
			return b.n - a.n
		}
		return comparePid(a.p.pid, b.p.pid)
	})
	if limit > 0 && len(es) > limit {
		es = es[:limit]
	}
	ds = make([]ProcessDetail, len(es))
	for k, e := range es {
		ds[k] = e.p.Detail()
	}
	return ds, total
}

func comparePid(a, b Pid) int {
	switch {
	case a.Node != b.Node:
		if a.Node < b.Node {
			return -1
		}
		return 1
	case a.ID != b.ID:
		if a.ID < b.ID {
			return -1
		}
		return 1
	}
	return 0
}
