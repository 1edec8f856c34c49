package service

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
)

// File is a services file, as gsh -services reads it: JSON with the
// address to listen on and the services, for example
//
//	{
//	  "listen": "127.0.0.1:2233",
//	  "services": [
//	    {"name": "nameServer", "secret": "ABXy45", "functions": ["kvs.store", "kvs.lookup"]},
//	    {"name": "chat", "secret": "pR3tty-l0ng", "process": "chat", "tls": true}
//	  ]
//	}
type File struct {
	// Listen is the address the services are offered on, host:port
	// (":2233" for every interface).
	Listen string `json:"listen"`
	// Services are the services offered there.
	Services []Service `json:"services"`
}

// LoadFile reads and checks a services file. A file that others can read
// is refused, with the chmod that fixes it, as the cookie file is: it
// holds the secrets. Unknown fields are refused, so that a misspelt
// "functions" does not leave a service exposing less (or more) than meant.
func LoadFile(path string) (*File, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading the services file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("the services file %s can be read by others (mode %v): run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the services file: %w", err)
	}
	return ParseFile(path, b)
}

// ParseFile parses and checks the text of a services file named name.
func ParseFile(name string, text []byte) (*File, error) {
	var f File
	d := json.NewDecoder(bytes.NewReader(text))
	d.DisallowUnknownFields()
	if err := d.Decode(&f); err != nil {
		return nil, fmt.Errorf("reading the services file %s: %w", name, err)
	}
	if d.More() {
		return nil, fmt.Errorf("reading the services file %s: more than one JSON object", name)
	}
	if _, _, err := net.SplitHostPort(f.Listen); err != nil {
		return nil, fmt.Errorf("services file %s: \"listen\" is host:port (\":2233\" for every interface): %w", name, err)
	}
	if len(f.Services) == 0 {
		return nil, fmt.Errorf("services file %s offers no services", name)
	}
	seen := map[string]bool{}
	for _, s := range f.Services {
		if err := s.verify(); err != nil {
			return nil, fmt.Errorf("services file %s: %w", name, err)
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("services file %s: service %s is given twice", name, s.Name)
		}
		seen[s.Name] = true
	}
	return &f, nil
}
