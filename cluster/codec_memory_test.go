package cluster

import (
	"bytes"
	"errors"
	"runtime"
	"testing"
)

// nestedEmptyLists encodes a list of outer lists of inner empty lists each:
// every list is within MaxElements, yet the whole expands about 16 times.
func nestedEmptyLists(outer, inner int) []byte {
	b := wireAppendHead(nil, wireMajArray, uint64(outer))
	row := append(wireAppendHead(nil, wireMajArray, uint64(inner)), bytes.Repeat([]byte{wireMajArray}, inner)...)
	for range outer {
		b = append(b, row...)
	}
	return b
}

// TestDecodeMemoryBudget decodes a 32 MiB frame of 32 lists of 1,048,576
// empty lists: it must be refused with ErrTooLarge after allocating little
// more than the budget, not the 1.3 GB the value would take.
func TestDecodeMemoryBudget(t *testing.T) {
	frame := nestedEmptyLists(32, 1<<20)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	v, err := Decode(frame)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Decode of %d bytes of nested empty lists = %T, %v; want ErrTooLarge", len(frame), v, err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d-byte frame refused (%v) after allocating %d MiB", len(frame), err, alloc>>20)
	if limit := uint64(len(frame) + DefaultDecodeLimits.MaxMemory); alloc > limit {
		t.Errorf("decoding allocated %d bytes, over the budget of %d", alloc, limit)
	}

	// The same shape, smaller, decodes, and its empty lists are lists.
	v, err = Decode(nestedEmptyLists(4, 1000))
	if err != nil {
		t.Fatal(err)
	}
	if a := v.([]any); len(a) != 4 || len(a[3].([]any)) != 1000 || len(a[3].([]any)[999].([]any)) != 0 {
		t.Fatalf("decoded %T", v)
	}
}

// TestDecodeMemoryLimits checks the budget against each kind of part, with
// a small MaxMemory.
func TestDecodeMemoryLimits(t *testing.T) {
	lim := DecodeLimits{MaxMemory: 1000}
	for _, tc := range []struct {
		name string
		v    any
		ok   bool
	}{
		{"short list", make([]any, 50), true},
		{"long list of nils", make([]any, 100), false},
		{"ints", func() []any {
			a := make([]any, 60)
			for i := range a {
				a[i] = 1000 + i
			}
			return a
		}(), false},
		{"one long string", string(bytes.Repeat([]byte{'a'}, 5000)), true},
		{"many short strings", func() []any {
			a := make([]any, 40)
			for i := range a {
				a[i] = "ab"
			}
			return a
		}(), false},
		{"maps", func() []any {
			a := make([]any, 20)
			for i := range a {
				a[i] = map[any]any{}
			}
			return a
		}(), false},
	} {
		b, err := Encode(nil, tc.v)
		if err != nil {
			t.Fatal(err)
		}
		_, err = DecodeWith(b, lim)
		if tc.ok && err != nil || !tc.ok && !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s (%d bytes): %v, want ok=%v", tc.name, len(b), err, tc.ok)
		}
	}
}

// TestEncodeMemoryBudget: a value its peer would refuse for the memory it
// takes is refused when sent, with ErrTooLarge, rather than dropping the link.
func TestEncodeMemoryBudget(t *testing.T) {
	inner := make([]any, 1<<20)
	for i := range inner {
		inner[i] = []any{}
	}
	outer := make([]any, 32)
	for i := range outer {
		outer[i] = inner
	}
	if _, err := Encode(nil, outer); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Encode of 32 lists of 1Mi empty lists: %v, want ErrTooLarge", err)
	}
	if _, err := Encode(nil, outer[:2]); err != nil {
		t.Fatalf("Encode of 2 lists of 1Mi empty lists: %v", err)
	}
}
