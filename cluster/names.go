package cluster

import (
	"fmt"
	"net"
	"os"
	"strings"

	"gsh/cluster/portmap"
)

// NoNode is the name of a node that was started without -sname or -name.
const NoNode Atom = "nonode@nohost"

// maxNameLen bounds a node name on the wire and in the port mapper.
const maxNameLen = portmap.MaxNameLen

// ShortHostname is this machine's host name up to the first dot, as -sname uses it.
func ShortHostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	if i := strings.IndexByte(h, '.'); i > 0 {
		h = h[:i]
	}
	return h
}

// LongHostname is this machine's fully qualified host name as -name uses it:
// the host name if it has a dot, else the first name the resolver gives for it
// that has one, else the plain host name.
func LongHostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	if strings.Contains(h, ".") {
		return h
	}
	if cname, err := net.LookupCNAME(h); err == nil {
		cname = strings.TrimSuffix(cname, ".")
		if strings.HasPrefix(cname, h+".") {
			return cname
		}
	}
	// The names of the host's addresses, as /etc/hosts lists them
	// ("192.0.2.7 alpha.example.com alpha").
	addrs, _ := net.LookupHost(h)
	for _, a := range addrs {
		names, _ := net.LookupAddr(a)
		for _, name := range names {
			if name = strings.TrimSuffix(name, "."); strings.HasPrefix(strings.ToLower(name), strings.ToLower(h)+".") {
				return name
			}
		}
	}
	return h
}

// MakeName builds a full node name from what -sname or -name was given: a
// bare name gets this host's short (or, with long set, fully qualified) name.
func MakeName(name string, long bool) (Atom, error) {
	if name == "" {
		return "", fmt.Errorf("making a node name: empty name: %w", ErrBadName)
	}
	if !strings.Contains(name, "@") {
		host := ShortHostname()
		if long {
			// As erl -name does: the host's fully qualified name, or a
			// refusal when it has none.
			if host = LongHostname(); !strings.Contains(host, ".") {
				return "", &NoDomainError{Name: name, Host: host}
			}
		}
		name += "@" + host
	}
	if _, _, err := SplitName(Atom(name)); err != nil {
		return "", err
	}
	return Atom(name), nil
}

// NoDomainError is MakeName's error for a long name asked for without a
// host part on a host whose name has no domain. It matches ErrBadName.
type NoDomainError struct {
	Name string // the name given, without "@host"
	Host string // this host's name, which has no dot
}

func (e *NoDomainError) Error() string {
	return fmt.Sprintf("making a long node name for %s: this host's name %s has no domain and none resolves for it: give the full name, %s@HOST.DOMAIN (a name that resolves to this machine), or use a short name: %v", e.Name, e.Host, e.Name, ErrBadName)
}

// Unwrap returns ErrBadName.
func (e *NoDomainError) Unwrap() error { return ErrBadName }

// SplitName splits a node name into its name and host parts, checking both.
func SplitName(node Atom) (name, host string, err error) {
	s := string(node)
	i := strings.IndexByte(s, '@')
	if i <= 0 || i == len(s)-1 || strings.Count(s, "@") != 1 || len(s) > maxNameLen {
		return "", "", fmt.Errorf("%q is not name@host: %w", s, ErrBadName)
	}
	name, host = s[:i], s[i+1:]
	if !portmap.ValidName(name) {
		return "", "", fmt.Errorf("%q: the name part may hold letters, digits, _ and - only: %w", s, ErrBadName)
	}
	for _, r := range host {
		if !(r == '_' || r == '-' || r == '.' || r == ':' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return "", "", fmt.Errorf("%q: bad host part: %w", s, ErrBadName)
		}
	}
	return name, host, nil
}

// isLocalHost reports whether host names this machine, so that its port
// mapper and nodes are reached on the loopback address.
func isLocalHost(host string) bool {
	if host == "localhost" || host == "127.0.0.1" || host == "::1" {
		return true
	}
	h, err := os.Hostname()
	if err != nil {
		return false
	}
	return strings.EqualFold(host, h) || strings.EqualFold(host, ShortHostname()) || strings.EqualFold(host, LongHostname())
}
