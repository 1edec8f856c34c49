package shell

import "testing"

func TestRedactSecrets(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`set_cookie("abc")`, `set_cookie(…)`},
		{`ok := set_cookie( "a)b" + x ) ; y`, `ok := set_cookie( …) ; y`},
		{`builtins.set_cookie(c)`, `builtins.set_cookie(…)`},
		{`node.SetCookie("abc")`, `node.SetCookie(…)`},
		{`os.Setenv("GSH_COOKIE", "abc")`, `os.Setenv("GSH_COOKIE", …)`},
		{`os.Setenv("HOME", "/tmp")`, `os.Setenv("HOME", "/tmp")`},
		{"set_cookie(\n\"abc\")", `set_cookie(…)`},
		{`set_cookie("unfinished`, `set_cookie(…`},
		{`get_cookie()`, `get_cookie()`},
		{`x := "set_cookie(\"abc\")"`, `x := "set_cookie(\"abc\")"`},
	} {
		if got := RedactSecrets(c.in); got != c.want {
			t.Errorf("RedactSecrets(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
