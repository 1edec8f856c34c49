package cluster

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCookieFileCreated(t *testing.T) {
	path := filepath.Join(t.TempDir(), CookieFileName)
	c, err := ReadCookieFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o400 {
		t.Fatalf("the new cookie file has mode %v, want 0400", m)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != c {
		t.Fatalf("the file holds %q (%v), the cookie is %q", b, err, c)
	}
	// The cookie is drawn from 26 letters: at least 128 bits of it.
	for _, r := range c {
		if r < 'A' || r > 'Z' {
			t.Fatalf("cookie %q: %q is not an upper-case letter", c, r)
		}
	}
	if bits := float64(len(c)) * math.Log2(26); bits < 128 {
		t.Fatalf("cookie %q carries %.0f bits, want at least 128", c, bits)
	}
	// A second file gets another cookie.
	c2, err := ReadCookieFile(filepath.Join(t.TempDir(), CookieFileName))
	if err != nil || c2 == c {
		t.Fatalf("a second cookie file: %q, %v (the first: %q)", c2, err, c)
	}
}

func TestCookieFileReused(t *testing.T) {
	path := filepath.Join(t.TempDir(), CookieFileName)
	first, err := ReadCookieFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		c, err := ReadCookieFile(path)
		if err != nil || c != first {
			t.Fatalf("reading it again: %q, %v; want %q", c, err, first)
		}
	}
	// A file the user wrote, with a newline at its end, is read as it is.
	mine := filepath.Join(t.TempDir(), CookieFileName)
	if err := os.WriteFile(mine, []byte("MYCOOKIE\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := ReadCookieFile(mine); err != nil || c != "MYCOOKIE" {
		t.Fatalf("a cookie file of mode 0600: %q, %v", c, err)
	}
}

func TestCookieFileOthersCanRead(t *testing.T) {
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o440} {
		path := filepath.Join(t.TempDir(), CookieFileName)
		if err := os.WriteFile(path, []byte("SECRET"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		c, err := ReadCookieFile(path)
		if err == nil {
			t.Fatalf("mode %v: read %q, want a refusal", mode, c)
		}
		if !strings.Contains(err.Error(), "chmod 400 "+path) || !strings.Contains(err.Error(), "read by others") {
			t.Fatalf("mode %v: %v does not say how to fix it", mode, err)
		}
		if strings.Contains(err.Error(), "SECRET") {
			t.Fatalf("mode %v: the refusal shows the cookie: %v", mode, err)
		}
	}
}

func TestCookieFileEmpty(t *testing.T) {
	path := filepath.Join(t.TempDir(), CookieFileName)
	if err := os.WriteFile(path, []byte(" \n"), 0o400); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadCookieFile(path); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("an empty cookie file: %v", err)
	}
}

// cycleReader yields the bytes 0 to 255, over and over.
type cycleReader struct{ next byte }

func (r *cycleReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.next
		r.next++
	}
	return len(p), nil
}

// TestCookieLettersUniform draws cookies from every byte value in turn:
// 117 cookies take 3,744 letters, 16 times each of the 234 byte values
// kept, so every letter must come exactly 144 times.
func TestCookieLettersUniform(t *testing.T) {
	r := &cycleReader{}
	count := map[rune]int{}
	for range 117 {
		c, err := newCookie(r)
		if err != nil {
			t.Fatal(err)
		}
		if len(c) != cookieLen {
			t.Fatalf("cookie %q: %d letters, want %d", c, len(c), cookieLen)
		}
		for _, l := range c {
			count[l]++
		}
	}
	for l := 'A'; l <= 'Z'; l++ {
		if count[l] != 144 {
			t.Errorf("%c drawn %d times, want 144 (%v)", l, count[l], count)
		}
	}
	if len(count) != 26 {
		t.Errorf("letters drawn: %v", count)
	}
}
