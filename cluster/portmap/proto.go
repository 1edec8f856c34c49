package portmap

import (
	"errors"
	"time"
)

// epmd request and response codes.
const (
	alive2Req  = 120 // 'x'
	alive2Resp = 121 // 'y': 16-bit creation, for HighestVersion < 6
	alive2X    = 118 // 'v': 32-bit creation, for HighestVersion >= 6
	port2Req   = 122 // 'z'
	port2Resp  = 119 // 'w'
	namesReq   = 110 // 'n'
	killReq    = 107 // 'k'
)

// What gsh nodes tell the port mapper about themselves.
const (
	nodeNormal  = 77 // 'M'
	nodeHidden  = 72 // 'H'
	protoTCP4   = 0
	highVersion = 6
	lowVersion  = 5
	gshExtra    = "gsh"
)

// DefaultPort is the port mapper's port, the same as Erlang's epmd.
const DefaultPort = 4369

// MaxNameLen is the longest node name, in bytes, that the mapper accepts.
const MaxNameLen = 255

// Limits the port mapper enforces.
const (
	maxExtra = 1024 // bytes in a registration's Extra
	// maxRequest is the largest request body: an ALIVE2_REQ with the
	// longest name and extra.
	maxRequest = 1 + 10 + 2 + MaxNameLen + 2 + maxExtra
	// defaultTimeout bounds every server read before a registration
	// completes, and every server write.
	defaultTimeout = 5 * time.Second
	// clientTimeout bounds a client exchange when its context has no
	// earlier deadline.
	clientTimeout = 10 * time.Second
	// maxRemembered bounds how many names' creation counters the mapper
	// keeps (epmd keeps 1000 unregistered names).
	maxRemembered = 4096
	// maxNamesReply bounds the NAMES_REQ answer a client accepts.
	maxNamesReply = 1 << 20
)

// Errors a caller can tell apart with errors.Is.
var (
	// ErrUnknownNode: the port mapper has no entry for that name.
	ErrUnknownNode = errors.New("unknown node")

	// ErrBadName: a node name is not one the port mapper accepts (see
	// ValidName).
	ErrBadName = errors.New("bad node name")

	// ErrNameTaken: the port mapper already has a node of that name.
	ErrNameTaken = errors.New("node name already in use")

	// ErrProtocol: the other side sent something that is not epmd's
	// protocol.
	ErrProtocol = errors.New("protocol error")

	// ErrTooLarge: a request or an answer is over the port mapper's limits.
	ErrTooLarge = errors.New("too large")

	// ErrClosed is returned by Server.Serve after Close, and after the
	// server stopped on a KILL_REQ.
	ErrClosed = errors.New("port mapper closed")
)

// Entry describes one node registered with a port mapper.
type Entry struct {
	Name        string // the node's name, without "@host"
	Port        int    // the node's distribution port
	Hidden      bool   // registered as a hidden node (any node type other than 77)
	Extra       string // the registration's Extra bytes; "gsh" for gsh nodes
	Creation    uint32 // the creation the mapper gave; 0 when the answer does not carry it
	HighVersion int    // highest distribution protocol version the node speaks
	LowVersion  int    // lowest distribution protocol version the node speaks
}

// IsGsh reports whether the entry was registered by a gsh node (its Extra is
// "gsh") rather than by an Erlang node.
func (e Entry) IsGsh() bool { return e.Extra == gshExtra }

// ValidName reports whether name is a node name the port mapper accepts: the
// part of a node name before the '@', of ASCII letters, digits, _ and - only,
// 1 to MaxNameLen bytes.
func ValidName(name string) bool {
	if name == "" || len(name) > MaxNameLen {
		return false
	}
	for _, r := range name {
		if !(r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}
