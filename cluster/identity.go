package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
)

// PeerAddr is the address of the other end of the link to peer, nil when
// there is none.
func (n *Node) PeerAddr(peer Atom) net.Addr {
	if l := n.current(peer); l != nil {
		return l.conn.RemoteAddr()
	}
	return nil
}

// replaced closes old, the link to a peer that newer replaces. A new link
// from another run of the peer, or from another host, while the old one
// is live means two nodes claim one name (or a node restarted before its
// old link was seen down): the calls in flight on the old link fail, and
// the next calls go to the new node. This node logs it, and tells both the
// node it drops and the node it now links with, which log it too.
func (n *Node) replaced(old, newer *link) {
	if old.closing() || (old.creation == newer.creation && sameHost(old.conn.RemoteAddr(), newer.conn.RemoteAddr())) {
		// The peer's link was already down, or both nodes connected to
		// each other at once: the same node, one link kept.
		old.close(errors.New("replaced by a new link"))
		return
	}
	oldAddr, newAddr := old.conn.RemoteAddr().String(), newer.conn.RemoteAddr().String()
	n.logf("WARNING: a node calling itself %s connected from %s while %s was linked from %s: the new link replaces the old one, whose calls in flight fail; two nodes have that name, or it restarted (run %d, then %d)",
		newer.peer, newAddr, old.peer, oldAddr, old.creation, newer.creation)
	newer.sendSignal(replacedSignal{Addr: oldAddr})
	started := n.goSystem(func() {
		old.sendSignal(displacedSignal{Addr: newAddr})
		ctx, cancel := context.WithTimeout(n.ctx, n.cfg.HandshakeTimeout)
		defer cancel()
		old.drain(ctx)
		old.close(fmt.Errorf("replaced by a link from another node calling itself %s at %s", newer.peer, newAddr))
	})
	if !started {
		old.close(ErrClosed)
	}
}

// warnIdentity logs what a peer said of a link it replaced (see replaced).
func (n *Node) warnIdentity(l *link, op int, addr string) {
	if op == opDisplaced {
		n.logf("WARNING: %s dropped its link with this node, %s: another node calling itself %s connected to it from %s",
			l.peer, n.name, n.name, addr)
		return
	}
	n.logf("WARNING: %s had a live link with another node calling itself %s, from %s: this node's link replaced it",
		l.peer, n.name, addr)
}

// sameHost reports whether a and b are addresses on the same host.
func sameHost(a, b net.Addr) bool {
	ha, _, err1 := net.SplitHostPort(a.String())
	hb, _, err2 := net.SplitHostPort(b.String())
	return err1 == nil && err2 == nil && ha == hb
}
