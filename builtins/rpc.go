package builtins

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"gsh/cluster"
)

// cast is rpc.cast: run module.function(args...) on node, not waiting.
func (e *Env) cast(node any, module, function string, args ...any) bool {
	n, err := nodeName(node)
	if err != nil {
		panic(err)
	}
	if err := e.Node.Cast(n, module, function, args...); err != nil {
		panic(err)
	}
	return true
}

// multicall is rpc.multicall: the call on every node at once; the results
// of those that answered, and the nodes that did not. The nodes are a list
// given first, or, when the first argument is the module's name, this node
// and every node it has a link to, as Erlang's rpc:multicall(M, F, A).
func (e *Env) multicall(args ...any) ([]any, []cluster.Atom) {
	var ns []cluster.Atom
	if len(args) > 0 {
		if _, isName := args[0].(string); !isName {
			var err error
			if ns, err = nodeList(args[0]); err != nil {
				panic(fmt.Errorf("rpc.multicall: %w", err))
			}
			args = args[1:]
		} else {
			ns = append([]cluster.Atom{e.Node.Name()}, e.Node.Nodes()...)
		}
	}
	if len(args) < 2 {
		panic(fmt.Errorf("rpc.multicall: give a module and a function, after a list of nodes or alone: %w", cluster.ErrBadArgs))
	}
	module, ok1 := args[0].(string)
	function, ok2 := args[1].(string)
	if !ok1 || !ok2 {
		panic(fmt.Errorf("rpc.multicall: the module and the function are strings, not %T and %T: %w", args[0], args[1], cluster.ErrBadArgs))
	}
	ctx, cancel := context.WithTimeout(e.ctx(), e.Timeout())
	defer cancel()
	res, bad := e.Node.MultiCall(ctx, ns, module, function, args[2:]...)
	for i, v := range res {
		res[i] = e.retype(v)
	}
	return res, bad
}

type asyncResult struct {
	v   any
	err error
}

// asyncCall is rpc.async_call: start a call and return a key for rpc.yield.
func (e *Env) asyncCall(node any, module, function string, args ...any) int {
	n, err := nodeName(node)
	if err != nil {
		panic(err)
	}
	ch := make(chan asyncResult, 1)
	e.asyncMu.Lock()
	e.asyncN++
	key := e.asyncN
	e.asyncs[key] = ch
	e.asyncMu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), e.Timeout())
		defer cancel()
		v, err := e.Node.Call(ctx, n, module, function, args...)
		ch <- asyncResult{e.retype(v), err}
	}()
	return key
}

// yield is rpc.yield: wait for an async_call's result.
func (e *Env) yield(key int) (any, error) {
	e.asyncMu.Lock()
	ch, ok := e.asyncs[key]
	delete(e.asyncs, key)
	e.asyncMu.Unlock()
	if !ok {
		return nil, fmt.Errorf("rpc.yield(%d): no such call (each key yields once): %w", key, cluster.ErrBadArgs)
	}
	ctx := e.ctx()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (e *Env) globalRegister(name string, pid cluster.Pid) (bool, error) {
	if err := e.Node.RegisterGlobal(e.ctx(), name, pid); err != nil {
		return false, err
	}
	return true, nil
}

func (e *Env) globalUnregister(name string) bool {
	e.Node.UnregisterGlobal(e.ctx(), name)
	return true
}

func (e *Env) globalWhereis(name string) any {
	if pid, ok := e.Node.WhereisGlobal(name); ok {
		return pid
	}
	return cluster.Undefined
}

func (e *Env) globalSend(name string, msg any) any {
	if err := e.Node.SendGlobal(name, msg); err != nil {
		panic(err)
	}
	return msg
}

func (e *Env) connectNode(node any) bool {
	n, err := nodeName(node)
	if err != nil {
		panic(err)
	}
	return e.Node.Connect(e.ctx(), n) == nil
}

// compile is c(path): load a Go source file into this node's interpreter.
func (e *Env) compile(path string) (cluster.Atom, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("c(%q): %w", path, err)
	}
	return e.loadSource(filepath.Base(path), string(src))
}

func (e *Env) loadSource(name, src string) (cluster.Atom, error) {
	if e.LoadSource == nil {
		return "", fmt.Errorf("this node cannot load code")
	}
	pkg, err := e.LoadSource(name, src)
	if err != nil {
		return "", err
	}
	return cluster.Atom(pkg), nil
}

// netLoad is nl(path): load a file here and on every connected node.
func (e *Env) netLoad(path string) ([]cluster.Atom, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("nl(%q): %w", path, err)
	}
	name := filepath.Base(path)
	if _, err := e.loadSource(name, string(src)); err != nil {
		return nil, err
	}
	loaded := []cluster.Atom{e.Node.Name()}
	ctx, cancel := context.WithTimeout(e.ctx(), e.Timeout())
	defer cancel()
	for _, n := range e.Node.Nodes() {
		if _, err := e.Node.Call(ctx, n, "code", "load_source", name, string(src)); err != nil {
			return loaded, fmt.Errorf("nl(%q): loading on %s: %w", path, n, err)
		}
		loaded = append(loaded, n)
	}
	return loaded, nil
}
