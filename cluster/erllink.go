package cluster

// Links with Erlang nodes: after Erlang's handshake (erlhandshake.go), a
// connection carries Erlang's distribution messages, each a 4-byte length
// and a pass-through byte (112) before a control message and, for some, a
// message, both in the external term format (etf.go); an empty packet is a
// tick. gsh's processes, rpc and monitors map onto them:
//
//	gsh                                 Erlang control message
//	Send(pid, msg), Send(Name, msg)     SEND, REG_SEND
//	Link, Unlink                        LINK, UNLINK
//	a linked process ends, exit(p, r)   EXIT / EXIT2 (PAYLOAD_ forms)
//	Monitor, Demonitor, Down            MONITOR_P, DEMONITOR_P, MONITOR_P_EXIT
//	Call                                a gen_server call to the peer's rex
//	Ping                                net_kernel's is_auth call
//	SpawnRemote                         rex: erlang:spawn(M, F, A)
//	Cast                                SPAWN_REQUEST, no reply
//
// and the other way: an Erlang process's rpc:call (erpc's SPAWN_REQUEST of
// erpc:execute_call), spawn, net_adm:ping and messages to pids and
// registered names reach the Handler and the node's processes.

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gsh/cluster/frame"
)

// ErrErlangOff: this node does not link with Erlang nodes (Config.Erlang
// is off), and the peer is one.
var ErrErlangOff = errors.New("links with Erlang nodes are off on this node (Config.Erlang)")

// errErlangLinked is what dialling an Erlang node returns when it made an
// Erlang link (the caller then uses it), and what accepting one returns.
var errErlangLinked = errors.New("linked with an Erlang node")

// Control message operations.
const (
	erlLink               = 1
	erlSend               = 2
	erlExit               = 3
	erlUnlink             = 4
	erlRegSend            = 6
	erlGroupLeader        = 7
	erlExit2              = 8
	erlSendTT             = 12
	erlRegSendTT          = 16
	erlMonitorP           = 19
	erlDemonitorP         = 20
	erlMonitorPExit       = 21
	erlSendSender         = 22
	erlSendSenderTT       = 23
	erlPayloadExit        = 24
	erlPayloadExitTT      = 25
	erlPayloadExit2       = 26
	erlPayloadExit2TT     = 27
	erlPayloadMonitorPExt = 28
	erlSpawnRequest       = 29
	erlSpawnRequestTT     = 30
	erlSpawnReply         = 31
	erlUnlinkID           = 35
	erlUnlinkIDAck        = 36

	erlPassThrough = 112
)

// erlMaxIORequests bounds the output requests of the functions this node
// called on one Erlang node that it serves at once.
const erlMaxIORequests = 64

// erlTable is a node's links with Erlang nodes.
type erlTable struct {
	mu      sync.Mutex
	conns   map[Atom]*erlConn
	changed chan struct{} // closed and replaced whenever conns changes
}

// erlConn is one link with an Erlang node.
type erlConn struct {
	n      *Node
	peer   Atom
	conn   net.Conn
	flags  uint64 // the peer's
	hidden bool
	codec  etfCodec

	wmu  sync.Mutex
	wbuf []byte

	mu     sync.Mutex
	calls  map[uint64]chan any // replies this node waits for, by its Ref's ID
	mons   map[uint64]erlMon   // monitors the peer's processes hold on ours
	monIDs map[ErlRef]uint64
	mine   map[uint64]Pid // monitors our processes hold on the peer's, by Ref ID: the watcher

	drops  atomic.Uint64 // messages dropped for having no Go value
	inSync atomic.Bool   // the peer's global was told this node is in sync
	ioSem  chan struct{} // bounds the output requests served at once

	once sync.Once
	err  error // why it closed, set before done is closed
	done chan struct{}
}

// erlMon is a monitor an Erlang process holds on one of ours: its
// reference, and the registered name it named, if it named one (its DOWN
// names the process so).
type erlMon struct {
	ref  ErlRef
	name Atom
}

// erlCaller is the pid this node's own requests to Erlang nodes come from
// (rpc replies, group leader): no process has ID 0.
func (n *Node) erlCaller() Pid { return Pid{Node: n.name, ID: 0, Creation: n.creation()} }

func (n *Node) erlConn(peer Atom) *erlConn {
	n.erl.mu.Lock()
	defer n.erl.mu.Unlock()
	return n.erl.conns[peer]
}

// erlNodes lists the Erlang nodes linked, visible or hidden ones.
func (n *Node) erlNodes(hidden bool) []Atom {
	n.erl.mu.Lock()
	defer n.erl.mu.Unlock()
	var out []Atom
	for p, ec := range n.erl.conns {
		if ec.hidden == hidden {
			out = append(out, p)
		}
	}
	return out
}

// erlChanged returns a channel closed at the next change of the table.
func (n *Node) erlChanged() chan struct{} {
	n.erl.mu.Lock()
	defer n.erl.mu.Unlock()
	if n.erl.changed == nil {
		n.erl.changed = make(chan struct{})
	}
	return n.erl.changed
}

// erlLinked returns the link with peer that dialling made (errErlangLinked).
func (n *Node) erlLinked(peer Atom, err error) (*erlConn, error) {
	if !errors.Is(err, errErlangLinked) {
		return nil, err
	}
	if ec := n.erlConn(peer); ec != nil {
		return ec, nil
	}
	return nil, fmt.Errorf("connecting to %s: the link was lost at once: %w", peer, ErrNodeDown)
}

// erlStartsHello reports whether the first four bytes of a connection are
// the start of Erlang's send_name message.
func erlStartsHello(first []byte) bool {
	n := int(binary.BigEndian.Uint16(first))
	return len(first) >= 3 && (first[2] == 'N' || first[2] == 'n') && n >= 7 && n <= erlMaxHandshakeMsg
}

// erlNameKindErr refuses an Erlang peer whose name is of the other kind:
// Erlang's long names have a dotted host, short names do not.
func (n *Node) erlNameKindErr(peer Atom) error {
	_, host, _ := SplitName(peer)
	if strings.Contains(host, ".") != n.cfg.LongNames {
		return nameTypeError(n.name, n.cfg.LongNames, peer)
	}
	return nil
}

func (n *Node) erlFlags() uint64 {
	f := uint64(erlOffered)
	if n.cfg.Hidden {
		f &^= dflagPublished
	}
	return f
}

// dialErlang makes a link with the Erlang node peer at addr. It returns
// errErlangLinked when the link is up.
func (n *Node) dialErlang(ctx context.Context, peer Atom, addr string) error {
	if !n.cfg.Erlang {
		return fmt.Errorf("connecting to %s: it is an Erlang node, and %w: %w", peer, ErrErlangOff, ErrProtocol)
	}
	if err := n.erlNameKindErr(peer); err != nil {
		return fmt.Errorf("connecting to %s: %w", peer, err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", peer, netErr(err))
	}
	dl, _ := ctx.Deadline()
	conn.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) }) // the node closing
	them, err := erlClientHandshake(conn, n.name, n.creation(), n.erlFlags(), n.Cookie(), peer)
	if !stop() && err == nil {
		err = fmt.Errorf("the handshake was cut short: %w", netErr(ctx.Err()))
	}
	if errors.Is(err, errDuplicate) {
		conn.Close()
		for {
			ch := n.erlChanged()
			if n.erlConn(peer) != nil {
				return errErlangLinked
			}
			select {
			case <-ch:
			case <-ctx.Done():
				return fmt.Errorf("connecting to %s: the link it was making did not come: %w", peer, ErrNodeDown)
			}
		}
	}
	if err != nil {
		conn.Close()
		return fmt.Errorf("connecting to the Erlang node %s: %w", peer, err)
	}
	conn.SetDeadline(time.Time{})
	n.startErlang(conn, them)
	return errErlangLinked
}

// acceptErlang runs the server side of Erlang's handshake on a connection
// whose first bytes, read already, are first. It returns errErlangLinked
// when the link is up.
func (n *Node) acceptErlang(conn net.Conn, first []byte, deadline time.Time) error {
	var claimed Atom
	var kindErr error
	them, err := erlServerHandshake(&prefixConn{Conn: conn, prefix: first}, n.name, n.creation(), n.erlFlags(), n.Cookie(),
		func(them Atom) string {
			claimed = them
			if !n.cfg.Erlang {
				return "not_allowed"
			}
			if kindErr = n.erlNameKindErr(them); kindErr != nil {
				return "not_allowed"
			}
			if n.erlConn(them) != nil {
				return "alive"
			}
			n.mu.Lock()
			dialing := n.dialing[them] != nil
			n.mu.Unlock()
			if dialing {
				if them > n.name {
					return "ok_simultaneous"
				}
				return "nok"
			}
			return "ok"
		}, func() error { return n.awaitTurn(conn, deadline) })
	if err != nil {
		if kindErr != nil {
			return fmt.Errorf("the Erlang node %s: %w", claimed, kindErr)
		}
		if claimed != "" {
			return fmt.Errorf("the Erlang node %s: %w", claimed, err)
		}
		return fmt.Errorf("an Erlang handshake: %w", err)
	}
	conn.SetDeadline(time.Time{})
	n.startErlang(conn, them)
	return errErlangLinked
}

// startErlang makes conn, past the handshake, the link with them.
func (n *Node) startErlang(conn net.Conn, them erlHello) {
	ec := &erlConn{
		n: n, peer: them.name, conn: conn, flags: them.flags,
		hidden: them.flags&dflagPublished == 0 || n.cfg.Hidden,
		codec:  etfCodec{self: n.name, creation: n.creation(), lim: DefaultDecodeLimits.resolve()},
		calls:  map[uint64]chan any{}, mons: map[uint64]erlMon{}, monIDs: map[ErlRef]uint64{}, mine: map[uint64]Pid{},
		done: make(chan struct{}), ioSem: make(chan struct{}, erlMaxIORequests),
	}
	n.mu.Lock()
	closed := n.closed
	if !closed {
		n.wg.Add(2)
	}
	n.mu.Unlock()
	if closed {
		conn.Close()
		return
	}
	n.erl.mu.Lock()
	if n.erl.conns == nil {
		n.erl.conns = map[Atom]*erlConn{}
	}
	old := n.erl.conns[ec.peer]
	n.erl.conns[ec.peer] = ec
	if n.erl.changed != nil {
		close(n.erl.changed)
	}
	n.erl.changed = make(chan struct{})
	n.erl.mu.Unlock()
	if old != nil {
		old.close(errors.New("replaced by a new link"))
	}
	n.logf("linked with the Erlang node %s: its handshake proves the cookie with MD5 digests, weaker than gsh's HMAC-SHA256", ec.peer)
	go ec.readLoop()
	go ec.tickLoop()
	n.notify(ec.peer, true, nil)
	if !ec.hidden {
		n.nodeFound(ec.peer)
	}
}

// close ends the link for reason; safe to call more than once.
func (ec *erlConn) close(reason error) {
	ec.once.Do(func() {
		ec.err = reason
		close(ec.done)
		ec.conn.Close()
		n := ec.n
		n.erl.mu.Lock()
		current := n.erl.conns[ec.peer] == ec
		if current {
			delete(n.erl.conns, ec.peer)
			if n.erl.changed != nil {
				close(n.erl.changed)
			}
			n.erl.changed = make(chan struct{})
		}
		n.erl.mu.Unlock()
		if current {
			if n.ctx.Err() == nil {
				n.logf("node %s down: %v", ec.peer, reason)
			}
			n.notify(ec.peer, false, reason)
			n.nodeLost(ec.peer)
		}
	})
}

func (ec *erlConn) readTimeout() time.Duration { return max(ec.n.cfg.TickTime, 60*time.Second) }

// tickLoop sends a tick a few times per TickTime (Erlang declares a peer
// down after its own net_ticktime, 60 s by default, of silence), and
// closes the link when the node closes.
func (ec *erlConn) tickLoop() {
	defer ec.n.wg.Done()
	t := time.NewTicker(min(ec.n.cfg.TickTime/3, 15*time.Second))
	defer t.Stop()
	for {
		select {
		case <-ec.done:
			return
		case <-ec.n.ctx.Done():
			ec.close(ErrClosed)
			return
		case <-t.C:
			ec.wmu.Lock()
			ec.conn.SetWriteDeadline(time.Now().Add(ec.n.cfg.TickTime))
			_, err := ec.conn.Write(frame.Append(nil, nil)) // a tick: an empty frame
			ec.wmu.Unlock()
			if err != nil {
				ec.close(fmt.Errorf("connection lost: %w", err))
				return
			}
		}
	}
}

func (ec *erlConn) readLoop() {
	defer ec.n.wg.Done()
	br := bufio.NewReaderSize(ec.conn, 64<<10)
	var buf []byte
	for {
		ec.conn.SetReadDeadline(time.Now().Add(ec.readTimeout()))
		frame, err := readFrame(br, ec.n.cfg.MaxFrameSize, buf)
		if err != nil {
			switch {
			case errors.Is(err, ErrTooLarge):
				ec.close(fmt.Errorf("it sent a %w", err))
			case isClosedErr(err):
				ec.close(errors.New("connection closed"))
			default:
				ec.close(fmt.Errorf("connection lost: %w", err))
			}
			return
		}
		if cap(frame) <= smallBuf {
			buf = frame[:0]
		}
		if len(frame) == 0 {
			continue // a tick
		}
		if err := ec.dispatch(frame); err != nil {
			ec.close(fmt.Errorf("it sent a bad message: %w", err))
			return
		}
	}
}

// dropped logs a message that has no Go value (a fun, a port) and is not
// delivered; the link goes on. The first is logged, then one in 1,000.
func (ec *erlConn) dropped(what string, err error) {
	if k := ec.drops.Add(1); k == 1 || k%1000 == 0 {
		ec.n.logf("dropped %s from %s (%d so far on this link): %v", what, ec.peer, k, err)
	}
}

// dispatch applies one message from the peer. Only an error that makes the
// rest of the stream untrustworthy is returned.
func (ec *erlConn) dispatch(frame []byte) error {
	if frame[0] != erlPassThrough {
		return fmt.Errorf("a message of kind %d (only pass-through, 112, was agreed): %w", frame[0], ErrProtocol)
	}
	v, rest, err := ec.codec.decode(frame[1:])
	if err != nil {
		if errors.Is(err, ErrBadArgs) {
			ec.dropped("a control message", err)
			return nil
		}
		return err
	}
	ctl, ok := v.(Tuple)
	if !ok || len(ctl) == 0 {
		return fmt.Errorf("a control message %s: %w", FormatTerm(v), ErrProtocol)
	}
	op, _ := ctl[0].(int)
	var msg any
	var msgErr error
	hasMsg := len(rest) > 0
	if hasMsg {
		var tail []byte
		msg, tail, msgErr = ec.codec.decode(rest)
		if msgErr != nil && !errors.Is(msgErr, ErrBadArgs) {
			return msgErr
		}
		if msgErr == nil && len(tail) != 0 {
			return fmt.Errorf("%d bytes after a message: %w", len(tail), ErrProtocol)
		}
	}
	pid := func(i int) (Pid, bool) {
		if i >= len(ctl) {
			return Pid{}, false
		}
		p, ok := ctl[i].(Pid)
		return p, ok
	}
	bad := fmt.Errorf("a malformed control message %s: %w", FormatTerm(ctl), ErrProtocol)
	n := ec.n
	size := len(frame)
	switch op {
	case erlSend, erlSendTT, erlSendSender, erlSendSenderTT:
		to, ok := pid(2)
		if !ok || !hasMsg {
			return bad
		}
		if msgErr != nil {
			ec.dropped("a message to "+to.String(), msgErr)
			return nil
		}
		ec.deliver(to, msg, size)
	case erlRegSend, erlRegSendTT:
		from, ok1 := pid(1)
		name, ok2 := ctl[min(3, len(ctl)-1)].(Atom)
		if !ok1 || !ok2 || len(ctl) < 4 || !hasMsg {
			return bad
		}
		if name == "global_name_server" && n.registered(string(name)) == nil {
			ec.globalInSync()
			return nil
		}
		if msgErr != nil {
			if n.registered(string(name)) != nil {
				ec.dropped("a message to "+string(name), msgErr)
			}
			return nil
		}
		ec.regSend(from, string(name), msg, size)
	case erlLink:
		from, ok1 := pid(1)
		to, ok2 := pid(2)
		if !ok1 || !ok2 || from.Node != ec.peer {
			return bad
		}
		if p := n.process(to); p == nil || !p.addLink(from) {
			n.exitSignal(to, from, NoProc, true)
		}
	case erlUnlink, erlUnlinkID:
		i := 1
		if op == erlUnlinkID {
			i = 2
		}
		from, ok1 := pid(i)
		to, ok2 := pid(i + 1)
		if !ok1 || !ok2 {
			return bad
		}
		if p := n.process(to); p != nil {
			p.mu.Lock()
			delete(p.links, from)
			p.mu.Unlock()
		}
		if op == erlUnlinkID {
			return ec.send(Tuple{erlUnlinkIDAck, ctl[1], to, from}, nil, false)
		}
	case erlUnlinkIDAck, erlGroupLeader:
	case erlExit, erlExit2, erlPayloadExit, erlPayloadExit2, erlPayloadExitTT, erlPayloadExit2TT:
		from, ok1 := pid(1)
		to, ok2 := pid(2)
		if !ok1 || !ok2 {
			return bad
		}
		var reason any
		switch op {
		case erlExit, erlExit2:
			if len(ctl) < 4 {
				return bad
			}
			reason = ctl[3]
		default:
			if !hasMsg {
				return bad
			}
			reason = msg
			if msgErr != nil {
				reason = msgErr.Error()
			}
		}
		n.exitSignal(from, to, reason, op == erlExit || op == erlPayloadExit || op == erlPayloadExitTT)
	case erlMonitorP:
		from, ok := pid(1)
		ref, ok2 := ctl[min(3, len(ctl)-1)].(ErlRef)
		if !ok || !ok2 || len(ctl) != 4 || from.Node != ec.peer {
			return bad
		}
		ec.monitored(from, ctl[2], ref)
	case erlDemonitorP:
		ref, ok := ctl[min(3, len(ctl)-1)].(ErlRef)
		if !ok || len(ctl) != 4 {
			return bad
		}
		ec.demonitored(ctl[2], ref)
	case erlMonitorPExit, erlPayloadMonitorPExt:
		to, ok := pid(2)
		if !ok || len(ctl) < 4 {
			return bad
		}
		var reason any
		if op == erlMonitorPExit {
			if len(ctl) != 5 {
				return bad
			}
			reason = ctl[4]
		} else {
			reason = msg
		}
		ref, isOurs := ctl[3].(Ref)
		if !isOurs {
			return nil // a monitor this node never made
		}
		ec.mu.Lock()
		delete(ec.mine, ref.ID)
		ec.mu.Unlock()
		target, _ := ctl[1].(Pid)
		n.deliverDown(to, ref, target, reason)
	case erlSpawnRequest, erlSpawnRequestTT:
		if len(ctl) < 6 || !hasMsg {
			return bad
		}
		ec.spawnRequest(ctl, msg, msgErr)
	case erlSpawnReply:
		// This node's casts: a failed one says why in its result.
		if len(ctl) == 5 {
			if why, ok := ctl[4].(Atom); ok {
				n.logf("a cast to %s failed: %s", ec.peer, why)
			}
		}
	default:
		// Control messages this node did not ask for (tracing, aliases)
		// are ignored.
	}
	return nil
}

// deliver puts a message in a local process's mailbox, or in a reply this
// node waits for.
func (ec *erlConn) deliver(to Pid, msg any, size int) {
	n := ec.n
	if to == n.erlCaller() {
		ec.toCaller(msg)
		return
	}
	if p := n.process(to); p != nil {
		p.deliverRemote(ec.peer, msg, size)
	}
}

// toCaller takes a message for erlCaller: the reply of a call, or an
// output request of a function that a call runs (its group leader is this
// node), which gets its reply at once.
func (ec *erlConn) toCaller(msg any) {
	t, ok := msg.(Tuple)
	if !ok {
		return
	}
	if len(t) == 2 {
		if ref, ok := t[0].(Ref); ok {
			ec.mu.Lock()
			ch := ec.calls[ref.ID]
			delete(ec.calls, ref.ID)
			ec.mu.Unlock()
			if ch != nil {
				ch <- t[1]
			}
		}
		return
	}
	if len(t) == 4 && t[0] == Atom("io_request") {
		from, ok := t[1].(Pid)
		if !ok {
			return
		}
		n := ec.n
		select {
		case ec.ioSem <- struct{}{}:
		default: // more output requests at once than any caller makes
			ec.send(Tuple{erlSend, Atom(""), from}, Tuple{Atom("io_reply"), t[2], Tuple{Atom("error"), Atom("busy")}}, true)
			return
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			defer func() { <-ec.ioSem }()
			reply := ec.ioRequest(t[3])
			ec.send(Tuple{erlSend, Atom(""), from}, Tuple{Atom("io_reply"), t[2], reply}, true)
		}()
	}
}

// ioRequest serves a request of Erlang's I/O protocol from a function this
// node called: output is logged, one line per line, after the peer's name;
// there is no input.
func (ec *erlConn) ioRequest(req any) any {
	r, _ := req.(Tuple)
	if len(r) == 0 {
		return Tuple{Atom("error"), Atom("request")}
	}
	var chars any
	switch {
	case r[0] == Atom("requests") && len(r) == 2:
		l, _ := r[1].([]any)
		for _, q := range l {
			if res := ec.ioRequest(q); res != Atom("ok") {
				return res
			}
		}
		return Atom("ok")
	case r[0] == Atom("put_chars") && (len(r) == 3 || len(r) == 2):
		chars = r[len(r)-1]
	case r[0] == Atom("put_chars") && (len(r) == 5 || len(r) == 4):
		// Formatting is the peer's: it runs M:F(A...) for the text.
		m, _ := r[len(r)-3].(Atom)
		f, _ := r[len(r)-2].(Atom)
		a, _ := r[len(r)-1].([]any)
		ctx, cancel := context.WithTimeout(ec.n.ctx, ec.n.cfg.CallTimeout)
		v, err := ec.call(ctx, string(m), string(f), a)
		cancel()
		if err != nil {
			return Tuple{Atom("error"), Atom("put_chars")}
		}
		chars = v
	default:
		return Tuple{Atom("error"), Atom("enotsup")}
	}
	var b strings.Builder
	if !flattenChars(&b, chars, 0) {
		return Tuple{Atom("error"), Atom("put_chars")}
	}
	for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		ec.n.logf("%s: %s", ec.peer, line)
	}
	return Atom("ok")
}

// flattenChars writes Erlang chardata (binaries, code points, nested
// lists of them) to b, and reports whether it was chardata.
func flattenChars(b *strings.Builder, v any, depth int) bool {
	if depth > 64 || b.Len() > 1<<20 {
		return false
	}
	switch x := v.(type) {
	case string:
		b.WriteString(x)
	case []byte:
		b.Write(x)
	case int:
		if x < 0 || x > 0x10ffff {
			return false
		}
		b.WriteRune(rune(x))
	case []any:
		for _, e := range x {
			if !flattenChars(b, e, depth+1) {
				return false
			}
		}
	case ImproperList:
		return flattenChars(b, x.Elems, depth+1) && flattenChars(b, x.Tail, depth+1)
	default:
		return false
	}
	return true
}

// globalInSync answers the first message of the peer's global name server
// (its init_connect, when the link comes up) by telling it that this node
// is in sync: gsh keeps global names of its own and takes no part in
// global's synchronisation, and without this global:sync() on the peer
// would wait for this node for ever.
func (ec *erlConn) globalInSync() {
	if !ec.inSync.CompareAndSwap(false, true) {
		return
	}
	ec.send(Tuple{erlRegSend, ec.n.erlCaller(), Atom(""), Atom("global_name_server")},
		Tuple{Atom("$gen_cast"), Tuple{Atom("in_sync"), ec.n.name, true}}, true)
}

// regSend delivers a message to a registered name: a local process, or
// the names Erlang nodes expect every node to have (net_kernel for ping,
// rex for rpc). Messages to other names are dropped, as in Erlang.
func (ec *erlConn) regSend(from Pid, name string, msg any, size int) {
	n := ec.n
	if p := n.registered(name); p != nil {
		p.deliverRemote(ec.peer, msg, size)
		return
	}
	// {'$gen_call', {From, Tag}, Request}
	t, ok := msg.(Tuple)
	if !ok || len(t) != 3 || t[0] != Atom("$gen_call") {
		return
	}
	ft, ok := t[1].(Tuple)
	if !ok || len(ft) != 2 {
		return
	}
	caller, ok := ft[0].(Pid)
	if !ok {
		return
	}
	tag := ft[1]
	req, _ := t[2].(Tuple)
	reply := func(v any) { ec.send(Tuple{erlSend, Atom(""), caller}, Tuple{tag, v}, true) }
	switch name {
	case "net_kernel":
		if len(req) == 2 && req[0] == Atom("is_auth") {
			reply(Atom("yes"))
		}
	case "rex":
		if len(req) != 5 || req[0] != Atom("call") {
			return
		}
		m, ok1 := req[1].(Atom)
		f, ok2 := req[2].(Atom)
		args, ok3 := req[3].([]any)
		if !ok1 || !ok2 || !ok3 {
			reply(Tuple{Atom("badrpc"), Tuple{Atom("EXIT"), Tuple{Atom("badarg"), []any{}}}})
			return
		}
		p, err := n.TryNewProcess()
		if err != nil {
			reply(Tuple{Atom("badrpc"), Tuple{Atom("EXIT"), Atom("system_limit")}})
			return
		}
		p.SetWhat(fmt.Sprintf("rpc from %s: %s.%s", ec.peer, m, f))
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			defer p.Exit(Normal)
			res, err := n.serve(ec.peer, request{module: string(m), function: string(f), args: args})
			if err != nil {
				reason, stack := erlReason(err, m, f, args)
				reply(Tuple{Atom("badrpc"), Tuple{Atom("EXIT"), Tuple{reason, stack}}})
				return
			}
			reply(res)
		}()
	}
}

// erlReason is the Erlang error reason and stack of a failed call:
// undef for an unknown module or function and badarg for arguments that do
// not fit, as Erlang raises them, {Kind, <<"message">>} otherwise.
func erlReason(err error, m, f Atom, args []any) (any, []any) {
	stack := []any{Tuple{m, f, args, []any{}}}
	switch {
	case errors.Is(err, ErrUnknownModule), errors.Is(err, ErrUnknownFunction):
		return Atom("undef"), stack
	case errors.Is(err, ErrBadArgs):
		return Atom("badarg"), stack
	}
	return Tuple{Atom(ErrorKind(err)), err.Error()}, stack
}

// monitored applies a MONITOR_P: the peer's process from watches target (a
// pid or a registered name) under ref.
func (ec *erlConn) monitored(from Pid, target any, ref ErlRef) {
	n := ec.n
	var p *Process
	switch t := target.(type) {
	case Pid:
		if t == n.erlCaller() {
			return // the group leader of calls: there while the node runs
		}
		p = n.process(t)
	case Atom:
		p = n.registered(string(t))
		if p == nil && (t == "net_kernel" || t == "rex") {
			return // always there while the node runs
		}
	}
	key := n.procs().refs.Add(1)
	name, _ := target.(Atom)
	ec.mu.Lock()
	ec.mons[key] = erlMon{ref, name}
	ec.monIDs[ref] = key
	ec.mu.Unlock()
	if p == nil || !p.addWatcher(Ref{Node: ec.peer, ID: key}, from) {
		ec.down(from, key, target, NoProc)
	}
}

func (ec *erlConn) demonitored(target any, ref ErlRef) {
	n := ec.n
	ec.mu.Lock()
	key, ok := ec.monIDs[ref]
	delete(ec.monIDs, ref)
	delete(ec.mons, key)
	ec.mu.Unlock()
	if !ok {
		return
	}
	var p *Process
	switch t := target.(type) {
	case Pid:
		p = n.process(t)
	case Atom:
		p = n.registered(string(t))
	}
	if p != nil {
		p.mu.Lock()
		delete(p.watchers, Ref{Node: ec.peer, ID: key})
		p.mu.Unlock()
	}
}

// down sends the peer's process watcher the end of the process its monitor
// key watched.
func (ec *erlConn) down(watcher Pid, key uint64, target any, reason any) error {
	ec.mu.Lock()
	m, ok := ec.mons[key]
	delete(ec.mons, key)
	delete(ec.monIDs, m.ref)
	ec.mu.Unlock()
	if !ok {
		return nil
	}
	ref := m.ref
	if m.name != "" {
		target = m.name
	}
	if ec.flags&dflagExitPayload != 0 {
		return ec.send(Tuple{erlPayloadMonitorPExt, target, watcher, ref}, reason, true)
	}
	return ec.send(Tuple{erlMonitorPExit, target, watcher, ref, reason}, nil, false)
}

// spawnRequest serves a SPAWN_REQUEST: {29, ReqId, From, GroupLeader,
// {Module, Function, Arity}, Options} with the arguments as its message.
// erpc:execute_call, which rpc:call and erpc:call spawn, runs the call
// through the Handler and ends with the result as its exit reason, which
// the caller's monitor carries back; any other function runs as a process
// through the Handler.
func (ec *erlConn) spawnRequest(ctl Tuple, msg any, msgErr error) {
	n := ec.n
	reqID := ctl[1]
	from, ok := ctl[2].(Pid)
	mfa, ok2 := ctl[4].(Tuple)
	opts, _ := ctl[5].([]any)
	if !ok || !ok2 || len(mfa) != 3 || from.Node != ec.peer {
		return
	}
	fail := func(reason Atom) { ec.send(Tuple{erlSpawnReply, reqID, from, 0, reason}, nil, false) }
	m, ok1 := mfa[0].(Atom)
	f, ok2 := mfa[1].(Atom)
	args, ok3 := msg.([]any)
	if msgErr != nil {
		// A fun or a port among the arguments: erpc gives the caller
		// {badrpc, {'EXIT', Reason}} for a spawn that failed with Reason.
		fail("gsh_takes_no_funs_or_ports")
		return
	}
	if !ok1 || !ok2 || !ok3 {
		fail("badarg")
		return
	}
	var link, monitor bool
	for _, o := range opts {
		switch o := o.(type) {
		case Atom:
			link = link || o == "link"
			monitor = monitor || o == "monitor"
		case Tuple:
			monitor = monitor || len(o) == 2 && o[0] == Atom("monitor")
		}
	}
	p, err := n.TryNewProcess()
	if err != nil {
		fail("system_limit")
		return
	}
	var body func() any
	if m == "erpc" && f == "execute_call" && len(args) == 4 {
		res := args[0]
		cm, ok1 := args[1].(Atom)
		cf, ok2 := args[2].(Atom)
		ca, ok3 := args[3].([]any)
		if !ok1 || !ok2 || !ok3 {
			p.Exit(Normal)
			fail("badarg")
			return
		}
		p.SetWhat(fmt.Sprintf("rpc from %s: %s.%s", ec.peer, cm, cf))
		body = func() any {
			v, err := n.serve(ec.peer, request{module: string(cm), function: string(cf), args: ca})
			if err != nil {
				reason, stack := erlReason(err, cm, cf, ca)
				return Tuple{res, Atom("error"), reason, stack}
			}
			return Tuple{res, Atom("return"), v}
		}
	} else {
		p.SetWhat(fmt.Sprintf("%s.%s", m, f))
		call := n.callBody(ec.peer, string(m), string(f), args, nil)
		body = func() (reason any) {
			defer func() {
				if r := recover(); r != nil {
					reason = panicReason(p, r)
				}
			}()
			call(p)
			return Normal
		}
	}
	flags := 0
	if link {
		p.mu.Lock()
		p.links[from] = struct{}{}
		p.mu.Unlock()
		flags |= 1
	}
	if monitor {
		if ref, ok := reqID.(ErlRef); ok {
			key := n.procs().refs.Add(1)
			ec.mu.Lock()
			ec.mons[key] = erlMon{ref: ref}
			ec.monIDs[ref] = key
			ec.mu.Unlock()
			p.addWatcher(Ref{Node: ec.peer, ID: key}, from)
			flags |= 2
		}
	}
	// The reply goes out before anything the new process sends.
	ec.send(Tuple{erlSpawnReply, reqID, from, flags, p.Pid()}, nil, false)
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		p.Exit(body())
	}()
}

// send writes one control message, and its message when hasMsg.
func (ec *erlConn) send(ctl Tuple, msg any, hasMsg bool) error {
	ec.wmu.Lock()
	defer ec.wmu.Unlock()
	select {
	case <-ec.done:
		return fmt.Errorf("sending to %s: %w", ec.peer, netErr(ec.err))
	default:
	}
	b, start := frame.Begin(ec.wbuf[:0])
	b, err := ec.codec.encode(append(b, erlPassThrough), ctl)
	if err == nil && hasMsg {
		b, err = ec.codec.encode(b, msg)
	}
	if err != nil {
		return fmt.Errorf("sending to %s: %w", ec.peer, err)
	}
	if size := frame.End(b, start); size > ec.n.cfg.MaxFrameSize {
		return fmt.Errorf("sending to %s: a message of %d bytes: %w", ec.peer, size, ErrTooLarge)
	}
	ec.conn.SetWriteDeadline(time.Now().Add(ec.n.cfg.TickTime))
	_, err = ec.conn.Write(b)
	if cap(b) <= smallBuf {
		ec.wbuf = b[:0]
	}
	if err != nil {
		go ec.close(fmt.Errorf("write failed: %w", err))
		return fmt.Errorf("sending to %s: %w", ec.peer, netErr(err))
	}
	return nil
}

// signal sends one of gsh's process signals (see signals.go) to the peer,
// as Erlang's control message for it. Erlang has none for the signals about
// gsh's own links (nodes, sync, displaced, replaced): those are dropped.
func (ec *erlConn) signal(s signal) error {
	n := ec.n
	switch m := s.(type) {
	case sendSignal:
		switch to := m.To.(type) {
		case Pid:
			return ec.send(Tuple{erlSend, Atom(""), to}, m.Msg, true)
		case string:
			return ec.send(Tuple{erlRegSend, n.erlCaller(), Atom(""), Atom(to)}, m.Msg, true)
		}
	case linkSignal:
		return ec.send(Tuple{erlLink, m.From, m.To}, nil, false)
	case unlinkSignal:
		return ec.send(Tuple{erlUnlink, m.From, m.To}, nil, false)
	case exitSignal:
		// A process that ended tells its links (EXIT); exit(Pid, Reason)
		// from one that runs is EXIT2.
		linked := n.process(m.From) == nil
		payload := ec.flags&dflagExitPayload != 0
		switch {
		case linked && payload:
			return ec.send(Tuple{erlPayloadExit, m.From, m.To}, m.Reason, true)
		case linked:
			return ec.send(Tuple{erlExit, m.From, m.To, m.Reason}, nil, false)
		case payload:
			return ec.send(Tuple{erlPayloadExit2, m.From, m.To}, m.Reason, true)
		}
		return ec.send(Tuple{erlExit2, m.From, m.To, m.Reason}, nil, false)
	case monitorSignal:
		ec.mu.Lock()
		ec.mine[m.Ref] = m.Watcher
		ec.mu.Unlock()
		return ec.send(Tuple{erlMonitorP, m.Watcher, m.Target, Ref{Node: n.name, ID: m.Ref}}, nil, false)
	case demonitorSignal:
		ec.mu.Lock()
		watcher, ok := ec.mine[m.Ref]
		delete(ec.mine, m.Ref)
		ec.mu.Unlock()
		if !ok {
			return nil
		}
		return ec.send(Tuple{erlDemonitorP, watcher, m.Target, Ref{Node: n.name, ID: m.Ref}}, nil, false)
	case downSignal:
		return ec.down(m.Watcher, m.Ref, m.Target, m.Reason)
	case castSignal:
		if m.Module == globalModule {
			return nil // global names are gsh's own
		}
		ref := Ref{Node: n.name, ID: n.procs().refs.Add(1)}
		return ec.send(Tuple{erlSpawnRequest, ref, n.erlCaller(), n.erlCaller(), Tuple{Atom(m.Module), Atom(m.Function), len(m.Args)}, []any{}}, m.Args, true)
	}
	return nil
}

// genCall makes a gen_server call to the peer's process registered as name
// and waits for its reply.
func (ec *erlConn) genCall(ctx context.Context, name string, req any) (any, error) {
	n := ec.n
	ref := Ref{Node: n.name, ID: n.procs().refs.Add(1)}
	ch := make(chan any, 1)
	ec.mu.Lock()
	ec.calls[ref.ID] = ch
	ec.mu.Unlock()
	defer func() {
		ec.mu.Lock()
		delete(ec.calls, ref.ID)
		ec.mu.Unlock()
	}()
	caller := n.erlCaller()
	msg := Tuple{Atom("$gen_call"), Tuple{caller, ref}, req}
	if err := ec.send(Tuple{erlRegSend, caller, Atom(""), Atom(name)}, msg, true); err != nil {
		return nil, err
	}
	select {
	case v := <-ch:
		return v, nil
	case <-ec.done:
		return nil, fmt.Errorf("calling %s: %w", ec.peer, netErr(ec.err))
	case <-ctx.Done():
		return nil, ctxErr(ctx, ec.peer)
	}
}

// ping checks the link with net_kernel's is_auth call, as net_adm:ping does.
func (ec *erlConn) ping(ctx context.Context) error {
	v, err := ec.genCall(ctx, "net_kernel", Tuple{Atom("is_auth"), ec.n.name})
	if err != nil {
		return fmt.Errorf("pinging %s: %w", ec.peer, err)
	}
	if v != Atom("yes") {
		return fmt.Errorf("pinging %s: it answered %s: %w", ec.peer, FormatTerm(v), ErrAuth)
	}
	return nil
}

// call runs module:function(args...) on the peer through its rex server,
// as rpc:call does. A {badrpc, Reason} answer is an error.
func (ec *erlConn) call(ctx context.Context, module, function string, args []any) (any, error) {
	switch module {
	case globalModule:
		return nil, nil // global names are gsh's own
	case spawnModule:
		return ec.spawn(ctx, args)
	}
	if args == nil {
		args = []any{}
	}
	caller := ec.n.erlCaller()
	v, err := ec.genCall(ctx, "rex", Tuple{Atom("call"), Atom(module), Atom(function), args, caller})
	if err != nil {
		return nil, err
	}
	if t, ok := v.(Tuple); ok && len(t) == 2 && t[0] == Atom("badrpc") {
		return nil, erlRemoteError(ec.peer, module, function, args, t[1])
	}
	return v, nil
}

// erlRemoteError is the error of a {badrpc, Reason} answer, with the kind
// gsh's own errors have for the same failure.
func erlRemoteError(peer Atom, module, function string, args []any, reason any) *RemoteError {
	kind := "error"
	if t, ok := reason.(Tuple); ok && len(t) == 2 && t[0] == Atom("EXIT") {
		why := t[1]
		if wt, ok := why.(Tuple); ok && len(wt) == 2 {
			why = wt[0]
		}
		switch why {
		case Atom("undef"):
			kind = "undef"
		case Atom("badarg"), Atom("function_clause"), Atom("badarith"):
			kind = "badarg"
		}
	}
	switch reason {
	case Atom("nodedown"), Atom("noconnection"):
		kind = "nodedown"
	case Atom("timeout"):
		kind = "timeout"
	}
	return &RemoteError{Node: peer, Kind: kind, Msg: fmt.Sprintf("%s:%s/%s: %s", quoteAtom(module), quoteAtom(function),
		strconv.Itoa(len(args)), FormatTerm(Tuple{Atom("badrpc"), reason}))}
}

// spawn answers SpawnRemote's request ([module, function, args, link]) by
// having the peer's rex run erlang:spawn(Module, Function, Args), then
// linking the new process to link when that is a pid.
func (ec *erlConn) spawn(ctx context.Context, req []any) (any, error) {
	if len(req) != 4 {
		return nil, fmt.Errorf("spawn request with %d arguments: %w", len(req), ErrProtocol)
	}
	m, _ := req[0].(string)
	f, _ := req[1].(string)
	args, _ := req[2].([]any)
	if args == nil {
		args = []any{}
	}
	v, err := ec.call(ctx, "erlang", "spawn", []any{Atom(m), Atom(f), args})
	if err != nil {
		return nil, err
	}
	pid, ok := v.(Pid)
	if !ok {
		return nil, fmt.Errorf("spawn on %s answered %s: %w", ec.peer, FormatTerm(v), ErrProtocol)
	}
	if l, ok := req[3].(Pid); ok {
		if p := ec.n.process(l); p != nil {
			p.Link(pid)
		}
	}
	return pid, nil
}

// erlSignal sends a signal to peer when it is a linked Erlang node.
func (n *Node) erlSignal(peer Atom, s signal) (handled bool, err error) {
	ec := n.erlConn(peer)
	if ec == nil {
		return false, nil
	}
	return true, ec.signal(s)
}

// ErlangNodes lists the Erlang (and Elixir) nodes this node is linked
// with, visible and hidden, sorted.
func (n *Node) ErlangNodes() []Atom {
	out := append(n.erlNodes(false), n.erlNodes(true)...)
	slices.Sort(out)
	return out
}
