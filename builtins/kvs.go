package builtins

import (
	"errors"
	"fmt"
	"sync"

	"gsh/cluster"
)

// KVS is the name server of "Programming Erlang": a map from any wire value
// to any wire value, one per node, safe for concurrent callers from many
// nodes. It answers only once started, as the book's registered process does.
type KVS struct {
	node cluster.Atom

	mu      sync.RWMutex
	started bool
	m       map[string]kvsEntry
}

type kvsEntry struct{ key, value any }

// ErrKVSNotStarted is the error of a store or lookup before kvs.start().
var ErrKVSNotStarted = errors.New("kvs is not started")

// NewKVS returns the node's name server, not yet started.
func NewKVS(node cluster.Atom) *KVS { return &KVS{node: node, m: map[string]kvsEntry{}} }

// Start starts the name server; it reports true, and an error when it is
// already running.
func (k *KVS) Start() (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.started {
		return false, fmt.Errorf("kvs is already started on %s", k.node)
	}
	k.started = true
	return true, nil
}

// key is the canonical encoding of a wire value, so that any value (a slice
// or a map too) can be a key and equal values find each other.
func key(v any) (string, error) {
	b, err := cluster.Encode(nil, v)
	if err != nil {
		return "", fmt.Errorf("kvs key: %w", err)
	}
	return string(b), nil
}

// Store keeps value under key and reports true.
func (k *KVS) Store(key0, value any) (bool, error) {
	kk, err := key(key0)
	if err != nil {
		return false, err
	}
	if _, err := cluster.Encode(nil, value); err != nil {
		return false, fmt.Errorf("kvs value: %w", err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.started {
		return false, k.notStarted()
	}
	k.m[kk] = kvsEntry{key0, value}
	return true, nil
}

// Lookup gives the value stored under key and whether there was one.
func (k *KVS) Lookup(key0 any) (any, bool, error) {
	kk, err := key(key0)
	if err != nil {
		return nil, false, err
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	if !k.started {
		return nil, false, k.notStarted()
	}
	e, ok := k.m[kk]
	return e.value, ok, nil
}

func (k *KVS) notStarted() error {
	return fmt.Errorf("%w on %s: call kvs.start() there first", ErrKVSNotStarted, k.node)
}
