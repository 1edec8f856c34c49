package shell

import (
	"fmt"
	"go/scanner"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Redacted is what stands, in the history, for a secret that an input gave:
// set_cookie("abc") is kept as set_cookie(…).
const Redacted = "…"

// cookieEnv is the environment variable that holds the cookie.
const cookieEnv = "GSH_COOKIE"

// RedactSecrets returns src with the secrets it gives replaced by Redacted:
// the arguments of set_cookie(…) and SetCookie(…) calls, and the value of
// Setenv("GSH_COOKIE", …). The history keeps inputs this way, in memory and
// in its file.
func RedactSecrets(src string) string {
	var s scanner.Scanner
	fset := token.NewFileSet()
	file := fset.AddFile("", fset.Base(), len(src))
	s.Init(file, []byte(src), nil, 0)
	type tok struct {
		off int
		tok token.Token
		lit string
	}
	var toks []tok
	for {
		pos, t, lit := s.Scan()
		if t == token.EOF {
			break
		}
		if t == token.SEMICOLON && lit == "\n" {
			continue
		}
		toks = append(toks, tok{file.Offset(pos), t, lit})
	}
	// Ranges [from, to) of src to replace, in order.
	var cuts [][2]int
	closing := func(k int) int { // the offset of the ')' matching the '(' before toks[k], or len(src)
		depth := 1
		for ; k < len(toks); k++ {
			switch toks[k].tok {
			case token.LPAREN, token.LBRACK, token.LBRACE:
				depth++
			case token.RPAREN, token.RBRACK, token.RBRACE:
				depth--
				if depth == 0 {
					return toks[k].off
				}
			}
		}
		return len(src)
	}
	for k := 0; k+1 < len(toks); k++ {
		if toks[k].tok != token.IDENT || toks[k+1].tok != token.LPAREN {
			continue
		}
		switch toks[k].lit {
		case "set_cookie", "SetCookie":
			from := toks[k+1].off + 1
			if k+2 < len(toks) && toks[k+2].tok == token.RPAREN {
				continue // no argument
			}
			cuts = append(cuts, [2]int{from, closing(k + 2)})
		case "Setenv":
			if k+3 >= len(toks) || toks[k+2].tok != token.STRING || toks[k+3].tok != token.COMMA {
				continue
			}
			if name, err := strconv.Unquote(toks[k+2].lit); err != nil || name != cookieEnv {
				continue
			}
			from := toks[k+3].off + 1
			cuts = append(cuts, [2]int{from, closing(k + 4)})
		}
	}
	if len(cuts) == 0 {
		return src
	}
	var b strings.Builder
	last := 0
	for _, c := range cuts {
		if c[0] < last {
			continue // inside a cut already
		}
		b.WriteString(src[last:c[0]])
		if c[0] < len(src) && src[c[0]] == ' ' {
			b.WriteByte(' ')
		}
		b.WriteString(Redacted)
		last = c[1]
	}
	b.WriteString(src[last:])
	return b.String()
}

// historyFile is the history's file: mode 0600, one line per line of input,
// appended as inputs are read, with secrets redacted.
type historyFile struct {
	f    *os.File
	last string
}

// openHistoryFile opens (creating it if needed) the history file at path,
// makes it readable by its owner only, and rewrites it when it holds lines
// to drop: over the limit, consecutive duplicates, or secrets.
func openHistoryFile(path string, lines, kept []string) (*historyFile, error) {
	if len(lines) != len(kept) || !slicesEqual(lines, kept) {
		if err := rewriteHistory(path, kept); err != nil {
			return nil, err
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the history file: %w", err)
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, fmt.Errorf("making the history file private: %w", err)
	}
	h := &historyFile{f: f}
	if len(kept) > 0 {
		h.last = kept[len(kept)-1]
	}
	return h, nil
}

func slicesEqual(a, b []string) bool {
	for k := range a {
		if a[k] != b[k] {
			return false
		}
	}
	return true
}

// rewriteHistory replaces the file at path by lines, atomically, mode 0600.
func rewriteHistory(path string, lines []string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("rewriting the history file: %w", err)
	}
	defer os.Remove(tmp.Name())
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	if _, err := tmp.WriteString(b.String()); err != nil {
		tmp.Close()
		return fmt.Errorf("rewriting the history file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("rewriting the history file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rewriting the history file: %w", err)
	}
	return nil
}

// add appends a line, unless it repeats the last one.
func (h *historyFile) add(line string) {
	if h == nil || line == h.last {
		return
	}
	h.last = line
	h.f.WriteString(line + "\n")
}

func (h *historyFile) close() {
	if h != nil {
		h.f.Close()
	}
}
