package cluster

import (
	"encoding/hex"
	"errors"
	"math/big"
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

// needErl skips a test when Erlang/OTP's erl is not installed.
func needErl(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("erl")
	if err != nil {
		t.Skip("erl is not installed (apt-get install erlang-base)")
	}
	return p
}

// evalErl runs expr in a fresh erl (no distribution) and returns what it
// printed.
func evalErl(t testing.TB, expr string) string {
	t.Helper()
	erl := needErl(t)
	out, err := exec.Command(erl, "-noshell", "-eval", expr+", halt().").CombinedOutput()
	if err != nil {
		t.Fatalf("erl: %v\n%s", err, out)
	}
	return string(out)
}

func bigInt(s string) *big.Int {
	x, _ := new(big.Int).SetString(s, 10)
	return x
}

// etfCases are Erlang terms and the Go values they arrive as.
var etfCases = []struct {
	erl string
	go_ any
}{
	{"hello", Atom("hello")},
	{"'Hello World'", Atom("Hello World")},
	{"'héllo'", Atom("héllo")},
	{"true", true},
	{"false", false},
	{"undefined", Undefined},
	{"0", 0},
	{"255", 255},
	{"256", 256},
	{"-1", -1},
	{"2147483647", 2147483647},
	{"-2147483648", -2147483648},
	{"9223372036854775807", 9223372036854775807},
	{"-9223372036854775808", -9223372036854775808},
	{"123456789012345678901234567890", bigInt("123456789012345678901234567890")},
	{"-123456789012345678901234567890", bigInt("-123456789012345678901234567890")},
	{"1.5", 1.5},
	{"-0.25", -0.25},
	{"<<\"fine\">>", "fine"},
	{"<<\"héllo\"/utf8>>", "héllo"},
	{"<<255,0,1>>", []byte{255, 0, 1}},
	{"<<>>", ""},
	{"\"abc\"", []any{97, 98, 99}},
	{"[]", []any{}},
	{"[1, two, <<\"3\">>]", []any{1, Atom("two"), "3"}},
	{"[1 | 2]", ImproperList{Elems: []any{1}, Tail: 2}},
	{"[a, b | c]", ImproperList{Elems: []any{Atom("a"), Atom("b")}, Tail: Atom("c")}},
	{"{}", Tuple{}},
	{"{ok, 42}", Tuple{Atom("ok"), 42}},
	{"{a, {b, [c]}}", Tuple{Atom("a"), Tuple{Atom("b"), []any{Atom("c")}}}},
	{"list_to_tuple(lists:seq(1, 300))", func() Tuple {
		t := make(Tuple, 300)
		for i := range t {
			t[i] = i + 1
		}
		return t
	}()},
	{"#{}", map[any]any{}},
	{"#{a => 1, <<\"b\">> => [2]}", map[any]any{Atom("a"): 1, "b": []any{2}}},
	{"lists:seq(1, 1000)", func() []any {
		l := make([]any, 1000)
		for i := range l {
			l[i] = i + 1
		}
		return l
	}()},
}

// TestETFAgainstErlang decodes the terms real erl encodes, checks the Go
// values, encodes them again and has erl check that they are the same terms.
func TestETFAgainstErlang(t *testing.T) {
	var src []string
	for _, c := range etfCases {
		src = append(src, c.erl)
	}
	out := evalErl(t, "[io:format(\"~s~n\", [binary:encode_hex(term_to_binary(T))]) || T <- ["+strings.Join(src, ", ")+"]]")
	lines := strings.Fields(out)
	if len(lines) != len(etfCases) {
		t.Fatalf("erl printed %d lines for %d terms:\n%s", len(lines), len(etfCases), out)
	}
	var back []string
	for i, c := range etfCases {
		b, err := hex.DecodeString(lines[i])
		if err != nil {
			t.Fatal(err)
		}
		v, err := DecodeETF(b)
		if err != nil {
			t.Fatalf("%s: %v", c.erl, err)
		}
		if !reflect.DeepEqual(v, c.go_) {
			if bx, ok := v.(*big.Int); !ok || bx.Cmp(c.go_.(*big.Int)) != 0 {
				t.Errorf("%s arrived as %#v, want %#v", c.erl, v, c.go_)
			}
		}
		enc, err := EncodeETF(nil, v)
		if err != nil {
			t.Fatalf("encoding %s: %v", c.erl, err)
		}
		back = append(back, "{"+c.erl+", <<16#"+strings.Join(hexBytes(enc), ", 16#")+">>}")
	}
	res := evalErl(t, "io:format(\"~p~n\", [[I || {I, {T, B}} <- lists:enumerate(["+strings.Join(back, ", ")+"]), binary_to_term(B) =/= T]])")
	if strings.TrimSpace(res) != "[]" {
		t.Fatalf("terms that did not come back the same (1-based): %s", res)
	}
}

func hexBytes(b []byte) []string {
	out := make([]string, len(b))
	for i, c := range b {
		out[i] = hex.EncodeToString([]byte{c})
	}
	return out
}

// TestETFOwnRefsAndPids checks that this node's pids and refs come back as
// themselves through an Erlang encoding.
func TestETFOwnRefsAndPids(t *testing.T) {
	c := etfCodec{self: "gandalf@host", creation: 7, lim: DefaultDecodeLimits.resolve()}
	for _, v := range []any{
		Pid{Node: "gandalf@host", ID: 1, Creation: 7},
		Pid{Node: "gandalf@host", ID: 123456789, Creation: 7},
		Pid{Node: "e@host", ID: etfPidID(80, 3), Creation: 99},
		Ref{Node: "gandalf@host", ID: 1},
		Ref{Node: "gandalf@host", ID: 1 << 40},
		ErlRef{Node: "e@host", Creation: 3, Len: 3, ID: [5]uint32{1, 2, 3}},
		Tuple{Down{Ref: Ref{Node: "gandalf@host", ID: 5}, Pid: Pid{Node: "gandalf@host", ID: 2, Creation: 7}, Reason: Normal}},
	} {
		b, err := c.encode(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		got, rest, err := c.decode(b)
		if err != nil || len(rest) != 0 {
			t.Fatalf("%v: %v (%d bytes left)", v, err, len(rest))
		}
		want := v
		if tu, ok := v.(Tuple); ok {
			d := tu[0].(Down)
			want = Tuple{Tuple{Atom("DOWN"), d.Ref, Atom("process"), d.Pid, d.Reason}}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%v came back as %#v", v, got)
		}
	}
}

// TestETFRefusals checks what has no Go value, and bad input.
func TestETFRefusals(t *testing.T) {
	out := evalErl(t, "[io:format(\"~s~n\", [binary:encode_hex(term_to_binary(T))]) || T <- [fun() -> ok end, fun lists:reverse/1, <<1:3>>, #{{a} => 1}, hd(erlang:ports())]]")
	lines := strings.Fields(out)
	want := []error{ErrBadArgs, ErrBadArgs, ErrBadArgs, ErrBadArgs, ErrBadArgs}
	if len(lines) != len(want) {
		t.Fatalf("erl printed %q", out)
	}
	for i, l := range lines {
		b, _ := hex.DecodeString(l)
		if _, err := DecodeETF(b); !errors.Is(err, want[i]) {
			t.Errorf("term %d: %v, want %v", i, err, want[i])
		}
	}
	for _, b := range [][]byte{
		nil,
		{131},
		{130, 97, 1},
		{131, 108, 0xff, 0xff, 0xff, 0xff},       // a list claiming 4 G elements
		{131, 109, 0x7f, 0xff, 0xff, 0xff, 1, 2}, // a binary claiming 2 GB
		{131, 104, 3, 97, 1},                     // a tuple that ends early
		{131, 119, 3, 0xff, 0xfe, 0xfd},          // an atom that is not UTF-8
		{131, 97, 1, 97, 2},                      // bytes after the term
		{131, 82, 0},                             // an atom cache reference
	} {
		if _, err := DecodeETF(b); err == nil {
			t.Errorf("% x decoded without error", b)
		}
	}
	deep := []byte{131}
	for range 100 {
		deep = append(deep, 104, 1)
	}
	deep = append(deep, 106)
	if _, err := DecodeETF(deep); !errors.Is(err, ErrTooLarge) {
		t.Errorf("100 nested tuples: %v, want ErrTooLarge", err)
	}
	if _, err := EncodeETF(nil, make(chan int)); !errors.Is(err, ErrBadArgs) {
		t.Errorf("a channel: %v, want ErrBadArgs", err)
	}
	if _, err := EncodeETF(nil, Atom(strings.Repeat("a", 256))); !errors.Is(err, ErrBadArgs) {
		t.Errorf("a 256-character atom: %v, want ErrBadArgs", err)
	}
}

func TestFormatTerm(t *testing.T) {
	for v, want := range map[string]any{
		`{ok, "fine"}`:        Tuple{Atom("ok"), "fine"},
		`[1, 'B' | c]`:        ImproperList{Elems: []any{1, Atom("B")}, Tail: Atom("c")},
		`#{a => 1, b => [2]}`: map[any]any{Atom("a"): 1, Atom("b"): []any{2}},
	} {
		if got := FormatTerm(want); got != v {
			t.Errorf("FormatTerm = %s, want %s", got, v)
		}
	}
}

func TestFormatTermBounded(t *testing.T) {
	big := make([]any, 100000)
	for i := range big {
		big[i] = i
	}
	if s := FormatTerm(big); len(s) > 3000 {
		t.Fatalf("FormatTerm of 100,000 elements wrote %d bytes", len(s))
	}
}

// TestErlangStringFitsStringParameter: an Erlang string (a list of code
// points) fits a Go string parameter; other lists do not.
func TestErlangStringFitsStringParameter(t *testing.T) {
	up := reflect.ValueOf(strings.ToUpper)
	if v, err := Invoke(t0(), up, []any{[]any{104, 233, 108, 108, 111}}); err != nil || v != "HÉLLO" {
		t.Fatalf("ToUpper(\"héllo\" as a list) = %#v, %v", v, err)
	}
	for _, bad := range []any{[]any{1.5}, []any{Atom("a")}, []any{-1}, []any{0xd800}} {
		if _, err := Invoke(t0(), up, []any{bad}); !errors.Is(err, ErrBadArgs) {
			t.Errorf("ToUpper(%v): %v, want ErrBadArgs", bad, err)
		}
	}
}
