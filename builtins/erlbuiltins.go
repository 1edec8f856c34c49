package builtins

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"time"

	"gsh/cluster"
	"gsh/cluster/portmap"
)

// names is net_adm.names(host): the nodes that the port mapper on host
// lists, as [name, port] pairs; this host's when no host is given.
func (e *Env) names(host ...string) ([]any, error) {
	h := "127.0.0.1"
	if len(host) > 0 && host[0] != "" {
		h = host[0]
	}
	if len(host) > 1 {
		return nil, fmt.Errorf("net_adm.names: one host at most, %d given: %w", len(host), cluster.ErrBadArgs)
	}
	ctx, cancel := context.WithTimeout(e.ctx(), 5*time.Second)
	defer cancel()
	addr := net.JoinHostPort(h, strconv.Itoa(e.Node.Config().MapperPort))
	entries, err := portmap.List(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("net_adm.names(%q): asking the port mapper at %s: %w", h, addr, err)
	}
	out := make([]any, len(entries))
	for k, en := range entries {
		out[k] = []any{en.Name, en.Port}
	}
	return out, nil
}

// memoryKinds are the keys of memory(), in the order help() gives them.
var memoryKinds = []string{"total", "heap", "stack", "other", "goroutines", "gc_runs"}

// memory is memory(): this node's memory in bytes, as erlang:memory()
// gives it, from the Go runtime's statistics: total (all the memory the
// runtime holds from the system), heap (live and not yet collected objects),
// stack (goroutine stacks), other (total less the heap's and stacks' spans),
// and the number of goroutines and of garbage collections so far.
// memory("heap") gives one of them.
func (e *Env) memory(kind ...string) (any, error) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m := map[string]int64{
		"total":      int64(ms.Sys),
		"heap":       int64(ms.HeapAlloc),
		"stack":      int64(ms.StackInuse),
		"other":      int64(ms.Sys - ms.HeapSys - ms.StackSys),
		"goroutines": int64(runtime.NumGoroutine()),
		"gc_runs":    int64(ms.NumGC),
	}
	switch len(kind) {
	case 0:
		return m, nil
	case 1:
		if v, ok := m[kind[0]]; ok {
			return v, nil
		}
	}
	return nil, fmt.Errorf("memory(%q): the kinds are %v: %w", kind, memoryKinds, cluster.ErrBadArgs)
}
