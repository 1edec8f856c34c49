package cluster

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"net"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"gsh/cluster/frame"

	"github.com/hashicorp/yamux"
)

// framed is payload as one frame.
func framed(payload []byte) []byte { return frame.Append(nil, payload) }

// header is a frame header declaring size bytes, with nothing after it.
func header(size uint32) []byte { return binary.BigEndian.AppendUint32(nil, size) }

func encoded(t testing.TB, v any) []byte {
	b, err := Encode(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// allocatedBytes is how many bytes this process has allocated on the heap
// so far (runtime/metrics: cheaper than ReadMemStats, no stop of the world).
func allocatedBytes() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// readAllFrames runs readFrame over data until it fails, as a stream server
// does, and returns the error that stopped it.
func readAllFrames(data []byte, limit int) error {
	br := bufio.NewReaderSize(bytes.NewReader(data), 4096)
	var buf []byte
	for {
		f, err := readFrame(br, limit, buf)
		if err != nil {
			return err
		}
		if len(f) > limit {
			panic("a frame over the limit")
		}
		if cap(f) <= 64<<10 {
			buf = f
		}
	}
}

// fuzzNode is a real node, started once per fuzz run, whose call and signal
// stream servers take the fuzzer's bytes over real yamux sessions.
type fuzzNode struct {
	n *Node
}

var fuzzPeer = Atom("fuzzpeer@" + ShortHostname())

func newFuzzNode(f *testing.F) *fuzzNode {
	c := newTestCluster(f)
	cfg := c.config("fuzz", "abc")
	// Hidden: a signal naming other nodes does not make it dial them.
	cfg.Hidden = true
	cfg.Handler = Modules{"test": {
		"echo":   testModules()["test"]["echo"],
		"double": testModules()["test"]["double"],
	}}
	cfg.Logf = func(string, ...any) {}
	n, err := Start(f.Context(), cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { n.Close() })
	return &fuzzNode{n: n}
}

// feed opens a stream of kind on a fresh link to the node, writes data on it
// and reads what comes back until the node closes the stream or drops the
// link.
func (fx *fuzzNode) feed(t *testing.T, kind byte, data []byte) {
	c1, c2 := net.Pipe()
	l, err := fx.n.addLink(c1, hello{name: fuzzPeer, flags: flagHidden}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer l.close(errors.New("fuzz input done"))
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = io.Discard
	cfg.EnableKeepAlive = false
	// No timer keeping a half-closed stream (and its session) for five
	// minutes when the node drops the link before it answers the close.
	cfg.StreamCloseTimeout = 0
	sess, err := yamux.Client(c2, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	// Streams the node opens back (signals to the peer) are read and
	// dropped.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			s, err := sess.AcceptStream()
			if err != nil {
				return
			}
			go io.Copy(io.Discard, s)
		}
	}()
	defer wg.Wait()
	defer sess.Close()
	s, err := sess.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.Write(append([]byte{kind}, data...))
		s.Close()
	}()
	done := make(chan struct{})
	go func() {
		io.Copy(io.Discard, s)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("stream of kind %q: the node neither answered nor closed it within 10 s", kind)
	}
}

// FuzzFrameReader feeds arbitrary bytes to readFrame, and to a node's call
// and signal stream servers over a real yamux session: no input may panic,
// hang, or make the reader allocate much more than the input's size (a huge
// declared length must not be allocated up front). Seeds are in
// testdata/fuzz/FuzzFrameReader.
func FuzzFrameReader(f *testing.F) {
	me := Pid{Node: fuzzPeer, ID: 1, Creation: 1}
	there := Pid{Node: Atom("fuzz@" + ShortHostname()), ID: 1}
	for _, seed := range [][]byte{
		nil,
		{0},
		header(0),
		header(64 << 20),
		header(0xFFFFFFFF),
		append(header(1000), 1, 2, 3),
		framed(encoded(f, []any{"test", "double", []any{21}, 1000})),
		framed(encoded(f, []any{"test", "echo", []any{[]any{1, "a", map[any]any{"k": 2.5}}}, 0})),
		framed(encoded(f, []any{"$spawn", "spawn", []any{"test", "echo", []any{1}, nil}, 0})),
		framed(encoded(f, []any{"$global", "claim", []any{"name", me}, 0})),
		framed(encoded(f, []any{"nope", "nope", nil, 0})),
		framed(encoded(f, []any{1, 2, 3})),
		framed(encoded(f, []any{opSend, there, "hello"})),
		framed(encoded(f, []any{opSend, "registered", []any{1, 2}})),
		framed(encoded(f, []any{opLink, me, there})),
		framed(encoded(f, []any{opMonitor, me, there, 7})),
		framed(encoded(f, []any{opExit, me, there, Atom("kill")})),
		framed(encoded(f, []any{opDown, there, 3, me, "why"})),
		framed(encoded(f, []any{opNodes, []any{Atom("x@nowhere")}})),
		framed(encoded(f, []any{opCast, "test", "double", []any{1}})),
		framed(encoded(f, []any{opCast, "test", "double", []any{2}})),
		framed(encoded(f, []any{opCast, "test", "echo", []any{bytes.Repeat([]byte{1}, 70<<10)}})),
		framed(encoded(f, []any{99})),
		append(framed(encoded(f, []any{opSend, there, 1})), 0xff, 0xff),
		framed([]byte{0x9f, 0x9f, 0x9f, 0x9f}),
		framed([]byte{0xbf, 0x61, 0x61}),
	} {
		f.Add(seed)
	}
	fx := newFuzzNode(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, limit := range []int{1024, 64 << 20} {
			// The counter is the process's: the least of three runs leaves
			// out what other goroutines allocated meanwhile.
			spent := uint64(math.MaxUint64)
			for range 3 {
				before := allocatedBytes()
				readAllFrames(data, limit)
				spent = min(spent, allocatedBytes()-before)
			}
			if bound := uint64(4*len(data) + 2*smallBuf + 1<<20); spent > bound {
				t.Fatalf("readFrame allocated %d bytes for %d bytes of input (limit %d)", spent, len(data), limit)
			}
		}
		fx.feed(t, streamCall, data)
		fx.feed(t, streamSignal, data)
		if len(data) > 0 {
			fx.feed(t, data[0], data[1:]) // any stream kind
		}
		runtime.Gosched()
	})
}
