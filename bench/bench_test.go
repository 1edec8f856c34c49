package main

import (
	"context"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/traefik/yaegi/interp"

	"gsh/builtins"
	"gsh/cluster"
	"gsh/shell"
)

// TestMain lets the test binary play the parts the bench starts itself
// again for (see childMain), and one more: "touch", a process that makes
// 64 MiB resident and exits.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "touch" {
		b := make([]byte, 64<<20)
		for i := range b {
			b[i] = 1
		}
		os.Exit(int(b[len(b)-1]) - 1)
	}
	childMain()
	os.Exit(m.Run())
}

// testLog writes the harness's progress lines to the test log.
type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestHarness runs every workload once, with sizes smaller still than
// -quick, on gsh's side only, so that CI sees the harness still works.
func TestHarness(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := quickParams
	p.Warmup, p.N, p.Sends, p.PerProc, p.Beside = 20, 200, 2000, 10, 50
	rep, err := run(ctx, config{rounds: 1, params: p, quick: true, erlang: false, log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	for _, rw := range rows {
		vs := rep.gsh[rw.key]
		if len(vs) == 0 {
			t.Errorf("no value for %s", rw.key)
			continue
		}
		if v := vs[0]; !(v > 0) || math.IsInf(v, 0) {
			t.Errorf("%s = %v", rw.key, v)
		}
	}
	for _, k := range []string{"floor_tcp.p50", "floor_tcp.p99"} {
		if vs := rep.floor[k]; len(vs) != 1 || !(vs[0] > 0) {
			t.Errorf("the floor's %s = %v", k, vs)
		}
	}
	var out strings.Builder
	rep.print(&out)
	t.Log("\n" + out.String())
	for _, want := range []string{"floor: raw TCP round trip p50", "rpc_call_plain_go p50", "rpc_call p50", "send_one_way", "startup peak RSS", "beside_1MiB p99 / own rpc_call p99", "-erlang=false"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the table has no %q", want)
		}
	}
}

// TestStartupMemoryIsTheChilds checks that the start-up row's memory is the
// started program's own: /bin/true started from a process holding 256 MiB
// is small, and a process that makes 64 MiB resident shows it.
func TestStartupMemoryIsTheChilds(t *testing.T) {
	held := make([]byte, 256<<20)
	for i := range held {
		held[i] = 1
	}
	ctx := context.Background()
	_, rss, err := startup(ctx, os.Environ(), "true", "/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	if rss <= 0 || rss > 16 {
		t.Errorf("/bin/true: peak RSS %.1f MB, want its own few MB (this process holds 256 MiB)", rss)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	_, rss, err = startup(ctx, append(os.Environ(), childEnv+"=touch"), "bench", self)
	if err != nil {
		t.Fatal(err)
	}
	if rss < 64 {
		t.Errorf("a process making 64 MiB resident: peak RSS %.1f MB", rss)
	}
	if held[len(held)-1] != 1 {
		t.Fatal("unreachable")
	}
	_, _, err = startup(ctx, os.Environ(), "beam", "/bin/true")
	if err == nil || !strings.Contains(err.Error(), `ended running "true", not beam`) {
		t.Errorf("a program that is not the one expected: got %v", err)
	}
}

func TestOnlyChecksTheName(t *testing.T) {
	_, err := run(context.Background(), config{rounds: 1, params: quickParams, only: "nope"})
	if err == nil || !strings.Contains(err.Error(), "rpc_call") {
		t.Fatalf("got %v, want an error listing the workloads", err)
	}
}

func TestParseAnchor(t *testing.T) {
	out := `erlang_otp 25
connect_first_ping us=32324.0
rpc_call mean_us=81.2 p50_us=76.2 p99_us=117.3
send_one_way msgs_per_s=260943.0
rpc_concurrent32 calls_per_s=39618.2
`
	res, rel, err := parseAnchor(out)
	if err != nil {
		t.Fatal(err)
	}
	want := Results{
		"connect_first_ping.us": 32324, "rpc_call.mean": 81.2, "rpc_call.p50": 76.2, "rpc_call.p99": 117.3,
		"send_one_way.rate": 260943, "rpc_concurrent32.rate": 39618.2,
	}
	if rel != "25" || len(res) != len(want) {
		t.Fatalf("got %v, %q", res, rel)
	}
	for k, v := range want {
		if res[k] != v {
			t.Errorf("%s = %v, want %v", k, res[k], v)
		}
	}
}

func TestPercentiles(t *testing.T) {
	ds := make([]time.Duration, 200)
	for i := range ds {
		ds[i] = time.Duration(i+1) * time.Microsecond
	}
	r := Results{}
	r.report("x", ds)
	// anchorbench.erl: lists:nth(max(1, round(P * 200)), Sorted).
	if r["x.p50"] != 100 || r["x.p99"] != 198 || r["x.mean"] != 100.5 {
		t.Fatalf("got %v", r)
	}
	if median([]float64{3, 1, 2}) != 2 || median([]float64{4, 1, 2, 3}) != 2.5 {
		t.Fatal("median")
	}
}

// TestAnchorbenchLoads checks that node B's anchorbench.go loads in the
// interpreter, as c() loads it, with Echo and Sink where node A spawns them.
func TestAnchorbenchLoads(t *testing.T) {
	n, err := cluster.Start(context.Background(), cluster.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	env := builtins.New(n)
	in, err := shell.NewInterp(shell.Options{
		Stdout:  io.Discard,
		Stderr:  io.Discard,
		Exports: []interp.Exports{env.Symbols()},
		Prelude: []string{builtins.Prelude},
	})
	if err != nil {
		t.Fatal(err)
	}
	path, err := filepath.Abs("anchorbench.go")
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := in.LoadFile(context.Background(), path)
	if err != nil || pkg != "anchorbench" {
		t.Fatalf("LoadFile = %q, %v", pkg, err)
	}
	for _, f := range []string{"Echo", "Sink"} {
		if _, ok := in.Func("anchorbench." + f); !ok {
			t.Errorf("no anchorbench.%s after loading", f)
		}
	}
}

// TestCrossHarness runs the cross workload (rpc between gsh and Erlang
// nodes) with tiny sizes, so that CI sees it still works.
func TestCrossHarness(t *testing.T) {
	if !haveErlang() {
		t.Skip("erl, erlc or epmd is not installed (apt-get install erlang-base)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := quickParams
	p.Warmup, p.N = 10, 100
	rep, err := run(ctx, config{rounds: 1, params: p, quick: true, only: "cross", erlang: true, log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	rep.print(&out)
	t.Log("\n" + out.String())
	for _, want := range []string{"erl → erl", "erl → gsh", "gsh → erl", "gsh → gsh"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the table has no %q", want)
		}
	}
}
