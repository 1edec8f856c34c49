// Package frame is the length-prefixed frame format every gsh stream uses:
// a frame is a 4-byte big-endian length, then that many bytes of body. Call
// and signal streams between nodes, the services' connections and, with
// the same layout, Erlang's distribution connections all carry frames.
//
// [Read] reads one frame within a size limit, without allocating a
// frame's declared length before its bytes have come. [Begin] and [End]
// write one in place: reserve the prefix, append the body (an encoder
// appends straight into the buffer), then fill the prefix in; [Append]
// does all three for a body already at hand.
package frame

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// ErrTooLarge: a frame or value is over the configured size limit. It is
// the same variable as cluster.ErrTooLarge.
var ErrTooLarge = errors.New("too large")

// headerSize is the size of a frame's length prefix.
const headerSize = 4

// chunk is how much of a frame Read allocates before any of it has arrived.
const chunk = 64 << 10

// Begin appends a frame's length prefix, zero for now, to dst and returns
// the buffer and where the frame starts in it. Append the body to the
// buffer, then call End with start.
func Begin(dst []byte) (b []byte, start int) {
	return append(dst, 0, 0, 0, 0), len(dst)
}

// End fills in the length prefix of the frame that starts at b[start:]
// (see Begin): everything after the prefix is its body. It returns the
// body's size, for the caller to check against its limit.
func End(b []byte, start int) int {
	size := len(b) - start - headerSize
	binary.BigEndian.PutUint32(b[start:], uint32(size))
	return size
}

// Append appends body to dst as one frame.
func Append(dst, body []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(body)))
	return append(dst, body...)
}

// Read reads one frame and returns its body, of at most limit bytes (a
// larger one is ErrTooLarge), reusing buf when it is large enough. A frame
// larger than buf is read into a buffer that grows (doubling) as its bytes
// arrive, so that a peer cannot make the reader allocate a frame's
// declared length, up to limit, by sending only its 4-byte prefix: the
// buffer is at most twice what was received, or 64 KiB, and the buffers it
// went through together at most as much again.
//
// At the end of the input, Read returns io.EOF when no byte of a frame
// came, and io.ErrUnexpectedEOF when a frame was cut short.
func Read(br *bufio.Reader, limit int, buf []byte) ([]byte, error) {
	var h [headerSize]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return nil, err
	}
	size := int(binary.BigEndian.Uint32(h[:]))
	if size > limit {
		return nil, fmt.Errorf("frame of %d bytes over the limit of %d: %w", size, limit, ErrTooLarge)
	}
	if cap(buf) < size {
		buf = make([]byte, 0, min(size, max(chunk, cap(buf))))
	}
	buf = buf[:0]
	for len(buf) < size {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(size-len(buf), len(buf)))
		}
		k := min(size, cap(buf))
		n, err := io.ReadFull(br, buf[len(buf):k])
		buf = buf[:len(buf)+n]
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return buf, nil
}
