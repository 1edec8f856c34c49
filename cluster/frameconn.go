package cluster

import (
	"encoding/binary"
	"net"
	"sync"
	"syscall"
	"time"
)

// frameConn is the connection under a link's yamux session. yamux writes
// each frame as two writes, its 12-byte header and then its body, from one
// goroutine (its send loop), and waits for each. frameConn joins a data
// frame's header to its body, and queues what yamux writes for a flusher
// goroutine, so that yamux's send loop never waits on the network. gsh's
// own frames (fast calls, replies, signals; see writeNow) are written by
// the goroutine that sends them when the connection is idle, and otherwise
// queued apart, ahead of yamux's: the flusher writes what gathered in few
// system calls (frames that 32 callers produce at once go out together),
// and yamux's frames in writes of about bulkChunk bytes with gsh's between
// them.
type frameConn struct {
	net.Conn
	held []byte      // a data frame's header, waiting for its body
	rd   *fastReader // what yamux reads through, on a link with fast calls

	rawConn   syscall.RawConn // a TCP connection's, for writes that never wait (see writeSome)
	lastWrite time.Time       // when the last write to the connection ended
	some      someWriter

	mu       sync.Mutex
	cond     sync.Cond // signalled when the flusher takes a queue
	queue    batch     // yamux's frames, whole
	ends     []int     // where each frame in queue ends
	spareEnd []int
	prio     batch // gsh's own frames (fast frames), which pass yamux's
	flushing bool
	err      error
}

const (
	yamuxHeaderSize = 12
	yamuxTypeData   = 0
	// maxQueuedWrite bounds the bytes waiting for the flusher; yamux's send
	// loop waits while it is over.
	maxQueuedWrite = 4 << 20
)

func newFrameConn(conn net.Conn) *frameConn {
	c := &frameConn{Conn: conn}
	c.cond.L = &c.mu
	if tcp, ok := conn.(*net.TCPConn); ok {
		c.rawConn, _ = tcp.SyscallConn()
	}
	return c
}

func (c *frameConn) Write(p []byte) (int, error) {
	if len(c.held) == 0 && len(p) == yamuxHeaderSize && p[1] == yamuxTypeData && binary.BigEndian.Uint32(p[8:12]) > 0 {
		c.held = append(c.held, p...)
		return len(p), nil // the body comes in the next write
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.err == nil && len(c.queue.buf) > maxQueuedWrite {
		c.cond.Wait()
	}
	if c.err != nil {
		return 0, c.err
	}
	c.queue.buf = append(c.queue.buf, c.held...)
	c.queue.buf = append(c.queue.buf, p...)
	c.ends = append(c.ends, len(c.queue.buf))
	c.held = c.held[:0]
	if !c.flushing {
		c.flushing = true
		go c.flush()
	}
	return len(p), nil
}

func (c *frameConn) Read(p []byte) (int, error) {
	if c.rd != nil {
		return c.rd.Read(p)
	}
	return c.Conn.Read(p)
}

// A writeMode says how writeNow may go about a write.
type writeMode int

const (
	// writeWait: the writer may wait for room in the queue, and writes
	// itself when no other write is under way (a call: its caller waits
	// for the reply anyway).
	writeWait writeMode = iota
	// writeNever: the writer never waits on the peer (see writeNow).
	writeNever
	// writeBatch: as writeWait, but a writer that comes within
	// batchWindow of the last write leaves its frames to the flusher, so
	// that a stream of one-way messages goes out in few system calls
	// while a message sent now and then goes out at once.
	writeBatch
)

// batchWindow is how soon after a write a writeBatch write is left to the
// flusher.
const batchWindow = 20 * time.Microsecond

// writeNow writes b (whole frames) from the calling goroutine when no
// flusher is writing, and then what others queued meanwhile; otherwise it
// queues b for the flusher. Either way no other goroutine has to run for b
// to go out when the connection is idle.
//
// A writeNever writer (the goroutine that reads the link, or one sending a
// signal of the system's) must not wait on the peer: were both nodes'
// readers waiting for the other to read, neither would. It queues without
// waiting for room, and writes itself only on a TCP connection, only what
// the socket takes at once: what is left then goes to the flusher.
func (c *frameConn) writeNow(b []byte, mode writeMode) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	reader := mode == writeNever
	for !reader && c.err == nil && len(c.prio.buf) > maxQueuedWrite {
		c.cond.Wait()
	}
	if c.err != nil {
		return c.err
	}
	raw := c.rawConn
	if c.flushing || reader && raw == nil || mode == writeBatch && time.Since(c.lastWrite) < batchWindow {
		c.prio.buf = append(c.prio.buf, b...)
		if !c.flushing {
			c.flushing = true
			go c.flush()
		}
		return nil
	}
	c.flushing = true
	c.mu.Unlock()
	var (
		n   int
		err error
	)
	if reader {
		n, err = c.writeSome(raw, b)
	} else {
		n, err = c.Conn.Write(b)
	}
	c.mu.Lock()
	c.lastWrite = time.Now()
	if reader && err == nil && n < len(b) {
		// The rest goes first, before what others queued meanwhile.
		c.prio.buf = append(append(make([]byte, 0, len(b)-n+len(c.prio.buf)), b[n:]...), c.prio.buf...)
		go c.flush()
		return nil
	}
	if err != nil {
		c.err = err
		c.Conn.Close()
	}
	c.flushLocked()
	return err
}

// writeSome writes as much of b as the socket takes now, without waiting
// for room and without a deadline: a write deadline would arm a timer on
// every write, and arming a timer wakes another thread of the runtime (its
// network poller), which costs a thread switch on every reply.
func (c *frameConn) writeSome(raw syscall.RawConn, b []byte) (n int, err error) {
	w := &c.some // one writer at a time: the one that set flushing
	if w.fn == nil {
		w.fn = w.write // made once: a closure per write would be allocated
	}
	w.b, w.n, w.err = b, 0, nil
	cerr := raw.Write(w.fn)
	n, err = w.n, w.err
	w.b = nil
	if err == nil {
		err = cerr
	}
	return n, err
}

// someWriter is writeSome's callback and its state.
type someWriter struct {
	b   []byte
	n   int
	err error
	fn  func(fd uintptr) bool
}

func (w *someWriter) write(fd uintptr) bool {
	for w.n < len(w.b) {
		k, e := syscall.Write(int(fd), w.b[w.n:])
		if k > 0 {
			w.n += k
		}
		switch e {
		case nil, syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return true // the rest waits for the flusher
		default:
			w.err = e
			return true
		}
	}
	return true
}

// flush writes the queue until it is empty.
func (c *frameConn) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flushLocked()
}

// flushLocked writes the queues until they are empty, with c.mu held (it
// lets go of it while writing), and ends the flushing. gsh's own frames go
// first; yamux's go in writes of about bulkChunk bytes, ending at a frame's
// end, with gsh's frames that came meanwhile between them, so that a small
// call waits behind at most one such write, not behind megabytes of a
// large value.
func (c *frameConn) flushLocked() {
	for c.err == nil {
		if len(c.prio.buf) > 0 {
			b := c.prio.take()
			c.writeLocked(b)
			c.prio.done(b)
			continue
		}
		if len(c.queue.buf) == 0 {
			break
		}
		b, ends := c.queue.take(), c.ends
		c.ends, c.spareEnd = c.spareEnd[:0], nil
		for off, i := 0, 0; off < len(b) && c.err == nil; {
			end := len(b)
			for ; i < len(ends); i++ {
				if ends[i]-off >= bulkChunk {
					end = ends[i]
					i++
					break
				}
			}
			c.writeLocked(b[off:end])
			off = end
			if len(c.prio.buf) > 0 && c.err == nil {
				p := c.prio.take()
				c.writeLocked(p)
				c.prio.done(p)
			}
		}
		c.queue.done(b)
		c.spareEnd = ends[:0]
	}
	c.flushing = false
	c.cond.Broadcast()
}

// bulkChunk is about how much of yamux's frames the flusher writes at once
// (see flushLocked).
const bulkChunk = 64 << 10

// writeLocked writes b with c.mu held, letting go of it while writing. A
// failed write closes the connection: the reader sees it too, and the link
// ends.
func (c *frameConn) writeLocked(b []byte) {
	c.cond.Broadcast()
	c.mu.Unlock()
	_, err := c.Conn.Write(b)
	c.mu.Lock()
	c.lastWrite = time.Now()
	if err != nil && c.err == nil {
		c.err = err
		c.Conn.Close()
	}
}

// drain waits until what was written so far has gone to the connection, or
// the connection failed.
func (c *frameConn) drain() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.err == nil && (c.flushing || len(c.queue.buf) > 0 || len(c.prio.buf) > 0) {
		c.cond.Wait()
	}
}
