package cluster

import "net"

// PeerAddr is the address of the other end of the link to peer, nil when
// there is none.
func (n *Node) PeerAddr(peer Atom) net.Addr {
	if l := n.current(peer); l != nil {
		return l.conn.RemoteAddr()
	}
	return nil
}
