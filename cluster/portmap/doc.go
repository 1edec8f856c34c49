// Package portmap is a port mapper compatible with Erlang's epmd: a server
// ([Server]) that maps node names to the ports the nodes listen on, and a
// client ([Register], [Lookup], [List]) that works against this server and
// against Erlang's own epmd alike. It depends on nothing else in gsh, and any
// Go program can use it to run a port mapper or to talk to one.
//
// Every request is a 2-byte big-endian length followed by that many bytes,
// the first of which is the request code. The server answers one request per
// connection and closes it, except for ALIVE2_REQ (registration): that
// connection stays open, and the registration lasts exactly as long as it
// does.
//
// What it promises is what epmd promises, no more. It accepts registrations
// and KILL_REQ only from local peers (a loopback address, or the address the
// connection came in on), and only names a node could have (letters, digits,
// _ and -), so that no name can forge a line of the NAMES answer. But any
// local user who can stop it can put up their own mapper on the same port,
// and the names and ports it hands out are not authenticated: whoever dials a
// node it names must authenticate that node (gsh's nodes do, with the cookie
// handshake and, optionally, TLS).
//
// Errors a caller can tell apart with errors.Is: [ErrBadName], [ErrNameTaken],
// [ErrUnknownNode], [ErrProtocol], [ErrTooLarge] and [ErrClosed]. When nothing
// listens at the mapper's address, the client's errors wrap the dial's
// *net.OpError, so errors.Is(err, syscall.ECONNREFUSED) holds.
package portmap
