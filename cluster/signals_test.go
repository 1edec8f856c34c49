package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// signalCases pairs each kind of signal with the wire value it stands for,
// [op, fields...], which is the signal stream's format.
func signalCases() []struct {
	s    signal
	wire []any
} {
	me := Pid{Node: "a@h", ID: 1, Creation: 3}
	you := Pid{Node: "b@h", ID: 70000, Creation: 4}
	return []struct {
		s    signal
		wire []any
	}{
		{sendSignal{To: you, Msg: []any{1, "x", me}}, []any{opSend, you, []any{1, "x", me}}},
		{sendSignal{To: "kvs", Msg: Atom("ok")}, []any{opSend, "kvs", Atom("ok")}},
		{linkSignal{From: me, To: you}, []any{opLink, me, you}},
		{unlinkSignal{From: me, To: you}, []any{opUnlink, me, you}},
		{exitSignal{From: me, To: you, Reason: Atom("kill")}, []any{opExit, me, you, Atom("kill")}},
		{monitorSignal{Watcher: me, Target: you, Ref: 7}, []any{opMonitor, me, you, 7}},
		{demonitorSignal{Target: you, Ref: 1 << 40}, []any{opDemonitor, you, 1 << 40}},
		{downSignal{Watcher: me, Ref: 3, Target: you, Reason: "why"}, []any{opDown, me, 3, you, "why"}},
		{nodesSignal{Nodes: []any{Atom("c@h"), Atom("d@h")}}, []any{opNodes, []any{Atom("c@h"), Atom("d@h")}}},
		{castSignal{Module: "kvs", Function: "store", Args: []any{"k", 2.5}}, []any{opCast, "kvs", "store", []any{"k", 2.5}}},
		{displacedSignal{Addr: "10.0.0.1:9100"}, []any{opDisplaced, "10.0.0.1:9100"}},
		{replacedSignal{Addr: "10.0.0.2:9100"}, []any{opReplaced, "10.0.0.2:9100"}},
		{syncSignal{ID: 12}, []any{opSync, 12}},
		{syncedSignal{ID: 12}, []any{opSynced, 12}},
	}
}

// Each signal's wire form is [op, fields...], and decodeSignal gives the
// signal back.
func TestSignalWireForm(t *testing.T) {
	for _, tc := range signalCases() {
		got, err := appendSignal([]byte("prefix"), tc.s)
		if err != nil {
			t.Fatalf("%#v: %v", tc.s, err)
		}
		want, err := Encode([]byte("prefix"), tc.wire)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%#v:\n got % x\nwant % x", tc.s, got, want)
		}
		v, err := Decode(got[len("prefix"):])
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeSignal(v)
		if err != nil || !reflect.DeepEqual(back, tc.s) {
			t.Errorf("%#v came back as %#v, %v", tc.s, back, err)
		}
	}
	// Args and node lists sent as null are empty.
	back, err := decodeSignal([]any{opCast, "m", "f", nil})
	if err != nil || !reflect.DeepEqual(back, castSignal{Module: "m", Function: "f"}) {
		t.Errorf("cast with null args: %#v, %v", back, err)
	}
}

// decodeSignal refuses a value of the wrong shape: every field of its
// type, none missing, none more.
func TestDecodeSignalRefuses(t *testing.T) {
	p := Pid{Node: "a@h", ID: 1}
	for _, v := range []any{
		nil,
		"hello",
		[]any{},
		[]any{opSend, 5, "x"},
		[]any{opSend, p},
		[]any{opSend, p, "x", "y"},
		[]any{opLink, p},
		[]any{opLink, p, "b@h"},
		[]any{opUnlink, p, p, p},
		[]any{opExit, p, p},
		[]any{opMonitor, p, p, -1},
		[]any{opMonitor, p, p, 1.5},
		[]any{opMonitor, p, p, uint64(1) << 63}, // decodes as uint64: no such ref
		[]any{opDemonitor, p},
		[]any{opDown, p, 1, p},
		[]any{opDown, 1, p, p, "why"},
		[]any{opNodes},
		[]any{opNodes, "a@h"},
		[]any{opCast, 1, "test"},
		[]any{opCast, "m", "f", "not a list"},
		[]any{opDisplaced, 5},
		[]any{opReplaced},
		[]any{opSync, "1"},
		[]any{opSynced, 1, 2},
	} {
		s, err := decodeSignal(v)
		if !errors.Is(err, errBadSignal) {
			t.Errorf("%#v: %#v, %v; want a malformed signal", v, s, err)
		}
	}
	for _, v := range []any{[]any{99, 1}, []any{0}, []any{"1", p, "x"}} {
		if _, err := decodeSignal(v); err == nil || errors.Is(err, errBadSignal) || !errors.Is(err, ErrProtocol) {
			t.Errorf("%#v: %v, want an unknown signal", v, err)
		}
	}
}

// A request's wire form is [module, function, args, timeout ms] and the
// caller's group leader when it has one; parseRequest reads it back.
func TestRequestWireForm(t *testing.T) {
	leader := Pid{Node: "a@h", ID: 9}
	for _, tc := range []struct {
		req  request
		wire []any
	}{
		{request{module: "kvs", function: "lookup", args: []any{"k"}, timeout: 1500 * time.Millisecond}, []any{"kvs", "lookup", []any{"k"}, 1500}},
		{request{module: "m", function: "f", args: []any{}, timeout: 2 * time.Second, leader: &leader}, []any{"m", "f", []any{}, 2000, leader}},
	} {
		got, err := tc.req.appendTo(nil)
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := Encode(nil, tc.wire); !bytes.Equal(got, want) {
			t.Errorf("%+v:\n got % x\nwant % x", tc.req, got, want)
		}
		v, _ := Decode(got)
		back, err := parseRequest(v)
		if err != nil || !reflect.DeepEqual(back, tc.req) {
			t.Errorf("%+v came back as %+v, %v", tc.req, back, err)
		}
	}
	for _, v := range []any{
		"hello",
		[]any{"m", "f", []any{}},
		[]any{"m", "f", "args", 0},
		[]any{"m", 1, []any{}, 0},
		[]any{"m", "f", []any{}, 0, "leader"},
		[]any{"m", "f", []any{}, 0, leader, 1},
	} {
		if r, err := parseRequest(v); !errors.Is(err, errBadRequest) {
			t.Errorf("%#v: %+v, %v; want a malformed request", v, r, err)
		}
	}
}

// FuzzSignal feeds arbitrary bytes as one signal frame's body: to
// decodeSignal, which may only refuse, never panic, and whose signals
// encode and decode back to the same bytes; and to a node's signal stream,
// over a real link, which applies them or drops the link.
func FuzzSignal(f *testing.F) {
	for _, tc := range signalCases() {
		f.Add(encoded(f, tc.wire))
	}
	there := Pid{Node: Atom("fuzz@" + ShortHostname()), ID: 1}
	me := Pid{Node: fuzzPeer, ID: 1, Creation: 1}
	f.Add(encoded(f, []any{opSend, there, "hello"}))
	f.Add(encoded(f, []any{opLink, me, there}))
	f.Add(encoded(f, []any{opCast, "test", "double", []any{1}}))
	f.Add(encoded(f, []any{opMonitor, me, there, 7}))
	f.Add(encoded(f, []any{opSend, there, []any{Atom("msg"), 42}}))
	f.Add(encoded(f, []any{opDown, me, 3, there, map[any]any{"k": 1.5}}))
	fx := newFuzzNode(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		checkSignalFrame(t, body, DefaultDecodeLimits)
		checkSignalFrame(t, body, tightLimits)
		if v, err := Decode(body); err == nil {
			if s, err := decodeSignal(v); err == nil {
				b1, err := appendSignal(nil, s)
				if err != nil {
					t.Fatalf("%#v decoded but does not encode: %v", s, err)
				}
				v, err := Decode(b1)
				if err != nil {
					t.Fatalf("%#v encodes to % x, which does not decode: %v", s, b1, err)
				}
				s2, err := decodeSignal(v)
				if err != nil {
					t.Fatalf("%#v encodes to % x, which is not a signal: %v", s, b1, err)
				}
				if b2, _ := appendSignal(nil, s2); !bytes.Equal(b1, b2) {
					t.Fatalf("%#v encodes as % x, then as % x", s, b1, b2)
				}
			}
		}
		fx.feed(t, streamSignal, framed(body))
	})
}

// panicky is an error whose Error method panics.
type panicky struct{}

func (panicky) Error() string { panic("no message") }

// A signal that cannot be encoded leaves the buffer as it was and says why.
func TestSignalUnsendable(t *testing.T) {
	for _, msg := range []any{make(chan int), panicky{}, "\xff"} {
		out, err := appendSignal([]byte("kept"), sendSignal{To: "inbox", Msg: msg})
		if !errors.Is(err, ErrBadArgs) || string(out) != "kept" {
			t.Errorf("%T: %q, %v; want the buffer kept and ErrBadArgs", msg, out, err)
		}
	}
}

// tightLimits are limits that small frames reach, for comparing how the
// two ways of decoding a signal apply them.
var tightLimits = DecodeLimits{MaxDepth: 2, MaxElements: 4, MaxBytes: 8, MaxMemory: 48}

// checkSignalFrame checks that decodeSignalFrame gives what Decode and
// decodeSignal give for body, signal or error, and that it read an
// accepted signal directly rather than through them.
func checkSignalFrame(t *testing.T, body []byte, lim DecodeLimits) {
	t.Helper()
	var want signal
	v, wantErr := DecodeWith(body, lim)
	if wantErr == nil {
		want, wantErr = decodeSignal(v)
	}
	got, err := decodeSignalFrame(body, lim)
	switch {
	case (err == nil) != (wantErr == nil):
		t.Fatalf("% x within %+v: decodeSignalFrame gives %#v, %v; Decode and decodeSignal %#v, %v", body, lim, got, err, want, wantErr)
	case err != nil:
		if err.Error() != wantErr.Error() || errors.Is(err, ErrTooLarge) != errors.Is(wantErr, ErrTooLarge) || !errors.Is(err, ErrProtocol) && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("% x within %+v: decodeSignalFrame fails with %v, Decode and decodeSignal with %v", body, lim, err, wantErr)
		}
		return
	}
	if !sameSignal(got, want) {
		t.Fatalf("% x within %+v: decodeSignalFrame gives %#v, Decode and decodeSignal %#v", body, lim, got, want)
	}
	// Read directly, by a decoder that saw the frame before too (its
	// atoms and Pids kept).
	var sd signalDecoder
	for range 2 {
		d := wireDecoder{data: body, lim: lim.resolve(), atoms: &sd.atoms, pids: &sd.pids}
		direct, err := oneSignal(d.signal())
		if err != nil || d.pos != len(body) || !sameSignal(direct, want) {
			t.Fatalf("% x within %+v: read directly as %#v, %v at byte %d of %d; want %#v", body, lim, direct, err, d.pos, len(body), want)
		}
	}
}

// oneSignal is the signal that signalDecoder.decode or wireDecoder.signal
// gives, in m or in s.
func oneSignal(m sendSignal, s signal, err error) (signal, error) {
	if err == nil && s == nil {
		return m, nil
	}
	return s, err
}

// sameSignal reports whether two decoded signals are alike: deeply equal,
// or (for a NaN in a message) encoded alike.
func sameSignal(a, b signal) bool {
	if reflect.DeepEqual(a, b) {
		return true
	}
	ea, err1 := appendSignal(nil, a)
	eb, err2 := appendSignal(nil, b)
	return err1 == nil && err2 == nil && reflect.TypeOf(a) == reflect.TypeOf(b) && bytes.Equal(ea, eb)
}

// decodeSignalFrame reads every kind of signal as Decode and decodeSignal
// do, and refuses what they refuse with their error, within the default
// limits and within limits the frames reach.
func TestDecodeSignalFrame(t *testing.T) {
	var bodies [][]byte
	for _, tc := range signalCases() {
		bodies = append(bodies, encoded(t, tc.wire))
	}
	p := Pid{Node: "a@h", ID: 1}
	for _, v := range []any{
		nil, "hello", []any{}, []any{opSend, 5, "x"}, []any{opSend, p}, []any{opSend, p, "x", "y"},
		[]any{opLink, p, "b@h"}, []any{opMonitor, p, p, -1}, []any{opMonitor, p, p, uint64(1) << 63},
		[]any{opDown, 1, p, p, "why"}, []any{opNodes, "a@h"}, []any{opNodes, nil}, []any{opCast, "m", "f", nil},
		[]any{opCast, "m", "f", "not a list"}, []any{opSynced, 1, 2}, []any{99, 1}, []any{-1, 1}, []any{"1", p, "x"},
		[]any{opSend, "name", []any{[]any{[]any{1}}}}, []any{opSend, p, "a long message, over the tight limits"},
		[]any{opSend, p, map[any]any{1: 2, 3: 4}}, []any{opExit, p, p, []any{1, 2, 3, 4, 5}},
	} {
		bodies = append(bodies, encoded(t, v))
	}
	body := encoded(t, []any{opSend, p, "x"})
	bodies = append(bodies, append(body[:len(body):len(body)], 0), body[:len(body)-1], nil)
	for _, body := range bodies {
		for _, lim := range []DecodeLimits{DefaultDecodeLimits, tightLimits, {MaxMemory: 1}, {MaxDepth: 1}} {
			checkSignalFrame(t, body, lim)
		}
	}
}

// BenchmarkDecodeSignal decodes the frame of one small message, directly
// and through Decode and decodeSignal.
func BenchmarkDecodeSignal(b *testing.B) {
	body := encoded(b, []any{opSend, Pid{Node: "b@host", ID: 70, Creation: 1}, []any{Atom("msg"), 42}})
	b.Run("reader", func(b *testing.B) { // a link's reader, which keeps atoms
		var sd signalDecoder
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := sd.decode(body, DefaultDecodeLimits); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("frame", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeSignalFrame(body, DefaultDecodeLimits); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("value", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v, err := Decode(body)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := decodeSignal(v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// A link's reader keeps the atoms it decodes, up to atomTableSize of them
// and only short ones, and the Pids, and gives each back equal to the one
// sent, Pids that share a slot of its cache too.
func TestSignalDecoderKeeps(t *testing.T) {
	var sd signalDecoder
	long := Atom(strings.Repeat("x", atomTableMax+1))
	to := Pid{Node: "b@h", ID: 2}
	for i := range atomTableSize + 10 {
		a := Atom(fmt.Sprint("atom", i))
		id := uint64(i)
		msg := []any{a, Pid{Node: a, ID: 1}, long, Atom(""), Atom("atom0"),
			Pid{Node: "a@h", ID: id}, Pid{Node: "a@h", ID: id + pidCacheSets}, Pid{Node: "a@h", ID: id, Creation: 1}, to}
		want := sendSignal{To: to, Msg: msg}
		for range 2 {
			got, err := oneSignal(sd.decode(encoded(t, []any{opSend, to, msg}), DefaultDecodeLimits))
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("%#v came back as %#v, %v", want, got, err)
			}
		}
	}
	if len(sd.atoms.m) != atomTableSize {
		t.Fatalf("the reader keeps %d atoms, want %d", len(sd.atoms.m), atomTableSize)
	}
	if _, ok := sd.atoms.m[string(long)]; ok {
		t.Fatalf("the reader keeps an atom of %d bytes", len(long))
	}
}
