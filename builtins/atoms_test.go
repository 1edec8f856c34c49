package builtins_test

import (
	"strings"
	"testing"
)

// TestTimeoutAndUndefinedCompare: the atoms that receive and lookups give
// compare equal to the predeclared names timeout and undefined, and to the
// strings "timeout" and "undefined" as a user naturally writes them; a
// message that is another value does not.
func TestTimeoutAndUndefinedCompare(t *testing.T) {
	c := newCluster(t)
	a := c.start("a")
	a.eval(`kvs.start()`)
	for _, tt := range []struct{ src, want string }{
		{`receive(time.Millisecond) == timeout`, "true"},
		{`receive(time.Millisecond) == "timeout"`, "true"},
		{`"timeout" == receive(time.Millisecond)`, "true"},
		{`receive(time.Millisecond) != "timeout"`, "false"},
		{`m := receive(time.Millisecond); m == "timeout" && m == timeout`, "true"},
		{`whereis("nobody") == undefined`, "true"},
		{`whereis("nobody") == "undefined"`, "true"},
		{`("undefined" != whereis("nobody"))`, "false"},
		{`send(self(), "hello"); receive(time.Second) == "timeout"`, "false"},
		{`send(self(), 42); m := receive(time.Second); m != "timeout" && m == 42`, "true"},
		{`s := "timeout"; s == "timeout"`, "true"},
		{`func() bool { return receive(time.Millisecond) == "timeout" }()`, "true"},
		{`timeout := 5 * time.Millisecond; receive(timeout) == "timeout"`, "true"},
	} {
		a.must(tt.src, tt.want)
	}
}

// TestHelpTellsHowToTestAtoms: help() documents timeout and undefined and
// how to compare with them.
func TestHelpTellsHowToTestAtoms(t *testing.T) {
	c := newCluster(t)
	a := c.start("a")
	for _, name := range []string{"timeout", "undefined", "receive"} {
		a.out.b.Reset()
		a.eval(`help("` + name + `")`)
		if out := a.out.String(); !strings.Contains(out, "== timeout") && !strings.Contains(out, "== undefined") {
			t.Errorf("help(%q) does not say how to test for it:\n%s", name, out)
		}
	}
}
