package builtins

import (
	"fmt"

	"gsh/cluster"
)

// setCookie is set_cookie(cookie), or set_cookie(node, cookie) for the
// links with one node.
func (e *Env) setCookie(args ...any) (bool, error) {
	switch len(args) {
	case 1:
		c, ok := args[0].(string)
		if !ok || c == "" {
			return false, fmt.Errorf("set_cookie: the cookie is a non-empty string, not %T: %w", args[0], cluster.ErrBadArgs)
		}
		e.Node.SetCookie(c)
		return true, nil
	case 2:
		n, err := nodeName(args[0])
		if err != nil {
			return false, fmt.Errorf("set_cookie: %w", err)
		}
		c, ok := args[1].(string)
		if !ok || c == "" {
			return false, fmt.Errorf("set_cookie: the cookie is a non-empty string, not %T: %w", args[1], cluster.ErrBadArgs)
		}
		if err := e.Node.SetCookieFor(n, c); err != nil {
			return false, err
		}
		return true, nil
	}
	return false, fmt.Errorf("set_cookie takes a cookie, or a node and a cookie, not %d arguments: %w", len(args), cluster.ErrBadArgs)
}

// disconnectNode is disconnect_node(node): it drops the link to node and
// reports whether there was one.
func (e *Env) disconnectNode(node any) (bool, error) {
	n, err := nodeName(node)
	if err != nil {
		return false, fmt.Errorf("disconnect_node: %w", err)
	}
	if _, _, err := cluster.SplitName(n); err != nil {
		return false, fmt.Errorf("disconnect_node: %w", err)
	}
	if !e.Node.Connected(n) {
		return false, nil
	}
	e.Node.Disconnect(n)
	return true, nil
}
