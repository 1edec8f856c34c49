package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
)

// Where a node is reached. A node's name says where it is: the host part of
// gandalf@alpha.example.com resolves, through the system resolver (DNS and
// /etc/hosts), to the address whose port mapper knows gandalf's port, and
// to the address gandalf is dialled on. Start checks that the name of the
// node it starts resolves to an address the node listens on, and registers
// the name with the port mapper at that address.

// hostAddr resolves host to the one address peers dial for it: the host
// itself when it is an IP address, else the first IPv4 address the resolver
// gives (the first address when it gives no IPv4 one). A name of this
// machine that does not resolve is reached on the loopback address.
func hostAddr(ctx context.Context, host string) (net.IP, error) {
	if ip := net.ParseIP(host); ip != nil {
		return ip, nil
	}
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil || len(addrs) == 0 {
		if isLocalHost(host) {
			return net.IPv4(127, 0, 0, 1), nil
		}
		if err == nil {
			err = errors.New("no address")
		}
		return nil, fmt.Errorf("resolving host %s: %w", host, err)
	}
	for _, a := range addrs {
		if a.IP.To4() != nil {
			return a.IP, nil
		}
	}
	return addrs[0].IP, nil
}

// checkHome checks that the host of the node's name resolves to an address
// the listener ln accepts on, and returns that address: the one peers dial,
// and where the node registers with the port mapper (see Config.CheckHost).
func checkHome(ctx context.Context, name Atom, ln net.Listener) (net.IP, error) {
	_, host, err := SplitName(name)
	if err != nil {
		return nil, err
	}
	la, _ := ln.Addr().(*net.TCPAddr)
	if la == nil {
		return net.IPv4(127, 0, 0, 1), nil
	}
	ip, err := hostAddr(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("%w: peers could not find %s; add a line \"ADDRESS %s\" to /etc/hosts (or to DNS) on every host, ADDRESS being this machine's, or name the node after a host name that resolves to it: %w", err, name, host, ErrBadName)
	}
	if la.IP.IsUnspecified() {
		if ip.IsLoopback() || localAddress(ip) {
			return ip, nil
		}
		return nil, fmt.Errorf("%s resolves to %s, which is not an address of this machine: peers would dial %s elsewhere; fix the /etc/hosts or DNS entry of %s, or name the node after a host name of this machine: %w", host, ip, name, host, ErrBadName)
	}
	if la.IP.Equal(ip) {
		return ip, nil
	}
	return nil, &AddrMismatchError{Name: name, Resolved: ip, Listen: la.IP}
}

// AddrMismatchError is Start's error, with Config.CheckHost, for a node
// whose name's host resolves to an address other than the one address the
// node listens on: peers would not reach it. It matches ErrBadName.
type AddrMismatchError struct {
	Name     Atom   // the node's name
	Resolved net.IP // the address its host resolves to
	Listen   net.IP // the address it listens on (Config.ListenAddr)
}

func (e *AddrMismatchError) Error() string {
	alive, host, _ := SplitName(e.Name)
	return fmt.Sprintf("%s resolves to %s but the node listens on %s only: peers would not reach %s; listen on %s (Config.ListenAddr), or name the node after a host name that resolves to %s, or after the address itself (%s@%s): %v",
		host, e.Resolved, e.Listen, e.Name, e.Resolved, e.Listen, alive, e.Listen, ErrBadName)
}

// Unwrap returns ErrBadName.
func (e *AddrMismatchError) Unwrap() error { return ErrBadName }

// listenIP is the address ln listens on, 127.0.0.1 when it listens on
// every address.
func listenIP(ln net.Listener) net.IP {
	if la, ok := ln.Addr().(*net.TCPAddr); ok && !la.IP.IsUnspecified() {
		return la.IP
	}
	return net.IPv4(127, 0, 0, 1)
}

// localAddress reports whether ip is an address of one of this machine's
// network interfaces.
func localAddress(ip net.IP) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}

// mapperAt is the address of the port mapper on the host at ip.
func (n *Node) mapperAt(ip net.IP) string {
	return net.JoinHostPort(ip.String(), strconv.Itoa(n.cfg.MapperPort))
}

// CookieFor returns the cookie the handshake with peer uses: the one
// SetCookieFor gave it, else the node's cookie.
func (n *Node) CookieFor(peer Atom) string {
	if c, ok := n.peerCookies.Load(peer); ok {
		return c.(string)
	}
	return n.Cookie()
}

// SetCookieFor sets the cookie for the links between this node and peer
// made from now on, in both directions, as Erlang's set_cookie(Node,
// Cookie) does; other peers keep the node's cookie. An empty cookie goes
// back to the node's.
func (n *Node) SetCookieFor(peer Atom, cookie string) error {
	if _, _, err := SplitName(peer); err != nil {
		return fmt.Errorf("setting the cookie for %s: %w", peer, err)
	}
	if cookie == "" {
		n.peerCookies.Delete(peer)
		return nil
	}
	n.peerCookies.Store(peer, cookie)
	return nil
}

// Connected reports whether this node has a link to peer.
func (n *Node) Connected(peer Atom) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.links[peer] != nil
}
