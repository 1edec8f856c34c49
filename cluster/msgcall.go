package cluster

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
)

// Small calls travel as signals: the request goes on the link's signal
// stream, in order with the caller's messages, and the reply comes back on
// the other node's. No call waits for a stream of its own, and a busy link
// batches many calls and replies into few writes, as Erlang's rpc does over
// its distribution channel. A request or reply over smallCall bytes goes on
// a stream of its own instead (call streams, reply streams), written in
// pieces, so that it never holds up the small traffic behind it.
const (
	smallCall    = 64 << 10
	streamReply  = 'R' // one reply too large for a signal: call id, result
	writeChunk   = 16 << 10
	replyTimeout = 30 * time.Second // how long a reply stream may take to write
)

// pendingCalls are the calls this node waits for, by id.
type pendingCalls struct {
	mu   sync.Mutex
	next uint64
	m    map[uint64]*pendingCall
}

type pendingCall struct {
	l  *link
	ch chan callReply // buffered: the reply never blocks its deliverer
}

type callReply struct {
	v   any
	err error
}

func (n *Node) pending() *pendingCalls {
	n.pcOnce.Do(func() { n.pc = &pendingCalls{m: map[uint64]*pendingCall{}} })
	return n.pc
}

// msgCall runs a call as signals. sent is false when the request is too
// large for a signal: the caller then uses a call stream.
func (l *link) msgCall(ctx context.Context, module, function string, args []any, deadline time.Time) (v any, sent bool, err error) {
	n := l.n
	pc := n.pending()
	p := &pendingCall{l: l, ch: make(chan callReply, 1)}
	pc.mu.Lock()
	pc.next++
	id := pc.next
	pc.m[id] = p
	pc.mu.Unlock()
	forget := func() {
		pc.mu.Lock()
		delete(pc.m, id)
		pc.mu.Unlock()
	}
	if args == nil {
		args = []any{}
	}
	ms := int(time.Until(deadline) / time.Millisecond)
	sent, err = l.signals().writeLimited([]any{opCall, int(id), module, function, args, ms}, smallCall)
	if !sent || err != nil {
		forget()
		return nil, sent, err
	}
	select {
	case r := <-p.ch:
		return r.v, true, r.err
	case <-ctx.Done():
		forget()
		return nil, true, ctxErr(ctx, l.peer)
	}
}

// serveMsgCall answers a call that came as a signal, in a goroutine of its
// own (the handler may block), with a reply signal or a reply stream.
func (l *link) serveMsgCall(a []any) error {
	if len(a) != 6 {
		return errBadSignal
	}
	id, ok1 := a[1].(int)
	m, ok2 := a[2].(string)
	f, ok3 := a[3].(string)
	args, ok4 := a[4].([]any)
	ms, ok5 := a[5].(int)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
		return errBadSignal
	}
	n := l.n
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		res, err := n.serve(l.peer, request{module: m, function: f, args: args, timeout: time.Duration(ms) * time.Millisecond})
		var v any = res
		if err != nil {
			v = remoteError(n.name, err)
		}
		sent, werr := l.signals().writeLimited([]any{opReply, id, v}, smallCall)
		if werr != nil && !sent {
			// The result has no wire form: say so instead.
			v = remoteError(n.name, fmt.Errorf("the result cannot be sent: %w", werr))
			sent, werr = l.signals().writeLimited([]any{opReply, id, v}, smallCall)
		}
		if werr == nil && !sent {
			werr = l.sendReplyStream(id, v)
		}
		if werr != nil && !isClosedErr(werr) && !errors.Is(werr, ErrNodeDown) {
			n.logf("replying to %s: %v", l.peer, werr)
		}
	}()
	return nil
}

// sendReplyStream sends a large reply on a stream of its own.
func (l *link) sendReplyStream(id int, v any) error {
	b, err := Encode([]byte{streamReply, 0, 0, 0, 0}, []any{id, v})
	if err != nil {
		return err
	}
	binary.BigEndian.PutUint32(b[1:5], uint32(len(b)-5))
	s, err := l.sess.OpenStream()
	if err != nil {
		return netErr(err)
	}
	defer l.closeStream(s)
	s.SetWriteDeadline(time.Now().Add(replyTimeout))
	return writeChunks(s, b)
}

// writeChunks writes b in pieces, so that other streams' frames go out
// between them.
func writeChunks(s *yamux.Stream, b []byte) error {
	for len(b) > 0 {
		k := min(len(b), writeChunk)
		if _, err := s.Write(b[:k]); err != nil {
			return err
		}
		b = b[k:]
	}
	return nil
}

// serveReplyStream reads a large reply sent on a stream of its own.
func (l *link) serveReplyStream(br *bufio.Reader) {
	frame, err := readFrame(br, l.n.cfg.MaxFrameSize, nil)
	if err != nil {
		return
	}
	v, err := Decode(frame)
	if err != nil {
		l.n.logf("bad reply from %s: %v", l.peer, err)
		return
	}
	a, ok := v.([]any)
	if !ok || len(a) != 2 {
		return
	}
	l.n.msgReply([]any{opReply, a[0], a[1]})
}

// msgReply delivers a reply to the call waiting for it.
func (n *Node) msgReply(a []any) error {
	if len(a) != 3 {
		return errBadSignal
	}
	id, ok := a[1].(int)
	if !ok || id < 0 {
		return errBadSignal
	}
	pc := n.pending()
	pc.mu.Lock()
	p := pc.m[uint64(id)]
	delete(pc.m, uint64(id))
	pc.mu.Unlock()
	if p == nil {
		return nil // the caller gave up
	}
	if re, ok := a[2].(*RemoteError); ok {
		p.ch <- callReply{err: re}
	} else {
		p.ch <- callReply{v: a[2]}
	}
	return nil
}

// failCalls ends the calls waiting on a link that closed.
func (n *Node) failCalls(l *link) {
	pc := n.pending()
	pc.mu.Lock()
	var failed []*pendingCall
	for id, p := range pc.m {
		if p.l == l {
			failed = append(failed, p)
			delete(pc.m, id)
		}
	}
	pc.mu.Unlock()
	for _, p := range failed {
		p.ch <- callReply{err: fmt.Errorf("calling %s: %w", l.peer, netErr(l.err))}
	}
}
