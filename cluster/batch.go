package cluster

// maxKeptBatch is the largest buffer a batch keeps for reuse once written;
// a larger one is left to the garbage collector.
const maxKeptBatch = 1 << 20

// batch is the pair of buffers behind a writer that many goroutines feed
// and one flusher drains: writers append to buf while the flusher writes
// the other. Its owner guards it with a mutex; the flusher calls take under
// it, writes what take gave without it, and calls done under it again.
//
// The buffer being written is never the spare: take hands the spare over to
// the writers and clears it, and done keeps the written buffer only when it
// is small enough. Keeping the old spare after a large write would make the
// next take hand out, as both the bytes to write and the buffer to append
// to, the same memory, and writers would overwrite frames still going out.
type batch struct {
	buf   []byte // what writers append to
	spare []byte // an empty buffer for the next take, or nil
}

// take returns what writers queued and gives them the spare (or a new
// buffer) to append to from now on.
func (b *batch) take() []byte {
	out := b.buf
	b.buf, b.spare = b.spare[:0], nil
	return out
}

// done gives back a buffer that take returned, once it is written.
func (b *batch) done(written []byte) {
	if cap(written) <= maxKeptBatch {
		b.spare = written[:0]
	}
}
