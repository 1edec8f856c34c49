package cluster

import (
	"fmt"
	"sync"
)

// Signals (messages, links, monitors, exits, casts; see signal.go) between
// two gsh nodes with fast frames travel as fast frames too, rather than on
// a yamux stream: the sending goroutine writes its frame on the connection
// itself (or, while another write is under way, leaves it for that writer
// to send in the same system call), and the goroutine that reads the link
// applies it on the spot. A message to a process thus reaches the
// process's mailbox with no goroutine in between.
//
// Signals keep their order because every one goes through the one
// connection writer (frameConn) in the order sent. A signal larger than
// fastChunk goes in pieces: fastSignalPart frames carrying one id, then the
// last piece as fastSignal with that id; other frames may come between the
// pieces (so a 1 MiB message does not hold up small calls), and the peer
// applies the signal when its last piece is in, so a process's later
// signals, sent after its large one was written, come after it.
const (
	fastSignal     = 5 // a whole signal (id 0), or the last piece of signal id
	fastSignalPart = 6 // a piece of signal id, more follows

	// maxSignalPieces bounds the signals a peer may have half sent at once;
	// each comes from a sending goroutine of its own.
	maxSignalPieces = 1024
)

// sendSignal sends one signal to the peer, in order after the signals sent
// before it: as fast frames on a link with them, otherwise on the link's
// signal stream.
func (l *link) sendSignal(v signal) error {
	l.usedSignals()
	if !l.fast {
		return l.signals().write(v)
	}
	// Messages and casts a process sends wait while the connection has
	// more than maxQueuedWrite bytes queued (Erlang's busy distribution
	// port); the signals the system sends (exits, monitors' downs, answers
	// to a sync) never wait, as they may be sent by the goroutine that
	// reads the link, which must not wait on the peer.
	wait := false
	switch m := v.(type) {
	case sendSignal:
		wait = true
	case castSignal:
		wait = m.Module != globalModule
	}
	bp := signalBufs.Get().(*[]byte)
	out, err := appendSignal(appendFastHeader((*bp)[:0], fastSignal, 0), v)
	if err == nil {
		err = l.writeSignalFrames(out, wait)
	}
	putSignalBuf(bp, out)
	return err
}

// sendMessage is sendSignal(sendSignal{To: to, Msg: msg}) on a link with
// fast frames, without boxing the signal on the way.
func (l *link) sendMessage(to, msg any) error {
	l.usedSignals()
	bp := signalBufs.Get().(*[]byte)
	out, err := sendSignal{To: to, Msg: msg}.appendTo(appendFastHeader((*bp)[:0], fastSignal, 0))
	if err == nil {
		err = l.writeSignalFrames(out, true)
	}
	putSignalBuf(bp, out)
	return err
}

// usedSignals records that a signal was sent on the link (see drain),
// writing to the shared flag only the first time.
func (l *link) usedSignals() {
	if !l.sigUsed.Load() {
		l.sigUsed.Store(true)
	}
}

// signalBufs holds buffers to encode signals in: writeNow has copied or
// written what it was given by the time it returns.
var signalBufs = sync.Pool{New: func() any {
	b := make([]byte, 0, 256)
	return &b
}}

// putSignalBuf gives bp back to signalBufs, holding buf (what it became)
// unless that grew large.
func putSignalBuf(bp *[]byte, buf []byte) {
	if cap(buf) <= smallBuf {
		*bp = buf[:0]
		signalBufs.Put(bp)
	}
}

// writeSignalFrames writes out, a fast signal frame with a zero length
// (see appendFastHeader), as one frame or, when it is large, in pieces.
func (l *link) writeSignalFrames(out []byte, wait bool) error {
	size := len(out) - fastHeader
	if size > l.n.cfg.MaxFrameSize {
		return fmt.Errorf("a message of %d bytes: %w", size, ErrTooLarge)
	}
	if size <= fastChunk {
		putFastLength(out, 0)
		return l.writeSignal(out, wait)
	}
	return writePieces(out[fastHeader:], fastSignalPart, fastSignal, l.fastSigID.Add(1), func(piece []byte) error {
		return l.writeSignal(piece, wait)
	})
}

// writeSignal writes the frames of a signal (see frameConn.writeNow).
func (l *link) writeSignal(b []byte, wait bool) error {
	mode := writeNever
	if wait {
		mode = writeBatch
	}
	if err := l.fc.writeNow(b, mode); err != nil {
		return fmt.Errorf("sending to %s: %w", l.peer, netErr(l.writeFailed(err)))
	}
	return nil
}

// signalIn takes a fast signal frame, or a piece of one, and applies the
// signal once it is whole. An error ends the link.
func (r *fastReader) signalIn(id uint64, body []byte, last bool) error {
	l := r.l
	if id == 0 {
		if !last {
			return l.protocolError(fmt.Errorf("a piece of a signal without an id: %w", ErrProtocol))
		}
		if err := l.applySignal(&r.sigs, body); err != nil {
			return l.protocolError(fmt.Errorf("bad signal: %w", err))
		}
		return nil
	}
	part, ok := r.pieces[id]
	if !ok && len(r.pieces) >= maxSignalPieces {
		return l.protocolError(fmt.Errorf("more than %d signals sent in pieces at once: %w", maxSignalPieces, ErrProtocol))
	}
	if len(part)+len(body) > l.n.cfg.MaxFrameSize {
		return l.protocolError(fmt.Errorf("a signal of more than %d bytes: %w", l.n.cfg.MaxFrameSize, ErrTooLarge))
	}
	part = append(part, body...)
	if !last {
		if r.pieces == nil {
			r.pieces = map[uint64][]byte{}
		}
		r.pieces[id] = part
		return nil
	}
	delete(r.pieces, id)
	if err := l.applySignal(&r.sigs, part); err != nil {
		return l.protocolError(fmt.Errorf("bad signal: %w", err))
	}
	return nil
}
