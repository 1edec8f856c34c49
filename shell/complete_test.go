package shell

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/traefik/yaegi/interp"
)

// fakeBuiltins stand for gsh's builtins: a dot-imported package and a
// qualified one with lower-case names.
var fakeBuiltins = interp.Exports{
	"gsh/builtins/builtins": {
		"spawn":  reflect.ValueOf(func() int { return 1 }),
		"spawns": reflect.ValueOf(func() int { return 2 }),
		"self":   reflect.ValueOf(func() int { return 3 }),
	},
	"gsh/builtins/rpc/rpc": {
		"call": reflect.ValueOf(func() int { return 4 }),
		"cast": reflect.ValueOf(func() int { return 5 }),
	},
}

func newCompletionInterp(t *testing.T) *Interp {
	t.Helper()
	i, _ := newInterp(t, Options{Exports: []interp.Exports{fakeBuiltins}, Prelude: []string{`import . "gsh/builtins"`}})
	return i
}

// complete returns the words offered for the text before the cursor, line
// being typed up to the cursor.
func complete(t *testing.T, c Completer, line string) []string {
	t.Helper()
	words, start := c.Complete(line, len(line))
	for _, w := range words {
		if !strings.HasPrefix(w, line[start:]) {
			t.Errorf("Complete(%q): %q does not start with the word typed %q", line, w, line[start:])
		}
	}
	return words
}

func TestComplete(t *testing.T) {
	i := newCompletionInterp(t)
	has := func(line string, want ...string) {
		t.Helper()
		got := complete(t, i, line)
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("Complete(%q) = %q, lacks %q", line, got, w)
			}
		}
	}
	none := func(line string) {
		t.Helper()
		if got := complete(t, i, line); len(got) > 0 {
			t.Errorf("Complete(%q) = %q, want nothing", line, got)
		}
	}

	// Standard library members, exported only.
	has("strings.To", "strings.ToUpper", "strings.ToLower", "strings.ToTitle", "strings.ToValidUTF8")
	has("x := strings.To", "strings.ToUpper")
	if got := complete(t, i, "strings.T"); slices.ContainsFunc(got, func(w string) bool { return strings.Contains(w, "_") }) {
		t.Errorf("internal names offered: %q", got)
	}
	// Builtins: qualified and dot-imported.
	if got := complete(t, i, "rpc."); !slices.Equal(got, []string{"rpc.call", "rpc.cast"}) {
		t.Errorf("rpc. → %q", got)
	}
	if got := complete(t, i, "rpc.ca"); !slices.Equal(got, []string{"rpc.call", "rpc.cast"}) {
		t.Errorf("rpc.ca → %q", got)
	}
	if got := complete(t, i, "spa"); !slices.Equal(got, []string{"spawn", "spawns"}) {
		t.Errorf("spa → %q", got)
	}
	has("sel", "self", "select")
	has("str", "strings", "strconv", "string")
	has("fmt.Print(le", "len")

	// Names bound by inputs that succeeded.
	for _, src := range []string{
		"func double(x int) int { return 2 * x }",
		"counter := 1",
		"var total, totalMax = 3, 4",
		"type point struct{ X int }",
		"const limit = 10",
	} {
		if _, err := i.Eval(context.Background(), src); err != nil {
			t.Fatalf("%s: %v", src, err)
		}
	}
	if _, err := i.Eval(context.Background(), "bogus := nope"); err == nil {
		t.Fatal("bogus := nope evaluated")
	}
	has("dou", "double")
	has("cou", "counter")
	has("tot", "total", "totalMax")
	has("poi", "point")
	has("lim", "limit")
	none("bog")

	// A package loaded from a file: its name, and its members after a dot.
	if _, err := i.LoadSource(context.Background(), "geo.go", "package geo\n\nfunc Area(w, h int) int { return w * h }\nfunc perimeter(w, h int) int { return 2 * (w + h) }\n"); err != nil {
		t.Fatal(err)
	}
	has("ge", "geo")
	has("geo.", "geo.Area", "geo.perimeter")

	// An import at the prompt names a package whose name is ambiguous.
	none("rand.Re")
	if _, err := i.Eval(context.Background(), `import "crypto/rand"`); err != nil {
		t.Fatal(err)
	}
	has("rand.Re", "rand.Reader")

	// Nothing in strings, comments, numbers, unknown qualifiers.
	none(`fmt.Println("str`)
	none(`x := 1 // str`)
	none(`12`)
	none(`nothere.Fo`)
	none(``)
}

func TestStringArg(t *testing.T) {
	tests := []struct {
		line  string
		call  string
		arg   int
		typed string
		ok    bool
	}{
		{`rpc.call("ga`, "rpc.call", 0, "ga", true},
		{`rpc.call("`, "rpc.call", 0, "", true},
		{`x := rpc.call("gandalf@h", "kvs", "lo`, "rpc.call", 2, "lo", true},
		{`send(at("kvs", "ga`, "at", 1, "ga", true},
		{`spawn(f, g(1, 2), "ga`, "spawn", 2, "ga", true},
		{"net_adm.ping(`ga", "net_adm.ping", 0, "ga", true},
		{`rpc.call("a\"b`, "rpc.call", 0, `a\"b`, true},
		{`rpc.call("gandalf@h")`, "", 0, "", false},
		{`rpc.call("gandalf@h", `, "", 0, "", false},
		{`x := "ga`, "", 0, "", false},
		{`[]any{"ga`, "", 0, "", false},
	}
	for _, tt := range tests {
		call, arg, start, ok := StringArg(tt.line, len(tt.line))
		if ok != tt.ok || call != tt.call || arg != tt.arg || (ok && tt.line[start:] != tt.typed) {
			t.Errorf("StringArg(%q) = %q, %d, %d (%q), %v; want %q, %d, %q, %v",
				tt.line, call, arg, start, tt.line[min(start, len(tt.line)):], ok, tt.call, tt.arg, tt.typed, tt.ok)
		}
	}
	// The cursor inside the line: only what is before it counts.
	line := `rpc.call("ga", "kvs")`
	if call, arg, _, ok := StringArg(line, len(`rpc.call("ga`)); !ok || call != "rpc.call" || arg != 0 {
		t.Errorf("cursor in the middle: %q, %d, %v", call, arg, ok)
	}
}

// TestAutoComplete: readline's view. Tab with nothing before the cursor
// inserts a tab (pasted indentation); otherwise the suffixes of the words.
func TestAutoComplete(t *testing.T) {
	a := autoComplete{CompleterFunc(func(line string, pos int) ([]string, int) {
		start := wordStart(line, pos)
		var out []string
		for _, w := range []string{"rpc.call", "rpc.cast", "héllo"} {
			if strings.HasPrefix(w, line[start:pos]) {
				out = append(out, w)
			}
		}
		return out, start
	})}
	do := func(line string) ([]string, int) {
		rs := []rune(line)
		got, n := a.Do(rs, len(rs))
		var s []string
		for _, r := range got {
			s = append(s, string(r))
		}
		return s, n
	}
	if got, n := do(""); !slices.Equal(got, []string{"\t"}) || n != 0 {
		t.Errorf("empty line: %q, %d", got, n)
	}
	if got, n := do("x := 1 +  "); !slices.Equal(got, []string{"\t"}) || n != 0 {
		t.Errorf("after a space: %q, %d", got, n)
	}
	if got, n := do("x := rpc.ca"); !slices.Equal(got, []string{"ll", "st"}) || n != 6 {
		t.Errorf("rpc.ca: %q, %d", got, n)
	}
	if got, n := do("é := hé"); !slices.Equal(got, []string{"llo"}) || n != 2 {
		t.Errorf("runes: %q, %d", got, n)
	}
	if got, _ := do("zzz"); len(got) != 0 {
		t.Errorf("zzz: %q", got)
	}
}
