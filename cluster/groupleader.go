package cluster

import (
	"context"
	"fmt"
	"strings"
)

// ioModule is the reserved module name of output sent to a group leader.
const ioModule = "$io"

type groupLeaderKey struct{}

// WithGroupLeader returns a context whose calls (Call, MultiCall,
// SpawnRemote) name leader as the group leader of what they run on other
// nodes, as Erlang's processes carry theirs: what the called function, or
// the spawned process, prints is for leader, and a Handler finds it with
// GroupLeader and sends it there with PutChars. The leader's node gives it
// to its Config.Output.
func WithGroupLeader(ctx context.Context, leader Pid) context.Context {
	return context.WithValue(ctx, groupLeaderKey{}, leader)
}

// GroupLeader returns the group leader that ctx carries: in a Handler, the
// one the caller named (see WithGroupLeader).
func GroupLeader(ctx context.Context) (Pid, bool) {
	l, ok := ctx.Value(groupLeaderKey{}).(Pid)
	return l, ok
}

// maxPutChars bounds the text of one output request; longer text goes in
// several.
const maxPutChars = 64 << 10

// PutChars gives text to leader's node, which hands it to its
// Config.Output, and returns once it has: output sent before a call's
// result is printed before it. Text for a leader of this node goes to
// Config.Output at once.
func (n *Node) PutChars(ctx context.Context, leader Pid, text string) error {
	if leader.Node == n.name {
		n.output(leader, text)
		return nil
	}
	for len(text) > 0 {
		chunk := text
		if len(chunk) > maxPutChars {
			chunk = chunk[:maxPutChars]
		}
		if _, err := n.Call(ctx, leader.Node, ioModule, "put_chars", leader, chunk); err != nil {
			return fmt.Errorf("sending output to %v: %w", leader, err)
		}
		text = text[len(chunk):]
	}
	return nil
}

// serveIO answers an output request of another node.
func (n *Node) serveIO(from Atom, req request) (any, error) {
	if req.function != "put_chars" || len(req.args) != 2 {
		return nil, fmt.Errorf("output request %s with %d arguments: %w", req.function, len(req.args), ErrProtocol)
	}
	leader, ok1 := req.args[0].(Pid)
	text, ok2 := req.args[1].(string)
	if !ok1 || !ok2 || leader.Node != n.name {
		return nil, fmt.Errorf("malformed output request from %s: %w", from, ErrBadArgs)
	}
	n.output(leader, text)
	return Atom("ok"), nil
}

func (n *Node) output(leader Pid, text string) {
	if n.cfg.Output != nil {
		n.cfg.Output(leader, text)
		return
	}
	n.logf("%s", strings.TrimSuffix(text, "\n"))
}
