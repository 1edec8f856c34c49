package cluster

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// codecMessages are values that cross the wire: a call's request (as Call
// frames it: module, function, args, ms left), a reply, a message sent to
// a pid carrying a pid (ping_pong's), and a call with a 1 MiB []byte.
func codecMessages() []struct {
	name string
	v    any
} {
	big := bytes.Repeat([]byte{7}, 1<<20)
	from := Pid{Node: "bencha1@vm", ID: 12, Creation: 3}
	to := Pid{Node: "benchb1@vm", ID: 42, Creation: 7}
	return []struct {
		name string
		v    any
	}{
		{"call", []any{"kvs", "lookup", []any{"weather"}, 29999}},
		{"reply", Atom("benchb1@vm")},
		{"send_pid", []any{opSend, to, []any{from, "x"}}},
		{"call_1MiB", []any{"erlang", "byte_size", []any{big}, 29999}},
	}
}

// fxModes are fxamacker/cbor/v2 modes as close to the wire codec as its
// options go: Atom and Pid under the same tags (a Pid's content is a map of
// its fields, not an array), maps sorted bytewise, integers decoding as
// int64, maps as map[any]any, no limit below a 1 MiB byte string.
func fxModes(tb testing.TB) (cbor.UserBufferEncMode, cbor.DecMode) {
	tags := cbor.NewTagSet()
	opt := cbor.TagOptions{EncTag: cbor.EncTagRequired, DecTag: cbor.DecTagRequired}
	if err := tags.Add(opt, reflect.TypeFor[Atom](), wireTagAtom); err != nil {
		tb.Fatal(err)
	}
	if err := tags.Add(opt, reflect.TypeFor[Pid](), wireTagPid); err != nil {
		tb.Fatal(err)
	}
	em, err := cbor.EncOptions{Sort: cbor.SortBytewiseLexical}.UserBufferEncModeWithTags(tags)
	if err != nil {
		tb.Fatal(err)
	}
	dm, err := cbor.DecOptions{
		IntDec:         cbor.IntDecConvertSignedOrFail,
		DefaultMapType: reflect.TypeFor[map[any]any](),
	}.DecModeWithTags(tags)
	if err != nil {
		tb.Fatal(err)
	}
	return em, dm
}

// TestCodecBenchMessagesRoundTrip checks that both codecs of
// BenchmarkCodec read back what they wrote, Atom and Pid included.
func TestCodecBenchMessagesRoundTrip(t *testing.T) {
	em, dm := fxModes(t)
	for _, m := range codecMessages() {
		b, err := Encode(nil, m.v)
		if err != nil {
			t.Fatal(err)
		}
		v, err := Decode(b)
		if err != nil || !reflect.DeepEqual(v, m.v) {
			t.Errorf("%s: gsh's codec read back %T, %v", m.name, v, err)
		}
		var buf bytes.Buffer
		if err := em.MarshalToBuffer(m.v, &buf); err != nil {
			t.Fatal(err)
		}
		var fv any
		if err := dm.Unmarshal(buf.Bytes(), &fv); err != nil {
			t.Fatalf("%s: fxamacker: %v", m.name, err)
		}
		switch m.name {
		case "reply":
			if fv != m.v {
				t.Errorf("reply: fxamacker read back %#v", fv)
			}
		case "send_pid":
			if p, ok := fv.([]any)[1].(Pid); !ok || p != m.v.([]any)[1] {
				t.Errorf("send_pid: fxamacker read back %#v", fv)
			}
		}
	}
}

// BenchmarkCodec encodes and decodes codecMessages with the wire codec
// (gsh) and with fxamacker/cbor/v2 (fx), each encoding into a buffer it
// reuses, as the link does.
func BenchmarkCodec(b *testing.B) {
	em, dm := fxModes(b)
	for _, m := range codecMessages() {
		enc, err := Encode(nil, m.v)
		if err != nil {
			b.Fatal(err)
		}
		var fxBuf bytes.Buffer
		if err := em.MarshalToBuffer(m.v, &fxBuf); err != nil {
			b.Fatal(err)
		}
		fxEnc := bytes.Clone(fxBuf.Bytes())
		b.Run("encode/gsh/"+m.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(enc)))
			buf := make([]byte, 0, len(enc))
			for b.Loop() {
				if _, err := Encode(buf[:0], m.v); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("encode/fx/"+m.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(fxEnc)))
			var buf bytes.Buffer
			buf.Grow(len(fxEnc))
			for b.Loop() {
				buf.Reset()
				if err := em.MarshalToBuffer(m.v, &buf); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("decode/gsh/"+m.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(enc)))
			for b.Loop() {
				if _, err := Decode(enc); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("decode/fx/"+m.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(fxEnc)))
			for b.Loop() {
				var v any
				if err := dm.Unmarshal(fxEnc, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
