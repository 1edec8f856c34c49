package cluster

// Benchmarks of the workloads in bench/ (gsh against Erlang/OTP) that
// node_test.go and process_test.go do not already have: there are
// BenchmarkCall (rpc_call), BenchmarkPingPong (ping_pong) and
// BenchmarkSendOneWay (send_one_way).

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchKVS is the shape of builtins.KVS (which this package cannot import):
// keys by their wire encoding, values checked to encode, one RWMutex.
type benchKVS struct {
	mu sync.RWMutex
	m  map[string]any
}

func (k *benchKVS) store(key, value any) (bool, error) {
	kk, err := Encode(nil, key)
	if err != nil {
		return false, err
	}
	if _, err := Encode(nil, value); err != nil {
		return false, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.m[string(kk)] = value
	return true, nil
}

func (k *benchKVS) lookup(key any) (any, bool, error) {
	kk, err := Encode(nil, key)
	if err != nil {
		return nil, false, err
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	v, ok := k.m[string(kk)]
	return v, ok, nil
}

// startWorkloadNodes starts nodes a and b; b serves kvs and erlang as the
// builtins do.
func startWorkloadNodes(b *testing.B) (c *testCluster, x, y *Node) {
	c = newTestCluster(b)
	kvs := &benchKVS{m: map[string]any{}}
	mods := testModules()
	mods["kvs"] = map[string]reflect.Value{
		"store":  reflect.ValueOf(kvs.store),
		"lookup": reflect.ValueOf(kvs.lookup),
	}
	mods["erlang"] = map[string]reflect.Value{
		"byte_size": reflect.ValueOf(func(b []byte) int { return len(b) }),
	}
	cfg := c.config("b", "abc")
	cfg.Handler = nodeHandler{mods}
	y, err := Start(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { y.Close() })
	x = c.start("a", "abc")
	if err := x.Connect(context.Background(), y.Name()); err != nil {
		b.Fatal(err)
	}
	return c, x, y
}

// BenchmarkFirstPing is connect_first_ping: a fresh node's first ping of
// another, a port mapper lookup, a connection and the handshake.
func BenchmarkFirstPing(b *testing.B) {
	c := newTestCluster(b)
	y := c.start("b", "abc")
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		cfg := c.config(fmt.Sprintf("a%d", i), "abc")
		x, err := Start(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := x.Ping(ctx, y.Name()); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		x.Close()
		b.StartTimer()
	}
}

// BenchmarkKVSStore is kvs_store: kvs.store("weather", "fine") on b.
func BenchmarkKVSStore(b *testing.B) {
	_, x, y := startWorkloadNodes(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		v, err := x.Call(ctx, y.Name(), "kvs", "store", "weather", "fine")
		if err != nil || v != true {
			b.Fatalf("kvs.store = %v, %v", v, err)
		}
	}
}

// BenchmarkKVSLookup is kvs_lookup: kvs.lookup("weather") on b.
func BenchmarkKVSLookup(b *testing.B) {
	_, x, y := startWorkloadNodes(b)
	ctx := context.Background()
	if _, err := x.Call(ctx, y.Name(), "kvs", "store", "weather", "fine"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		v, err := x.Call(ctx, y.Name(), "kvs", "lookup", "weather")
		if err != nil || v != "fine" {
			b.Fatalf("kvs.lookup = %v, %v", v, err)
		}
	}
}

// BenchmarkCall32Concurrent is rpc_concurrent32: 32 goroutines share the
// b.N calls of erlang.node; it reports calls per second.
func BenchmarkCall32Concurrent(b *testing.B) {
	_, x, y := startWorkloadNodes(b)
	ctx := context.Background()
	var next atomic.Int64
	var failed atomic.Pointer[error]
	n := int64(b.N)
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= n {
				if _, err := x.Call(ctx, y.Name(), "erlang", "node"); err != nil {
					failed.Store(&err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

// BenchmarkCallBeside1MiB is rpc_call_beside_1MiB_stream: small calls of
// erlang.node while another goroutine keeps calling erlang.byte_size with
// 1 MiB. It reports the small calls' p50 and p99.
func BenchmarkCallBeside1MiB(b *testing.B) {
	_, x, y := startWorkloadNodes(b)
	ctx := context.Background()
	big := bytes.Repeat([]byte{7}, 1<<20)
	stop := make(chan struct{})
	first := make(chan struct{})
	streamErr := make(chan error, 1)
	go func() {
		once := sync.OnceFunc(func() { close(first) })
		defer once()
		for {
			select {
			case <-stop:
				streamErr <- nil
				return
			default:
			}
			v, err := x.Call(ctx, y.Name(), "erlang", "byte_size", big)
			if err == nil && v != 1<<20 {
				err = fmt.Errorf("byte_size = %v", v)
			}
			if err != nil {
				streamErr <- err
				return
			}
			once()
		}
	}()
	<-first // the stream is flowing
	ds := make([]time.Duration, 0, 1024)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		if _, err := x.Call(ctx, y.Name(), "erlang", "node"); err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(t0))
	}
	b.StopTimer()
	close(stop)
	if err := <-streamErr; err != nil {
		b.Fatal(err)
	}
	slices.Sort(ds)
	at := func(p float64) float64 {
		i := min(len(ds)-1, max(0, int(p*float64(len(ds)))-1))
		return float64(ds[i]) / float64(time.Microsecond)
	}
	b.ReportMetric(at(0.5), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
}
