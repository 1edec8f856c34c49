package cluster

// The wire value codec.
//
// Values cross the wire as CBOR (RFC 8949), a small subset of it, written and
// read by the hand-made encoder and decoder below. The wire form of each Go
// value:
//
//	nil                       null (0xf6)
//	bool                      false, true
//	every integer kind        major type 0 or 1, shortest form; decodes as int
//	                          (uint64 above math.MaxInt64)
//	float32, float64          always a 64-bit float (0xfb); decodes as float64.
//	                          Half and single floats are accepted on input.
//	string, named strings     text string; must be valid UTF-8
//	[]byte, [N]byte           byte string (any slice or array of a uint8 kind)
//	other slices and arrays   array; decodes as []any
//	maps                      map with keys in bytewise order of their
//	                          encoding (RFC 8949 core deterministic encoding);
//	                          decodes as map[any]any
//	structs, Struct           tag 27004 around [name, field1, value1,
//	                          field2, value2, …]: the type's name (see
//	                          StructName; may be empty) and its exported
//	                          fields in declaration order, names non-empty
//	                          and distinct; decodes as Struct. At most
//	                          MaxElements fields; counts as a level of
//	                          nesting.
//	Atom                      tag 27001 around a text string
//	Pid                       tag 27002 around [node, id, creation]
//	error                     tag 27003 around [node, kind, msg]; decodes as
//	                          *RemoteError
//	time.Time                 tag 0 around RFC 3339 text with nanoseconds;
//	                          decodes as time.Time
//	pointers, interfaces      what they point to or hold; nil is null
//
// Nothing else is accepted on input: indefinite lengths, undefined, simple
// values, and tags other than the five above are protocol errors.
//
// Against fxamacker/cbor/v2 v2.10.0, set as close to this as its options
// go (the same tags for Atom and Pid, bytewise-sorted maps, int64
// integers, map[any]any), on the messages that cross the wire
// (BenchmarkCodec; go test -run '^$' -bench Codec -benchtime=300ms
// -count=3 ./cluster, medians, 2026-12-01 on the shared 2-core machine,
// noisy):
//
//	message                 encode ns/op      decode ns/op, allocs/op
//	                        this     fx       this          fx
//	call request (32 B)     141      172      1408, 9       1426, 12
//	reply (an Atom)         106      164       306, 2        897, 6
//	send to a pid, with     239      778      1074, 8       4134, 18
//	  a pid (ping_pong)
//	call with 1 MiB []byte  70.9 µs  135.6 µs 706 µs, 11    1128 µs, 12
//
// Neither allocates to encode into a reused buffer. fxamacker writes a
// Pid's content as a map of its fields (this codec: a 3-array), decodes
// integers as int64 (this: int, as the interpreter's values are) and has
// no bound like DecodeLimits.MaxMemory on what a frame decodes to; matching
// those would add to its side.

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Tag numbers of gsh's own types. They lie in a range of CBOR tags that IANA
// leaves unassigned.
const (
	wireTagTime   = 0     // RFC 8949 standard date/time string
	wireTagAtom   = 27001 // Atom: a text string
	wireTagPid    = 27002 // Pid: [node text, id uint, creation uint]
	wireTagError  = 27003 // error: [node text, kind text, msg text]
	wireTagStruct = 27004 // struct: [name text, (field text, value)...]
)

// CBOR major types, shifted to the top three bits of the initial byte.
const (
	wireMajUint   = 0 << 5
	wireMajNeg    = 1 << 5
	wireMajBytes  = 2 << 5
	wireMajText   = 3 << 5
	wireMajArray  = 4 << 5
	wireMajMap    = 5 << 5
	wireMajTag    = 6 << 5
	wireMajSimple = 7 << 5
)

// Initial bytes of the simple values and floats.
const (
	wireFalse   = 0xf4
	wireTrue    = 0xf5
	wireNull    = 0xf6
	wireFloat16 = 0xf9
	wireFloat32 = 0xfa
	wireFloat64 = 0xfb
)

// DecodeLimits bounds what a decoder accepts from a peer. A field that is
// zero or negative takes its value from DefaultDecodeLimits (or, if that one
// is zero too, from the built-in default shown there).
type DecodeLimits struct {
	// MaxDepth is how deeply arrays, maps and structs may nest: 1 allows
	// []any{1, 2} but not []any{[]any{}}. Values above 10000 count as 10000,
	// so that no input can exhaust the goroutine's stack.
	MaxDepth int
	// MaxElements is the most elements one array, or key-value pairs one
	// map, may have.
	MaxElements int
	// MaxBytes is the longest a single string, byte string or atom may be.
	MaxBytes int
	// MaxMemory bounds the memory one decoded value may take, beyond the
	// size of its encoding: a value decoded from n bytes may take at most
	// n + MaxMemory bytes, as estimated by what Go spends on each part (16
	// bytes a list element, 24 a list, 48 a map and each of its entries,
	// 8 an int or float, 16 plus its length a string, 24 plus its length
	// a byte string). So a frame cannot expand far beyond its own size:
	// one of empty lists within every other limit (about 16 times its
	// size) is refused.
	MaxMemory int
}

// DefaultDecodeLimits are the limits that Decode applies. Encode applies
// them too, so that a value that encodes without error also decodes on a
// peer that keeps the defaults. Set it, if at all, before the node starts.
var DefaultDecodeLimits = DecodeLimits{
	MaxDepth:    64,
	MaxElements: 1 << 20,
	MaxBytes:    64 << 20,
	MaxMemory:   64 << 20,
}

// wireBuiltinLimits back DefaultDecodeLimits when one of its fields is not
// positive.
var wireBuiltinLimits = DecodeLimits{MaxDepth: 64, MaxElements: 1 << 20, MaxBytes: 64 << 20, MaxMemory: 64 << 20}

// wireMaxDepthCap is the hard cap on MaxDepth.
const wireMaxDepthCap = 10000

// wireMaxIndirect is how many pointers in a row Encode follows before it gives
// up, which catches pointer cycles that pass through no container.
const wireMaxIndirect = 64

func (l DecodeLimits) resolve() DecodeLimits {
	if l.MaxDepth > 0 && l.MaxDepth <= wireMaxDepthCap && l.MaxElements > 0 && l.MaxBytes > 0 && l.MaxMemory > 0 {
		return l
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultDecodeLimits.MaxDepth
		if l.MaxDepth <= 0 {
			l.MaxDepth = wireBuiltinLimits.MaxDepth
		}
	}
	if l.MaxDepth > wireMaxDepthCap {
		l.MaxDepth = wireMaxDepthCap
	}
	if l.MaxElements <= 0 {
		l.MaxElements = DefaultDecodeLimits.MaxElements
		if l.MaxElements <= 0 {
			l.MaxElements = wireBuiltinLimits.MaxElements
		}
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultDecodeLimits.MaxBytes
		if l.MaxBytes <= 0 {
			l.MaxBytes = wireBuiltinLimits.MaxBytes
		}
	}
	if l.MaxMemory <= 0 {
		l.MaxMemory = DefaultDecodeLimits.MaxMemory
		if l.MaxMemory <= 0 {
			l.MaxMemory = wireBuiltinLimits.MaxMemory
		}
	}
	return l
}

// ---------------------------------------------------------------------------
// Encoding

// Encode appends the wire form of v to dst and returns the extended slice.
//
// v may be nil, a bool, any integer or float kind, a string, a []byte, an
// Atom, a Pid, an error, a time.Time, or any slice, array, map, struct or
// pointer built from these (see the table at the top of codec.go). Structs
// encode as maps of their exported field names; embedded structs are not
// flattened but appear under their type's name. A nil slice or map encodes
// as an empty one. time.Duration, like every named integer type, encodes as
// its integer (nanoseconds). An error encodes as a RemoteError whose Kind is
// ErrorKind(err) and whose Msg is err.Error(); its Node is empty unless err is
// a *RemoteError that carries one (see EncodeFrom).
//
// Encode fails, returning dst unchanged and an error wrapping ErrBadArgs,
// for channels, funcs, complex numbers, unsafe pointers, strings that are
// not valid UTF-8, and map keys other than nil, bools, numbers (not NaN),
// strings, Atoms and Pids, or two keys that encode alike (such as int8(1)
// and int(1)). It fails with ErrTooLarge for a value over
// DefaultDecodeLimits, which includes cyclic values.
func Encode(dst []byte, v any) ([]byte, error) {
	return wireEncode(dst, v, "")
}

// EncodeFrom is Encode for a value that node sends: every error in v that
// carries no node, at any depth, is sent as a RemoteError of that node. The
// transport encodes replies with it; errors that came from yet another node
// keep their origin.
func EncodeFrom(dst []byte, v any, node Atom) ([]byte, error) {
	return wireEncode(dst, v, node)
}

type wireEncoder struct {
	buf  []byte
	node Atom
	lim  DecodeLimits
}

func wireEncode(dst []byte, v any, node Atom) (out []byte, err error) {
	e := wireEncoder{buf: dst, node: node, lim: DefaultDecodeLimits.resolve()}
	defer func() {
		// A panic here comes from a method of the caller's value, such as
		// an Error method that dereferences nil.
		if r := recover(); r != nil {
			out = dst
			err = fmt.Errorf("cannot send %T to another node: it panicked while encoding: %v: %w", v, r, ErrBadArgs)
		}
	}()
	if err := e.value(v, 0, 0); err != nil {
		return dst, err
	}
	if err := wireCheckMemory(e.buf[len(dst):], e.lim); err != nil {
		return dst, err
	}
	return e.buf, nil
}

// encodeArray appends []any{elems...} to dst, encoded as Encode does it,
// without allocating the slice: the signals and requests, which are arrays
// of a few fields, encode through it.
func encodeArray(dst []byte, elems ...any) (out []byte, err error) {
	e := wireEncoder{buf: dst, lim: DefaultDecodeLimits.resolve()}
	defer func() {
		if r := recover(); r != nil {
			out = dst
			err = fmt.Errorf("cannot send a value to another node: it panicked while encoding: %v: %w", r, ErrBadArgs)
		}
	}()
	if err := e.list(elems, 0); err != nil {
		return dst, err
	}
	if err := wireCheckMemory(e.buf[len(dst):], e.lim); err != nil {
		return dst, err
	}
	return e.buf, nil
}

// wireMaxExpansion bounds the memory a decoded value takes per byte of its
// encoding, as the decoder estimates it (an empty map in a list: 64 bytes
// for one).
const wireMaxExpansion = 64

// wireCheckMemory refuses an encoding that a peer would refuse for the
// memory its value takes (see DecodeLimits.MaxMemory). Encodings small
// enough that they cannot be over are not walked.
func wireCheckMemory(enc []byte, lim DecodeLimits) error {
	if len(enc) <= (lim.MaxMemory-wireCostSlot)/(wireMaxExpansion-1) {
		return nil
	}
	d := wireDecoder{data: enc, lim: lim, measure: true}
	if _, err := d.top(); err != nil {
		if errors.Is(err, ErrTooLarge) {
			return fmt.Errorf("cannot send a value of %d bytes that takes more than %d bytes in memory once decoded (its size + %d): %w",
				len(enc), len(enc)+lim.MaxMemory, lim.MaxMemory, ErrTooLarge)
		}
		return err
	}
	return nil
}

func wireBadType(t reflect.Type) error {
	return fmt.Errorf("cannot send %s to another node: %w", t, ErrBadArgs)
}

func (e *wireEncoder) tooDeep() error {
	return fmt.Errorf("cannot send a value nested more than %d deep (or cyclic) to another node: %w", e.lim.MaxDepth, ErrTooLarge)
}

func (e *wireEncoder) tooLong(n int) error {
	return fmt.Errorf("cannot send %d bytes to another node: over the limit of %d: %w", n, e.lim.MaxBytes, ErrTooLarge)
}

func (e *wireEncoder) tooMany(n int) error {
	return fmt.Errorf("cannot send a list or map of %d elements to another node: over the limit of %d: %w", n, e.lim.MaxElements, ErrTooLarge)
}

// wireAppendHead appends an initial byte of major type maj with argument n, in the
// shortest form.
func wireAppendHead(b []byte, maj byte, n uint64) []byte {
	switch {
	case n < 24:
		return append(b, maj|byte(n))
	case n <= math.MaxUint8:
		return append(b, maj|24, byte(n))
	case n <= math.MaxUint16:
		return append(b, maj|25, byte(n>>8), byte(n))
	case n <= math.MaxUint32:
		return append(b, maj|26, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, maj|27, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32),
		byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

func (e *wireEncoder) int(n int64) {
	if n >= 0 {
		e.buf = wireAppendHead(e.buf, wireMajUint, uint64(n))
	} else {
		e.buf = wireAppendHead(e.buf, wireMajNeg, uint64(^n))
	}
}

func (e *wireEncoder) float(f float64) {
	e.buf = binary.BigEndian.AppendUint64(append(e.buf, wireFloat64), math.Float64bits(f))
}

func (e *wireEncoder) text(s string) error {
	if len(s) > e.lim.MaxBytes {
		return fmt.Errorf("cannot send a string of %d bytes to another node: over the limit of %d: %w", len(s), e.lim.MaxBytes, ErrTooLarge)
	}
	if !wireValidString(s) {
		return fmt.Errorf("cannot send a string that is not valid UTF-8 to another node (send it as []byte): %w", ErrBadArgs)
	}
	if len(s) < 24 {
		e.buf = append(e.buf, wireMajText|byte(len(s)))
	} else {
		e.buf = wireAppendHead(e.buf, wireMajText, uint64(len(s)))
	}
	e.buf = append(e.buf, s...)
	return nil
}

// wireValidString is utf8.ValidString, quicker for short ASCII strings.
func wireValidString(s string) bool {
	if len(s) < 32 {
		for i := 0; i < len(s); i++ {
			if s[i] >= utf8.RuneSelf {
				return utf8.ValidString(s[i:])
			}
		}
		return true
	}
	return utf8.ValidString(s)
}

// wireValid is utf8.Valid, quicker for short ASCII text.
func wireValid(p []byte) bool {
	if len(p) < 32 {
		for i := 0; i < len(p); i++ {
			if p[i] >= utf8.RuneSelf {
				return utf8.Valid(p[i:])
			}
		}
		return true
	}
	return utf8.Valid(p)
}

func (e *wireEncoder) bytes(p []byte) error {
	if len(p) > e.lim.MaxBytes {
		return e.tooLong(len(p))
	}
	e.buf = append(wireAppendHead(e.buf, wireMajBytes, uint64(len(p))), p...)
	return nil
}

func (e *wireEncoder) atom(a Atom) error {
	e.buf = append(e.buf, wireMajTag|25, wireTagAtom>>8, wireTagAtom&0xff)
	return e.text(string(a))
}

func (e *wireEncoder) pid(p Pid) error {
	e.buf = append(e.buf, wireMajTag|25, wireTagPid>>8, wireTagPid&0xff, wireMajArray|3)
	if err := e.text(string(p.Node)); err != nil {
		return err
	}
	e.buf = wireAppendHead(e.buf, wireMajUint, p.ID)
	e.buf = wireAppendHead(e.buf, wireMajUint, uint64(p.Creation))
	return nil
}

// wireValidText makes s valid UTF-8, for the parts of an error, which must
// always be sendable.
func wireValidText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

func (e *wireEncoder) error(err error) error {
	var node Atom
	var kind, msg string
	if re, ok := err.(*RemoteError); ok {
		node, kind, msg = re.Node, re.Kind, re.Msg
	} else {
		kind, msg = ErrorKind(err), err.Error()
	}
	if node == "" {
		node = e.node
	}
	e.buf = append(e.buf, wireMajTag|25, wireTagError>>8, wireTagError&0xff, wireMajArray|3)
	for _, s := range [3]string{string(node), kind, msg} {
		if err := e.text(wireValidText(s)); err != nil {
			return err
		}
	}
	return nil
}

func (e *wireEncoder) time(t time.Time) error {
	if _, off := t.Zone(); off%60 != 0 {
		// RFC 3339 offsets have no seconds; such zones (local mean time
		// before 1900 or so) go as UTC so that the instant stays right.
		t = t.UTC()
	}
	if y := t.Year(); y < 0 || y > 9999 {
		return fmt.Errorf("cannot send time.Time of year %d to another node: only years 0 to 9999 fit RFC 3339: %w", y, ErrBadArgs)
	}
	var tmp [48]byte
	s := t.AppendFormat(tmp[:0], time.RFC3339Nano)
	e.buf = wireAppendHead(append(e.buf, wireMajTag|wireTagTime), wireMajText, uint64(len(s)))
	e.buf = append(e.buf, s...)
	return nil
}

// wireNilPointer reports whether v holds a nil pointer (or nil map, slice,
// func or chan), on which its Error method would likely panic.
func wireNilPointer(v any) bool {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.UnsafePointer:
		return rv.IsNil()
	}
	return false
}

// value appends v. depth counts the containers around v; ind counts the
// pointers followed since the last container.
// list appends a list at depth.
func (e *wireEncoder) list(x []any, depth int) error {
	if depth >= e.lim.MaxDepth {
		return e.tooDeep()
	}
	if len(x) > e.lim.MaxElements {
		return e.tooMany(len(x))
	}
	e.buf = wireAppendHead(e.buf, wireMajArray, uint64(len(x)))
	for _, el := range x {
		if err := e.value(el, depth+1, 0); err != nil {
			return err
		}
	}
	return nil
}

func (e *wireEncoder) value(v any, depth, ind int) error {
	if s, ok := v.(string); ok { // the commonest case, ahead of the switch
		return e.text(s)
	}
	switch x := v.(type) {
	case nil:
		e.buf = append(e.buf, wireNull)
	case bool:
		if x {
			e.buf = append(e.buf, wireTrue)
		} else {
			e.buf = append(e.buf, wireFalse)
		}
	case int:
		e.int(int64(x))
	case int64:
		e.int(x)
	case int32:
		e.int(int64(x))
	case int16:
		e.int(int64(x))
	case int8:
		e.int(int64(x))
	case uint:
		e.buf = wireAppendHead(e.buf, wireMajUint, uint64(x))
	case uint64:
		e.buf = wireAppendHead(e.buf, wireMajUint, x)
	case uint32:
		e.buf = wireAppendHead(e.buf, wireMajUint, uint64(x))
	case uint16:
		e.buf = wireAppendHead(e.buf, wireMajUint, uint64(x))
	case uint8:
		e.buf = wireAppendHead(e.buf, wireMajUint, uint64(x))
	case uintptr:
		e.buf = wireAppendHead(e.buf, wireMajUint, uint64(x))
	case float64:
		e.float(x)
	case float32:
		e.float(float64(x))
	case string:
		return e.text(x)
	case []byte:
		return e.bytes(x)
	case Atom:
		return e.atom(x)
	case Pid:
		return e.pid(x)
	case []any:
		return e.list(x, depth)
	case map[string]any:
		return e.stringMap(x, depth)
	case map[any]any:
		return e.anyMap(x, depth)
	case *RemoteError:
		if x == nil {
			e.buf = append(e.buf, wireNull)
			return nil
		}
		return e.error(x)
	case time.Time:
		return e.time(x)
	case Struct:
		return e.genericStruct(x, depth)
	case error:
		if wireNilPointer(x) {
			e.buf = append(e.buf, wireNull)
			return nil
		}
		return e.error(x)
	default:
		return e.reflect(reflect.ValueOf(v), depth, ind)
	}
	return nil
}

// wireEntry is a map entry awaiting its turn: its key encoded in a scratch
// buffer at [k0:k1], and its value.
type wireEntry struct {
	k0, k1 int
	v      any
}

// wireREntry is an entry of a map walked by reflection.
type wireREntry struct {
	k0, k1 int
	v      reflect.Value
}

type wireStringEntry struct {
	k string
	v any
}

// wireCompareText orders strings as their CBOR encodings order bytewise:
// shorter first, then by bytes, since the length leads the encoding.
func wireCompareText(a, b string) int {
	if len(a) != len(b) {
		return cmp.Compare(len(a), len(b))
	}
	return strings.Compare(a, b)
}

func (e *wireEncoder) stringMap(m map[string]any, depth int) error {
	if depth >= e.lim.MaxDepth {
		return e.tooDeep()
	}
	if len(m) > e.lim.MaxElements {
		return e.tooMany(len(m))
	}
	var small [8]wireStringEntry
	es := small[:0]
	if len(m) > len(small) {
		es = make([]wireStringEntry, 0, len(m))
	}
	for k, v := range m {
		es = append(es, wireStringEntry{k, v})
	}
	slices.SortFunc(es, func(a, b wireStringEntry) int { return wireCompareText(a.k, b.k) })
	e.buf = wireAppendHead(e.buf, wireMajMap, uint64(len(es)))
	for _, en := range es {
		if err := e.text(en.k); err != nil {
			return err
		}
		if err := e.value(en.v, depth+1, 0); err != nil {
			return err
		}
	}
	return nil
}

// wireKeyOK reports whether k may be a map key: a value that decodes as a
// comparable scalar.
func wireKeyOK(k any) bool {
	switch k.(type) {
	case nil, bool, int, int64, int32, int16, int8, uint, uint64, uint32, uint16, uint8, uintptr,
		float64, float32, string, Atom, Pid:
		return true
	}
	return wireKeyTypeOK(reflect.TypeOf(k))
}

// wireKeyTypeOK reports whether values of type t may be map keys.
func wireKeyTypeOK(t reflect.Type) bool {
	if t == wirePidType || t == wireAtomType {
		return true
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.String:
		return !t.Implements(wireErrorType)
	}
	return false
}

func wireBadKey(t reflect.Type) error {
	return fmt.Errorf("cannot send a map with a key of type %v to another node (keys must be nil, bools, numbers, strings, atoms or pids): %w", t, ErrBadArgs)
}

// wireNaNKey reports whether an encoded key is a NaN float, which could never
// be looked up and which a decoder cannot tell apart from another NaN.
func wireNaNKey(k []byte) bool {
	return len(k) == 9 && k[0] == wireFloat64 && math.IsNaN(math.Float64frombits(binary.BigEndian.Uint64(k[1:])))
}

// encodeKey appends the encoded key v to scratch.
func (e *wireEncoder) encodeKey(scratch []byte, v any, depth int) ([]byte, error) {
	saved := e.buf
	e.buf = scratch
	err := e.value(v, depth+1, 0)
	scratch = e.buf
	e.buf = saved
	return scratch, err
}

// wireCheckKeys sorts the encoded keys and rejects NaNs and duplicates.
func wireCheckKeys[E any](scratch []byte, es []E, span func(*E) (int, int)) error {
	slices.SortFunc(es, func(a, b E) int {
		a0, a1 := span(&a)
		b0, b1 := span(&b)
		return bytes.Compare(scratch[a0:a1], scratch[b0:b1])
	})
	for i := range es {
		k0, k1 := span(&es[i])
		if wireNaNKey(scratch[k0:k1]) {
			return fmt.Errorf("cannot send a map with a NaN key to another node: %w", ErrBadArgs)
		}
		if i > 0 {
			p0, p1 := span(&es[i-1])
			if bytes.Equal(scratch[p0:p1], scratch[k0:k1]) {
				return fmt.Errorf("cannot send a map with two keys that encode alike (such as int8(1) and int(1)) to another node: %w", ErrBadArgs)
			}
		}
	}
	return nil
}

func (e *wireEncoder) anyMap(m map[any]any, depth int) error {
	if depth >= e.lim.MaxDepth {
		return e.tooDeep()
	}
	if len(m) > e.lim.MaxElements {
		return e.tooMany(len(m))
	}
	var smallScratch [128]byte
	var small [8]wireEntry
	scratch := smallScratch[:0]
	es := small[:0]
	if len(m) > len(small) {
		es = make([]wireEntry, 0, len(m))
	}
	for k, v := range m {
		if !wireKeyOK(k) {
			return wireBadKey(reflect.TypeOf(k))
		}
		k0 := len(scratch)
		var err error
		if scratch, err = e.encodeKey(scratch, k, depth); err != nil {
			return err
		}
		es = append(es, wireEntry{k0, len(scratch), v})
	}
	if err := wireCheckKeys(scratch, es, func(en *wireEntry) (int, int) { return en.k0, en.k1 }); err != nil {
		return err
	}
	e.buf = wireAppendHead(e.buf, wireMajMap, uint64(len(es)))
	for _, en := range es {
		e.buf = append(e.buf, scratch[en.k0:en.k1]...)
		if err := e.value(en.v, depth+1, 0); err != nil {
			return err
		}
	}
	return nil
}

var (
	wireErrorType = reflect.TypeFor[error]()
	wireTimeType  = reflect.TypeFor[time.Time]()
	wirePidType   = reflect.TypeFor[Pid]()
	wireAtomType  = reflect.TypeFor[Atom]()
)

// reflect appends a value of a type that value's type switch does not know.
func (e *wireEncoder) reflect(rv reflect.Value, depth, ind int) error {
	if !rv.IsValid() {
		e.buf = append(e.buf, wireNull)
		return nil
	}
	t := rv.Type()
	k := rv.Kind()
	switch t {
	case wireTimeType, wirePidType, wireAtomType, structType:
		return e.value(rv.Interface(), depth, ind)
	}
	if k != reflect.Interface && t.Implements(wireErrorType) {
		if !rv.CanInterface() {
			return wireBadType(t)
		}
		return e.value(rv.Interface().(error), depth, ind)
	}
	switch k {
	case reflect.Bool:
		if rv.Bool() {
			e.buf = append(e.buf, wireTrue)
		} else {
			e.buf = append(e.buf, wireFalse)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.int(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.buf = wireAppendHead(e.buf, wireMajUint, rv.Uint())
	case reflect.Float32, reflect.Float64:
		e.float(rv.Float())
	case reflect.String:
		return e.text(rv.String())
	case reflect.Pointer:
		if rv.IsNil() {
			e.buf = append(e.buf, wireNull)
			return nil
		}
		if ind >= wireMaxIndirect {
			return e.tooDeep()
		}
		return e.reflect(rv.Elem(), depth, ind+1)
	case reflect.Interface:
		if rv.IsNil() {
			e.buf = append(e.buf, wireNull)
			return nil
		}
		if ind >= wireMaxIndirect {
			return e.tooDeep()
		}
		el := rv.Elem()
		if !el.CanInterface() {
			return e.reflect(el, depth, ind+1)
		}
		return e.value(el.Interface(), depth, ind+1)
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			if k == reflect.Slice || rv.CanAddr() {
				return e.bytes(rv.Bytes())
			}
			n := rv.Len()
			if n > e.lim.MaxBytes {
				return e.tooLong(n)
			}
			e.buf = wireAppendHead(e.buf, wireMajBytes, uint64(n))
			for i := range n {
				e.buf = append(e.buf, byte(rv.Index(i).Uint()))
			}
			return nil
		}
		if depth >= e.lim.MaxDepth {
			return e.tooDeep()
		}
		n := rv.Len()
		if n > e.lim.MaxElements {
			return e.tooMany(n)
		}
		e.buf = wireAppendHead(e.buf, wireMajArray, uint64(n))
		for i := range n {
			if err := e.reflect(rv.Index(i), depth+1, 0); err != nil {
				return err
			}
		}
	case reflect.Map:
		return e.reflectMap(rv, depth)
	case reflect.Struct:
		return e.structValue(rv, depth)
	default:
		return wireBadType(t)
	}
	return nil
}

func (e *wireEncoder) reflectMap(rv reflect.Value, depth int) error {
	if depth >= e.lim.MaxDepth {
		return e.tooDeep()
	}
	n := rv.Len()
	if n > e.lim.MaxElements {
		return e.tooMany(n)
	}
	kt := rv.Type().Key()
	if kt.Kind() != reflect.Interface && !wireKeyTypeOK(kt) {
		return wireBadKey(kt)
	}
	var smallScratch [128]byte
	scratch := smallScratch[:0]
	es := make([]wireREntry, 0, n)
	it := rv.MapRange()
	for it.Next() {
		kv := it.Key()
		if kt.Kind() == reflect.Interface {
			if kv.IsNil() {
				kv = reflect.Value{}
			} else if kv = kv.Elem(); !wireKeyTypeOK(kv.Type()) {
				return wireBadKey(kv.Type())
			}
		}
		k0 := len(scratch)
		saved := e.buf
		e.buf = scratch
		err := e.reflect(kv, depth+1, 0)
		scratch = e.buf
		e.buf = saved
		if err != nil {
			return err
		}
		es = append(es, wireREntry{k0, len(scratch), it.Value()})
	}
	if err := wireCheckKeys(scratch, es, func(en *wireREntry) (int, int) { return en.k0, en.k1 }); err != nil {
		return err
	}
	e.buf = wireAppendHead(e.buf, wireMajMap, uint64(len(es)))
	for _, en := range es {
		e.buf = append(e.buf, scratch[en.k0:en.k1]...)
		if err := e.reflect(en.v, depth+1, 0); err != nil {
			return err
		}
	}
	return nil
}

// wireStructField is an exported field of a struct type, with its name already
// encoded as a text string.
type wireStructField struct {
	index int
	key   []byte
}

// wireStructFields caches, per struct type, its exported fields in
// declaration order.
var wireStructFields sync.Map // reflect.Type -> []wireStructField

func wireFieldsOf(t reflect.Type) []wireStructField {
	if fs, ok := wireStructFields.Load(t); ok {
		return fs.([]wireStructField)
	}
	var fs []wireStructField
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		fs = append(fs, wireStructField{i, append(wireAppendHead(nil, wireMajText, uint64(len(f.Name))), f.Name...)})
	}
	wireStructFields.Store(t, fs)
	return fs
}

// structHead appends the tag and array head of a struct of n fields, and
// its name.
func (e *wireEncoder) structHead(name string, n int, depth int) error {
	if depth >= e.lim.MaxDepth {
		return e.tooDeep()
	}
	if n > e.lim.MaxElements {
		return e.tooMany(n)
	}
	e.buf = append(e.buf, wireMajTag|25, wireTagStruct>>8, wireTagStruct&0xff)
	e.buf = wireAppendHead(e.buf, wireMajArray, uint64(1+2*n))
	return e.text(name)
}

func (e *wireEncoder) structValue(rv reflect.Value, depth int) error {
	t := rv.Type()
	fs := wireFieldsOf(t)
	if err := e.structHead(StructName(t), len(fs), depth); err != nil {
		return err
	}
	for _, f := range fs {
		e.buf = append(e.buf, f.key...)
		if err := e.reflect(rv.Field(f.index), depth+1, 0); err != nil {
			return err
		}
	}
	return nil
}

// genericStruct appends a Struct, which must have distinct, non-empty
// field names.
func (e *wireEncoder) genericStruct(s Struct, depth int) error {
	if err := e.structHead(s.Name, len(s.Fields), depth); err != nil {
		return err
	}
	if err := wireCheckFieldNames(len(s.Fields), func(i int) string { return s.Fields[i].Name }); err != "" {
		return fmt.Errorf("cannot send %s to another node: %s: %w", s.describe(), err, ErrBadArgs)
	}
	for _, f := range s.Fields {
		if err := e.text(f.Name); err != nil {
			return err
		}
		if err := e.value(f.Value, depth+1, 0); err != nil {
			return err
		}
	}
	return nil
}

// wireCheckFieldNames says what is wrong with a struct's field names: an
// empty one or two alike ("" when nothing is).
func wireCheckFieldNames(n int, name func(int) string) string {
	var seen map[string]bool
	if n > 8 {
		seen = make(map[string]bool, n)
	}
	for i := range n {
		f := name(i)
		if f == "" {
			return "a field has no name"
		}
		if seen != nil {
			if seen[f] {
				return fmt.Sprintf("field %s appears twice", f)
			}
			seen[f] = true
			continue
		}
		for j := range i {
			if name(j) == f {
				return fmt.Sprintf("field %s appears twice", f)
			}
		}
	}
	return ""
}

// ---------------------------------------------------------------------------
// Decoding

// Decode decodes the one wire value that fills data, within
// DefaultDecodeLimits. Integers come back as int (uint64 above
// math.MaxInt64), floats as float64, text as string, byte strings as []byte,
// arrays as []any, maps as map[any]any, and Atom, Pid, time.Time and
// *RemoteError as themselves. Decode does not keep data: the transport may
// reuse it.
//
// Malformed input, including trailing bytes, text that is not UTF-8,
// unknown tags, indefinite lengths, duplicate map keys and map keys that are
// not comparable scalars (byte strings, arrays, maps, errors, times, NaN),
// gives an error wrapping ErrProtocol; input over the limits gives one
// wrapping ErrTooLarge. Decode never panics.
func Decode(data []byte) (any, error) {
	return DecodeWith(data, DefaultDecodeLimits)
}

// DecodeWith is Decode with the given limits in place of
// DefaultDecodeLimits.
func DecodeWith(data []byte, lim DecodeLimits) (any, error) {
	d := wireDecoder{data: data, lim: lim.resolve()}
	v, err := d.top()
	if err != nil {
		return nil, err
	}
	if d.pos != len(data) {
		return nil, d.malformed("%d bytes after the value", len(data)-d.pos)
	}
	return v, nil
}

// wireArenaMax is the largest input whose text strings are all cut from one
// string copy of the input, which saves an allocation per string at the cost
// of keeping the whole (small) input alive while any of them lives.
const wireArenaMax = 4096

type wireDecoder struct {
	data  []byte
	pos   int
	lim   DecodeLimits
	arena string
	// budget is the memory, in bytes, that the rest of the value may
	// take (see DecodeLimits.MaxMemory).
	budget int
	// measure walks the value to charge its memory without building it.
	measure bool
	// atoms, when set, gives the atoms read (Pids' node names too).
	atoms *atomTable
	// pids, when set, gives the Pids read, boxed.
	pids *pidCache
}

// pidCache keeps the Pids that a reader of a link decoded last, boxed, so
// that a Pid that comes again (a message's destination, the sender's own
// Pid in the messages it sends) is not boxed anew: two Pids per set, the
// set chosen by the Pid's ID, the one used less lately giving way to a new
// one. One goroutine uses it at a time.
type pidCache [pidCacheSets][2]any

const pidCacheSets = 64

// get returns p, boxed.
func (c *pidCache) get(p Pid) any {
	set := &c[p.ID%pidCacheSets]
	if q, ok := set[0].(Pid); ok && q == p {
		return set[0]
	}
	if q, ok := set[1].(Pid); ok && q == p {
		set[0], set[1] = set[1], set[0]
		return set[0]
	}
	set[1] = set[0]
	set[0] = p
	return set[0]
}

// atomTable keeps the atoms that a reader of a link has decoded, boxed, so
// that one that comes again in a later frame is neither copied nor boxed
// anew (Erlang's distribution keeps an atom cache per connection for a
// like purpose). It keeps the first atomTableSize atoms of up to
// atomTableMax bytes it sees; atoms past those are decoded as usual. One
// goroutine uses it at a time.
type atomTable struct{ m map[string]any }

const (
	atomTableSize = 512
	atomTableMax  = 255 // the longest node name
)

// get returns the atom whose text is p, boxed.
func (t *atomTable) get(p []byte) any {
	if v, ok := t.m[string(p)]; ok {
		return v
	}
	a := Atom(p)
	var v any = a
	if len(p) <= atomTableMax && len(t.m) < atomTableSize {
		if t.m == nil {
			t.m = make(map[string]any)
		}
		t.m[string(a)] = v
	}
	return v
}

// wireEmptyAtom is the empty atom, boxed.
var wireEmptyAtom any = Atom("")

// Memory estimates of decoded parts, in bytes (64-bit Go).
const (
	wireCostSlot   = 16 // an interface: a list element, a map key or value
	wireCostList   = 24 // a non-empty []any's header
	wireCostMap    = 48 // a map header, and each entry
	wireCostNumber = 8  // an int or float held in an interface
	wireCostString = 16 // a string header
	wireCostBytes  = 24 // a []byte header
	wireCostPid    = 32
	wireCostError  = 48
	wireCostTime   = 24
)

// wireEmptyList is the one empty list every decoded empty array shares: it
// has no element to change, and appending to it copies.
var wireEmptyList any = []any{}

// top reads the value that fills the input, within the memory budget.
func (d *wireDecoder) top() (any, error) {
	d.budget = len(d.data) + d.lim.MaxMemory
	if err := d.charge(wireCostSlot); err != nil { // the interface holding it
		return nil, err
	}
	return d.value(0)
}

// charge takes n bytes from the budget, or fails when it is spent.
func (d *wireDecoder) charge(n int) error {
	d.budget -= n
	if d.budget < 0 {
		return fmt.Errorf("decode: a value of %d bytes would take more than %d bytes in memory (its size + %d): %w",
			len(d.data), len(d.data)+d.lim.MaxMemory, d.lim.MaxMemory, ErrTooLarge)
	}
	return nil
}

func (d *wireDecoder) malformed(format string, args ...any) error {
	return fmt.Errorf("decode: %s at byte %d: %w", fmt.Sprintf(format, args...), d.pos, ErrProtocol)
}

func (d *wireDecoder) truncated() error {
	return d.malformed("input ends inside a value")
}

// head reads an initial byte and its argument. It rejects indefinite
// lengths and reserved argument sizes. value reads simple values and floats
// (major type 7) with simple instead.
func (d *wireDecoder) head() (ib byte, arg uint64, err error) {
	if d.pos >= len(d.data) {
		return 0, 0, d.truncated()
	}
	ib = d.data[d.pos]
	ai := ib & 0x1f
	if ai < 24 {
		d.pos++
		return ib, uint64(ai), nil
	}
	var n int
	switch ai {
	case 24:
		n = 1
	case 25:
		n = 2
	case 26:
		n = 4
	case 27:
		n = 8
	case 31:
		if ib == 0xff {
			return 0, 0, d.malformed("unexpected break")
		}
		return 0, 0, d.malformed("indefinite-length item")
	default:
		return 0, 0, d.malformed("reserved initial byte 0x%02x", ib)
	}
	if len(d.data)-d.pos-1 < n {
		return 0, 0, d.truncated()
	}
	p := d.data[d.pos+1 : d.pos+1+n]
	switch n {
	case 1:
		arg = uint64(p[0])
	case 2:
		arg = uint64(binary.BigEndian.Uint16(p))
	case 4:
		arg = uint64(binary.BigEndian.Uint32(p))
	default:
		arg = binary.BigEndian.Uint64(p)
	}
	d.pos += 1 + n
	return ib, arg, nil
}

// length checks a string's declared length against the limit and the input
// left, and returns it as an int.
func (d *wireDecoder) length(arg uint64) (int, error) {
	if arg > uint64(d.lim.MaxBytes) {
		return 0, fmt.Errorf("decode: string of %d bytes is over the limit of %d: %w", arg, d.lim.MaxBytes, ErrTooLarge)
	}
	if arg > uint64(len(d.data)-d.pos) {
		return 0, d.truncated()
	}
	return int(arg), nil
}

// count checks a container's declared element count (min bytes per
// element: 1 for arrays, 2 for maps) before anything is allocated for it.
func (d *wireDecoder) count(arg uint64, per int, depth int) (int, error) {
	if depth >= d.lim.MaxDepth {
		return 0, fmt.Errorf("decode: value nested more than %d deep: %w", d.lim.MaxDepth, ErrTooLarge)
	}
	if arg > uint64(d.lim.MaxElements) {
		return 0, fmt.Errorf("decode: list or map of %d elements is over the limit of %d: %w", arg, d.lim.MaxElements, ErrTooLarge)
	}
	if arg > uint64(len(d.data)-d.pos)/uint64(per) {
		return 0, d.truncated()
	}
	return int(arg), nil
}

func (d *wireDecoder) textBytes(arg uint64) ([]byte, error) {
	n, err := d.length(arg)
	if err != nil {
		return nil, err
	}
	p := d.data[d.pos : d.pos+n]
	if !wireValid(p) {
		return nil, d.malformed("text string is not valid UTF-8")
	}
	d.pos += n
	return p, nil
}

// text reads a text string whose head was read already.
func (d *wireDecoder) text(arg uint64) (string, error) {
	if arg == 0 {
		return "", nil
	}
	start := d.pos
	p, err := d.textBytes(arg)
	if err != nil {
		return "", err
	}
	if err := d.charge(wireCostString + len(p)); err != nil {
		return "", err
	}
	if d.measure {
		return "", nil
	}
	if len(d.data) <= wireArenaMax {
		if d.arena == "" {
			d.arena = string(d.data)
		}
		return d.arena[start : start+len(p)], nil
	}
	return string(p), nil
}

// nextText reads a value that must be a text string.
func (d *wireDecoder) nextText(what string) (string, error) {
	ib, arg, err := d.head()
	if err != nil {
		return "", err
	}
	if ib&0xe0 != wireMajText {
		return "", d.malformed("%s is not a text string", what)
	}
	return d.text(arg)
}

// nextAtom reads a value that must be a text string, as an Atom, boxed:
// nextText, taking the atom from d.atoms when there is one.
func (d *wireDecoder) nextAtom(what string) (any, error) {
	if d.atoms == nil || d.measure {
		s, err := d.nextText(what)
		if err != nil {
			return nil, err
		}
		return Atom(s), nil
	}
	ib, arg, err := d.head()
	if err != nil {
		return nil, err
	}
	if ib&0xe0 != wireMajText {
		return nil, d.malformed("%s is not a text string", what)
	}
	if arg == 0 {
		return wireEmptyAtom, nil
	}
	p, err := d.textBytes(arg)
	if err != nil {
		return nil, err
	}
	if err := d.charge(wireCostString + len(p)); err != nil {
		return nil, err
	}
	return d.atoms.get(p), nil
}

// nextUint reads a value that must be an unsigned integer.
func (d *wireDecoder) nextUint(what string) (uint64, error) {
	ib, arg, err := d.head()
	if err != nil {
		return 0, err
	}
	if ib&0xe0 != wireMajUint {
		return 0, d.malformed("%s is not an unsigned integer", what)
	}
	return arg, nil
}

// triple reads the array head of a Pid or error.
func (d *wireDecoder) triple(what string) error {
	ib, arg, err := d.head()
	if err != nil {
		return err
	}
	if ib&0xe0 != wireMajArray || arg != 3 {
		return d.malformed("%s is not an array of 3", what)
	}
	return nil
}

func (d *wireDecoder) value(depth int) (any, error) {
	if d.pos >= len(d.data) {
		return nil, d.truncated()
	}
	ib := d.data[d.pos]
	if ib>>5 == 7 {
		return d.simple(ib)
	}
	ib, arg, err := d.head()
	if err != nil {
		return nil, err
	}
	switch ib & 0xe0 {
	case wireMajUint:
		if err := d.charge(wireCostNumber); err != nil {
			return nil, err
		}
		if arg <= math.MaxInt {
			return int(arg), nil
		}
		return arg, nil
	case wireMajNeg:
		if arg > math.MaxInt64 {
			return nil, d.malformed("negative integer below math.MinInt64")
		}
		if err := d.charge(wireCostNumber); err != nil {
			return nil, err
		}
		n := -1 - int64(arg)
		if n >= math.MinInt {
			return int(n), nil
		}
		return n, nil
	case wireMajBytes:
		n, err := d.length(arg)
		if err != nil {
			return nil, err
		}
		if err := d.charge(wireCostBytes + n); err != nil {
			return nil, err
		}
		if d.measure {
			d.pos += n
			return nil, nil
		}
		p := make([]byte, n)
		copy(p, d.data[d.pos:])
		d.pos += n
		return p, nil
	case wireMajText:
		return d.text(arg)
	case wireMajArray:
		n, err := d.count(arg, 1, depth)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return wireEmptyList, nil
		}
		if err := d.charge(wireCostList + n*wireCostSlot); err != nil {
			return nil, err
		}
		if d.measure {
			for range n {
				if _, err := d.value(depth + 1); err != nil {
					return nil, err
				}
			}
			return nil, nil
		}
		a := make([]any, n)
		for i := range a {
			if a[i], err = d.value(depth + 1); err != nil {
				return nil, err
			}
		}
		return a, nil
	case wireMajMap:
		return d.mapValue(arg, depth)
	default: // wireMajTag
		if arg == wireTagStruct {
			return d.structValue(depth)
		}
		return d.tagged(arg)
	}
}

func (d *wireDecoder) simple(ib byte) (any, error) {
	var bits uint64
	var n int
	switch ib {
	case wireFalse:
		d.pos++
		return false, nil
	case wireTrue:
		d.pos++
		return true, nil
	case wireNull:
		d.pos++
		return nil, nil
	case wireFloat16:
		n = 2
	case wireFloat32:
		n = 4
	case wireFloat64:
		n = 8
	case 0xff:
		return nil, d.malformed("unexpected break")
	default:
		return nil, d.malformed("unsupported simple value 0x%02x", ib)
	}
	if err := d.charge(wireCostNumber); err != nil {
		return nil, err
	}
	if len(d.data)-d.pos-1 < n {
		return nil, d.truncated()
	}
	p := d.data[d.pos+1 : d.pos+1+n]
	d.pos += 1 + n
	switch n {
	case 2:
		return wireHalfFloat(binary.BigEndian.Uint16(p)), nil
	case 4:
		return float64(math.Float32frombits(binary.BigEndian.Uint32(p))), nil
	}
	bits = binary.BigEndian.Uint64(p)
	return math.Float64frombits(bits), nil
}

// wireHalfFloat widens an IEEE 754 half-precision float.
func wireHalfFloat(h uint16) float64 {
	sign := uint64(h>>15) << 63
	exp := uint64(h>>10) & 0x1f
	mant := uint64(h & 0x3ff)
	switch exp {
	case 0: // zero or subnormal: mant × 2^-24
		return math.Copysign(math.Ldexp(float64(mant), -24), math.Float64frombits(sign|1))
	case 0x1f: // infinity or NaN
		return math.Float64frombits(sign | 0x7ff<<52 | mant<<42)
	}
	return math.Float64frombits(sign | (exp-15+1023)<<52 | mant<<42)
}

func (d *wireDecoder) mapValue(arg uint64, depth int) (any, error) {
	n, err := d.count(arg, 2, depth)
	if err != nil {
		return nil, err
	}
	if err := d.charge(wireCostMap + n*(wireCostMap+2*wireCostSlot)); err != nil {
		return nil, err
	}
	if d.measure {
		for range 2 * n {
			if _, err := d.value(depth + 1); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}
	m := make(map[any]any, n)
	for i := range n {
		at := d.pos
		if at < len(d.data) {
			switch d.data[at] & 0xe0 {
			case wireMajBytes, wireMajArray, wireMajMap:
				return nil, d.malformed("map key is not a comparable scalar")
			}
		}
		k, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		switch kk := k.(type) {
		case nil, bool, int, int64, uint64, string, Atom, Pid:
		case float64:
			if kk != kk {
				d.pos = at
				return nil, d.malformed("map key is NaN")
			}
		default:
			d.pos = at
			return nil, d.malformed("map key of type %T", k)
		}
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		m[k] = v
		if len(m) != i+1 {
			d.pos = at
			return nil, d.malformed("duplicate map key %v", k)
		}
	}
	return m, nil
}

// structValue reads the content of a struct tag whose head was read
// already.
func (d *wireDecoder) structValue(depth int) (any, error) {
	at := d.pos
	ib, arg, err := d.head()
	if err != nil {
		return nil, err
	}
	if ib&0xe0 != wireMajArray || arg%2 != 1 {
		d.pos = at
		return nil, d.malformed("struct is not an array of a name and field-value pairs")
	}
	n, err := d.count(arg/2, 2, depth)
	if err != nil {
		return nil, err
	}
	name, err := d.nextText("struct name")
	if err != nil {
		return nil, err
	}
	s := Struct{Name: name, Fields: make([]Field, n)}
	for i := range s.Fields {
		f := &s.Fields[i]
		if f.Name, err = d.nextText("struct field name"); err != nil {
			return nil, err
		}
		if f.Value, err = d.value(depth + 1); err != nil {
			return nil, err
		}
	}
	if msg := wireCheckFieldNames(n, func(i int) string { return s.Fields[i].Name }); msg != "" {
		d.pos = at
		return nil, d.malformed("struct %s: %s", name, msg)
	}
	return s, nil
}

// pid reads the content of a Pid's tag whose head was read already.
func (d *wireDecoder) pid() (Pid, error) {
	if err := d.triple("pid"); err != nil {
		return Pid{}, err
	}
	if err := d.charge(wireCostPid); err != nil {
		return Pid{}, err
	}
	var node Atom
	if d.atoms == nil {
		s, err := d.nextText("pid node")
		if err != nil {
			return Pid{}, err
		}
		node = Atom(s)
	} else {
		a, err := d.nextAtom("pid node")
		if err != nil {
			return Pid{}, err
		}
		node = a.(Atom)
	}
	id, err := d.nextUint("pid id")
	if err != nil {
		return Pid{}, err
	}
	creation, err := d.nextUint("pid creation")
	if err != nil {
		return Pid{}, err
	}
	if creation > math.MaxUint32 {
		return Pid{}, d.malformed("pid creation %d is over 32 bits", creation)
	}
	return Pid{Node: node, ID: id, Creation: uint32(creation)}, nil
}

// tagged reads the content of a tag whose head was read already.
func (d *wireDecoder) tagged(tag uint64) (any, error) {
	switch tag {
	case wireTagAtom:
		return d.nextAtom("atom")
	case wireTagPid:
		p, err := d.pid()
		if err != nil {
			return nil, err
		}
		if d.pids != nil {
			return d.pids.get(p), nil
		}
		return p, nil
	case wireTagError:
		if err := d.triple("error"); err != nil {
			return nil, err
		}
		if err := d.charge(wireCostError); err != nil {
			return nil, err
		}
		var parts [3]string
		for i, what := range [3]string{"error node", "error kind", "error message"} {
			s, err := d.nextText(what)
			if err != nil {
				return nil, err
			}
			parts[i] = s
		}
		return &RemoteError{Node: Atom(parts[0]), Kind: parts[1], Msg: parts[2]}, nil
	case wireTagTime:
		at := d.pos
		if err := d.charge(wireCostTime); err != nil {
			return nil, err
		}
		s, err := d.nextText("time")
		if err != nil {
			return nil, err
		}
		if d.measure {
			return nil, nil
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			d.pos = at
			return nil, d.malformed("bad time %q", s)
		}
		if _, off := t.Zone(); off == 0 {
			t = t.UTC()
		}
		return t, nil
	}
	return nil, d.malformed("unknown tag %d", tag)
}
