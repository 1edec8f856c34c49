package cluster

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// CookieFileName is the cookie file's name in the user's home directory.
const CookieFileName = ".gsh.cookie"

// DefaultCookiePath is ~/.gsh.cookie.
func DefaultCookiePath() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return CookieFileName
	}
	return filepath.Join(home, CookieFileName)
}

// ReadCookieFile reads the cookie at path, creating it on first use with a
// fresh random cookie (32 letters, about 150 bits) readable by its owner only (mode 0400). A
// cookie file that others can read is refused, with the chmod that fixes it.
func ReadCookieFile(path string) (string, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createCookieFile(path)
	}
	if err != nil {
		return "", fmt.Errorf("reading the cookie file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("the cookie file %s can be read by others (mode %v): run chmod 400 %s", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading the cookie file: %w", err)
	}
	c := strings.TrimSpace(string(b))
	if c == "" {
		return "", fmt.Errorf("the cookie file %s is empty", path)
	}
	return c, nil
}

// cookieLen is the letters of a cookie that a cookie file is created with.
const cookieLen = 32

// newCookie draws cookieLen letters A to Z from r, each as likely as the
// others: 32·log2(26), about 150 bits. A byte of 234 or more (26·9) is
// skipped, as the modulo would otherwise favour the first 22 letters.
func newCookie(r io.Reader) (string, error) {
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	const limit = 256 - 256%len(letters)
	out := make([]byte, 0, cookieLen)
	buf := make([]byte, cookieLen)
	for len(out) < cookieLen {
		b := buf[:cookieLen-len(out)]
		if _, err := io.ReadFull(r, b); err != nil {
			return "", err
		}
		for _, c := range b {
			if int(c) < limit {
				out = append(out, letters[int(c)%len(letters)])
			}
		}
	}
	return string(out), nil
}

func createCookieFile(path string) (string, error) {
	c, err := newCookie(rand.Reader)
	if err != nil {
		return "", fmt.Errorf("making a cookie: %w", err)
	}
	b := []byte(c)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o400)
	if err != nil {
		if errors.Is(err, fs.ErrExist) { // another node made it first
			return ReadCookieFile(path)
		}
		return "", fmt.Errorf("creating the cookie file: %w", err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("writing the cookie file: %w", err)
	}
	return string(b), nil
}
