package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/fxamacker/cbor/v2"
)

// codecRoundTrip encodes v, decodes the result and returns it.
func codecRoundTrip(t *testing.T, v any) any {
	t.Helper()
	b, err := Encode(nil, v)
	if err != nil {
		t.Fatalf("Encode(%#v): %v", v, err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatalf("Decode(Encode(%#v)) = % x: %v", v, b, err)
	}
	return got
}

// codecEqual is reflect.DeepEqual, except that floats compare by their bits,
// so that a NaN equals the same NaN.
func codecEqual(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && math.Float64bits(x) == math.Float64bits(y)
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) || (x == nil) != (y == nil) {
			return false
		}
		for i := range x {
			if !codecEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case Struct:
		y, ok := b.(Struct)
		if !ok || x.Name != y.Name || len(x.Fields) != len(y.Fields) {
			return false
		}
		for i := range x.Fields {
			if x.Fields[i].Name != y.Fields[i].Name || !codecEqual(x.Fields[i].Value, y.Fields[i].Value) {
				return false
			}
		}
		return true
	case map[any]any:
		y, ok := b.(map[any]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !codecEqual(xv, yv) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// codecNil in a table of round trips stands for a nil result.
type codecNil struct{}

type codecNamedString string
type codecNamedInt int16
type codecBytes []byte
type codecByte uint8

type codecInner struct {
	X []int
}

type codecStruct struct {
	A      int
	B      string
	hidden int
	Inner  codecInner
	Ptr    *codecInner
	Any    any
	Err    error
	Bytes  []byte
	Atom   Atom
	Pid    Pid
	Nested []codecInner
}

type codecEmbed struct {
	codecInner // unexported: skipped
	Exported   codecStruct2
}

type codecStruct2 struct{ V float64 }

// codecRegistered is a struct type with no name, as an interpreter makes
// them, registered as geo.Point.
type codecRegistered = struct{ X int }

func init() { RegisterStruct("geo.Point", reflect.TypeFor[codecRegistered]()) }

func TestCodecRoundTrip(t *testing.T) {
	seven := 7
	pseven := &seven
	pid := Pid{Node: "a@host", ID: 42, Creation: 3}
	long := strings.Repeat("x", 300)
	huge := strings.Repeat("y", 70000)
	for _, tc := range []struct {
		name string
		in   any
		want any // nil: same as in; codecNil: nil
	}{
		{"nil", nil, nil},
		{"true", true, nil},
		{"false", false, nil},
		{"int 0", 0, nil},
		{"int 1", 1, nil},
		{"int -1", -1, nil},
		{"int 23", 23, nil},
		{"int 24", 24, nil},
		{"int -25", -25, nil},
		{"int 255", 255, nil},
		{"int 256", 256, nil},
		{"int 65535", 65535, nil},
		{"int 65536", 65536, nil},
		{"int -65537", -65537, nil},
		{"int 1<<32", 1 << 32, nil},
		{"int max", math.MaxInt64, nil},
		{"int min", math.MinInt64, nil},
		{"int8", int8(-5), -5},
		{"int16", int16(-300), -300},
		{"int32", int32(1 << 30), 1 << 30},
		{"int64", int64(-1 << 40), -1 << 40},
		{"uint", uint(5), 5},
		{"uint8", uint8(200), 200},
		{"uint16", uint16(60000), 60000},
		{"uint32", uint32(math.MaxUint32), math.MaxUint32},
		{"uint64 small", uint64(9), 9},
		{"uint64 maxint", uint64(math.MaxInt64), math.MaxInt64},
		{"uint64 1<<63", uint64(1 << 63), uint64(1 << 63)},
		{"uint64 max", uint64(math.MaxUint64), uint64(math.MaxUint64)},
		{"uintptr", uintptr(77), 77},
		{"named int", codecNamedInt(-9), -9},
		{"duration", 1500 * time.Millisecond, int(1500 * time.Millisecond)},
		{"float 1.0", 1.0, float64(1)},
		{"float 1.5", 1.5, nil},
		{"float -0", math.Copysign(0, -1), nil},
		{"float inf", math.Inf(-1), nil},
		{"float NaN", math.NaN(), nil},
		{"float max", math.MaxFloat64, nil},
		{"float smallest", math.SmallestNonzeroFloat64, nil},
		{"float32", float32(2.5), float64(2.5)},
		{"float32 odd", float32(0.1), float64(float32(0.1))},
		{"string empty", "", nil},
		{"string", "héllo, 世界", nil},
		{"string 300", long, nil},
		{"string 70000", huge, nil},
		{"named string", codecNamedString("n"), "n"},
		{"bytes", []byte{0, 1, 0xff}, nil},
		{"bytes empty", []byte{}, nil},
		{"bytes nil", []byte(nil), []byte{}},
		{"bytes named", codecBytes("ab"), []byte("ab")},
		{"bytes array", [4]byte{1, 2, 3, 4}, []byte{1, 2, 3, 4}},
		{"bytes named elements", []codecByte{1, 2}, []byte{1, 2}},
		{"bytes array in struct", struct{ H [2]byte }{[2]byte{7, 8}}, Struct{Fields: []Field{{"H", []byte{7, 8}}}}},
		{"bytes array ptr", &[2]byte{5, 6}, []byte{5, 6}},
		{"atom", Atom("pong"), nil},
		{"atom empty", Atom(""), nil},
		{"undefined", Undefined, nil},
		{"pid", pid, nil},
		{"pid max", Pid{Node: "n@h", ID: math.MaxUint64, Creation: math.MaxUint32}, nil},
		{"pid ptr", &pid, pid},
		{"list empty", []any{}, nil},
		{"list nil", []any(nil), []any{}},
		{"list", []any{1, "a", 2.0, nil, true, Atom("x"), pid, []byte("b")}, nil},
		{"list nested", []any{[]any{[]any{}, []any{1}}, map[any]any{"k": []any{2}}}, nil},
		{"ints", []int{1, 2, 3}, []any{1, 2, 3}},
		{"ints nil", []int(nil), []any{}},
		{"strings", []string{"a", "b"}, []any{"a", "b"}},
		{"array", [2]int{4, 5}, []any{4, 5}},
		{"atoms", []Atom{"a", "b"}, []any{Atom("a"), Atom("b")}},
		{"pids", []Pid{pid}, []any{pid}},
		{"floats", []float32{1}, []any{float64(1)}},
		{"byte slices", [][]byte{{1}, {}}, []any{[]byte{1}, []byte{}}},
		{"map string any", map[string]any{"a": 1, "bb": "x", "c": []any{}}, map[any]any{"a": 1, "bb": "x", "c": []any{}}},
		{"map string int", map[string]int{"a": 1, "b": 2}, map[any]any{"a": 1, "b": 2}},
		{"map empty", map[string]any{}, map[any]any{}},
		{"map nil", map[string]int(nil), map[any]any{}},
		{"map any any", map[any]any{
			Atom("a"): 1, pid: "p", 3: "three", -4: 4, "s": nil, true: false,
			1.5: 2, nil: 0, uint64(math.MaxUint64): "big", Atom("s"): "atom s",
		}, nil},
		{"map int keys", map[int]string{1: "a", -1: "b"}, map[any]any{1: "a", -1: "b"}},
		{"map atom keys", map[Atom]Pid{"x": pid}, map[any]any{Atom("x"): pid}},
		{"map pid keys", map[Pid]bool{pid: true}, map[any]any{pid: true}},
		{"map float keys", map[float64]int{0.5: 1, -2: 2}, map[any]any{0.5: 1, -2.0: 2}},
		{"map bool keys", map[bool]int{true: 1, false: 0}, map[any]any{true: 1, false: 0}},
		{"map named keys", map[codecNamedString]codecNamedInt{"k": 1}, map[any]any{"k": 1}},
		{"map of maps", map[string]map[int][]string{"a": {1: {"x"}}}, map[any]any{"a": map[any]any{1: []any{"x"}}}},
		{"pointer", pseven, 7},
		{"pointer pointer", &pseven, 7},
		{"nil pointer", (*int)(nil), codecNil{}},
		{"nil struct pointer", (*codecStruct)(nil), codecNil{}},
		{"nil any pointer", (*any)(nil), codecNil{}},
		{"nil remote error", (*RemoteError)(nil), codecNil{}},
		{"struct", codecStruct{
			A: 1, B: "b", hidden: 5, Inner: codecInner{X: []int{1}}, Any: []any{Atom("z")},
			Err: ErrTimeout, Bytes: []byte{9}, Atom: "at", Pid: pid,
			Nested: []codecInner{{}},
		}, Struct{Name: "cluster.codecStruct", Fields: []Field{
			{"A", 1}, {"B", "b"}, {"Inner", Struct{"cluster.codecInner", []Field{{"X", []any{1}}}}}, {"Ptr", nil},
			{"Any", []any{Atom("z")}}, {"Err", &RemoteError{Kind: "timeout", Msg: "timeout"}},
			{"Bytes", []byte{9}}, {"Atom", Atom("at")}, {"Pid", pid},
			{"Nested", []any{Struct{"cluster.codecInner", []Field{{"X", []any{}}}}}},
		}}},
		{"struct pointer", &codecInner{X: []int{2}}, Struct{"cluster.codecInner", []Field{{"X", []any{2}}}}},
		{"struct embedded", codecEmbed{codecInner{[]int{1}}, codecStruct2{1}}, Struct{"cluster.codecEmbed", []Field{{"Exported", Struct{"cluster.codecStruct2", []Field{{"V", 1.0}}}}}}},
		{"struct empty", struct{}{}, Struct{}},
		{"struct in any list", []any{codecStruct2{2}}, []any{Struct{"cluster.codecStruct2", []Field{{"V", 2.0}}}}},
		{"generic struct", Struct{"Point", []Field{{"X", 5}, {"Y", []any{Struct{"", nil}}}}}, nil},
		{"generic struct pointer", &Struct{"Point", []Field{{"X", 5}}}, Struct{"Point", []Field{{"X", 5}}}},
		{"registered struct", []codecRegistered{{X: 1}}, []any{Struct{"geo.Point", []Field{{"X", 1}}}}},
		{"remote error", &RemoteError{Node: "b@h", Kind: "panic", Msg: "boom"}, nil},
		{"remote error unknown kind", &RemoteError{Node: "b@h", Kind: "newkind", Msg: "m"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.want
			switch want.(type) {
			case nil:
				want = tc.in
			case codecNil:
				want = nil
			}
			got := codecRoundTrip(t, tc.in)
			if reflect.TypeOf(got) != reflect.TypeOf(want) {
				t.Fatalf("got %T %#v, want %T %#v", got, got, want, want)
			}
			if !codecEqual(got, want) {
				t.Fatalf("got %#v, want %#v", got, want)
			}
		})
	}
}

func TestCodecIntFloatApart(t *testing.T) {
	if got := codecRoundTrip(t, 1.0); reflect.TypeOf(got) != reflect.TypeOf(float64(0)) || got != 1.0 {
		t.Errorf("1.0 came back as %T %v", got, got)
	}
	if got := codecRoundTrip(t, 1); reflect.TypeOf(got) != reflect.TypeOf(0) || got != 1 {
		t.Errorf("1 came back as %T %v", got, got)
	}
	m := codecRoundTrip(t, map[any]any{1: "int", 1.0: "float", "1": "string", Atom("1"): "atom"}).(map[any]any)
	if len(m) != 4 || m[1] != "int" || m[1.0] != "float" || m["1"] != "string" || m[Atom("1")] != "atom" {
		t.Errorf("keys 1, 1.0, \"1\" and atom 1 mixed up: %#v", m)
	}
	if got := codecRoundTrip(t, []any{"ab", []byte("ab")}).([]any); reflect.TypeOf(got[0]) != reflect.TypeOf("") ||
		reflect.TypeOf(got[1]) != reflect.TypeOf([]byte(nil)) {
		t.Errorf("string and []byte mixed up: %#v", got)
	}
}

func TestCodecTime(t *testing.T) {
	loc := time.FixedZone("X", 5*3600+30*60)
	for _, in := range []time.Time{
		time.Date(2024, 2, 29, 13, 14, 15, 123456789, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 59, 0, loc),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		// With a monotonic reading.
		time.Now(),
		// With an offset of whole seconds, which RFC 3339 cannot show.
		time.Date(1850, 1, 1, 0, 0, 0, 0, time.FixedZone("LMT", 17)),
	} {
		got, ok := codecRoundTrip(t, in).(time.Time)
		if !ok {
			t.Fatalf("%v did not come back as a time.Time", in)
		}
		if !got.Equal(in) {
			t.Errorf("%v came back as %v", in, got)
		}
		if _, off := in.Zone(); off%60 == 0 {
			if _, goff := got.Zone(); goff != off {
				t.Errorf("%v came back with offset %d", in, goff)
			}
		}
	}
	b, err := Encode(nil, time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC))
	if want := append([]byte{0xc0, 0x74}, "2020-01-02T03:04:05Z"...); err != nil || !bytes.Equal(b, want) {
		t.Errorf("time encodes as % x, %v; want % x", b, err, want)
	}
	if _, err := Encode(nil, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)); !errors.Is(err, ErrBadArgs) {
		t.Errorf("year 10000: err = %v, want ErrBadArgs", err)
	}
}

func TestCodecErrors(t *testing.T) {
	for _, k := range errorKinds {
		kind, sentinel := k.kind, k.err
		for _, err := range []error{sentinel, fmt.Errorf("x: %w", sentinel), fmt.Errorf("a: %w", fmt.Errorf("b: %w", sentinel))} {
			got := codecRoundTrip(t, err)
			re, ok := got.(*RemoteError)
			if !ok {
				t.Fatalf("%v came back as %T", err, got)
			}
			if re.Kind != kind || re.Msg != err.Error() || re.Node != "" {
				t.Errorf("%v came back as %#v", err, re)
			}
			if !errors.Is(re, sentinel) {
				t.Errorf("%v: errors.Is(%v, %v) is false", err, re, sentinel)
			}
			if re.Error() != err.Error() {
				t.Errorf("message %q, want %q", re.Error(), err.Error())
			}
			for _, o := range errorKinds {
				if other := o.err; other != sentinel && errors.Is(re, other) && !errors.Is(err, other) {
					t.Errorf("%v came back matching %v too", err, other)
				}
			}
		}
	}
	if !errors.Is(codecRoundTrip(t, fmt.Errorf("x: %w", ErrNodeDown)).(error), ErrNodeDown) {
		t.Error("the brief's example fails")
	}

	if e := codecRoundTrip(t, fmt.Errorf("call: %w", context.DeadlineExceeded)).(error); !errors.Is(e, ErrTimeout) {
		t.Errorf("a deadline came back as %#v, not a timeout", e)
	}

	plain := codecRoundTrip(t, errors.New("boom")).(*RemoteError)
	if plain.Kind != "error" || plain.Msg != "boom" || plain.Unwrap() != nil {
		t.Errorf("plain error came back as %#v", plain)
	}

	remote := &RemoteError{Node: "b@h", Kind: "undef", Msg: "no such function"}
	got := codecRoundTrip(t, remote).(*RemoteError)
	if *got != *remote || got.Error() != "b@h: no such function" || !errors.Is(got, ErrUnknownFunction) {
		t.Errorf("remote error came back as %#v", got)
	}

	// Errors at depth, and typed nil errors.
	var nilErr *RemoteError
	var nilPathErr error = (*codecPanicErr)(nil)
	list := codecRoundTrip(t, []any{ErrTimeout, map[string]error{"e": ErrAuth}, nilErr, nilPathErr}).([]any)
	if !errors.Is(list[0].(error), ErrTimeout) || !errors.Is(list[1].(map[any]any)["e"].(error), ErrAuth) ||
		list[2] != nil || list[3] != nil {
		t.Errorf("errors in a list came back as %#v", list)
	}

	// Message that is not UTF-8 is repaired, not refused.
	bad := codecRoundTrip(t, errors.New("bad \xff name")).(*RemoteError)
	if bad.Msg != "bad \uFFFD name" {
		t.Errorf("invalid UTF-8 message came back as %q", bad.Msg)
	}
}

type codecPanicErr struct{ msg *string }

func (e *codecPanicErr) Error() string { return *e.msg }

func TestCodecErrorPanics(t *testing.T) {
	dst := []byte{1, 2}
	out, err := Encode(dst, &codecPanicErr{})
	if !errors.Is(err, ErrBadArgs) || !bytes.Equal(out, dst) {
		t.Errorf("Encode of an error whose Error panics = % x, %v", out, err)
	}
}

func TestCodecErrorNode(t *testing.T) {
	v := []any{errors.New("local"), &RemoteError{Node: "c@h", Kind: "error", Msg: "far"},
		map[string]any{"e": ErrPanic}, codecStruct{Err: ErrTimeout}}
	b, err := EncodeFrom(nil, v, "me@h")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	l := got.([]any)
	if e := l[0].(*RemoteError); e.Node != "me@h" || e.Error() != "me@h: local" {
		t.Errorf("local error: %#v", e)
	}
	if e := l[1].(*RemoteError); e.Node != "c@h" {
		t.Errorf("remote error lost its node: %#v", e)
	}
	if e := l[2].(map[any]any)["e"].(*RemoteError); e.Node != "me@h" || !errors.Is(e, ErrPanic) {
		t.Errorf("error in map: %#v", e)
	}
	if e := l[3].(Struct).Field("Err").(*RemoteError); e.Node != "me@h" {
		t.Errorf("error in struct: %#v", e)
	}
}

func TestEncodeUnsupported(t *testing.T) {
	type withChan struct{ C chan int }
	x := 1
	for _, tc := range []struct {
		name string
		in   any
		is   error
		msg  string
	}{
		{"chan", make(chan int), ErrBadArgs, "cannot send chan int to another node: bad arguments"},
		{"func", func() {}, ErrBadArgs, "cannot send func() to another node: bad arguments"},
		{"complex", complex(1, 2), ErrBadArgs, "cannot send complex128 to another node: bad arguments"},
		{"unsafe pointer", unsafe.Pointer(&x), ErrBadArgs, "cannot send unsafe.Pointer to another node: bad arguments"},
		{"chan in struct", withChan{}, ErrBadArgs, "cannot send chan int to another node: bad arguments"},
		{"chan in list", []any{1, make(chan string)}, ErrBadArgs, "cannot send chan string to another node: bad arguments"},
		{"invalid utf8", "a\xffb", ErrBadArgs, "not valid UTF-8"},
		{"invalid utf8 atom", Atom("\xc0"), ErrBadArgs, "not valid UTF-8"},
		{"array key", map[[2]int]int{{1, 2}: 3}, ErrBadArgs, "key of type [2]int"},
		{"struct key", map[codecStruct2]int{{1}: 3}, ErrBadArgs, "key of type cluster.codecStruct2"},
		{"pointer key", map[*int]int{&x: 1}, ErrBadArgs, "key of type *int"},
		{"array key in any", map[any]any{[1]int{1}: 1}, ErrBadArgs, "key of type [1]int"},
		{"error key", map[any]any{ErrAuth: 1}, ErrBadArgs, "key of type *errors.errorString"},
		{"time key", map[any]any{time.Time{}: 1}, ErrBadArgs, "key of type time.Time"},
		{"NaN key", map[float64]int{math.NaN(): 1}, ErrBadArgs, "NaN key"},
		{"NaN key any", map[any]any{math.NaN(): 1}, ErrBadArgs, "NaN key"},
		{"keys alike", map[any]any{int8(1): "a", 1: "b"}, ErrBadArgs, "encode alike"},
		{"keys alike string", map[any]any{"s": "a", codecNamedString("s"): "b"}, ErrBadArgs, "encode alike"},
		{"bad key deep", []any{map[any]any{"ok": map[any]any{[1]string{}: 1}}}, ErrBadArgs, "key of type [1]string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := []byte("prefix")
			out, err := Encode(dst, tc.in)
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Encode(%T) error = %v, want %v containing %q", tc.in, err, tc.is, tc.msg)
			}
			if string(out) != "prefix" {
				t.Errorf("Encode returned % x on error, want dst unchanged", out)
			}
		})
	}
}

func TestEncodeLimits(t *testing.T) {
	type node struct{ Next *node }
	cyc := &node{}
	cyc.Next = cyc
	list := []any{nil}
	list[0] = list
	m := map[string]any{}
	m["m"] = m
	var self any
	self = &self
	deep := any(1)
	for range DefaultDecodeLimits.MaxDepth + 1 {
		deep = []any{deep}
	}
	ok := any(1)
	for range DefaultDecodeLimits.MaxDepth {
		ok = []any{ok}
	}
	for name, v := range map[string]any{"struct cycle": cyc, "list cycle": list, "map cycle": m, "pointer cycle": &self, "deep": deep} {
		if _, err := Encode(nil, v); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: err = %v, want ErrTooLarge", name, err)
		}
	}
	if _, err := Encode(nil, ok); err != nil {
		t.Errorf("nesting at the limit: %v", err)
	}
}

func TestEncodeDeterministic(t *testing.T) {
	m := map[any]any{"b": 1, "a": 2, 10: 3, -1: 4, Atom("x"): 5, "aa": 6, false: 7}
	want := []byte{0xa7,
		0x0a, 0x03, // 10
		0x20, 0x04, // -1
		0x61, 'a', 0x02,
		0x61, 'b', 0x01,
		0x62, 'a', 'a', 0x06,
		0xd9, 0x69, 0x79, 0x61, 'x', 0x05, // atom
		0xf4, 0x07, // false
	}
	for range 20 {
		b, err := Encode(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, want) {
			t.Fatalf("Encode(%v) = % x, want % x", m, b, want)
		}
	}

	// The same map as map[string]any, map[any]any and through reflection
	// gives the same bytes, which are those of cbor's core deterministic
	// encoding.
	sm := map[string]any{"Alpha": 1, "B": "b", "Gamma": []any{1}, "Zz": true, "Longer": 5}
	am := map[any]any{"Alpha": 1, "B": "b", "Gamma": []any{1}, "Zz": true, "Longer": 5}
	rm := map[codecNamedString]any{"Alpha": 1, "B": "b", "Gamma": []any{1}, "Zz": true, "Longer": 5}
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		t.Fatal(err)
	}
	want, err = em.Marshal(sm)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{sm, am, rm} {
		b, err := Encode(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, want) {
			t.Errorf("Encode(%T) = % x, want % x", v, b, want)
		}
	}
}

func TestEncodeAppends(t *testing.T) {
	dst := []byte("head")
	b, err := Encode(dst, []any{"kvs", 1})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("head")) {
		t.Fatalf("Encode did not append: % x", b)
	}
	v, err := Decode(b[4:])
	if err != nil || !reflect.DeepEqual(v, []any{"kvs", 1}) {
		t.Fatalf("Decode = %#v, %v", v, err)
	}
}

// TestCodecCBORInterop checks with an independent decoder that the wire form
// is well-formed CBOR.
func TestCodecCBORInterop(t *testing.T) {
	dm, err := cbor.DecOptions{MaxNestedLevels: 256}.DecMode()
	if err != nil {
		t.Fatal(err)
	}
	v := []any{1, -2, 1.5, "s", []byte{1}, Atom("a"), Pid{"n@h", 1, 2}, ErrTimeout,
		map[any]any{1: 2, "x": nil}, time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC), uint64(math.MaxUint64)}
	b, err := Encode(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	if err := dm.Wellformed(b); err != nil {
		t.Fatalf("not well-formed CBOR: %v", err)
	}
	var out []any
	if err := dm.Unmarshal(b, &out); err != nil {
		t.Fatalf("cbor.Unmarshal: %v", err)
	}
	if tag, ok := out[5].(cbor.Tag); !ok || tag.Number != 27001 || tag.Content != "a" {
		t.Errorf("atom reads as %#v", out[5])
	}
	if tm, ok := out[9].(time.Time); !ok || !tm.Equal(v[9].(time.Time)) {
		t.Errorf("time reads as %#v", out[9])
	}
}

func codecHex(t *testing.T, s string) []byte {
	t.Helper()
	s = strings.ReplaceAll(s, " ", "")
	b := make([]byte, len(s)/2)
	for i := range b {
		if _, err := fmt.Sscanf(s[2*i:2*i+2], "%02x", &b[i]); err != nil {
			t.Fatalf("bad hex %q", s)
		}
	}
	return b
}

func TestDecodeAccepts(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want any
	}{
		{codecHex(t, "1801"), 1},               // not the shortest form
		{codecHex(t, "1b0000000000000001"), 1}, // not the shortest form
		{codecHex(t, "3b7fffffffffffffff"), math.MinInt64},
		{codecHex(t, "f93c00"), 1.0},         // half
		{codecHex(t, "f97c00"), math.Inf(1)}, // half infinity
		{codecHex(t, "f98000"), math.Copysign(0, -1)},
		{codecHex(t, "f90001"), math.Ldexp(1, -24)}, // smallest half subnormal
		{codecHex(t, "f903ff"), math.Ldexp(1023, -24)},
		{codecHex(t, "f97bff"), 65504.0}, // largest half
		{codecHex(t, "f9c400"), -4.0},
		{codecHex(t, "fa3fc00000"), 1.5}, // single
		{codecHex(t, "a0"), map[any]any{}},
		{codecHex(t, "80"), []any{}},
		{codecHex(t, "40"), []byte{}},
		{codecHex(t, "60"), ""},
		{codecHex(t, "d9697960"), Atom("")},
		{codecHex(t, "c074323032302d30312d30325430333a30343a30355a"), time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)},
		// An offset of +00:00 reads as UTC.
		{append([]byte{0xc0, 0x78, 25}, "2020-01-02T03:04:05+00:00"...), time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)},
		// Map keys out of order are fine.
		{codecHex(t, "a2020301 04"), map[any]any{2: 3, 1: 4}},
	} {
		got, err := Decode(tc.in)
		if err != nil {
			t.Errorf("Decode(% x): %v", tc.in, err)
			continue
		}
		if !codecEqual(got, tc.want) || reflect.TypeOf(got) != reflect.TypeOf(tc.want) {
			t.Errorf("Decode(% x) = %T %#v, want %T %#v", tc.in, got, got, tc.want, tc.want)
		}
	}
}

func TestDecodeHostile(t *testing.T) {
	deep := func(n int) []byte { return append(bytes.Repeat([]byte{0x81}, n), 0x01) }
	for _, tc := range []struct {
		name string
		in   []byte
		lim  DecodeLimits
		is   error
	}{
		{"empty", nil, DecodeLimits{}, ErrProtocol},
		{"too deep", deep(65), DecodeLimits{}, ErrTooLarge},
		{"too deep maps", append(bytes.Repeat([]byte{0xa1, 0x01}, 65), 0x01), DecodeLimits{}, ErrTooLarge},
		{"too deep custom", deep(4), DecodeLimits{MaxDepth: 3}, ErrTooLarge},
		{"very deep", deep(1 << 20), DecodeLimits{MaxDepth: 1 << 30}, ErrTooLarge},
		{"huge array", codecHex(t, "9bffffffffffffffff00"), DecodeLimits{}, ErrTooLarge},
		{"huge array under the limit", codecHex(t, "9a0010000000"), DecodeLimits{}, ErrProtocol},
		{"huge array, no limit", codecHex(t, "9b7fffffffffffffff00"), DecodeLimits{MaxElements: math.MaxInt}, ErrProtocol},
		{"huge map", codecHex(t, "bb7fffffffffffffff0000"), DecodeLimits{MaxElements: math.MaxInt}, ErrProtocol},
		{"map half there", codecHex(t, "a3010203"), DecodeLimits{}, ErrProtocol},
		{"too many elements", codecHex(t, "83010203"), DecodeLimits{MaxElements: 2}, ErrTooLarge},
		{"huge string", codecHex(t, "7bffffffffffffffff61"), DecodeLimits{}, ErrTooLarge},
		{"huge string, no limit", codecHex(t, "7b7fffffffffffffff61"), DecodeLimits{MaxBytes: math.MaxInt}, ErrProtocol},
		{"huge bytes", codecHex(t, "5a0100000061"), DecodeLimits{}, ErrProtocol},
		{"string over limit", codecHex(t, "63616263"), DecodeLimits{MaxBytes: 2}, ErrTooLarge},
		{"bytes over limit", codecHex(t, "43616263"), DecodeLimits{MaxBytes: 2}, ErrTooLarge},
		{"trailing", codecHex(t, "0100"), DecodeLimits{}, ErrProtocol},
		{"trailing after list", codecHex(t, "8101f6"), DecodeLimits{}, ErrProtocol},
		{"invalid utf8", codecHex(t, "62fffe"), DecodeLimits{}, ErrProtocol},
		{"invalid utf8 atom", codecHex(t, "d9697961c0"), DecodeLimits{}, ErrProtocol},
		{"surrogate", codecHex(t, "63eda080"), DecodeLimits{}, ErrProtocol},
		{"unknown tag", codecHex(t, "d9697d01"), DecodeLimits{}, ErrProtocol},
		{"struct not a list", codecHex(t, "d9697c6150"), DecodeLimits{}, ErrProtocol},
		{"struct even list", codecHex(t, "d9697c84615061580561 59"), DecodeLimits{}, ErrProtocol},
		{"struct empty list", codecHex(t, "d9697c80"), DecodeLimits{}, ErrProtocol},
		{"struct name not text", codecHex(t, "d9697c8101"), DecodeLimits{}, ErrProtocol},
		{"struct field not text", codecHex(t, "d9697c8361500105"), DecodeLimits{}, ErrProtocol},
		{"struct field empty", codecHex(t, "d9697c83615060 05"), DecodeLimits{}, ErrProtocol},
		{"struct field twice", codecHex(t, "d9697c85615061580561 5806"), DecodeLimits{}, ErrProtocol},
		{"struct field value missing", codecHex(t, "d9697c8361506158"), DecodeLimits{}, ErrProtocol},
		{"struct huge", codecHex(t, "d9697c9b7fffffffffffffff6150"), DecodeLimits{MaxElements: math.MaxInt}, ErrProtocol},
		{"struct too many fields", codecHex(t, "d9697c85615061580561 5906"), DecodeLimits{MaxElements: 1}, ErrTooLarge},
		{"struct too deep", codecHex(t, "d9697c836150615881 01"), DecodeLimits{MaxDepth: 1}, ErrTooLarge},
		{"epoch time tag", codecHex(t, "c11a514b67b0"), DecodeLimits{}, ErrProtocol},
		{"bignum tag", codecHex(t, "c249010000000000000000"), DecodeLimits{}, ErrProtocol},
		{"self-describe tag", codecHex(t, "d9d9f701"), DecodeLimits{}, ErrProtocol},
		{"duplicate key", codecHex(t, "a201020103"), DecodeLimits{}, ErrProtocol},
		{"duplicate string key", codecHex(t, "a2616101616102"), DecodeLimits{}, ErrProtocol},
		{"duplicate zero keys", codecHex(t, "a2fb000000000000000001fb800000000000000002"), DecodeLimits{}, ErrProtocol},
		{"duplicate pid keys", codecHex(t, "a2d9697a8361610102f6d9697a8361610102f6"), DecodeLimits{}, ErrProtocol},
		{"bytes key", codecHex(t, "a1410001"), DecodeLimits{}, ErrProtocol},
		{"array key", codecHex(t, "a18001"), DecodeLimits{}, ErrProtocol},
		{"map key", codecHex(t, "a1a001"), DecodeLimits{}, ErrProtocol},
		{"error key", codecHex(t, "a1d9697b83606060f6"), DecodeLimits{}, ErrProtocol},
		{"time key", codecHex(t, "a1c074323032302d30312d30325430333a30343a30355af6"), DecodeLimits{}, ErrProtocol},
		{"NaN key", codecHex(t, "a1f97e0001"), DecodeLimits{}, ErrProtocol},
		{"indefinite array", codecHex(t, "9f01ff"), DecodeLimits{}, ErrProtocol},
		{"indefinite string", codecHex(t, "7f6161ff"), DecodeLimits{}, ErrProtocol},
		{"indefinite map", codecHex(t, "bf0101ff"), DecodeLimits{}, ErrProtocol},
		{"break", codecHex(t, "ff"), DecodeLimits{}, ErrProtocol},
		{"undefined", codecHex(t, "f7"), DecodeLimits{}, ErrProtocol},
		{"simple value", codecHex(t, "e0"), DecodeLimits{}, ErrProtocol},
		{"simple value 1 byte", codecHex(t, "f820"), DecodeLimits{}, ErrProtocol},
		{"reserved", codecHex(t, "1c"), DecodeLimits{}, ErrProtocol},
		{"reserved float", codecHex(t, "fc"), DecodeLimits{}, ErrProtocol},
		{"int below MinInt64", codecHex(t, "3b8000000000000000"), DecodeLimits{}, ErrProtocol},
		{"atom not text", codecHex(t, "d9697901"), DecodeLimits{}, ErrProtocol},
		{"pid wrong length", codecHex(t, "d9697a826161 01"), DecodeLimits{}, ErrProtocol},
		{"pid node not text", codecHex(t, "d9697a83010101"), DecodeLimits{}, ErrProtocol},
		{"pid negative id", codecHex(t, "d9697a83616120 01"), DecodeLimits{}, ErrProtocol},
		{"pid creation 33 bits", codecHex(t, "d9697a836161011b0000000100000000"), DecodeLimits{}, ErrProtocol},
		{"error not a list", codecHex(t, "d9697b60"), DecodeLimits{}, ErrProtocol},
		{"error part not text", codecHex(t, "d9697b83606001"), DecodeLimits{}, ErrProtocol},
		{"time not text", codecHex(t, "c001"), DecodeLimits{}, ErrProtocol},
		{"time bad text", codecHex(t, "c0626869"), DecodeLimits{}, ErrProtocol},
		{"truncated head", codecHex(t, "19ff"), DecodeLimits{}, ErrProtocol},
		{"truncated float", codecHex(t, "fb3ff0"), DecodeLimits{}, ErrProtocol},
		{"truncated tag", codecHex(t, "d969"), DecodeLimits{}, ErrProtocol},
		{"truncated tag content", codecHex(t, "d96979"), DecodeLimits{}, ErrProtocol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := DecodeWith(tc.in, tc.lim)
			if !errors.Is(err, tc.is) {
				t.Errorf("DecodeWith(% x) = %#v, %v; want %v", tc.in, v, err, tc.is)
			}
			if v != nil {
				t.Errorf("DecodeWith returned a value with its error: %#v", v)
			}
		})
	}
}

func TestDecodeDepthLimit(t *testing.T) {
	v := any(1)
	for range 64 {
		v = []any{v}
	}
	b, err := Encode(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil || !reflect.DeepEqual(got, v) {
		t.Fatalf("64 deep: %v", err)
	}
	if _, err := DecodeWith(b, DecodeLimits{MaxDepth: 63}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("64 deep with MaxDepth 63: err = %v", err)
	}
}

// TestDecodeNoBigAllocation checks that a declared length is not trusted
// before the bytes are there.
func TestDecodeNoBigAllocation(t *testing.T) {
	lim := DecodeLimits{MaxElements: math.MaxInt, MaxBytes: math.MaxInt}
	inputs := [][]byte{
		codecHex(t, "9a7fffffff01"),
		codecHex(t, "ba7fffffff0101"),
		codecHex(t, "5a7fffffff01"),
		codecHex(t, "7a7fffffff61"),
		codecHex(t, "819a0fffffff"),
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, in := range inputs {
		for range 100 {
			if _, err := DecodeWith(in, lim); !errors.Is(err, ErrProtocol) {
				t.Fatalf("DecodeWith(% x): %v", in, err)
			}
		}
	}
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
		t.Errorf("hostile lengths allocated %d bytes", d)
	}
}

func TestDecodeTruncated(t *testing.T) {
	v := []any{1, "two", []byte{3}, Atom("four"), Pid{"n@h", 5, 6}, ErrClosed, 7.5,
		map[any]any{"k": []any{uint64(math.MaxUint64), -300}}, time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)}
	b, err := Encode(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	for i := range len(b) {
		if got, err := Decode(b[:i]); !errors.Is(err, ErrProtocol) {
			t.Errorf("Decode of %d of %d bytes = %#v, %v", i, len(b), got, err)
		}
	}
	if _, err := Decode(append(b, 0)); !errors.Is(err, ErrProtocol) {
		t.Errorf("trailing byte: %v", err)
	}
}

// TestDecodeDoesNotKeepInput checks that decoded strings and bytes do not
// alias the input buffer, which the transport reuses.
func TestDecodeDoesNotKeepInput(t *testing.T) {
	for _, size := range []int{10, 5000} {
		s := strings.Repeat("s", size)
		b, err := Encode(nil, []any{s, []byte(s)})
		if err != nil {
			t.Fatal(err)
		}
		v, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		clear(b)
		l := v.([]any)
		if l[0] != s || string(l[1].([]byte)) != s {
			t.Errorf("size %d: decoded value changed with its input", size)
		}
	}
}

func TestDecodeLimitsDefaults(t *testing.T) {
	got := DecodeLimits{}.resolve()
	if got != DefaultDecodeLimits {
		t.Errorf("zero limits resolve to %+v, want %+v", got, DefaultDecodeLimits)
	}
	if got := (DecodeLimits{MaxDepth: 1 << 40}).resolve(); got.MaxDepth != wireMaxDepthCap {
		t.Errorf("MaxDepth not capped: %d", got.MaxDepth)
	}
}

func codecSeeds() [][]byte {
	var seeds [][]byte
	for _, v := range []any{
		nil, true, 0, -1, 1 << 40, uint64(math.MaxUint64), 1.5, math.NaN(), "", "héllo", []byte{1, 2},
		Atom("pong"), Pid{"a@h", 1, 2}, fmt.Errorf("x: %w", ErrNodeDown), &RemoteError{"b@h", "panic", "boom"},
		[]any{"kvs", "store", []any{"weather", "fine"}},
		map[any]any{1: "a", "b": []any{}, Atom("c"): map[any]any{}, Pid{"n", 0, 0}: 2.5, nil: false},
		time.Date(2021, 3, 4, 5, 6, 7, 8, time.FixedZone("", 3600)),
		Struct{"Point", []Field{{"X", 5}, {"Y", []any{Struct{"", []Field{{"Z", nil}}}}}}},
	} {
		b, err := Encode(nil, v)
		if err != nil {
			panic(err)
		}
		seeds = append(seeds, b)
	}
	return seeds
}

func FuzzDecode(f *testing.F) {
	for _, s := range codecSeeds() {
		f.Add(s)
	}
	f.Add([]byte{0xf9, 0x7e, 0x01})             // half NaN
	f.Add([]byte{0xa2, 0x01, 0x02, 0x01, 0x03}) // duplicate key
	f.Add([]byte{0x9f, 0xff})                   // indefinite
	f.Add(nestedEmptyLists(3, 100))             // lists that expand
	dm, err := cbor.DecOptions{MaxNestedLevels: 1024, MaxArrayElements: math.MaxInt32, MaxMapPairs: math.MaxInt32}.DecMode()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrProtocol) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Decode(% x) error %v wraps neither ErrProtocol nor ErrTooLarge", data, err)
			}
			return
		}
		if err := dm.Wellformed(data); err != nil {
			t.Fatalf("Decode accepted % x, which is not well-formed CBOR: %v", data, err)
		}
		b, err := Encode(nil, v)
		if err != nil {
			t.Fatalf("Decode(% x) = %#v, which does not encode: %v", data, v, err)
		}
		v2, err := Decode(b)
		if err != nil {
			t.Fatalf("re-encoded % x does not decode: %v", b, err)
		}
		if !codecEqual(v, v2) {
			t.Fatalf("Decode(% x) = %#v, but after a round trip %#v", data, v, v2)
		}
		b2, err := Encode(nil, v2)
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("encoding is not deterministic: % x then % x (%v)", b, b2, err)
		}
	})
}

// codecSmall is a typical rpc request, held in an interface as callers hold it.
var codecSmall any = []any{"kvs", "store", []any{"weather", "fine"}}

func BenchmarkEncodeSmall(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 64)
	for b.Loop() {
		var err error
		if buf, err = Encode(buf[:0], codecSmall); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeSmall(b *testing.B) {
	b.ReportAllocs()
	data, err := Encode(nil, codecSmall)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeMixed(b *testing.B) {
	b.ReportAllocs()
	var v any = []any{Atom("ok"), map[string]any{"n": 12, "f": 1.5, "pid": Pid{"a@h", 1, 2}}, errors.New("boom"), codecStruct2{1}}
	buf := make([]byte, 0, 256)
	for b.Loop() {
		var err error
		if buf, err = Encode(buf[:0], v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeMixed(b *testing.B) {
	b.ReportAllocs()
	var v any = []any{Atom("ok"), map[string]any{"n": 12, "f": 1.5, "pid": Pid{"a@h", 1, 2}}, errors.New("boom"), codecStruct2{1}}
	data, err := Encode(nil, v)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}
