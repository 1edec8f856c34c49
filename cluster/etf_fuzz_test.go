package cluster

import (
	"reflect"
	"testing"
)

// FuzzDecodeETF feeds arbitrary bytes to the Erlang term decoder: it must
// never panic, and whatever it decodes must encode and decode to the same
// value.
func FuzzDecodeETF(f *testing.F) {
	for _, s := range [][]byte{
		{131, 97, 1},
		{131, 104, 2, 119, 2, 'o', 'k', 97, 42},
		{131, 108, 0, 0, 0, 2, 97, 1, 97, 2, 106},
		{131, 108, 0, 0, 0, 1, 97, 1, 97, 2},
		{131, 116, 0, 0, 0, 1, 119, 1, 'a', 109, 0, 0, 0, 1, 'x'},
		{131, 110, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
		{131, 70, 63, 248, 0, 0, 0, 0, 0, 0},
		{131, 88, 119, 3, 'e', '@', 'h', 0, 0, 0, 80, 0, 0, 0, 0, 0, 0, 0, 1},
		{131, 90, 0, 3, 119, 3, 'e', '@', 'h', 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3},
		{131, 107, 0, 3, 'a', 'b', 'c'},
	} {
		f.Add(s)
	}
	c := etfCodec{self: "e@h", creation: 1, lim: DefaultDecodeLimits.resolve()}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, rest, err := c.decode(b)
		if err != nil {
			return
		}
		enc, err := c.encode(nil, v)
		if err != nil {
			t.Fatalf("decoded %#v but cannot encode it: %v", v, err)
		}
		w, rest2, err := c.decode(enc)
		if err != nil || len(rest2) != 0 {
			t.Fatalf("re-decoding %#v: %v", v, err)
		}
		if !reflect.DeepEqual(normETF(v), normETF(w)) {
			t.Fatalf("%#v came back as %#v", v, w)
		}
		_ = rest
	})
}

// normETF makes decoded values comparable with DeepEqual: big integers as
// their text, NaN floats as a marker.
func normETF(v any) any {
	switch x := v.(type) {
	case Tuple:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normETF(e)
		}
		return Tuple(out)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normETF(e)
		}
		return out
	case ImproperList:
		return ImproperList{Elems: normETF(x.Elems).([]any), Tail: normETF(x.Tail)}
	case map[any]any:
		out := map[any]any{}
		for k, e := range x {
			out[normETF(k)] = normETF(e)
		}
		return out
	case float64:
		if x != x {
			return "NaN"
		}
	}
	if s, ok := v.(interface{ String() string }); ok {
		if _, isBig := v.(interface{ IsInt64() bool }); isBig {
			return s.String()
		}
	}
	return v
}
