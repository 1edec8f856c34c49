// Package service offers a node's functions and processes to clients that
// are not nodes and are not trusted: the role of lib_chan in "Programming
// Erlang". A [Server] offers named services, each with its own secret and
// what it exposes: a handler process (a name registered on the node, which
// gets []any{client, msg} for each message a client sends and can send
// back to client), and a list of functions ("kvs.lookup") run through the
// node's cluster.Handler. A client proves the service's secret with a
// challenge-response (HMAC-SHA256 over fresh nonces and the service name;
// the secret never crosses the wire), over TLS when the service asks for
// it, and can then use what the service exposes and nothing else: any
// other function is refused with [ErrNotExposed] and logged on the server.
// A client never becomes a node: it is in no node's nodes(), and it can
// neither spawn nor name any module but through the service's list.
//
// [Dial] is the client, for any Go program; [Conn.Call], [Conn.Send],
// [Conn.Receive] and [Conn.Close] use the connection. [LoadFile] reads the
// JSON services file that gsh -services takes.
//
// Requests and replies are frames of cluster's wire codec, within
// Config.MaxFrameSize and cluster.DefaultDecodeLimits. Bad input gets what
// a node's own port gives it: a handshake deadline, a bounded rate of
// secret proofs, refusals logged (up to three each 10 s, then summed up),
// and a connection dropped with an error frame for garbage or a frame over
// the limit, while the server goes on serving the others.
package service
