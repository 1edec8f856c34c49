package frame

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"runtime/metrics"
	"testing"
)

// prefix is a frame's length prefix declaring size bytes, with nothing
// after it.
func prefix(size uint32) []byte { return binary.BigEndian.AppendUint32(nil, size) }

// allocatedBytes is how many bytes this process has allocated on the heap
// so far (runtime/metrics: no stop of the world).
func allocatedBytes() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// readAll reads frames from data until Read fails, reusing small buffers
// as a stream server does, and returns the error that stopped it.
func readAll(data []byte, limit int) error {
	br := bufio.NewReaderSize(bytes.NewReader(data), 4096)
	var buf []byte
	for {
		f, err := Read(br, limit, buf)
		if err != nil {
			return err
		}
		if len(f) > limit {
			panic("a frame over the limit")
		}
		if cap(f) <= chunk {
			buf = f
		}
	}
}

func TestBeginEnd(t *testing.T) {
	b, start := Begin([]byte("xy"))
	if start != 2 {
		t.Fatalf("start %d, want 2", start)
	}
	b = append(b, "body"...)
	if size := End(b, start); size != 4 {
		t.Fatalf("size %d, want 4", size)
	}
	want := append([]byte("xy"), Append(nil, []byte("body"))...)
	if !bytes.Equal(b, want) {
		t.Fatalf("% x, want % x", b, want)
	}
	if got := Append(nil, nil); !bytes.Equal(got, []byte{0, 0, 0, 0}) {
		t.Fatalf("empty frame % x", got)
	}
}

// TestReadBoundedAllocation: a prefix that declares a large frame costs
// memory only as the frame's bytes arrive.
func TestReadBoundedAllocation(t *testing.T) {
	const limit = 64 << 20
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"64 MiB declared, 100 bytes sent", append(prefix(limit), make([]byte, 100)...), io.ErrUnexpectedEOF},
		{"64 MiB declared, nothing sent", prefix(limit), io.ErrUnexpectedEOF},
		{"over the limit", prefix(limit + 1), ErrTooLarge},
		{"4 GiB declared", prefix(0xFFFFFFFF), ErrTooLarge},
		{"1 MiB declared, 300 KiB sent", append(prefix(1<<20), make([]byte, 300<<10)...), io.ErrUnexpectedEOF},
		{"a prefix cut short", []byte{0, 0}, io.ErrUnexpectedEOF},
		{"nothing", nil, io.EOF},
	} {
		before := allocatedBytes()
		err := readAll(tc.data, limit)
		spent := allocatedBytes() - before
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if bound := uint64(4*len(tc.data) + 2*chunk + 64<<10); spent > bound {
			t.Errorf("%s: %d bytes allocated for %d bytes of input (bound %d)", tc.name, spent, len(tc.data), bound)
		}
	}
	// Frames that do arrive whole are read whole, at any size.
	big := bytes.Repeat([]byte{7}, 3<<20+5)
	br := bufio.NewReader(bytes.NewReader(Append(Append(nil, big), []byte("x"))))
	f, err := Read(br, limit, nil)
	if err != nil || !bytes.Equal(f, big) {
		t.Fatalf("big frame: %d bytes, %v", len(f), err)
	}
	f, err = Read(br, limit, f[:0])
	if err != nil || string(f) != "x" {
		t.Fatalf("small frame after: %q, %v", f, err)
	}
	if _, err := Read(br, limit, nil); err != io.EOF {
		t.Fatalf("at the end: %v", err)
	}
}

// FuzzRead feeds arbitrary bytes to Read: no input may panic, return a
// frame over the limit, or make Read allocate much more than the input's
// size. Every frame read is written back with Append, byte for byte.
func FuzzRead(f *testing.F) {
	for _, seed := range [][]byte{
		nil,
		{0},
		prefix(0),
		prefix(64 << 20),
		prefix(0xFFFFFFFF),
		append(prefix(1000), 1, 2, 3),
		Append(Append(nil, []byte("hello")), nil),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, limit := range []int{16, 1024, 64 << 20} {
			spent := uint64(math.MaxUint64)
			for range 3 {
				before := allocatedBytes()
				readAll(data, limit)
				spent = min(spent, allocatedBytes()-before)
			}
			if bound := uint64(4*len(data) + 2*chunk + 1<<20); spent > bound {
				t.Fatalf("Read allocated %d bytes for %d bytes of input (limit %d)", spent, len(data), limit)
			}
		}
		br := bufio.NewReader(bytes.NewReader(data))
		var again []byte
		for {
			body, err := Read(br, len(data), nil)
			if err != nil {
				break
			}
			again = Append(again, body)
		}
		if !bytes.HasPrefix(data, again) {
			t.Fatalf("frames written back % x are not where they came from, % x", again, data)
		}
	})
}
