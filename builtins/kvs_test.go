package builtins

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"gsh/cluster"
)

const testNode = cluster.Atom("gandalf@host")

// wireValues are keys and values of every kind the wire carries.
func wireValues() []any {
	return []any{
		nil, true, false, 0, -7, 1 << 40, 1.5, "weather", "", []byte{0, 1, 2},
		[]any{1, "a", []any{2.5, nil}}, map[any]any{"k": 1, 2: "two"},
		cluster.Atom("pong"), cluster.Pid{Node: testNode, ID: 7, Creation: 3},
		time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC),
	}
}

func TestKVSInMemory(t *testing.T) {
	k := NewKVS(testNode)
	if _, err := k.Store("a", 1); !errors.Is(err, ErrKVSNotStarted) || !strings.Contains(err.Error(), "kvs.start()") {
		t.Fatalf("store before start: %v", err)
	}
	if _, _, err := k.Lookup("a"); !errors.Is(err, ErrKVSNotStarted) {
		t.Fatalf("lookup before start: %v", err)
	}
	if ok, err := k.Start(); !ok || err != nil {
		t.Fatalf("start: %v, %v", ok, err)
	}
	if ok, err := k.Start(); !ok || err != nil {
		t.Fatalf("second start: %v, %v; want true: start is idempotent", ok, err)
	}
	checkStoreLookup(t, k)
	if k.Path() != "" {
		t.Fatalf("an in-memory kvs has a path: %s", k.Path())
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
}

// checkStoreLookup stores every wire value under every other and finds
// them, then checks what a lookup of something missing and a bad value give.
func checkStoreLookup(t *testing.T, k *KVS) {
	t.Helper()
	vals := wireValues()
	for i, key := range vals {
		value := vals[(i+1)%len(vals)]
		if ok, err := k.Store(key, value); !ok || err != nil {
			t.Fatalf("store(%#v, %#v): %v, %v", key, value, ok, err)
		}
	}
	for i, key := range vals {
		want := vals[(i+1)%len(vals)]
		got, ok, err := k.Lookup(key)
		if err != nil || !ok || !reflect.DeepEqual(got, want) {
			t.Fatalf("lookup(%#v) = %#v, %v, %v; want %#v", key, got, ok, err, want)
		}
	}
	if v, ok, err := k.Lookup("snow"); v != nil || ok || err != nil {
		t.Fatalf("lookup(snow) = %v, %v, %v", v, ok, err)
	}
	// Overwrite.
	if _, err := k.Store("weather", "rain"); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := k.Lookup("weather"); v != "rain" {
		t.Fatalf("after an overwrite: %v", v)
	}
	if _, err := k.Store(func() {}, 1); !errors.Is(err, cluster.ErrBadArgs) {
		t.Fatalf("a func key: %v", err)
	}
	if _, err := k.Store("f", make(chan int)); !errors.Is(err, cluster.ErrBadArgs) {
		t.Fatalf("a chan value: %v", err)
	}
}

func TestKVSDurable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "kvs") // Open makes it
	k := NewKVS(testNode)
	if err := k.Open(dir); err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "gandalf@host.kvs"); k.Path() != want {
		t.Fatalf("path %s, want %s", k.Path(), want)
	}
	if fi, err := os.Stat(k.Path()); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the database file: %v, %v", fi, err)
	}
	if _, err := k.Store("a", 1); !errors.Is(err, ErrKVSNotStarted) {
		t.Fatalf("store before start: %v", err)
	}
	if ok, err := k.Start(); !ok || err != nil {
		t.Fatalf("start: %v, %v", ok, err)
	}
	checkStoreLookup(t, k)

	const n = 500
	for i := range n {
		if ok, err := k.Store([]any{"n", i}, fmt.Sprintf("value %d", i)); !ok || err != nil {
			t.Fatalf("store(%d): %v, %v", i, ok, err)
		}
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Store("x", 1); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("store after close: %v", err)
	}
	if _, _, err := k.Lookup("x"); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("lookup after close: %v", err)
	}

	// Another run of the node: started already, with every entry.
	k2 := NewKVS(testNode)
	if err := k2.Open(dir); err != nil {
		t.Fatal(err)
	}
	defer k2.Close()
	for i := range n {
		v, ok, err := k2.Lookup([]any{"n", i})
		if err != nil || !ok || v != fmt.Sprintf("value %d", i) {
			t.Fatalf("after reopening, lookup(%d) = %v, %v, %v", i, v, ok, err)
		}
	}
	vals := wireValues()
	for i, key := range vals {
		want := vals[(i+1)%len(vals)]
		if key == "weather" {
			want = "rain"
		}
		got, ok, err := k2.Lookup(key)
		if err != nil || !ok || !reflect.DeepEqual(got, want) {
			t.Fatalf("after reopening, lookup(%#v) = %#v, %v, %v; want %#v", key, got, ok, err, want)
		}
	}
	if ok, err := k2.Start(); !ok || err != nil {
		t.Fatalf("start after reopening: %v, %v; want true", ok, err)
	}

	// Another node's store in the same directory is its own.
	other := NewKVS("bilbo@host")
	if err := other.Open(dir); err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, _, err := other.Lookup(0); !errors.Is(err, ErrKVSNotStarted) {
		t.Fatalf("another node's kvs: %v", err)
	}
}

func TestKVSDurableConcurrent(t *testing.T) {
	dir := t.TempDir()
	k := NewKVS(testNode)
	if err := k.Open(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				key := []any{g, i}
				if _, err := k.Store(key, g*1000+i); err != nil {
					errs <- err
					return
				}
				if v, ok, err := k.Lookup(key); err != nil || !ok || v != g*1000+i {
					errs <- fmt.Errorf("lookup(%v) = %v, %v, %v", key, v, ok, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	k2 := NewKVS(testNode)
	if err := k2.Open(dir); err != nil {
		t.Fatal(err)
	}
	defer k2.Close()
	for g := range 16 {
		for i := range 50 {
			if v, ok, _ := k2.Lookup([]any{g, i}); !ok || v != g*1000+i {
				t.Fatalf("after reopening, lookup([%d %d]) = %v, %v", g, i, v, ok)
			}
		}
	}
}

func TestKVSOpenErrors(t *testing.T) {
	dir := t.TempDir()
	k := NewKVS(testNode)
	if err := k.Open(dir); err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if err := k.Open(dir); err == nil {
		t.Fatal("opening twice worked")
	}
	// The file is locked while a node has it.
	k2 := NewKVS(testNode)
	if err := k2.Open(dir); err == nil || !strings.Contains(err.Error(), "another process") {
		k2.Close()
		t.Fatalf("opening a file in use: %v", err)
	}
	// A KVS already in use in memory is not switched under its callers.
	m := NewKVS("bilbo@host")
	m.Start()
	if err := m.Open(dir); err == nil || !strings.Contains(err.Error(), "in memory") {
		t.Fatalf("opening a started in-memory kvs: %v", err)
	}
	// A directory that cannot be made.
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o600)
	if err := NewKVS("x@host").Open(filepath.Join(file, "sub")); err == nil {
		t.Fatal("a directory under a file worked")
	}
	// A key over bbolt's limit.
	if _, err := k.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Store(strings.Repeat("k", 40000), 1); !errors.Is(err, cluster.ErrTooLarge) {
		t.Fatalf("a 40000-byte key: %v", err)
	}
}

func TestKVSFile(t *testing.T) {
	for name, want := range map[cluster.Atom]string{
		"gandalf@host":             "gandalf@host.kvs",
		"nonode@nohost":            "nonode@nohost.kvs",
		"a@h.example.com":          "a@h.example.com.kvs",
		"../../etc/passwd@x":       ".._.._etc_passwd@x.kvs",
		cluster.Atom("a/b@c\x00d"): "a_b@c_d.kvs",
	} {
		if got := KVSFile(name); got != want {
			t.Errorf("KVSFile(%q) = %q, want %q", name, got, want)
		}
	}
}
