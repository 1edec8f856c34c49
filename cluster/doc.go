// Package cluster is gsh's distribution layer, a Go library of its own (it
// knows nothing of the interpreter): named nodes that find each other
// through a port mapper speaking Erlang's epmd protocol, prove a shared
// cookie to each other, and talk over one TCP connection per pair of nodes
// multiplexed with yamux.
//
// A [Node] is started with [Start] from a [Config] ([DefaultConfig] gives
// the defaults). [Node.Call] runs module.function(args...) on another node
// through that node's [Handler] ([Modules] serves plain Go functions);
// [Node.Ping], [Node.Connect] and [Node.Nodes] manage links. Values cross
// the wire in a self-describing codec ([Encode], [Decode]) that keeps ints
// and floats, strings and bytes, [Atom] and [Pid] apart, and checks sizes
// and depth on the way in; errors keep their kind, so errors.Is(err,
// ErrNodeDown) holds after a remote call failed for that reason on another
// node (see the Err* variables and [RemoteError]).
//
// Processes are goroutines with a mailbox ([Node.Spawn], [Node.SpawnRemote],
// [Process.Receive], [Node.Send]), links and monitors that fire when a
// process ends or its node is lost, registered names ([Node.Register]) and
// global names ([Node.RegisterGlobal]).
//
// With [Config].Erlang set, a Node also links with Erlang and Elixir nodes,
// speaking their distribution protocol: Erlang's handshake, its external
// term format ([EncodeETF], [DecodeETF], [Tuple], [ImproperList], [ErlRef])
// and its control messages, so that calls, messages, links and monitors
// work across ([Node.ErlangNodes] lists those links).
//
// Between two gsh nodes, small calls and every signal between processes
// travel as gsh's own frames on the link's TCP connection beside yamux's,
// written by the goroutine that sends them and handled by the one that
// reads the link, with no goroutine in between ([Config].FastCalls); large
// call values go on yamux streams, as frames of [gsh/cluster/frame] (a
// 4-byte big-endian length, then the body). Either frame holds one value
// of the codec: a call's request, [module, function,
// args, timeout in milliseconds] and the caller's group leader when it has
// one; its reply; or a signal (a message, link, unlink, exit, monitor,
// demonitor, down, cast, and a few about the link itself), an array of its
// op and its fields. A frame that does not decode, or a signal of any
// other shape, ends the link (a frame over [Config].MaxFrameSize with an
// error wrapping [ErrTooLarge]); a request of another shape is answered
// with an error wrapping [ErrProtocol].
//
// The port mapper, server and client, is package [gsh/cluster/portmap]: a
// Node registers there and looks its peers up there, with Erlang's epmd too.
//
// Everything a Node starts it also stops: [Node.Close] drops the port
// mapper registration and every link and waits for the node's goroutines,
// and may be called more than once.
package cluster
