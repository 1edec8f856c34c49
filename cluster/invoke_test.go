package cluster

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// TestConvertUntypedConstants: wire values fit parameters as Go's untyped
// constants do.
func TestConvertUntypedConstants(t *testing.T) {
	tests := []struct {
		a    any
		t    reflect.Type
		want any    // nil when refused
		err  string // part of the refusal
	}{
		{"abc", reflect.TypeFor[[]byte](), []byte("abc"), ""},
		{Atom("ok"), reflect.TypeFor[[]byte](), []byte("ok"), ""},
		{[]byte("abc"), reflect.TypeFor[string](), "abc", ""},
		{[]byte("abc"), reflect.TypeFor[Atom](), Atom("abc"), ""},
		{2.0, reflect.TypeFor[int](), 2, ""},
		{-3.0, reflect.TypeFor[int8](), int8(-3), ""},
		{200.0, reflect.TypeFor[uint8](), uint8(200), ""},
		{float32(4), reflect.TypeFor[int64](), int64(4), ""},
		{2.5, reflect.TypeFor[int](), nil, "not a whole number"},
		{300.0, reflect.TypeFor[int8](), nil, "does not fit int8"},
		{-1.0, reflect.TypeFor[uint](), nil, "does not fit uint"},
		{1e300, reflect.TypeFor[int](), nil, "does not fit int"},
		{2, reflect.TypeFor[float64](), 2.0, ""},
		{"abc", reflect.TypeFor[int](), nil, "does not fit int"},
	}
	for _, tt := range tests {
		v, err := Convert(tt.a, tt.t)
		if tt.want == nil {
			if err == nil || !errors.Is(err, ErrBadArgs) || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Convert(%#v, %v) = %v, %v; want an error saying %q", tt.a, tt.t, v, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Convert(%#v, %v): %v", tt.a, tt.t, err)
			continue
		}
		if got := v.Interface(); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Convert(%#v, %v) = %#v, want %#v", tt.a, tt.t, got, tt.want)
		}
	}
}

// TestInvokeNamesTheArgument: a refused argument is named by its position.
func TestInvokeNamesTheArgument(t *testing.T) {
	f := reflect.ValueOf(func(s string, n int) int { return len(s) * n })
	got, err := Invoke(context.Background(), f, []any{[]byte("ab"), 3.0})
	if err != nil || got != 6 {
		t.Fatalf("Invoke = %v, %v; want 6", got, err)
	}
	_, err = Invoke(context.Background(), f, []any{"ab", 2.5})
	if !errors.Is(err, ErrBadArgs) || !strings.Contains(err.Error(), "argument 2: 2.5 (float64) does not fit int: not a whole number") {
		t.Fatalf("Invoke with 2.5 for an int: %v", err)
	}
}
