package cluster

// Erlang's external term format (ETF), as Erlang nodes send terms over the
// distribution protocol. How each term becomes a Go value and back:
//
//	Erlang term                         Go value
//	atom (true, false)                  bool
//	other atoms                         Atom
//	integer                             int; *big.Int beyond int64
//	float                               float64
//	binary                              string when valid UTF-8, else []byte
//	bitstring (not whole bytes)         refused
//	[] and proper lists                 []any (an Erlang string "abc" is the
//	                                    list []any{97, 98, 99})
//	improper list [a | b]               ImproperList
//	tuple                               Tuple
//	map                                 map[any]any (keys that are tuples,
//	                                    lists or maps are refused)
//	pid                                 Pid
//	reference                           Ref when this node made it, else ErlRef
//	fun, port                           refused
//
// and from Go: nil is the atom undefined, a string or []byte a binary, any
// slice a list, an error {error, <<"message">>}, Down, Exit, NodeUp and
// NodeDown the messages Erlang delivers for them ({'DOWN', Ref, process,
// Pid, Reason}, {'EXIT', From, Reason}, {nodeup, Node}, {nodedown, Node}),
// a Name {Name, Node}, other structs maps of their field names (atoms).
//
// Atoms stay strings: no atom table grows however many new atoms a peer
// sends, and each is at most 255 characters, as in Erlang.

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// External term format tags.
const (
	etfVersion       = 131
	etfNewFloat      = 70
	etfBitBinary     = 77
	etfAtomCacheRef  = 82
	etfNewPid        = 88
	etfNewPort       = 89
	etfNewerRef      = 90
	etfSmallInt      = 97
	etfInt           = 98
	etfFloat         = 99
	etfAtom          = 100
	etfRef           = 101
	etfPort          = 102
	etfPid           = 103
	etfSmallTuple    = 104
	etfLargeTuple    = 105
	etfNil           = 106
	etfString        = 107
	etfList          = 108
	etfBinary        = 109
	etfSmallBig      = 110
	etfLargeBig      = 111
	etfNewFun        = 112
	etfExport        = 113
	etfNewRef        = 114
	etfSmallAtom     = 115
	etfMap           = 116
	etfFun           = 117
	etfAtomUTF8      = 118
	etfSmallAtomUTF8 = 119
	etfV4Port        = 120
	etfCompressed    = 80
)

// etfMaxAtomBytes bounds an atom: Erlang allows 255 characters, each at most
// four bytes of UTF-8.
const etfMaxAtomBytes = 255 * 4

// Tuple is an Erlang tuple, {ok, 42}: a fixed group of values, told apart
// from a list ([]any) on the wire. It prints in Erlang's form.
type Tuple []any

func (t Tuple) String() string { return FormatTerm(t) }

// ImproperList is an Erlang list whose tail is not the empty list:
// [a, b | c] is ImproperList{Elems: []any{a, b}, Tail: c}.
type ImproperList struct {
	Elems []any
	Tail  any
}

func (l ImproperList) String() string { return FormatTerm(l) }

// ErlRef is a reference that an Erlang node made (make_ref(), a monitor's):
// it crosses back to Erlang unchanged and compares with ==.
type ErlRef struct {
	Node     Atom
	Creation uint32
	Len      uint8 // how many of ID are used, 1 to 5
	ID       [5]uint32
}

func (r ErlRef) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "#Ref<%s", r.Node)
	for i := int(r.Len) - 1; i >= 0; i-- {
		fmt.Fprintf(&b, ".%d", r.ID[i])
	}
	b.WriteString(">")
	return b.String()
}

// etfCodec encodes and decodes terms for one node: its own pids and
// references are told from other nodes' by its name and creation.
type etfCodec struct {
	self     Atom
	creation uint32
	lim      DecodeLimits
}

// EncodeETF appends v, in Erlang's external term format with its version
// byte, to dst. See the table in etf.go; values that have no Erlang term
// (channels, funcs, complex numbers) fail with ErrBadArgs.
func EncodeETF(dst []byte, v any) ([]byte, error) {
	c := etfCodec{lim: DefaultDecodeLimits.resolve()}
	return c.encode(dst, v)
}

// DecodeETF decodes one term in Erlang's external term format, with its
// version byte, that fills b. Malformed input fails with ErrProtocol; funs,
// ports and bitstrings with ErrBadArgs; input over DefaultDecodeLimits with
// ErrTooLarge.
func DecodeETF(b []byte) (any, error) {
	c := etfCodec{lim: DefaultDecodeLimits.resolve()}
	v, rest, err := c.decode(b)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("decoding an Erlang term: %d bytes after it: %w", len(rest), ErrProtocol)
	}
	return v, nil
}

func (c *etfCodec) encode(dst []byte, v any) ([]byte, error) {
	out, err := c.term(append(dst, etfVersion), v, 0)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// decode decodes one term with its version byte and returns what follows.
func (c *etfCodec) decode(b []byte) (any, []byte, error) {
	if len(b) == 0 || b[0] != etfVersion {
		return nil, nil, fmt.Errorf("decoding an Erlang term: no version byte %d: %w", etfVersion, ErrProtocol)
	}
	d := etfDecoder{c: c, b: b[1:]}
	v, err := d.term(0)
	if err != nil {
		return nil, nil, fmt.Errorf("decoding an Erlang term: %w", err)
	}
	return v, d.b, nil
}

// ---------------------------------------------------------------------------
// Encoding

func etfAtomBytes(dst []byte, a string) []byte {
	if len(a) < 256 {
		return append(append(dst, etfSmallAtomUTF8, byte(len(a))), a...)
	}
	dst = append(dst, etfAtomUTF8)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(a)))
	return append(dst, a...)
}

func (c *etfCodec) atom(dst []byte, a string) ([]byte, error) {
	if len(a) > etfMaxAtomBytes || utf8.RuneCountInString(a) > 255 {
		return dst, fmt.Errorf("the atom %.40q… is longer than Erlang's 255 characters: %w", a, ErrBadArgs)
	}
	if !utf8.ValidString(a) {
		return dst, fmt.Errorf("the atom %q is not valid UTF-8: %w", a, ErrBadArgs)
	}
	return etfAtomBytes(dst, a), nil
}

func etfInt64(dst []byte, i int64) []byte {
	switch {
	case i >= 0 && i < 256:
		return append(dst, etfSmallInt, byte(i))
	case i >= math.MinInt32 && i <= math.MaxInt32:
		dst = append(dst, etfInt)
		return binary.BigEndian.AppendUint32(dst, uint32(int32(i)))
	}
	sign := byte(0)
	u := uint64(i)
	if i < 0 {
		sign, u = 1, uint64(-i) // -MinInt64 wraps to its own magnitude as uint64
	}
	return etfBigMagnitude(dst, sign, u)
}

func etfBigMagnitude(dst []byte, sign byte, u uint64) []byte {
	var digits [8]byte
	n := 0
	for u > 0 {
		digits[n] = byte(u)
		u >>= 8
		n++
	}
	dst = append(dst, etfSmallBig, byte(n), sign)
	return append(dst, digits[:n]...)
}

func etfBig(dst []byte, x *big.Int) []byte {
	if x.IsInt64() {
		return etfInt64(dst, x.Int64())
	}
	mag := x.Bytes() // big-endian magnitude
	slices.Reverse(mag)
	sign := byte(0)
	if x.Sign() < 0 {
		sign = 1
	}
	if len(mag) < 256 {
		dst = append(dst, etfSmallBig, byte(len(mag)), sign)
	} else {
		dst = append(dst, etfLargeBig)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(mag)))
		dst = append(dst, sign)
	}
	return append(dst, mag...)
}

func etfBin(dst []byte, b []byte) []byte {
	dst = append(dst, etfBinary)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(b)))
	return append(dst, b...)
}

func (c *etfCodec) pid(dst []byte, p Pid) ([]byte, error) {
	dst = append(dst, etfNewPid)
	dst, err := c.atom(dst, string(p.Node))
	if err != nil {
		return dst, err
	}
	id, serial := etfPidParts(p.ID)
	dst = binary.BigEndian.AppendUint32(dst, id)
	dst = binary.BigEndian.AppendUint32(dst, serial)
	return binary.BigEndian.AppendUint32(dst, p.Creation), nil
}

// etfPidParts splits a Pid's ID into Erlang's ID (15 significant bits) and
// serial; etfPidID is its inverse. IDs of pids that do not fit (OTP 26's
// full 32-bit IDs) keep both words, marked by the top bit.
func etfPidParts(id uint64) (uint32, uint32) {
	if id&(1<<63) != 0 {
		return uint32(id), uint32(id>>32) &^ (1 << 31)
	}
	return uint32(id & 0x7fff), uint32(id >> 15)
}

func etfPidID(id, serial uint32) uint64 {
	if id < 1<<15 && serial < 1<<31 {
		return uint64(serial)<<15 | uint64(id)
	}
	return 1<<63 | uint64(serial)<<32 | uint64(id)
}

func (c *etfCodec) ref(dst []byte, node Atom, creation uint32, ids []uint32) ([]byte, error) {
	dst = append(dst, etfNewerRef)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(ids)))
	dst, err := c.atom(dst, string(node))
	if err != nil {
		return dst, err
	}
	dst = binary.BigEndian.AppendUint32(dst, creation)
	for _, id := range ids {
		dst = binary.BigEndian.AppendUint32(dst, id)
	}
	return dst, nil
}

// gshRef is the Erlang form of a Ref: its 64-bit ID in the first two words
// (the first word keeps 18 bits, as Erlang's do), marked in the third.
func (c *etfCodec) gshRef(dst []byte, r Ref) ([]byte, error) {
	cr := uint32(0)
	if r.Node == c.self {
		cr = c.creation
	}
	return c.ref(dst, r.Node, cr, []uint32{uint32(r.ID & 0x3ffff), uint32(r.ID >> 18), uint32(r.ID>>50) | gshRefMark})
}

// gshRefMark marks, in a reference's third word, one that a gsh node made.
const gshRefMark = 0x67736800 // "gsh\0"

func (c *etfCodec) term(dst []byte, v any, depth int) ([]byte, error) {
	if depth > c.lim.MaxDepth {
		return dst, fmt.Errorf("a value nested more than %d deep: %w", c.lim.MaxDepth, ErrTooLarge)
	}
	switch x := v.(type) {
	case nil:
		return etfAtomBytes(dst, "undefined"), nil
	case bool:
		if x {
			return etfAtomBytes(dst, "true"), nil
		}
		return etfAtomBytes(dst, "false"), nil
	case Atom:
		return c.atom(dst, string(x))
	case string:
		if !utf8.ValidString(x) {
			return dst, fmt.Errorf("cannot send a string that is not valid UTF-8: %w", ErrBadArgs)
		}
		return etfBin(dst, []byte(x)), nil
	case []byte:
		return etfBin(dst, x), nil
	case int:
		return etfInt64(dst, int64(x)), nil
	case int64:
		return etfInt64(dst, x), nil
	case uint64:
		if x > math.MaxInt64 {
			return etfBigMagnitude(dst, 0, x), nil
		}
		return etfInt64(dst, int64(x)), nil
	case *big.Int:
		if x == nil {
			return etfAtomBytes(dst, "undefined"), nil
		}
		return etfBig(dst, x), nil
	case float64:
		dst = append(dst, etfNewFloat)
		return binary.BigEndian.AppendUint64(dst, math.Float64bits(x)), nil
	case float32:
		dst = append(dst, etfNewFloat)
		return binary.BigEndian.AppendUint64(dst, math.Float64bits(float64(x))), nil
	case Pid:
		return c.pid(dst, x)
	case Ref:
		return c.gshRef(dst, x)
	case ErlRef:
		if x.Len < 1 || x.Len > 5 {
			return dst, fmt.Errorf("a reference of %d words: %w", x.Len, ErrBadArgs)
		}
		return c.ref(dst, x.Node, x.Creation, x.ID[:x.Len])
	case Tuple:
		return c.tuple(dst, x, depth)
	case ImproperList:
		return c.list(dst, x.Elems, x.Tail, depth)
	case []any:
		return c.list(dst, x, nil, depth)
	case map[any]any:
		dst = append(dst, etfMap)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(x)))
		var err error
		for k, e := range x {
			if dst, err = c.term(dst, k, depth+1); err != nil {
				return dst, err
			}
			if dst, err = c.term(dst, e, depth+1); err != nil {
				return dst, err
			}
		}
		return dst, nil
	case Down:
		return c.tuple(dst, Tuple{Atom("DOWN"), x.Ref, Atom("process"), x.Pid, x.Reason}, depth)
	case Exit:
		return c.tuple(dst, Tuple{Atom("EXIT"), x.From, x.Reason}, depth)
	case NodeUp:
		return c.tuple(dst, Tuple{Atom("nodeup"), x.Node}, depth)
	case NodeDown:
		return c.tuple(dst, Tuple{Atom("nodedown"), x.Node}, depth)
	case Name:
		return c.tuple(dst, Tuple{Atom(x.Name), x.Node}, depth)
	case error:
		return c.tuple(dst, Tuple{Atom("error"), x.Error()}, depth)
	}
	return c.reflectTerm(dst, reflect.ValueOf(v), depth)
}

func (c *etfCodec) tuple(dst []byte, t Tuple, depth int) ([]byte, error) {
	if len(t) < 256 {
		dst = append(dst, etfSmallTuple, byte(len(t)))
	} else {
		dst = append(dst, etfLargeTuple)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(t)))
	}
	var err error
	for _, e := range t {
		if dst, err = c.term(dst, e, depth+1); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

func (c *etfCodec) list(dst []byte, elems []any, tail any, depth int) ([]byte, error) {
	if len(elems) == 0 {
		if tail == nil {
			return append(dst, etfNil), nil
		}
		return c.term(dst, tail, depth+1)
	}
	dst = append(dst, etfList)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(elems)))
	var err error
	for _, e := range elems {
		if dst, err = c.term(dst, e, depth+1); err != nil {
			return dst, err
		}
	}
	if tail == nil {
		return append(dst, etfNil), nil
	}
	return c.term(dst, tail, depth+1)
}

// reflectTerm encodes the values the type switch of term does not name:
// named basic types, other slices, arrays, maps, structs and pointers.
func (c *etfCodec) reflectTerm(dst []byte, v reflect.Value, depth int) ([]byte, error) {
	switch v.Kind() {
	case reflect.Bool:
		return c.term(dst, v.Bool(), depth)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return etfInt64(dst, v.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return c.term(dst, v.Uint(), depth)
	case reflect.Float32, reflect.Float64:
		return c.term(dst, v.Float(), depth)
	case reflect.String:
		return c.term(dst, v.String(), depth)
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			b := make([]byte, v.Len())
			reflect.Copy(reflect.ValueOf(b), v)
			return etfBin(dst, b), nil
		}
		elems := make([]any, v.Len())
		for i := range elems {
			elems[i] = v.Index(i).Interface()
		}
		return c.list(dst, elems, nil, depth)
	case reflect.Map:
		m := make(map[any]any, v.Len())
		it := v.MapRange()
		for it.Next() {
			m[it.Key().Interface()] = it.Value().Interface()
		}
		return c.term(dst, m, depth)
	case reflect.Struct:
		t := v.Type()
		m := map[any]any{}
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() {
				m[Atom(f.Name)] = v.Field(i).Interface()
			}
		}
		return c.term(dst, m, depth)
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return etfAtomBytes(dst, "undefined"), nil
		}
		return c.term(dst, v.Elem().Interface(), depth+1)
	}
	if !v.IsValid() {
		return etfAtomBytes(dst, "undefined"), nil
	}
	return dst, fmt.Errorf("cannot send %s to an Erlang node: %w", v.Type(), ErrBadArgs)
}

// ---------------------------------------------------------------------------
// Decoding

type etfDecoder struct {
	c *etfCodec
	b []byte
}

var errETFShort = fmt.Errorf("the term ends early: %w", ErrProtocol)

func (d *etfDecoder) take(n int) ([]byte, error) {
	if n < 0 || n > len(d.b) {
		return nil, errETFShort
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out, nil
}

func (d *etfDecoder) u8() (int, error) {
	b, err := d.take(1)
	if err != nil {
		return 0, err
	}
	return int(b[0]), nil
}

func (d *etfDecoder) u16() (int, error) {
	b, err := d.take(2)
	if err != nil {
		return 0, err
	}
	return int(binary.BigEndian.Uint16(b)), nil
}

func (d *etfDecoder) u32() (uint32, error) {
	b, err := d.take(4)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(b), nil
}

// count reads a 4-byte element count and checks it against what is left:
// each element takes at least min bytes, so a peer cannot make this node
// allocate for elements it did not send.
// creation reads a pid's or reference's creation: one byte in the old
// tags (PID_EXT, NEW_REFERENCE_EXT), four in the new ones.
func (d *etfDecoder) creation(old bool) (uint32, error) {
	if old {
		c, err := d.u8()
		return uint32(c), err
	}
	return d.u32()
}

func (d *etfDecoder) count(min int) (int, error) {
	n, err := d.u32()
	if err != nil {
		return 0, err
	}
	if int64(n)*int64(min) > int64(len(d.b)) {
		return 0, errETFShort
	}
	if int(n) > d.c.lim.MaxElements {
		return 0, fmt.Errorf("%d elements, over the limit of %d: %w", n, d.c.lim.MaxElements, ErrTooLarge)
	}
	return int(n), nil
}

// atomName reads an atom (any of its four tags) and returns its text.
func (d *etfDecoder) atomName() (string, error) {
	tag, err := d.u8()
	if err != nil {
		return "", err
	}
	return d.atomBody(tag)
}

func (d *etfDecoder) atomBody(tag int) (string, error) {
	var n int
	var err error
	switch tag {
	case etfSmallAtom, etfSmallAtomUTF8:
		n, err = d.u8()
	case etfAtom, etfAtomUTF8:
		n, err = d.u16()
	case etfAtomCacheRef:
		return "", fmt.Errorf("an atom cache reference, which this node did not ask for: %w", ErrProtocol)
	default:
		return "", fmt.Errorf("tag %d where an atom belongs: %w", tag, ErrProtocol)
	}
	if err != nil {
		return "", err
	}
	if n > etfMaxAtomBytes {
		return "", fmt.Errorf("an atom of %d bytes, over Erlang's 255 characters: %w", n, ErrTooLarge)
	}
	b, err := d.take(n)
	if err != nil {
		return "", err
	}
	if tag == etfAtom || tag == etfSmallAtom { // Latin-1
		r := make([]rune, len(b))
		for i, c := range b {
			r[i] = rune(c)
		}
		return string(r), nil
	}
	if !utf8.Valid(b) || utf8.RuneCount(b) > 255 {
		return "", fmt.Errorf("an atom that is not valid UTF-8 of at most 255 characters: %w", ErrProtocol)
	}
	return string(b), nil
}

func (d *etfDecoder) term(depth int) (any, error) {
	if depth > d.c.lim.MaxDepth {
		return nil, fmt.Errorf("a term nested more than %d deep: %w", d.c.lim.MaxDepth, ErrTooLarge)
	}
	tag, err := d.u8()
	if err != nil {
		return nil, err
	}
	switch tag {
	case etfSmallInt:
		return d.u8()
	case etfInt:
		u, err := d.u32()
		return int(int32(u)), err
	case etfSmallBig, etfLargeBig:
		var n int
		if tag == etfSmallBig {
			n, err = d.u8()
		} else {
			var u uint32
			u, err = d.u32()
			n = int(u)
			if err == nil && n > d.c.lim.MaxBytes {
				return nil, fmt.Errorf("an integer of %d bytes: %w", n, ErrTooLarge)
			}
		}
		if err != nil {
			return nil, err
		}
		sign, err := d.u8()
		if err != nil {
			return nil, err
		}
		digits, err := d.take(n)
		if err != nil {
			return nil, err
		}
		be := slices.Clone(digits)
		slices.Reverse(be)
		x := new(big.Int).SetBytes(be)
		if sign != 0 {
			x.Neg(x)
		}
		if x.IsInt64() && strconv.IntSize == 64 {
			return int(x.Int64()), nil
		}
		return x, nil
	case etfNewFloat:
		b, err := d.take(8)
		if err != nil {
			return nil, err
		}
		return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
	case etfFloat:
		b, err := d.take(31)
		if err != nil {
			return nil, err
		}
		s := strings.TrimRight(string(b), "\x00")
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, fmt.Errorf("a float %q: %w", s, ErrProtocol)
		}
		return f, nil
	case etfAtom, etfAtomUTF8, etfSmallAtom, etfSmallAtomUTF8, etfAtomCacheRef:
		a, err := d.atomBody(tag)
		if err != nil {
			return nil, err
		}
		switch a {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return Atom(a), nil
	case etfSmallTuple, etfLargeTuple:
		var n int
		if tag == etfSmallTuple {
			n, err = d.u8()
			if err == nil && n > len(d.b) {
				err = errETFShort
			}
		} else {
			n, err = d.count(1)
		}
		if err != nil {
			return nil, err
		}
		t := make(Tuple, n)
		for i := range t {
			if t[i], err = d.term(depth + 1); err != nil {
				return nil, err
			}
		}
		return t, nil
	case etfNil:
		return []any{}, nil
	case etfString:
		n, err := d.u16()
		if err != nil {
			return nil, err
		}
		b, err := d.take(n)
		if err != nil {
			return nil, err
		}
		l := make([]any, n)
		for i, c := range b {
			l[i] = int(c)
		}
		return l, nil
	case etfList:
		n, err := d.count(1)
		if err != nil {
			return nil, err
		}
		l := make([]any, n)
		for i := range l {
			if l[i], err = d.term(depth + 1); err != nil {
				return nil, err
			}
		}
		tail, err := d.term(depth + 1)
		if err != nil {
			return nil, err
		}
		if t, ok := tail.([]any); ok && len(t) == 0 {
			return l, nil
		}
		if n == 0 {
			return tail, nil
		}
		return ImproperList{Elems: l, Tail: tail}, nil
	case etfBinary:
		u, err := d.u32()
		if err != nil {
			return nil, err
		}
		if int64(u) > int64(d.c.lim.MaxBytes) {
			return nil, fmt.Errorf("a binary of %d bytes, over the limit of %d: %w", u, d.c.lim.MaxBytes, ErrTooLarge)
		}
		b, err := d.take(int(u))
		if err != nil {
			return nil, err
		}
		if utf8.Valid(b) {
			return string(b), nil
		}
		return slices.Clone(b), nil
	case etfBitBinary:
		return nil, fmt.Errorf("a bitstring that is not whole bytes has no Go value: %w", ErrBadArgs)
	case etfMap:
		n, err := d.count(2)
		if err != nil {
			return nil, err
		}
		m := make(map[any]any, n)
		for range n {
			k, err := d.term(depth + 1)
			if err != nil {
				return nil, err
			}
			v, err := d.term(depth + 1)
			if err != nil {
				return nil, err
			}
			switch k.(type) {
			case Tuple, []any, ImproperList, map[any]any, *big.Int, []byte:
				return nil, fmt.Errorf("a map key %s cannot be a Go map key (only atoms, numbers, binaries, pids and references can): %w", FormatTerm(k), ErrBadArgs)
			}
			m[k] = v
		}
		return m, nil
	case etfPid, etfNewPid:
		node, err := d.atomName()
		if err != nil {
			return nil, err
		}
		id, err := d.u32()
		if err != nil {
			return nil, err
		}
		serial, err := d.u32()
		if err != nil {
			return nil, err
		}
		cr, err := d.creation(tag == etfPid)
		if err != nil {
			return nil, err
		}
		if serial >= 1<<31 {
			return nil, fmt.Errorf("a pid serial of %d, over 31 bits: %w", serial, ErrProtocol)
		}
		return Pid{Node: Atom(node), ID: etfPidID(id, serial), Creation: cr}, nil
	case etfNewRef, etfNewerRef:
		n, err := d.u16()
		if err != nil {
			return nil, err
		}
		if n < 1 || n > 5 {
			return nil, fmt.Errorf("a reference of %d words: %w", n, ErrProtocol)
		}
		node, err := d.atomName()
		if err != nil {
			return nil, err
		}
		cr, err := d.creation(tag == etfNewRef)
		if err != nil {
			return nil, err
		}
		r := ErlRef{Node: Atom(node), Creation: cr, Len: uint8(n)}
		for i := range n {
			if r.ID[i], err = d.u32(); err != nil {
				return nil, err
			}
		}
		if r.Node == d.c.self && d.c.self != "" && r.Len == 3 && r.ID[2]&^0xff == gshRefMark && r.ID[0] < 1<<18 &&
			(r.Creation == d.c.creation || r.Creation == 0) {
			return Ref{Node: r.Node, ID: uint64(r.ID[0]) | uint64(r.ID[1])<<18 | uint64(r.ID[2]&0xff)<<50}, nil
		}
		return r, nil
	case etfRef:
		return nil, fmt.Errorf("an old-style reference (REFERENCE_EXT): %w", ErrProtocol)
	case etfNewFun, etfFun, etfExport:
		return nil, fmt.Errorf("a fun cannot cross to gsh (send the module, function and arguments instead): %w", ErrBadArgs)
	case etfPort, etfNewPort, etfV4Port:
		return nil, fmt.Errorf("a port cannot cross to gsh: %w", ErrBadArgs)
	case etfCompressed:
		return nil, fmt.Errorf("a compressed term, which this node does not take: %w", ErrProtocol)
	}
	return nil, fmt.Errorf("unknown term tag %d: %w", tag, ErrProtocol)
}

// erlString reports whether a is an Erlang string, a list of Unicode code
// points, and returns its text.
func erlString(a any) (string, bool) {
	l, ok := a.([]any)
	if !ok {
		return "", false
	}
	r := make([]rune, len(l))
	for i, e := range l {
		c, ok := e.(int)
		if !ok || c < 0 || c > unicode.MaxRune || c >= 0xd800 && c < 0xe000 {
			return "", false
		}
		r[i] = rune(c)
	}
	return string(r), true
}

// FormatTerm writes v, up to about 2,000 bytes, as Erlang prints a term, {ok, 42}, [1, 2 | 3],
// 'an atom', #{k => v}, <<1,2>> for a []byte, but a string as Go quotes it,
// "text", as it is a string in gsh.
func FormatTerm(v any) string {
	var b strings.Builder
	formatTerm(&b, v, 0)
	return b.String()
}

// formatTermMax bounds what FormatTerm writes: a term from a peer may be
// as large as a frame.
const formatTermMax = 2000

func formatTerm(b *strings.Builder, v any, depth int) {
	if depth > 32 || b.Len() > formatTermMax {
		b.WriteString("...")
		return
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("undefined")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case Atom:
		b.WriteString(quoteAtom(string(x)))
	case string:
		b.WriteString(strconv.Quote(x))
	case []byte:
		b.WriteString("<<")
		for i, c := range x {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(strconv.Itoa(int(c)))
		}
		b.WriteString(">>")
	case Tuple:
		b.WriteString("{")
		formatElems(b, x, depth)
		b.WriteString("}")
	case []any:
		b.WriteString("[")
		formatElems(b, x, depth)
		b.WriteString("]")
	case ImproperList:
		b.WriteString("[")
		formatElems(b, x.Elems, depth)
		b.WriteString(" | ")
		formatTerm(b, x.Tail, depth+1)
		b.WriteString("]")
	case map[any]any:
		keys := make([]string, 0, len(x))
		vals := map[string]any{}
		for k, e := range x {
			ks := FormatTerm(k)
			keys = append(keys, ks)
			vals[ks] = e
		}
		slices.Sort(keys)
		b.WriteString("#{")
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			if b.Len() > formatTermMax {
				b.WriteString("...")
				break
			}
			b.WriteString(k + " => ")
			formatTerm(b, vals[k], depth+1)
		}
		b.WriteString("}")
	case error:
		b.WriteString(x.Error())
	default:
		fmt.Fprint(b, x)
	}
}

// formatElems writes the elements of a tuple or list, separated by commas,
// cut short with "..." once the text passes formatTermMax.
func formatElems(b *strings.Builder, elems []any, depth int) {
	for i, e := range elems {
		if i > 0 {
			b.WriteString(", ")
		}
		if b.Len() > formatTermMax {
			b.WriteString("...")
			return
		}
		formatTerm(b, e, depth+1)
	}
}

// quoteAtom quotes an atom as Erlang prints it: bare when it is a
// lower-case word, in single quotes otherwise.
func quoteAtom(a string) string {
	bare := a != ""
	for i, r := range a {
		if !(r >= 'a' && r <= 'z' || i > 0 && (r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '@')) {
			bare = false
			break
		}
	}
	if bare {
		return a
	}
	return "'" + strings.ReplaceAll(strings.ReplaceAll(a, `\`, `\\`), "'", `\'`) + "'"
}
