package cluster

import (
	"context"
	"errors"
	"fmt"

	"gsh/cluster/frame"
	"gsh/cluster/portmap"
)

// Errors a caller can tell apart with errors.Is. They keep their identity
// when they cross the wire: an error that a remote node returns with one of
// these kinds unwraps to the same variable on the calling node.
var (
	// ErrNodeDown: the link to the node was lost, or the node could not be
	// reached (nothing listening, connection refused, reset or timed out).
	ErrNodeDown = errors.New("node down")

	// ErrUnknownNode: the node's host has no port mapper entry for that name.
	// It is the port mapper client's own sentinel.
	ErrUnknownNode = portmap.ErrUnknownNode

	// ErrAuth: the cookie handshake failed: the two nodes have different cookies.
	ErrAuth = errors.New("authentication failed (the nodes' cookies differ)")

	// ErrNotDistributed: this node was started without a name, so it cannot
	// talk to other nodes.
	ErrNotDistributed = errors.New("this node is not distributed")

	// ErrNameType: a short-name node and a long-name node refuse each other.
	ErrNameType = errors.New("short and long node names do not mix")

	// ErrBadName: a node name is not of the form name@host. It is the port
	// mapper's own sentinel, which it gives for a name it does not accept.
	ErrBadName = portmap.ErrBadName

	// ErrNameTaken: the port mapper already has a node of that name. It is
	// the port mapper client's own sentinel.
	ErrNameTaken = portmap.ErrNameTaken

	// ErrUnknownModule: the called module does not exist on the node.
	ErrUnknownModule = errors.New("unknown module")

	// ErrUnknownFunction: the module has no such exported function.
	ErrUnknownFunction = errors.New("unknown function")

	// ErrBadArgs: the arguments do not fit the function's parameters.
	ErrBadArgs = errors.New("bad arguments")

	// ErrPanic: the called function panicked.
	ErrPanic = errors.New("panic")

	// ErrTimeout: no answer came before the call's deadline.
	ErrTimeout = errors.New("timeout")

	// ErrProtocol: the peer sent something that is not gsh's protocol.
	ErrProtocol = errors.New("protocol error")

	// ErrTooLarge: a frame or value is over the configured size limit.
	ErrTooLarge = frame.ErrTooLarge

	// ErrClosed: the node has been closed.
	ErrClosed = errors.New("node closed")

	// ErrTooManyProcesses: the node already runs as many processes as
	// Config.MaxProcesses allows (Erlang's system_limit, +P).
	ErrTooManyProcesses = errors.New("too many processes")
)

// errorKinds names each sentinel on the wire, in the order ErrorKind tries
// them. The names are part of the protocol: never change one.
var errorKinds = []struct {
	kind string
	err  error
}{
	{"nodedown", ErrNodeDown},
	{"unknown_node", ErrUnknownNode},
	{"auth", ErrAuth},
	{"nonode", ErrNotDistributed},
	{"name_type", ErrNameType},
	{"badname", ErrBadName},
	{"name_taken", ErrNameTaken},
	{"undef_module", ErrUnknownModule},
	{"undef", ErrUnknownFunction},
	{"badarg", ErrBadArgs},
	{"timeout", ErrTimeout},
	{"protocol", ErrProtocol},
	{"too_large", ErrTooLarge},
	{"closed", ErrClosed},
	{"system_limit", ErrTooManyProcesses},
	{"noproc", ErrNoProcess},
	{"panic", ErrPanic},
}

// ErrorKind returns the wire name of the first sentinel that err matches, or
// "error" when it matches none.
func ErrorKind(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	for _, k := range errorKinds {
		if errors.Is(err, k.err) {
			return k.kind
		}
	}
	return "error"
}

// RemoteError is an error that came back from another node.
type RemoteError struct {
	Node Atom   // the node that reported it
	Kind string // the wire name of its sentinel, or "error"
	Msg  string // the full message, as the remote node printed it
}

func (e *RemoteError) Error() string {
	if e.Node == "" {
		return e.Msg
	}
	return fmt.Sprintf("%s: %s", e.Node, e.Msg)
}

// Unwrap returns the sentinel that the remote error's kind names, so that
// errors.Is(err, cluster.ErrPanic) holds for a remote panic.
func (e *RemoteError) Unwrap() error {
	for _, k := range errorKinds {
		if k.kind == e.Kind {
			return k.err
		}
	}
	return nil
}

// Atom is a symbolic constant, as Erlang has them: node names, true/false
// answers such as pong and pang, and undefined. An Atom keeps its type across
// the wire, apart from a string.
type Atom string

// Undefined is what a lookup gives when nothing was found.
const Undefined Atom = "undefined"

// Pid names a process: the node it runs on and its number there. Pids cross
// the wire and compare equal with ==.
type Pid struct {
	Node     Atom
	ID       uint64
	Creation uint32 // tells apart two runs of a node with the same name
}

func (p Pid) String() string { return fmt.Sprintf("<%s.%d>", p.Node, p.ID) }
