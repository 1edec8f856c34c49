package cluster

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// Small calls between two gsh nodes that both offer it (flagFastCalls in the
// handshake, Config.FastCalls) travel as frames of gsh's own on the link's
// TCP connection, beside yamux's frames, rather than on yamux streams. A
// stream call passes through four goroutines on its way (yamux's send loop
// and the connection's flusher on each side, yamux's receive loop handing
// each frame to the stream's reader); a fast call has none of those
// hand-offs: the caller writes its request itself, the peer's reading
// goroutine serves a short call (InlineHandler) right there and writes the
// reply itself, and the caller's reading goroutine hands the reply to the
// caller, the one hand-off left.
//
// A fast frame:
//
//	marker u8 (fastMarker) | type u8 | id u64 | length u32 | body [length]
//
// yamux's frames begin with its protocol version, 0, so the first byte at a
// frame boundary tells the two apart. The body of a request is the encoded
// request, as on a call stream; the body of a reply the encoded result or
// RemoteError, written in pieces of at most fastChunk bytes (fastReplyPart,
// then a last fastReply) so that a large reply does not hold up other
// frames for long; a cancel has no body. A request larger than fastChunk
// goes on a stream, with yamux's flow control. Signals travel as fast
// frames too (see fastsignal.go).
const (
	fastMarker = 0xF5
	fastHeader = 14
	fastChunk  = 64 << 10

	fastRequest   = 1 // a call: serve it and reply with the same id
	fastReplyPart = 2 // part of a reply, more follows
	fastReply     = 3 // a reply, or its last part
	fastCancel    = 4 // the caller of id gave up: stop serving it
)

// An InlineHandler is a Handler that names the calls it answers at once,
// without waiting on anything (no I/O, no other node, no lock held for
// long): those run on the goroutine that reads the link, with no hand-off
// to another goroutine, and the link reads nothing else while they run.
// Calls it does not name run on goroutines of their own.
type InlineHandler interface {
	Handler
	Inline(module, function string) bool
}

// fastWait is a caller waiting for the reply to its fast call.
type fastWait struct {
	ch  chan []byte // the whole reply body, once
	buf []byte      // the parts received so far
}

// appendFastHeader appends the header of a fast frame with a zero length,
// which putFastLength sets once the body follows.
func appendFastHeader(dst []byte, typ byte, id uint64) []byte {
	dst = append(dst, fastMarker, typ)
	dst = binary.BigEndian.AppendUint64(dst, id)
	return append(dst, 0, 0, 0, 0)
}

// putFastLength sets the length of the frame starting at b[start:].
func putFastLength(b []byte, start int) {
	binary.BigEndian.PutUint32(b[start+10:], uint32(len(b)-start-fastHeader))
}

// fastReader is what yamux reads from on a link with fast calls: it passes
// yamux's frames through and handles fast frames itself, on the goroutine
// that reads (yamux's receive loop).
type fastReader struct {
	l    *link
	br   *bufio.Reader // the connection
	left int           // bytes of yamux's current frame still to pass on
	body []byte
	out  []byte // replies the reader wrote, to go out together

	pieces map[uint64][]byte // signals sent in pieces, by id, until whole
	sigs   signalDecoder
}

// flush sends the replies the reader wrote.
func (r *fastReader) flush() bool {
	if len(r.out) == 0 {
		return true
	}
	ok := r.l.send(r.out, true)
	r.out = r.out[:0]
	if cap(r.out) > maxKeptBatch {
		r.out = nil
	}
	return ok
}

func (r *fastReader) Read(p []byte) (int, error) {
	for r.left == 0 {
		if r.br.Buffered() == 0 {
			r.flush() // before waiting for more
		}
		b, err := r.br.Peek(1)
		if err != nil {
			return 0, err
		}
		if b[0] == fastMarker {
			if err := r.readFast(); err != nil {
				return 0, err
			}
			continue
		}
		h, err := r.br.Peek(yamuxHeaderSize)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		r.left = yamuxHeaderSize
		if h[1] == yamuxTypeData {
			r.left += int(binary.BigEndian.Uint32(h[8:12]))
		}
	}
	if len(p) > r.left {
		p = p[:r.left]
	}
	r.flush()
	n, err := r.br.Read(p)
	r.left -= n
	return n, err
}

// readFast reads and handles one fast frame. An error ends the link.
func (r *fastReader) readFast() error {
	h, err := r.br.Peek(fastHeader)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	typ := h[1]
	id := binary.BigEndian.Uint64(h[2:10])
	size := int(binary.BigEndian.Uint32(h[10:14]))
	if size > fastChunk {
		return r.l.protocolError(fmt.Errorf("a fast frame of %d bytes, over the limit of %d: %w", size, fastChunk, ErrTooLarge))
	}
	r.br.Discard(fastHeader)
	if cap(r.body) < size {
		r.body = make([]byte, 0, max(size, 512))
	}
	body := r.body[:size]
	if _, err := io.ReadFull(r.br, body); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	l := r.l
	switch typ {
	case fastRequest:
		return l.serveFast(id, body)
	case fastReplyPart, fastReply:
		return l.fastReplied(id, body, typ == fastReply)
	case fastSignal, fastSignalPart:
		return r.signalIn(id, body, typ == fastSignal)
	case fastCancel:
		if size != 0 {
			return l.protocolError(fmt.Errorf("a cancel frame with a body: %w", ErrProtocol))
		}
		l.mu.Lock()
		cancel := l.fastServed[id]
		l.mu.Unlock()
		if cancel != nil {
			cancel()
		}
		return nil
	default:
		return l.protocolError(fmt.Errorf("a fast frame of unknown type %d: %w", typ, ErrProtocol))
	}
}

// protocolError records err as the reason the link ends and returns it, for
// the reader to return to yamux, which then ends the session (see
// lostReason). The reader cannot close the link itself: closing waits for
// yamux's receive loop, the goroutine it runs on.
func (l *link) protocolError(err error) error {
	l.fastErr.CompareAndSwap(nil, &err)
	return err
}

// fastReplied takes a reply or a part of one for the call id. A reply for no
// call waiting (one that gave up) is dropped.
func (l *link) fastReplied(id uint64, body []byte, last bool) error {
	l.mu.Lock()
	w := l.fastWaiting[id]
	if w == nil {
		l.mu.Unlock()
		return nil
	}
	if len(w.buf)+len(body) > l.n.cfg.MaxFrameSize {
		l.mu.Unlock()
		return l.protocolError(fmt.Errorf("a reply of more than %d bytes: %w", l.n.cfg.MaxFrameSize, ErrTooLarge))
	}
	if !last {
		w.buf = append(w.buf, body...)
		l.mu.Unlock()
		return nil
	}
	delete(l.fastWaiting, id)
	l.mu.Unlock()
	w.ch <- append(w.buf, body...)
	return nil
}

// serveFast serves a fast request: a short call (InlineHandler) here and
// now, any other on a goroutine of its own, at most MaxStreams at once.
func (l *link) serveFast(id uint64, body []byte) error {
	n := l.n
	v, err := Decode(body)
	if err != nil {
		return l.protocolError(fmt.Errorf("bad call: %w", err))
	}
	req, err := parseRequest(v)
	if err != nil {
		l.replyFast(id, nil, err, true)
		return nil
	}
	if n.inline(req) {
		l.runFast(n.ctx, id, req, true)
		return nil
	}
	if l.streams.Add(1) > int64(n.cfg.MaxStreams)+1 {
		l.streams.Add(-1)
		if !l.refusing.Swap(true) {
			n.logf("%s has %d calls running on this node, the most it may (cluster.Config.MaxStreams): refusing new ones", l.peer, n.cfg.MaxStreams)
		}
		l.replyFast(id, nil, fmt.Errorf("%s refuses a call from %s, which has %d running already: %w", n.name, l.peer, n.cfg.MaxStreams, ErrTooLarge), true)
		return nil
	}
	ctx, cancel := context.WithCancel(n.ctx)
	l.mu.Lock()
	if l.fastServed == nil {
		l.fastServed = map[uint64]context.CancelFunc{}
	}
	l.fastServed[id] = cancel
	l.mu.Unlock()
	go func() {
		defer l.streams.Add(-1)
		defer cancel()
		l.runFast(ctx, id, req, false)
		l.mu.Lock()
		delete(l.fastServed, id)
		l.mu.Unlock()
	}()
	return nil
}

// inline reports whether req is a call the Handler answers at once.
func (n *Node) inline(req request) bool {
	switch req.module {
	case spawnModule, globalModule, ioModule:
		return false
	}
	h, ok := n.cfg.Handler.(InlineHandler)
	return ok && h.Inline(req.module, req.function)
}

// runFast serves req and sends its reply.
func (l *link) runFast(ctx context.Context, id uint64, req request, inline bool) {
	n := l.n
	c := n.sv.begin("", req, l.peer)
	if inline {
		// A short call does not wait on anything: its caller's deadline
		// needs no timer here.
		req.timeout = 0
	}
	after := &afterReply{}
	result, err := n.serveCtx(context.WithValue(ctx, afterReplyKey{}, after), l.peer, req)
	l.replyFast(id, result, err, inline)
	n.sv.end(c)
	if after.pending() {
		run := func() {
			l.fc.drain() // the reply is on the wire before they run
			after.run()
		}
		if inline {
			go run() // not on the goroutine that reads the link
		} else {
			run()
		}
	}
}

// replyFast sends the reply to the fast call id: the result, or the error
// as a RemoteError naming this node, in pieces of at most fastChunk bytes.
func (l *link) replyFast(id uint64, result any, err error, reader bool) {
	n := l.n
	out := appendFastHeader(make([]byte, 0, 512), fastReply, id)
	var v any = result
	if err != nil {
		v = remoteError(n.name, err)
	}
	out, eerr := EncodeFrom(out, v, n.name)
	if eerr == nil && len(out)-fastHeader > n.cfg.MaxFrameSize {
		eerr = fmt.Errorf("a reply of %d bytes: %w", len(out)-fastHeader, ErrTooLarge)
	}
	if eerr != nil {
		out = appendFastHeader(out[:0], fastReply, id)
		out, _ = EncodeFrom(out, remoteError(n.name, fmt.Errorf("the result cannot be sent: %w", eerr)), n.name)
	}
	if len(out)-fastHeader <= fastChunk {
		putFastLength(out, 0)
		l.writeFast(out, reader)
		return
	}
	writePieces(out[fastHeader:], fastReplyPart, fastReply, id, func(piece []byte) error {
		if !l.writeFast(piece, reader) {
			return errWriteFailed
		}
		return nil
	})
}

// errWriteFailed stops writePieces when a write failed (the link ends with
// the reason; see writeFast).
var errWriteFailed = errors.New("write failed")

// writePieces writes body as fast frames of at most fastChunk bytes, all
// with the id: of type part but the last, of type last. The writes stop at
// the first error, which it returns.
func writePieces(body []byte, part, last byte, id uint64, write func(piece []byte) error) error {
	piece := make([]byte, 0, fastHeader+min(len(body), fastChunk))
	for len(body) > 0 {
		k := min(len(body), fastChunk)
		typ := part
		if k == len(body) {
			typ = last
		}
		piece = append(appendFastHeader(piece[:0], typ, id), body[:k]...)
		putFastLength(piece, 0)
		if err := write(piece); err != nil {
			return err
		}
		body = body[k:]
	}
	return nil
}

// writeFast writes a fast frame; reader says the goroutine that reads the
// link writes it (see frameConn.writeNow). When the write fails, the
// connection is closed, which ends the session and the link with that
// reason.
func (l *link) writeFast(b []byte, reader bool) bool {
	if reader {
		// Replies wait while more requests are already here, and go out
		// together (see fastReader.flush).
		r := l.fc.rd
		r.out = append(r.out, b...)
		if len(r.out) < fastChunk {
			return true
		}
		return r.flush()
	}
	return l.send(b, false)
}

// send writes b on the connection (see frameConn.writeNow).
func (l *link) send(b []byte, reader bool) bool {
	mode := writeWait
	if reader {
		mode = writeNever
	}
	if err := l.fc.writeNow(b, mode); err != nil {
		l.writeFailed(err)
		return false
	}
	return true
}

// writeFailed records a failed write as the reason the link ends, unless
// the session had ended already, for a reason of its own (see lostReason):
// then the write failed because the connection was closed for that.
func (l *link) writeFailed(err error) error {
	if !l.sess.IsClosed() {
		err = fmt.Errorf("write failed: %w", err)
		l.fastErr.CompareAndSwap(nil, &err)
	}
	if p := l.fastErr.Load(); p != nil {
		return *p
	}
	return l.lostReason()
}

// callFast makes a call as a fast frame. ok is false when the request is
// too large for one: then nothing was sent, and the call goes on a stream.
func (l *link) callFast(ctx context.Context, module, function string, args []any, deadline time.Time) (v any, ok bool, err error) {
	peer := l.peer
	if sizeHint(args) > fastChunk {
		return nil, false, nil
	}
	id := l.fastID.Add(1)
	bp := signalBufs.Get().(*[]byte)
	out := appendFastHeader((*bp)[:0], fastRequest, id)
	defer func() { putSignalBuf(bp, out) }() // writeNow copied or wrote it
	out, err = newRequest(ctx, module, function, args, deadline).appendTo(out)
	if err != nil {
		return nil, true, fmt.Errorf("calling %s.%s on %s: %w", module, function, peer, err)
	}
	if len(out)-fastHeader > fastChunk {
		return nil, false, nil
	}
	putFastLength(out, 0)
	// A call holds one of the MaxStreams tokens while it runs, as a call
	// on a stream does, so that the peer never has more running for this
	// node than it serves.
	select {
	case l.calls <- struct{}{}:
	default:
		select {
		case l.calls <- struct{}{}:
		case <-l.done:
			return nil, true, fmt.Errorf("calling %s.%s on %s: %w", module, function, peer, netErr(l.err))
		case <-ctx.Done():
			return nil, true, fmt.Errorf("waiting for one of the %d calls to %s: %w", cap(l.calls), peer, ctxErr(ctx, peer))
		}
	}
	defer func() { <-l.calls }()
	w := &fastWait{ch: make(chan []byte, 1)}
	l.mu.Lock()
	if l.closing() {
		// Nothing was sent: the stream path says why, or goes on over the
		// link that replaced this one.
		l.mu.Unlock()
		return nil, false, nil
	}
	if l.fastWaiting == nil {
		l.fastWaiting = map[uint64]*fastWait{}
	}
	l.fastWaiting[id] = w
	l.mu.Unlock()
	forget := func() {
		l.mu.Lock()
		delete(l.fastWaiting, id)
		l.mu.Unlock()
	}
	if !l.writeFast(out, false) {
		forget()
		return nil, true, fmt.Errorf("calling %s.%s on %s: %w", module, function, peer, netErr(*l.fastErr.Load()))
	}
	var body []byte
	select {
	case body = <-w.ch:
	case <-l.done:
		select {
		case body = <-w.ch: // it came before the link ended
		default:
			forget()
			return nil, true, fmt.Errorf("calling %s.%s on %s: %w", module, function, peer, netErr(l.err))
		}
	case <-ctx.Done():
		forget()
		l.writeFast(appendFastHeader(nil, fastCancel, id), false)
		return nil, true, ctxErr(ctx, peer)
	}
	v, err = Decode(body)
	if err != nil {
		l.close(fmt.Errorf("bad reply: %w", err))
		return nil, true, fmt.Errorf("reply from %s: %w", peer, err)
	}
	if re, ok := v.(*RemoteError); ok {
		return nil, true, re
	}
	return v, true, nil
}

// cancelFast stops the fast calls being served for the peer, when the link
// ends.
func (l *link) cancelFast() {
	l.mu.Lock()
	served := l.fastServed
	l.fastServed = nil
	l.mu.Unlock()
	for _, cancel := range served {
		cancel()
	}
}
