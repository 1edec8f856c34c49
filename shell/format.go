package shell

import (
	"cmp"
	"fmt"
	"iter"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Limits of Format: longer collections and strings are cut, with a note of
// what was left out.
const (
	MaxElems  = 100
	MaxString = 4096
	maxDepth  = 8
)

// limits are how much of a value is printed: collection elements, string
// bytes, and levels of nesting.
type limits struct{ elems, str, depth int }

var (
	promptLimits = limits{MaxElems, MaxString, maxDepth}
	// wholeLimits print everything (a cyclic value is cut after 64 levels).
	wholeLimits = limits{math.MaxInt, math.MaxInt, 64}
)

// Format returns how the prompt prints a value:
//
//   - nil as nil; a non-nil error as "** error: msg" on one line;
//   - a string as it is at the top level, quoted inside collections;
//     an Atom (any string type named Atom) bare everywhere: undefined, pong;
//   - anything with a String method through it (pids print their own form);
//   - []byte as []byte("…");
//   - slices and arrays as [1, "a", true];
//   - maps as {"a": 1, "b": 2}, keys sorted (numbers by value, strings and
//     the rest by their text);
//   - structs as Point{Name: "x", Age: 3}, with their type's name (that of
//     a type declared at the prompt too), pointers to them as &Point{…};
//     a value with TypeName and All methods (a struct from another node)
//     likewise;
//   - functions and channels as their type.
//
// Collections of more than MaxElems elements are cut with "… (N more)",
// strings of more than MaxString bytes with "… (N more bytes)".
func Format(v any) string { return promptLimits.format(v) }

// FormatWhole is Format without the cuts: collections, strings and nesting
// print whole, as scripts and -eval print them.
func FormatWhole(v any) string { return wholeLimits.format(v) }

func (l limits) format(v any) string {
	if v == nil {
		return "nil"
	}
	if err, ok := v.(error); ok && !isNilPtr(reflect.ValueOf(v)) {
		return "** error: " + oneLine(safeError(err))
	}
	var b strings.Builder
	l.formatValue(&b, reflect.ValueOf(v), true, 0)
	return b.String()
}

// FormatResult returns how the prompt prints a result, "" for nothing:
//
//   - an assignment's values print as values, errors as error("msg");
//   - a quiet result prints only a non-nil error as its last value;
//   - when the last value is a non-nil error, only the error line;
//   - a trailing nil of several values is dropped (it was a nil error);
//   - a (v, bool) pair prints v when true and undefined when false;
//   - otherwise the values are joined by ", ".
func FormatResult(r Result) string { return promptLimits.formatResult(r) }

// FormatResultWhole is FormatResult without the cuts (see FormatWhole).
func FormatResultWhole(r Result) string { return wholeLimits.formatResult(r) }

func (l limits) formatResult(r Result) string {
	vals := r.Values
	if len(vals) == 0 {
		return ""
	}
	last := vals[len(vals)-1]
	format := l.format
	if r.Assigned {
		format = l.formatAssigned
	} else if isError(last) {
		return l.format(last)
	}
	if r.Quiet {
		return ""
	}
	if len(vals) > 1 && last == nil {
		vals = vals[:len(vals)-1]
	}
	if len(vals) == 2 {
		if ok, isBool := vals[1].(bool); isBool {
			if ok {
				return format(vals[0])
			}
			return "undefined"
		}
	}
	parts := make([]string, len(vals))
	for k, v := range vals {
		parts[k] = format(v)
	}
	return strings.Join(parts, ", ")
}

// formatAssigned is Format for an assigned value: an error is a value,
// error("msg"), not a failure.
func (l limits) formatAssigned(v any) string {
	if !isError(v) {
		return l.format(v)
	}
	var b strings.Builder
	l.formatValue(&b, reflect.ValueOf(v), false, 0)
	return b.String()
}

// isError reports whether v is a non-nil error.
func isError(v any) bool {
	_, ok := v.(error)
	return ok && !isNilPtr(reflect.ValueOf(v))
}

func isNilPtr(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
		return v.IsNil()
	}
	return false
}

func safeError(err error) (s string) {
	defer func() {
		if r := recover(); r != nil {
			s = fmt.Sprintf("%T (its Error method panicked: %v)", err, r)
		}
	}()
	return err.Error()
}

var (
	errorType    = reflect.TypeFor[error]()
	stringerType = reflect.TypeFor[fmt.Stringer]()
)

// formatValue writes v; top is true for a value printed on its own.
func (l limits) formatValue(b *strings.Builder, v reflect.Value, top bool, depth int) {
	if !v.IsValid() {
		b.WriteString("nil")
		return
	}
	if depth > l.depth {
		b.WriteString("…")
		return
	}
	t := v.Type()
	if t.Kind() == reflect.String && t.Name() == "Atom" {
		b.WriteString(v.String())
		return
	}
	if t.Kind() != reflect.Interface && t.Implements(fieldsType) && v.CanInterface() {
		l.formatFields(b, v.Interface().(fieldsValue), depth)
		return
	}
	if v.CanInterface() && t.Kind() != reflect.Interface {
		if t.Implements(errorType) {
			if isNilPtr(v) {
				b.WriteString("nil")
				return
			}
			err := v.Interface().(error)
			if top {
				b.WriteString("** error: " + oneLine(safeError(err)))
			} else {
				b.WriteString("error(" + strconv.Quote(safeError(err)) + ")")
			}
			return
		}
		if t.Implements(stringerType) {
			if s, ok := callString(v); ok {
				b.WriteString(s)
				return
			}
		}
	}
	switch v.Kind() {
	case reflect.Interface:
		if v.IsNil() {
			b.WriteString("nil")
			return
		}
		l.formatValue(b, v.Elem(), top, depth)
	case reflect.Pointer:
		if v.IsNil() {
			b.WriteString("nil")
			return
		}
		switch v.Elem().Kind() {
		case reflect.Struct, reflect.Array, reflect.Slice, reflect.Map:
			b.WriteString("&")
			l.formatValue(b, v.Elem(), false, depth+1)
		default:
			fmt.Fprintf(b, "(%s)(%#x)", t, v.Pointer())
		}
	case reflect.String:
		l.formatString(b, v.String(), top)
	case reflect.Slice:
		if v.IsNil() && !top {
			b.WriteString("nil")
			return
		}
		if t.Elem().Kind() == reflect.Uint8 {
			l.formatBytes(b, v.Bytes())
			return
		}
		l.formatList(b, v, depth)
	case reflect.Array:
		l.formatList(b, v, depth)
	case reflect.Map:
		l.formatMap(b, v, depth)
	case reflect.Struct:
		l.formatStruct(b, v, depth)
	case reflect.Func, reflect.Chan, reflect.UnsafePointer:
		if isNilPtr(v) {
			b.WriteString("nil")
			return
		}
		b.WriteString(t.String())
	case reflect.Bool:
		b.WriteString(strconv.FormatBool(v.Bool()))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		b.WriteString(strconv.FormatInt(v.Int(), 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		b.WriteString(strconv.FormatUint(v.Uint(), 10))
	case reflect.Float32:
		b.WriteString(strconv.FormatFloat(v.Float(), 'g', -1, 32))
	case reflect.Float64:
		b.WriteString(strconv.FormatFloat(v.Float(), 'g', -1, 64))
	case reflect.Complex64, reflect.Complex128:
		fmt.Fprint(b, v.Complex())
	default:
		fmt.Fprint(b, v)
	}
}

func callString(v reflect.Value) (s string, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			ok = false
		}
	}()
	if isNilPtr(v) {
		return "nil", true
	}
	return v.Interface().(fmt.Stringer).String(), true
}

func (l limits) formatString(b *strings.Builder, s string, top bool) {
	more := 0
	if len(s) > l.str {
		more = len(s) - l.str
		s = s[:l.str]
		for len(s) > 0 && !utf8ValidEnd(s) {
			s = s[:len(s)-1]
			more++
		}
	}
	if top {
		b.WriteString(s)
	} else {
		b.WriteString(strconv.Quote(s))
	}
	if more > 0 {
		fmt.Fprintf(b, "… (%d more bytes)", more)
	}
}

// utf8ValidEnd reports whether s does not end in the middle of a character.
func utf8ValidEnd(s string) bool {
	for k := len(s) - 1; k >= 0 && k >= len(s)-4; k-- {
		c := s[k]
		if c < 0x80 {
			return true
		}
		if c >= 0xC0 { // a leading byte: complete if enough follow
			need := 2
			switch {
			case c >= 0xF0:
				need = 4
			case c >= 0xE0:
				need = 3
			}
			return len(s)-k >= need
		}
	}
	return true
}

func (l limits) formatBytes(b *strings.Builder, p []byte) {
	more := 0
	if len(p) > l.str {
		more = len(p) - l.str
		p = p[:l.str]
	}
	b.WriteString("[]byte(")
	b.WriteString(strconv.Quote(string(p)))
	b.WriteString(")")
	if more > 0 {
		fmt.Fprintf(b, "… (%d more bytes)", more)
	}
}

func (l limits) formatList(b *strings.Builder, v reflect.Value, depth int) {
	n := v.Len()
	b.WriteString("[")
	for k := 0; k < n && k < l.elems; k++ {
		if k > 0 {
			b.WriteString(", ")
		}
		l.formatValue(b, v.Index(k), false, depth+1)
	}
	if n > l.elems {
		fmt.Fprintf(b, ", … (%d more)", n-l.elems)
	}
	b.WriteString("]")
}

func (l limits) formatMap(b *strings.Builder, v reflect.Value, depth int) {
	if v.IsNil() {
		b.WriteString("nil")
		return
	}
	type entry struct {
		key  reflect.Value
		text string
	}
	keys := make([]entry, 0, v.Len())
	for _, k := range v.MapKeys() {
		var kb strings.Builder
		l.formatValue(&kb, k, false, depth+1)
		keys = append(keys, entry{k, kb.String()})
	}
	slices.SortFunc(keys, func(a, b entry) int {
		if c, ok := compareKeys(a.key, b.key); ok {
			return c
		}
		return strings.Compare(a.text, b.text)
	})
	b.WriteString("{")
	for k, e := range keys {
		if k == l.elems {
			fmt.Fprintf(b, ", … (%d more)", len(keys)-l.elems)
			break
		}
		if k > 0 {
			b.WriteString(", ")
		}
		b.WriteString(e.text)
		b.WriteString(": ")
		l.formatValue(b, v.MapIndex(e.key), false, depth+1)
	}
	b.WriteString("}")
}

// compareKeys orders numbers by value before strings as strings, before
// the rest (which it leaves to the caller).
func compareKeys(a, b reflect.Value) (int, bool) {
	for a.Kind() == reflect.Interface && !a.IsNil() {
		a = a.Elem()
	}
	for b.Kind() == reflect.Interface && !b.IsNil() {
		b = b.Elem()
	}
	if ra, rb := keyRank(a), keyRank(b); ra != rb {
		return cmp.Compare(ra, rb), true
	}
	switch {
	case a.CanInt() && b.CanInt():
		return cmp.Compare(a.Int(), b.Int()), true
	case a.CanUint() && b.CanUint():
		return cmp.Compare(a.Uint(), b.Uint()), true
	case a.CanFloat() && b.CanFloat():
		return cmp.Compare(a.Float(), b.Float()), true
	case a.Kind() == reflect.String && b.Kind() == reflect.String:
		return strings.Compare(a.String(), b.String()), true
	}
	return 0, false
}

func keyRank(v reflect.Value) int {
	switch {
	case v.CanInt(), v.CanUint(), v.CanFloat():
		return 0
	case v.Kind() == reflect.String:
		return 1
	}
	return 2
}

func (l limits) formatStruct(b *strings.Builder, v reflect.Value, depth int) {
	t := v.Type()
	name := t.Name() // Down{...}, NodeUp{...}
	if name == "" {
		name = structName(t) // an interpreted type, named when declared
	}
	b.WriteString(name)
	b.WriteString("{")
	for k := 0; k < t.NumField(); k++ {
		if k > 0 {
			b.WriteString(", ")
		}
		name := t.Field(k).Name
		if t.Name() == "" && len(name) > 1 && name[0] == 'X' && name[1] >= 'a' && name[1] <= 'z' {
			// An interpreted struct type: yaegi exports its unexported
			// fields as X + name.
			name = name[1:]
		}
		b.WriteString(name)
		b.WriteString(": ")
		l.formatValue(b, v.Field(k), false, depth+1)
	}
	b.WriteString("}")
}

// fieldsValue is a struct value that is no Go struct, such as a struct
// that came from another node (the cluster's Struct): it prints as
// Name{Field: value, …}, as a struct of its type would.
type fieldsValue interface {
	TypeName() string
	All() iter.Seq2[string, any]
}

var fieldsType = reflect.TypeFor[fieldsValue]()

func (l limits) formatFields(b *strings.Builder, s fieldsValue, depth int) {
	b.WriteString(s.TypeName())
	b.WriteString("{")
	k := 0
	for name, v := range s.All() {
		if k > 0 {
			b.WriteString(", ")
		}
		k++
		b.WriteString(name)
		b.WriteString(": ")
		l.formatValue(b, reflect.ValueOf(v), false, depth+1)
	}
	b.WriteString("}")
}
