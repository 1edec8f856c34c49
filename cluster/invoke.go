package cluster

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"runtime/debug"
	"strings"
)

// A Handler runs the calls that other nodes make to this node with rpc.
type Handler interface {
	// HandleCall runs module.function(args...). The returned error crosses
	// the wire keeping its kind (see ErrorKind).
	HandleCall(ctx context.Context, from Atom, module, function string, args []any) (any, error)
}

// HandlerFunc adapts a function to the Handler interface.
type HandlerFunc func(ctx context.Context, from Atom, module, function string, args []any) (any, error)

// HandleCall calls f.
func (f HandlerFunc) HandleCall(ctx context.Context, from Atom, module, function string, args []any) (any, error) {
	return f(ctx, from, module, function, args)
}

// Modules is a Handler over Go functions, keyed by module and then function
// name, as reflect values (the shape of yaegi's stdlib.Symbols without the
// package path). Calls go through Invoke.
type Modules map[string]map[string]reflect.Value

// HandleCall finds module.function and invokes it.
func (m Modules) HandleCall(ctx context.Context, from Atom, module, function string, args []any) (any, error) {
	mod, ok := m[module]
	if !ok {
		return nil, fmt.Errorf("no module %q: %w", module, ErrUnknownModule)
	}
	fn, ok := mod[function]
	if !ok || fn.Kind() != reflect.Func {
		return nil, fmt.Errorf("no function %s.%s: %w", module, function, ErrUnknownFunction)
	}
	return Invoke(ctx, fn, args)
}

var (
	errorType   = reflect.TypeFor[error]()
	contextType = reflect.TypeFor[context.Context]()
)

// Invoke calls fn with args converted to its parameter types: wire values
// fit Go parameters the way Go's untyped constants do (an int fits any
// integer or float parameter that holds it, a float with a whole value fits
// an integer parameter that holds it, []any fits []T, a string fits an Atom
// or a []byte and a []byte a string, a Struct fits a struct or
// pointer-to-struct type with fields of its names, or a map keyed by field
// name). A first context.Context parameter receives ctx. A panic in fn comes
// back as an error wrapping ErrPanic.
//
// The results become one value: a trailing error result, when not nil, is the
// error; no other result gives nil; one result gives itself; a (value, bool)
// pair gives the value when the bool is true and Undefined when it is false;
// more results give a []any.
func Invoke(ctx context.Context, fn reflect.Value, args []any) (result any, err error) {
	t := fn.Type()
	in, err := convertArgs(ctx, t, args)
	if err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok && errors.Is(e, context.Canceled) {
				err = e
				return
			}
			err = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return Results(fn.Call(in), t)
}

// PanicError is a panic turned into an error; it wraps ErrPanic.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Unwrap gives ErrPanic, and the panic's value when that is an error.
func (e *PanicError) Unwrap() []error {
	if err, ok := e.Value.(error); ok {
		return []error{ErrPanic, err}
	}
	return []error{ErrPanic}
}

// Results turns a call's results into one value, as Invoke describes.
func Results(out []reflect.Value, t reflect.Type) (any, error) {
	if n := len(out); n > 0 && t.Out(n-1) == errorType {
		if e := out[n-1]; !e.IsNil() {
			return nil, e.Interface().(error)
		}
		out = out[:n-1]
	}
	switch len(out) {
	case 0:
		return nil, nil
	case 1:
		return valueOf(out[0]), nil
	case 2:
		if out[1].Kind() == reflect.Bool {
			if out[1].Bool() {
				return valueOf(out[0]), nil
			}
			return Undefined, nil
		}
	}
	vs := make([]any, len(out))
	for i, v := range out {
		vs[i] = valueOf(v)
	}
	return vs, nil
}

func valueOf(v reflect.Value) any {
	if !v.IsValid() {
		return nil
	}
	if (v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer) && v.IsNil() {
		return nil
	}
	return v.Interface()
}

func convertArgs(ctx context.Context, t reflect.Type, args []any) ([]reflect.Value, error) {
	np := t.NumIn()
	in := make([]reflect.Value, 0, np)
	first := 0
	if np > 0 && t.In(0) == contextType {
		in = append(in, reflect.ValueOf(ctx))
		first = 1
	}
	fixed := np - first
	if t.IsVariadic() {
		fixed--
	}
	if len(args) < fixed || (!t.IsVariadic() && len(args) != fixed) {
		want := fmt.Sprint(fixed)
		if t.IsVariadic() {
			want = "at least " + want
		}
		return nil, fmt.Errorf("%d arguments given, %s wanted (%s): %w", len(args), want, t, ErrBadArgs)
	}
	for i, a := range args {
		var pt reflect.Type
		if i < fixed {
			pt = t.In(first + i)
		} else {
			pt = t.In(np - 1).Elem()
		}
		v, err := Convert(a, pt)
		if err != nil {
			return nil, fmt.Errorf("argument %d: %w", i+1, err)
		}
		in = append(in, v)
	}
	return in, nil
}

// Convert makes a wire value fit the Go type t, or says why it cannot.
func Convert(a any, t reflect.Type) (reflect.Value, error) {
	if a == nil {
		switch t.Kind() {
		case reflect.Interface, reflect.Pointer, reflect.Slice, reflect.Map, reflect.Func, reflect.Chan:
			return reflect.Zero(t), nil
		}
		return reflect.Value{}, fmt.Errorf("nil does not fit %s: %w", t, ErrBadArgs)
	}
	v := reflect.ValueOf(a)
	if v.Type().AssignableTo(t) {
		if t.Kind() == reflect.Interface {
			r := reflect.New(t).Elem()
			r.Set(v)
			return r, nil
		}
		return v, nil
	}
	if s, ok := a.(Struct); ok {
		return convertStruct(s, t)
	}
	bad := func() (reflect.Value, error) {
		return reflect.Value{}, fmt.Errorf("%s does not fit %s: %w", describe(a), t, ErrBadArgs)
	}
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i := v.Int()
		switch t.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			r := reflect.New(t).Elem()
			if r.OverflowInt(i) {
				return bad()
			}
			r.SetInt(i)
			return r, nil
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			r := reflect.New(t).Elem()
			if i < 0 || r.OverflowUint(uint64(i)) {
				return bad()
			}
			r.SetUint(uint64(i))
			return r, nil
		case reflect.Float32, reflect.Float64:
			r := reflect.New(t).Elem()
			r.SetFloat(float64(i))
			return r, nil
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := v.Uint()
		switch t.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			r := reflect.New(t).Elem()
			if u > math.MaxInt64 || r.OverflowInt(int64(u)) {
				return bad()
			}
			r.SetInt(int64(u))
			return r, nil
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			r := reflect.New(t).Elem()
			if r.OverflowUint(u) {
				return bad()
			}
			r.SetUint(u)
			return r, nil
		}
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		switch t.Kind() {
		case reflect.Float32, reflect.Float64:
			r := reflect.New(t).Elem()
			r.SetFloat(f)
			return r, nil
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			// As an untyped constant: 2.0 fits an int, 2.5 does not.
			if f != math.Trunc(f) || math.IsInf(f, 0) {
				return reflect.Value{}, fmt.Errorf("%s does not fit %s: not a whole number: %w", describe(a), t, ErrBadArgs)
			}
			if f < -(1<<63) || f >= 1<<64 || (f >= 1<<63 && t.Kind() < reflect.Uint) {
				return bad()
			}
			if f < 0 {
				return Convert(int64(f), t)
			}
			return Convert(uint64(f), t)
		}
	case reflect.String:
		switch {
		case t.Kind() == reflect.String:
			return v.Convert(t), nil
		case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
			return v.Convert(t), nil // a copy of the string's bytes
		}
	case reflect.Slice:
		if s, ok := erlString(a); ok && t.Kind() == reflect.String { // an Erlang string
			return reflect.ValueOf(s).Convert(t), nil
		}
		if t.Kind() == reflect.Slice && v.Type().Elem().Kind() != reflect.Uint8 {
			r := reflect.MakeSlice(t, v.Len(), v.Len())
			for i := 0; i < v.Len(); i++ {
				e, err := Convert(v.Index(i).Interface(), t.Elem())
				if err != nil {
					return reflect.Value{}, fmt.Errorf("element %d: %w", i, err)
				}
				r.Index(i).Set(e)
			}
			return r, nil
		}
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
			return v.Convert(t), nil
		}
		if t.Kind() == reflect.String && v.Type().Elem().Kind() == reflect.Uint8 {
			return v.Convert(t), nil
		}
	case reflect.Map:
		if t.Kind() == reflect.Map {
			r := reflect.MakeMapWithSize(t, v.Len())
			it := v.MapRange()
			for it.Next() {
				k, err := Convert(it.Key().Interface(), t.Key())
				if err != nil {
					return reflect.Value{}, fmt.Errorf("map key: %w", err)
				}
				e, err := Convert(it.Value().Interface(), t.Elem())
				if err != nil {
					return reflect.Value{}, fmt.Errorf("map value: %w", err)
				}
				r.SetMapIndex(k, e)
			}
			return r, nil
		}
	}
	if v.Type().ConvertibleTo(t) && v.Kind() == t.Kind() {
		return v.Convert(t), nil
	}
	return bad()
}

func describe(a any) string {
	s := fmt.Sprintf("%#v", a)
	if len(s) > 40 {
		s = s[:37] + "..."
	}
	return strings.TrimSpace(fmt.Sprintf("%s (%T)", s, a))
}
