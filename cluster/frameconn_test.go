package cluster

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"
)

// TestFastFramesPassYamuxBacklog: a fast frame written while the
// connection is busy with a backlog of yamux's frames goes out at the next
// frame boundary after about bulkChunk bytes, not behind the whole backlog,
// and every frame on the wire is whole.
func TestFastFramesPassYamuxBacklog(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := newFrameConn(a)
	const frames, size = 16, 48 << 10
	// yamux writes a data frame as its header, then its body.
	for i := range frames {
		h := make([]byte, yamuxHeaderSize)
		h[1] = yamuxTypeData
		binary.BigEndian.PutUint32(h[4:], 1)
		binary.BigEndian.PutUint32(h[8:], size)
		if _, err := c.Write(h); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(bytes.Repeat([]byte{byte(i)}, size)); err != nil {
			t.Fatal(err)
		}
	}
	// The flusher is writing the first chunk: net.Pipe holds the write
	// until it is read.
	br := newByteReader(b)
	first := br.next(t, 1)
	fast := appendFastHeader(nil, fastCancel, 7)
	putFastLength(fast, 0)
	done := make(chan error, 1)
	go func() { done <- c.writeNow(fast, writeWait) }()
	if err := <-done; err != nil { // queued: a flusher is writing
		t.Fatal(err)
	}
	rest := br.next(t, frames*(yamuxHeaderSize+size)+len(fast)-1)
	wire := append(first, rest...)
	seen, fastAt := 0, -1
	for off := 0; off < len(wire); {
		if wire[off] == fastMarker {
			if !bytes.Equal(wire[off:off+len(fast)], fast) {
				t.Fatalf("the fast frame at %d is not whole", off)
			}
			fastAt = seen
			off += len(fast)
			continue
		}
		n := int(binary.BigEndian.Uint32(wire[off+8:]))
		body := wire[off+yamuxHeaderSize : off+yamuxHeaderSize+n]
		if n != size || !bytes.Equal(body, bytes.Repeat([]byte{byte(seen)}, size)) {
			t.Fatalf("yamux frame %d at %d is not whole", seen, off)
		}
		seen++
		off += yamuxHeaderSize + n
	}
	if seen != frames || fastAt < 0 {
		t.Fatalf("%d yamux frames and the fast frame after %d, want %d and the fast frame", seen, fastAt, frames)
	}
	// Each write of yamux's frames ends at the first frame end at or past
	// bulkChunk bytes: two frames of 48 KiB.
	if want := (bulkChunk + size - 1) / size; fastAt > want {
		t.Fatalf("the fast frame went after %d of the %d yamux frames queued before it, want at most %d", fastAt, frames, want)
	}
}

// byteReader reads exact amounts from a connection.
type byteReader struct{ r io.Reader }

func newByteReader(r io.Reader) *byteReader { return &byteReader{r} }

func (b *byteReader) next(t *testing.T, n int) []byte {
	t.Helper()
	p := make([]byte, n)
	if _, err := io.ReadFull(b.r, p); err != nil {
		t.Fatal(err)
	}
	return p
}
