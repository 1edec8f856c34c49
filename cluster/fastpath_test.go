package cluster

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// Inline names the test functions that return at once, which a node serves
// on the goroutine that reads its link (see InlineHandler); the others (such
// as test.wait) run on goroutines of their own.
func (h nodeHandler) Inline(module, function string) bool {
	switch module + "." + function {
	case "test.double", "test.boom", "test.fail", "test.down", "test.echo", "test.lookup", "test.big",
		"erlang.node", "kvs.store", "kvs.lookup":
		return true
	}
	return false
}

// linkTo is a's link to b, which must be up.
func linkTo(t *testing.T, a, b *Node) *link {
	t.Helper()
	l := a.current(b.Name())
	if l == nil {
		t.Fatalf("%s has no link to %s", a.Name(), b.Name())
	}
	return l
}

// TestFastCallsUseNoStream: small calls, inline or not, errors included,
// and a reply larger than a fast frame's piece travel beside the link's
// streams: no stream is opened for them.
func TestFastCallsUseNoStream(t *testing.T) {
	c := newTestCluster(t)
	big := bytes.Repeat([]byte("ab"), 150<<10) // a 300 KiB reply, in pieces
	mods := testModules()
	mods["test"]["big"] = reflect.ValueOf(func() []byte { return big })
	cfg := c.config("b", "abc")
	cfg.Handler = nodeHandler{mods}
	b, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	a := c.start("a", "abc")
	ctx := context.Background()
	for i := range 50 {
		if v, err := a.Call(ctx, b.Name(), "test", "double", i); err != nil || v != 2*i {
			t.Fatalf("double(%d) = %#v, %v", i, v, err)
		}
	}
	if _, err := a.Call(ctx, b.Name(), "test", "boom", "x"); !errors.Is(err, ErrPanic) {
		t.Fatalf("boom: %v, want ErrPanic", err)
	}
	if _, err := a.Call(ctx, b.Name(), "test", "nope"); !errors.Is(err, ErrUnknownFunction) {
		t.Fatalf("nope: %v, want ErrUnknownFunction", err)
	}
	if v, err := a.Call(ctx, b.Name(), "test", "big"); err != nil || !bytes.Equal(v.([]byte), big) {
		t.Fatalf("big: %d bytes, %v", len(v.([]byte)), err)
	}
	// Not inline: served on a goroutine, stopped at the caller's deadline.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := a.Call(short, b.Name(), "test", "wait"); !errors.Is(err, ErrTimeout) {
		t.Fatalf("wait: %v, want ErrTimeout", err)
	}
	if n := linkTo(t, a, b).sess.NumStreams(); n != 0 {
		t.Fatalf("%d streams open after small calls, want 0", n)
	}
	// A large request still goes on a stream.
	arg := bytes.Repeat([]byte{1}, 100<<10)
	if v, err := a.Call(ctx, b.Name(), "test", "echo", arg); err != nil || !bytes.Equal(v.([]byte), arg) {
		t.Fatalf("echo of 100 KiB: %v", err)
	}
	if n := linkTo(t, a, b).sess.NumStreams(); n != 1 {
		t.Fatalf("%d streams open after a large call, want 1", n)
	}
}

// TestFastCallCancelledWhenCallerGoes: a served call that blocks is
// cancelled when its caller gives up, and short calls go on meanwhile.
func TestFastCallCancelledWhenCallerGoes(t *testing.T) {
	c := newTestCluster(t)
	a, b := c.start("a", "abc"), c.start("b", "abc")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := a.Call(ctx, b.Name(), "test", "wait")
		errc <- err
	}()
	waitRunning(t, b, 1)
	if v, err := a.Call(context.Background(), b.Name(), "test", "double", 4); err != nil || v != 8 {
		t.Fatalf("double(4) beside a blocked call = %#v, %v", v, err)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}
	select {
	case <-b.sv.done():
	case <-time.After(10 * time.Second):
		t.Fatalf("the served call still runs: %v", b.sv.running())
	}
}

// waitRunning waits until n serves k calls.
func waitRunning(t *testing.T, n *Node, k int) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for len(n.sv.running()) < k {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%d calls served, want %d", len(n.sv.running()), k)
		}
	}
}

// TestFastCallsPastMaxStreamsRefused: a peer that runs more calls than the
// node's MaxStreams at once has the extra ones refused with ErrTooLarge.
func TestFastCallsPastMaxStreamsRefused(t *testing.T) {
	c := newTestCluster(t)
	cfg := c.config("b", "abc")
	cfg.MaxStreams = 1
	b, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	a := c.start("a", "abc")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 { // MaxStreams, and one more for the signals' stream
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.Call(ctx, b.Name(), "test", "wait")
		}()
	}
	waitRunning(t, b, 2)
	_, err = a.Call(context.Background(), b.Name(), "test", "wait")
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a third call: %v, want ErrTooLarge", err)
	}
	cancel()
	wg.Wait()
	// Short calls are served inline and need no room.
	if v, err := a.Call(context.Background(), b.Name(), "test", "double", 1); err != nil || v != 2 {
		t.Fatalf("double(1) = %#v, %v", v, err)
	}
}

// TestFastCallsWithPeerWithout: a node with FastCalls and one without call
// each other on streams.
func TestFastCallsWithPeerWithout(t *testing.T) {
	c := newTestCluster(t)
	cfg := c.config("old", "abc")
	cfg.FastCalls = false
	old, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { old.Close() })
	a := c.start("a", "abc")
	ctx := context.Background()
	if v, err := a.Call(ctx, old.Name(), "test", "double", 2); err != nil || v != 4 {
		t.Fatalf("to old: %#v, %v", v, err)
	}
	if v, err := old.Call(ctx, a.Name(), "test", "double", 3); err != nil || v != 6 {
		t.Fatalf("from old: %#v, %v", v, err)
	}
	if linkTo(t, a, old).fast || linkTo(t, old, a).fast {
		t.Fatal("fast calls on a link where one node does not offer them")
	}
}

// fastFrame is a fast frame of typ for id with body.
func fastFrame(typ byte, id uint64, body []byte) []byte {
	b := appendFastHeader(nil, typ, id)
	b = append(b, body...)
	putFastLength(b, 0)
	return b
}

// encodedSignal is the encoding of a signal as an array [op, fields...].
func encodedSignal(t testing.TB, a []any) []byte {
	b, err := Encode(nil, a)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// manyPieces is k first pieces of k signals, none of them finished.
func manyPieces(k int) []byte {
	var b []byte
	for id := range k {
		b = append(b, fastFrame(fastSignalPart, uint64(id+1), []byte{0x83})...)
	}
	return b
}

// TestFastFrameBad: a fast frame the node cannot take ends the link with a
// reason that says what was wrong, and the node keeps serving.
func TestFastFrameBad(t *testing.T) {
	c := newTestCluster(t)
	n := c.start("n", "abc")
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"over the size", binary.BigEndian.AppendUint32(appendFastHeader(nil, fastRequest, 1)[:10], fastChunk+1), ErrTooLarge},
		{"unknown type", fastFrame(9, 1, nil), ErrProtocol},
		{"bad request", fastFrame(fastRequest, 1, []byte{0xff}), ErrProtocol},
		{"cancel with a body", fastFrame(fastCancel, 1, []byte{1}), ErrProtocol},
		{"bad signal", fastFrame(fastSignal, 0, []byte{0xff}), ErrProtocol},
		{"signal of unknown shape", fastFrame(fastSignal, 0, encodedSignal(t, []any{99, 1})), ErrProtocol},
		{"piece of a signal without an id", fastFrame(fastSignalPart, 0, []byte{0x83}), ErrProtocol},
		{"too many signals in pieces", manyPieces(maxSignalPieces + 1), ErrProtocol},
	} {
		l := feedFast(t, n, tc.data, true)
		if !errors.Is(l.err, tc.want) {
			t.Errorf("%s: the link ended with %v, want %v", tc.name, l.err, tc.want)
		}
	}
	other := c.start("other", "abc")
	if v, err := other.Call(context.Background(), n.Name(), "test", "double", 5); err != nil || v != 10 {
		t.Fatalf("after bad frames: %#v, %v", v, err)
	}
}

// feedFast makes a link with fast calls to n over a pipe, writes data on it
// and returns the link once it ended; close closes the pipe after data.
func feedFast(t testing.TB, n *Node, data []byte, closeAfter bool) *link {
	c1, c2 := net.Pipe()
	l, err := n.addLink(c1, hello{name: fuzzPeer, flags: flagHidden | flagFastCalls}, false)
	if err != nil {
		t.Fatal(err)
	}
	read := make(chan struct{})
	go func() {
		io.Copy(io.Discard, c2)
		close(read)
	}()
	c2.Write(data)
	if closeAfter {
		c2.Close()
	}
	select {
	case <-l.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("the link did not end within 10 s")
	}
	c2.Close()
	<-read
	return l
}

// FuzzFastFrames feeds arbitrary bytes to a node's link with fast calls, as
// its peer's side of the connection: no input may panic or hang, and the
// link ends when the connection does.
func FuzzFastFrames(f *testing.F) {
	for _, seed := range [][]byte{
		nil,
		{fastMarker},
		fastFrame(fastRequest, 1, encoded(f, []any{"test", "double", []any{21}, 1000})),
		fastFrame(fastRequest, 2, encoded(f, []any{"test", "echo", []any{bytes.Repeat([]byte{1}, 1000)}, 0})),
		fastFrame(fastRequest, 3, encoded(f, []any{"$spawn", "spawn", []any{"test", "echo", []any{1}, nil}, 0})),
		fastFrame(fastRequest, 4, encoded(f, []any{"nope", "nope", nil, 0})),
		fastFrame(fastRequest, 5, encoded(f, []any{1, 2, 3})),
		append(fastFrame(fastRequest, 6, encoded(f, []any{"test", "wait", nil, 0})), fastFrame(fastCancel, 6, nil)...),
		fastFrame(fastReply, 7, encoded(f, 1)),
		fastFrame(fastReplyPart, 7, encoded(f, 1)),
		fastFrame(fastCancel, 8, nil),
		fastFrame(9, 1, nil),
		fastFrame(fastSignal, 0, encoded(f, []any{opSend, "sink", "hello"})),
		fastFrame(fastSignal, 0, encoded(f, []any{opLink, Pid{Node: fuzzPeer, ID: 1}, Pid{Node: "fuzz@host", ID: 2}})),
		append(fastFrame(fastSignalPart, 3, []byte{0x83, 0x01}), fastFrame(fastSignal, 3, encoded(f, "sink")[0:1])...),
		fastFrame(fastSignalPart, 0, []byte{0x83}),
		manyPieces(3),
		binary.BigEndian.AppendUint32(appendFastHeader(nil, fastRequest, 1)[:10], 0xFFFFFFFF),
		append(fastFrame(fastRequest, 1, encoded(f, []any{"test", "double", []any{1}, 0})), 0, 0, 0, 0),
	} {
		f.Add(seed)
	}
	c := newTestCluster(f)
	cfg := c.config("fuzz", "abc")
	cfg.Hidden = true
	cfg.Logf = func(string, ...any) {}
	n, err := Start(f.Context(), cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { n.Close() })
	f.Fuzz(func(t *testing.T, data []byte) {
		feedFast(t, n, data, true)
	})
}

// TestFastReaderNeverWaitsOnPeer: a peer that sends calls and reads none of
// the replies does not stop the node reading its link (were two nodes to
// wait so on each other, neither would read again): a bad frame after
// megabytes of unread replies still ends the link.
func TestFastReaderNeverWaitsOnPeer(t *testing.T) {
	c := newTestCluster(t)
	n := c.start("n", "abc")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	l, err := n.addLink(conn, hello{name: fuzzPeer, flags: flagHidden | flagFastCalls}, false)
	if err != nil {
		t.Fatal(err)
	}
	arg := bytes.Repeat([]byte{7}, 60<<10)
	var data []byte
	for id := range uint64(300) { // 18 MB of replies
		data = append(data, fastFrame(fastRequest, id+1, encoded(t, []any{"test", "echo", []any{arg}, 0}))...)
	}
	data = append(data, fastFrame(9, 1, nil)...)
	go peer.Write(data)
	select {
	case <-l.done:
	case <-time.After(20 * time.Second):
		t.Fatal("the node stopped reading a link whose peer reads nothing")
	}
	if !errors.Is(l.err, ErrProtocol) {
		t.Fatalf("the link ended with %v, want ErrProtocol", l.err)
	}
}

// TestSendOverEitherLink: messages to a Pid and to a registered name, a
// small one, one sent in pieces and one over the peer's frame limit, go
// over a link with fast frames as over one without: in order, the one too
// large refused with ErrTooLarge, and the link up after it.
func TestSendOverEitherLink(t *testing.T) {
	c := newTestCluster(t)
	for _, fast := range []bool{true, false} {
		t.Run(fmt.Sprintf("fast=%v", fast), func(t *testing.T) {
			acfg := c.config(fmt.Sprintf("sa%v", fast), "abc")
			acfg.MaxFrameSize = 1 << 20
			a, err := Start(context.Background(), acfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { a.Close() })
			bcfg := c.config(fmt.Sprintf("sb%v", fast), "abc")
			bcfg.FastCalls = fast
			b, err := Start(context.Background(), bcfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			me := a.NewProcess()
			defer me.Exit(Normal)
			fwd := b.Spawn(func(p *Process) {
				for {
					m, _, err := p.Receive(context.Background(), nil, -1)
					if err != nil {
						return
					}
					b.Send(me.Pid(), m)
				}
			}, nil)
			if err := b.Register("fwd", fwd.Pid()); err != nil {
				t.Fatal(err)
			}
			big := strings.Repeat("x", 3*fastChunk)
			sends := []struct {
				to  any
				msg any
			}{
				{fwd.Pid(), []any{Atom("one"), 1}},
				{Name{Name: "fwd", Node: b.Name()}, Atom("two")},
				{fwd.Pid(), big},
				{fwd.Pid(), []any{Atom("four"), me.Pid()}},
			}
			for _, s := range sends {
				if err := a.Send(s.to, s.msg); err != nil {
					t.Fatalf("send %.20v to %v: %v", s.msg, s.to, err)
				}
			}
			if got := linkTo(t, a, b).fast; got != fast {
				t.Fatalf("the link is fast: %v, want %v", got, fast)
			}
			for _, s := range sends {
				if m := recv(t, me); !reflect.DeepEqual(m, s.msg) {
					t.Fatalf("got %.40v, want %.40v", m, s.msg)
				}
			}
			if err := a.Send(fwd.Pid(), strings.Repeat("y", 2<<20)); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("a message over the frame limit: %v, want ErrTooLarge", err)
			}
			a.Send(fwd.Pid(), Atom("after"))
			if m := recv(t, me); m != Atom("after") {
				t.Fatalf("after the message too large: %v", m)
			}
		})
	}
}
