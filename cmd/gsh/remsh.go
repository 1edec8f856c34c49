package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"gsh/cluster"
	"gsh/shell"
)

// remoteShell connects node to the -remsh target and returns the evaluator
// of a shell whose inputs that node evaluates, and the target's name.
func remoteShell(ctx context.Context, node *cluster.Node, o *options) (*shell.Remote, cluster.Atom, error) {
	target := cluster.Atom(o.remsh)
	if !strings.Contains(o.remsh, "@") {
		n, err := cluster.MakeName(o.remsh, o.name != "")
		if err != nil {
			return nil, "", fmt.Errorf("-remsh %s: %w", o.remsh, err)
		}
		target = n
	}
	if target == node.Name() {
		return nil, "", fmt.Errorf("-remsh %s: that is this node's own name", target)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := node.Ping(pctx, target); err != nil {
		return nil, "", fmt.Errorf("-remsh %s: %w", target, err)
	}
	var id [6]byte
	rand.Read(id[:])
	r := &shell.Remote{
		Session: string(node.Name()) + "/" + hex.EncodeToString(id[:]),
		Call: func(ctx context.Context, function string, args ...any) (any, error) {
			return node.Call(ctx, target, shell.RemoteModule, function, args...)
		},
	}
	if err := r.Open(pctx); err != nil && !errors.Is(err, cluster.ErrUnknownFunction) {
		return nil, "", fmt.Errorf("-remsh %s: %w", target, err)
	}
	return r, target, nil
}
