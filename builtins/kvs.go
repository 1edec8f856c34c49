package builtins

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"gsh/cluster"
)

// KVS is the name server of "Programming Erlang": a map from any wire value
// to any wire value, one per node, safe for concurrent callers from many
// nodes. It answers only once started, as the book's registered process does.
//
// A KVS keeps its entries in memory, and loses them with the node, unless
// Open gave it a directory: then every entry is in a bbolt database there
// (one file per node name), and Store returns only once the entry is
// committed to disk. A durable KVS also remembers that it was started: after
// the node restarts with the same directory it answers at once, with every
// entry stored before. kvs.start() on a started kvs answers true, as
// application:ensure_started does, so the command that started a node (say
// gsh -kvs_dir D -noshell -eval 'kvs.start()') also restarts it.
type KVS struct {
	node cluster.Atom

	mu      sync.RWMutex
	started bool
	m       map[string]kvsEntry // in memory only
	db      *bolt.DB            // durable only
	closed  bool
}

type kvsEntry struct{ key, value any }

// Buckets and keys of the durable store. Entries are in kvsBucket, their
// key and value each in its wire encoding (cluster.Encode); kvsMeta holds
// kvsStarted once kvs.start() has been called.
var (
	kvsBucket  = []byte("kvs")
	kvsMeta    = []byte("meta")
	kvsStarted = []byte("started")
)

// kvsBatchDelay bounds how long a store waits for others to share its
// commit: concurrent stores from many nodes then cost one fsync together.
const kvsBatchDelay = time.Millisecond

// ErrKVSNotStarted is the error of a store or lookup before kvs.start().
var ErrKVSNotStarted = errors.New("kvs is not started")

// NewKVS returns the node's name server, not yet started, in memory.
func NewKVS(node cluster.Atom) *KVS { return &KVS{node: node, m: map[string]kvsEntry{}} }

// KVSFile is the name of the database file that Open uses for node: the
// node's name with ".kvs" after it.
func KVSFile(node cluster.Atom) string {
	name := strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || r == '.' || r == '@' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, string(node))
	return name + ".kvs"
}

// Open makes the KVS durable: its entries live in dir/KVSFile(node),
// created (with dir) when missing, and it is started if it was started when
// the file was last used. Open must come before the first Start or Store;
// Close closes the file. A second process cannot open the same file while
// one has it: Open fails after a second.
func (k *KVS) Open(dir string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case k.db != nil || k.closed:
		return errors.New("opening the kvs: it is already open")
	case k.started || len(k.m) > 0:
		return errors.New("opening the kvs: it is already in use in memory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("opening the kvs: %w", err)
	}
	path := filepath.Join(dir, KVSFile(k.node))
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if errors.Is(err, bolt.ErrTimeout) {
		return fmt.Errorf("opening the kvs %s: another process has it open", path)
	}
	if err != nil {
		return fmt.Errorf("opening the kvs %s: %w", path, err)
	}
	db.MaxBatchDelay = kvsBatchDelay
	started := false
	err = db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(kvsBucket); err != nil {
			return err
		}
		meta, err := tx.CreateBucketIfNotExists(kvsMeta)
		if err != nil {
			return err
		}
		started = meta.Get(kvsStarted) != nil
		return nil
	})
	if err != nil {
		db.Close()
		return fmt.Errorf("opening the kvs %s: %w", path, err)
	}
	k.db, k.started, k.m = db, started, nil
	return nil
}

// Path is the durable store's file, "" for a KVS in memory.
func (k *KVS) Path() string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.db == nil {
		return ""
	}
	return k.db.Path()
}

// Close closes the durable store's file; stores and lookups fail after it.
// It does nothing to a KVS in memory.
func (k *KVS) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.db == nil {
		return nil
	}
	err := k.db.Close()
	k.db, k.closed = nil, true
	if err != nil {
		return fmt.Errorf("closing the kvs: %w", err)
	}
	return nil
}

// Start starts the name server; it reports true, and an error when it is
// already running. A durable KVS records that it was started.
func (k *KVS) Start() (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.usable(); err != nil {
		return false, err
	}
	if k.started {
		return true, nil
	}
	if k.db != nil {
		err := k.db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(kvsMeta).Put(kvsStarted, []byte{1})
		})
		if err != nil {
			return false, fmt.Errorf("starting the kvs: %w", err)
		}
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

// Store keeps value under key and reports true; in a durable KVS, once the
// entry is on disk.
func (k *KVS) Store(key0, value any) (bool, error) {
	kk, err := key(key0)
	if err != nil {
		return false, err
	}
	vv, err := cluster.Encode(nil, value)
	if err != nil {
		return false, fmt.Errorf("kvs value: %w", err)
	}
	if k.durable() {
		return k.storeDurable([]byte(kk), vv)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.usable(); err != nil {
		return false, err
	}
	if !k.started {
		return false, k.notStarted()
	}
	k.m[kk] = kvsEntry{key0, value}
	return true, nil
}

func (k *KVS) storeDurable(kk, vv []byte) (bool, error) {
	if len(kk) > bolt.MaxKeySize {
		return false, fmt.Errorf("kvs key: %d bytes encoded, over the durable store's %d: %w", len(kk), bolt.MaxKeySize, cluster.ErrTooLarge)
	}
	// The read lock keeps Close from closing the file under the commit;
	// bbolt orders the writers.
	k.mu.RLock()
	defer k.mu.RUnlock()
	if err := k.usable(); err != nil {
		return false, err
	}
	if !k.started {
		return false, k.notStarted()
	}
	err := k.db.Batch(func(tx *bolt.Tx) error {
		return tx.Bucket(kvsBucket).Put(kk, vv)
	})
	if err != nil {
		return false, fmt.Errorf("kvs store on %s: %w", k.node, err)
	}
	return true, nil
}

// Lookup gives the value stored under key and whether there was one. A
// durable KVS gives the value as it comes off the wire (cluster.Decode).
func (k *KVS) Lookup(key0 any) (any, bool, error) {
	kk, err := key(key0)
	if err != nil {
		return nil, false, err
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	if err := k.usable(); err != nil {
		return nil, false, err
	}
	if !k.started {
		return nil, false, k.notStarted()
	}
	if k.db == nil {
		e, ok := k.m[kk]
		return e.value, ok, nil
	}
	var v any
	found := false
	err = k.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(kvsBucket).Get([]byte(kk))
		if b == nil {
			return nil
		}
		found = true
		v, err = cluster.Decode(b) // Decode keeps nothing of b
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("kvs lookup on %s: %w", k.node, err)
	}
	return v, found, nil
}

func (k *KVS) durable() bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.db != nil
}

// usable fails once a durable KVS is closed; k.mu is held.
func (k *KVS) usable() error {
	if k.closed {
		return fmt.Errorf("the kvs on %s is closed", k.node)
	}
	return nil
}

func (k *KVS) notStarted() error {
	return fmt.Errorf("%w on %s: call kvs.start() there first", ErrKVSNotStarted, k.node)
}
