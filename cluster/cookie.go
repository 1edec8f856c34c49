package cluster

import (
	"crypto/rand"
	"errors"
	"fmt"
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
// fresh random cookie (160 bits) readable by its owner only (mode 0400). A
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

func createCookieFile(path string) (string, error) {
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ" // 32 letters of 26: over 150 bits
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making a cookie: %w", err)
	}
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
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
