package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gsh/cluster"
)

// TestMesh starts 5 gsh processes, lets them form a full mesh through a test
// node, and sends 1,000 concurrent calls across it (TestMeshLoad does 20
// processes and 10,000 calls).
func TestMesh(t *testing.T) { meshTest(t, 5, 1000) }

// TestMeshLoad is TestMesh at 20 processes and 10,000 calls: too heavy for
// every run on a small machine.
func TestMeshLoad(t *testing.T) {
	if os.Getenv("GSH_LOAD") != "1" {
		t.Skip("20 gsh processes and 10,000 concurrent calls: run with GSH_LOAD=1 go test -run TestMeshLoad ./cmd/gsh/")
	}
	meshTest(t, 20, 10000)
}

// fds counts the open file descriptors of process pid.
func fds(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		t.Skipf("counting file descriptors: %v", err)
	}
	return len(ents)
}

// meshTest starts k gsh processes with -noshell, each with a relay function
// that calls another node, connects a test node to them all, waits until
// every process lists every other one (the mesh is made by transitive
// connections), and sends calls concurrent calls, half straight to a
// process and half relayed by one process to another: every call must be
// answered, right, and the processes must hold no more file descriptors and
// goroutines after than before.
func meshTest(t *testing.T, k, calls int) {
	_, port := privateMapper(t)
	addr := net.JoinHostPort("127.0.0.1", port)
	host := cluster.ShortHostname()
	const relay = `func relay(n string) (any, error) { return rpc.call(n, "erlang", "node") }`
	procs := make([]*gshProc, k)
	names := make([]cluster.Atom, k)
	for i := range k {
		name := fmt.Sprintf("m%d", i)
		names[i] = cluster.Atom(name + "@" + host)
		procs[i] = startGsh(t, nil, "-sname", name, "-noshell", "-addr", "127.0.0.1", "-epmd_port", port, "-setcookie", "mesh", "-eval", relay)
	}
	waitNames(t, addr, k)

	cfg := cluster.DefaultConfig()
	cfg.Name = cluster.Atom("tester@" + host)
	cfg.Cookie = "mesh"
	cfg.ListenAddr = "127.0.0.1:0"
	cfg.MapperPort, _ = strconv.Atoi(port)
	cfg.Logf = t.Logf
	ctx := context.Background()
	me, err := cluster.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer me.Close()
	start := time.Now()
	for _, n := range names {
		if err := me.Connect(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	// The mesh: every process lists every other process and the tester.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for i, n := range names {
		want := append(slices.Delete(slices.Clone(names), i, i+1), me.Name())
		for {
			v, err := me.Call(ctx, n, "erlang", "nodes")
			got, _ := v.([]any)
			if err == nil && len(got) == len(want) && !slices.ContainsFunc(want, func(w cluster.Atom) bool { return !slices.Contains(got, any(w)) }) {
				break
			}
			select {
			case <-tick.C:
			case <-deadline:
				t.Fatalf("%s lists %v (%v), want %v", n, v, err, want)
			}
		}
	}
	t.Logf("%d processes in a full mesh %v after the first connection", k, time.Since(start).Round(time.Millisecond))

	// burst sends the calls at once: call i goes to names[i%k], straight or
	// relayed to another process.
	burst := func() time.Duration {
		var wg sync.WaitGroup
		var failed atomic.Int64
		errs := make(chan error, 10)
		begin := time.Now()
		gate := make(chan struct{})
		for i := range calls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				to := names[i%k]
				var v any
				var err error
				want := to
				cctx, cancel := context.WithTimeout(ctx, time.Minute)
				defer cancel()
				if i%2 == 0 {
					v, err = me.Call(cctx, to, "erlang", "node")
				} else {
					want = names[(i%k+1+(i/k)%(k-1))%k]
					v, err = me.Call(cctx, to, "main", "relay", string(want))
				}
				if err != nil || v != want {
					failed.Add(1)
					select {
					case errs <- fmt.Errorf("call %d to %s: %v, %v; want %v", i, to, v, err, want):
					default:
					}
				}
			}()
		}
		close(gate)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if f := failed.Load(); f > 0 {
			t.Fatalf("%d of %d calls failed", f, calls)
		}
		return time.Since(begin)
	}
	// resources reads every process's descriptors and goroutines.
	resources := func() (fd, gr []int) {
		for i, p := range procs {
			fd = append(fd, fds(t, p.cmd.Process.Pid))
			v, err := me.Call(ctx, names[i], "runtime", "NumGoroutine")
			if err != nil {
				t.Fatal(err)
			}
			gr = append(gr, v.(int))
		}
		return fd, gr
	}
	fd0, gr0 := resources()
	myFDs := fds(t, os.Getpid())
	// A link keeps up to 64 idle call streams for reuse, each with its
	// serving goroutine on the other side: the first bursts fill those
	// pools, and the count grows until they are as full as the load makes
	// them. A leak grows with every burst: run bursts until one leaves the
	// count where the previous one did (up to 8).
	var fds1, gr1 []int
	prev := gr0
	for b := 1; ; b++ {
		t.Logf("burst %d: %d concurrent calls answered in %v", b, calls, burst().Round(time.Millisecond))
		fds1, gr1 = resources()
		steady := b > 1
		for i := range k {
			if gr1[i] > prev[i]+2*k { // the slack: streams closing as the last calls end
				steady = false
			}
		}
		if steady {
			break
		}
		if b == 8 {
			t.Fatalf("goroutines before %v, after each of 8 bursts still growing, now %v", gr0, gr1)
		}
		prev = gr1
	}
	t.Logf("descriptors before %v, after %v", fd0, fds1)
	t.Logf("goroutines before %v, after %v", gr0, gr1)
	for i := range k {
		if fds1[i] > fd0[i] {
			t.Errorf("%s: file descriptors %d before the calls, %d after", names[i], fd0[i], fds1[i])
		}
		// The design's bound: the idle streams of the k links into it.
		if bound := gr0[i] + 64*k + 32; gr1[i] > bound {
			t.Errorf("%s: %d goroutines, over the bound of %d", names[i], gr1[i], bound)
		}
	}
	if f := fds(t, os.Getpid()); f > myFDs {
		t.Errorf("the test node: file descriptors %d before the calls, %d after", myFDs, f)
	}
}
