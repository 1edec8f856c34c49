// Command bench measures gsh side by side with Erlang/OTP: the same
// workloads, node A calling node B on loopback, as erlang/anchorbench.erl
// runs them, and prints one table with the ratio gsh / Erlang and the
// targets.
//
//	go run ./bench                  # 3 rounds, the full workloads
//	go run ./bench -quick           # a fast smoke run
//	go run ./bench -only rpc_call   # one workload
//
// Node A is this program (a cluster.Node); node B is a real gsh process
// that loads anchorbench.go. Both register with a private port mapper, and
// Erlang's nodes with a private epmd: nothing touches port 4369.
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"gsh/cluster"
	"gsh/cluster/portmap"
)

var (
	//go:embed anchorbench.go
	anchorbenchGo string
	//go:embed erlang/anchorbench.erl
	anchorbenchErl string
	//go:embed erlang/kvs.erl
	kvsErl string
)

// params are the sizes of the workloads.
type params struct {
	Warmup   int // erlang.node calls before the timed ones
	N        int // sequential calls or round trips per latency workload
	Sends    int // one-way messages
	Procs    int // concurrent callers
	PerProc  int // calls per concurrent caller
	Beside   int // small calls beside the 1 MiB stream
	Startups int // start-up runs per round and side
}

// fullParams are anchorbench.erl's sizes.
var fullParams = params{Warmup: 1000, N: 20000, Sends: 500000, Procs: 32, PerProc: 1000, Beside: 2000, Startups: 3}

// quickParams are for a smoke run (Erlang's side always runs in full: its
// sizes are fixed in anchorbench.erl).
var quickParams = params{Warmup: 100, N: 1000, Sends: 20000, Procs: 32, PerProc: 50, Beside: 200, Startups: 1}

// workloads are the names -only accepts, in anchorbench.erl's order.
var workloads = []string{
	"connect_first_ping", "rpc_call", "kvs_store", "kvs_lookup", "ping_pong",
	"send_one_way", "rpc_concurrent32", "rpc_call_beside_1MiB_stream", "startup", "cross",
	floorWorkload, plainWorkload,
}

// floorWorkload is the floor row: a raw TCP round trip between two
// processes (see floor).
const floorWorkload = "floor_tcp"

type config struct {
	rounds int
	params params
	quick  bool
	only   string // one workload, or all when empty
	gsh    string // a gsh binary to use; empty builds ./cmd/gsh
	erlang bool   // run Erlang's side too, when erl is on PATH
	log    io.Writer
}

// report is what a run measured: every round's value of every metric, by side.
type report struct {
	cfg        config
	gsh, erl   map[string][]float64
	floor      map[string][]float64 // the floor's rounds, shared by both sides
	haveErl    bool
	erlRelease string
	notes      []string
	cross      []crossRow // rpc_call across gsh and Erlang nodes (see cross.go)
}

func main() {
	childMain()
	cfg := config{log: os.Stderr}
	flag.IntVar(&cfg.rounds, "rounds", 3, "rounds, each running both sides in turn; the table shows the medians")
	flag.BoolVar(&cfg.quick, "quick", false, "a fast smoke run: smaller sizes on gsh's side and, unless -rounds is given, one round")
	flag.StringVar(&cfg.only, "only", "", "run one workload: "+strings.Join(workloads, ", "))
	flag.StringVar(&cfg.gsh, "gsh", "", "use this gsh binary instead of building ./cmd/gsh")
	flag.BoolVar(&cfg.erlang, "erlang", true, "run Erlang/OTP's side too, when erl is on PATH")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of this process (node A) to `FILE`")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	cfg.params = fullParams
	if cfg.quick {
		cfg.params = quickParams
		roundsSet := false
		flag.Visit(func(f *flag.Flag) { roundsSet = roundsSet || f.Name == "rounds" })
		if !roundsSet {
			cfg.rounds = 1
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
	rep.print(os.Stdout)
}

// run measures both sides, alternating them, cfg.rounds times.
func run(ctx context.Context, cfg config) (*report, error) {
	if cfg.only != "" && !slices.Contains(workloads, cfg.only) {
		return nil, fmt.Errorf("-only %q: the workloads are %s", cfg.only, strings.Join(workloads, ", "))
	}
	if cfg.rounds < 1 {
		return nil, errors.New("-rounds must be at least 1")
	}
	if cfg.log == nil {
		cfg.log = io.Discard
	}
	tmp, err := os.MkdirTemp("", "gsh-bench")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	bin := cfg.gsh
	if bin == "" {
		bin = filepath.Join(tmp, "gsh")
		fmt.Fprintln(cfg.log, "building gsh/cmd/gsh")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "gsh/cmd/gsh")
		if out, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("building gsh: %v\n%s", err, out)
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, "anchorbench.go"), []byte(anchorbenchGo), 0o644); err != nil {
		return nil, err
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	mapper := portmap.NewServer()
	mapper.Logf = func(format string, args ...any) { fmt.Fprintf(cfg.log, "port mapper: "+format+"\n", args...) }
	go mapper.Serve(ln)
	defer mapper.Close()

	g := &gshSide{
		bin:        bin,
		dir:        tmp,
		mapperPort: ln.Addr().(*net.TCPAddr).Port,
		host:       cluster.ShortHostname(),
		log:        cfg.log,
	}
	rep := &report{cfg: cfg, gsh: map[string][]float64{}, erl: map[string][]float64{}, floor: map[string][]float64{}}
	var e *erlSide
	if cfg.erlang && haveErlang() {
		dir := filepath.Join(tmp, "erlang")
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nil, err
		}
		if e, err = startErlang(ctx, dir, cfg.log); err != nil {
			return nil, err
		}
		defer e.close()
		rep.haveErl = true
	}

	add := func(to map[string][]float64, r Results) {
		for k, v := range r {
			to[k] = append(to[k], v)
		}
	}
	workload := cfg.only != "startup" && cfg.only != "cross" && cfg.only != floorWorkload && cfg.only != plainWorkload
	starts := cfg.only == "" || cfg.only == "startup"
	for round := 1; round <= cfg.rounds; round++ {
		if cfg.only == "" || cfg.only == floorWorkload {
			r, err := floor(ctx, cfg.params)
			if err != nil {
				return nil, fmt.Errorf("round %d, the floor: %w", round, err)
			}
			add(rep.floor, r)
		}
		// Alternate which side goes first.
		gshFirst := round%2 == 1
		sides := []string{"gsh", "Erlang"}
		if !gshFirst {
			sides = []string{"Erlang", "gsh"}
		}
		for _, side := range sides {
			if side == "Erlang" && (e == nil || cfg.only == floorWorkload || cfg.only == plainWorkload) {
				continue
			}
			t0 := time.Now()
			if workload {
				var r Results
				if side == "gsh" {
					r, err = g.round(ctx, cfg.params, cfg.only, round)
				} else {
					r, err = e.round(ctx, round)
				}
				if err != nil {
					return nil, fmt.Errorf("round %d, %s: %w", round, side, err)
				}
				if side == "gsh" {
					add(rep.gsh, r)
				} else {
					if cfg.only != "" {
						for k := range r {
							if !strings.HasPrefix(k, cfg.only+".") {
								delete(r, k)
							}
						}
					}
					add(rep.erl, r)
				}
			}
			if side == "gsh" && (cfg.only == "" || cfg.only == plainWorkload) {
				r, err := g.plain(ctx, cfg.params, round)
				if err != nil {
					return nil, fmt.Errorf("round %d, %s: %w", round, plainWorkload, err)
				}
				add(rep.gsh, r)
			}
			if starts {
				for i := range cfg.params.Startups {
					n := (round-1)*cfg.params.Startups + i
					var r Results
					if side == "gsh" {
						r, err = g.startup(ctx, n)
					} else {
						r, err = e.startup(ctx, n)
					}
					if err != nil {
						return nil, fmt.Errorf("round %d, %s start-up: %w", round, side, err)
					}
					if side == "gsh" {
						add(rep.gsh, r)
					} else {
						add(rep.erl, r)
					}
				}
			}
			fmt.Fprintf(cfg.log, "round %d/%d: %s done in %.1fs\n", round, cfg.rounds, side, time.Since(t0).Seconds())
		}
	}
	if e != nil && (cfg.only == "" || cfg.only == "cross") {
		fmt.Fprintln(cfg.log, "cross: rpc_call across gsh and Erlang nodes")
		if rep.cross, err = g.crossRPC(ctx, cfg.params); err != nil {
			return nil, fmt.Errorf("cross: %w", err)
		}
	}
	if e != nil {
		rep.erlRelease = e.release
	}
	return rep, nil
}

// row is one line of the table: a metric, its unit and its target.
type row struct {
	key, label, unit string
	higher           bool    // a higher value is better (rates)
	target           float64 // the target for gsh / Erlang; 0 for none
}

var rows = []row{
	{"connect_first_ping.us", "connect_first_ping", "µs", false, 0.5},
	{"rpc_call.p50", "rpc_call p50", "µs", false, 0.75},
	{"rpc_call.p99", "rpc_call p99", "µs", false, 1},
	{"rpc_call.mean", "rpc_call mean", "µs", false, 0},
	{plainWorkload + ".p50", plainWorkload + " p50", "µs", false, 0},
	{plainWorkload + ".p99", plainWorkload + " p99", "µs", false, 0},
	{plainWorkload + ".mean", plainWorkload + " mean", "µs", false, 0},
	{"kvs_store.p50", "kvs_store p50", "µs", false, 0.75},
	{"kvs_store.p99", "kvs_store p99", "µs", false, 1},
	{"kvs_store.mean", "kvs_store mean", "µs", false, 0},
	{"kvs_lookup.p50", "kvs_lookup p50", "µs", false, 0.75},
	{"kvs_lookup.p99", "kvs_lookup p99", "µs", false, 1},
	{"kvs_lookup.mean", "kvs_lookup mean", "µs", false, 0},
	{"ping_pong.p50", "ping_pong p50", "µs", false, 1},
	{"ping_pong.p99", "ping_pong p99", "µs", false, 0},
	{"ping_pong.mean", "ping_pong mean", "µs", false, 0},
	{"send_one_way.rate", "send_one_way", "msgs/s", true, 3},
	{"rpc_concurrent32.rate", "rpc_concurrent32", "calls/s", true, 2},
	{"rpc_call_beside_1MiB_stream.p50", "rpc_call_beside_1MiB_stream p50", "µs", false, 0},
	{"rpc_call_beside_1MiB_stream.p99", "rpc_call_beside_1MiB_stream p99", "µs", false, 0.5},
	{"rpc_call_beside_1MiB_stream.mean", "rpc_call_beside_1MiB_stream mean", "µs", false, 0},
	{"startup.wall", "startup wall time", "ms", false, 0.5},
	{"startup.rss", "startup peak RSS", "MB", false, 1},
}

// idleTarget bounds gsh's p99 beside the stream, as a multiple of its own
// idle rpc_call p99.
const idleTarget = 2.0

func (r *report) med(side map[string][]float64, key string) float64 { return median(side[key]) }

func fmtValue(v float64, unit string) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case strings.HasSuffix(unit, "/s"):
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.1f", v)
	}
}

func targetText(rw row) string {
	if rw.target == 0 {
		return ""
	}
	if rw.higher {
		return fmt.Sprintf("≥ %g", rw.target)
	}
	return fmt.Sprintf("≤ %g", rw.target)
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}

// print writes the table.
func (r *report) print(w io.Writer) {
	cfg := r.cfg
	if cfg.only == "cross" {
		printCross(w, r.cross, cfg.params.N)
		return
	}
	rel := r.erlRelease
	if rel == "" {
		rel = "?"
	}
	what := "gsh"
	if r.haveErl {
		what = "gsh vs Erlang/OTP " + rel
	}
	fmt.Fprintf(w, "%s: node A calling node B on loopback, median of %d round(s)", what, cfg.rounds)
	if cfg.only == "" || cfg.only == "startup" {
		fmt.Fprintf(w, " (start-up: median of %d runs)", cfg.rounds*cfg.params.Startups)
	}
	fmt.Fprintln(w)
	if cfg.quick {
		fmt.Fprintln(w, "-quick: gsh ran smaller sizes; Erlang's side always runs anchorbench.erl's full sizes")
	}
	if r.haveErl {
		fmt.Fprintln(w, "gsh / Erlang: below 1 is better for µs, ms and MB (time, memory); above 1 is better for /s (throughput)")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if r.haveErl {
		fmt.Fprintln(tw, "workload\tunit\tgsh\tErlang\tgsh / Erlang\ttarget\tmet\t")
	} else {
		fmt.Fprintln(tw, "workload\tunit\tgsh\t")
	}
	r.printFloor(tw)
	for _, rw := range rows {
		g := r.med(r.gsh, rw.key)
		if math.IsNaN(g) {
			continue
		}
		if !r.haveErl {
			fmt.Fprintf(tw, "%s\t%s\t%s\t\n", rw.label, rw.unit, fmtValue(g, rw.unit))
			continue
		}
		e := r.med(r.erl, rw.key)
		ratio := g / e
		ratioText, met := "-", ""
		if !math.IsNaN(ratio) && !math.IsInf(ratio, 0) {
			ratioText = fmt.Sprintf("%.2f", ratio)
			if rw.target != 0 {
				met = yesNo(ratio <= rw.target)
				if rw.higher {
					met = yesNo(ratio >= rw.target)
				}
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", rw.label, rw.unit, fmtValue(g, rw.unit), fmtValue(e, rw.unit), ratioText, targetText(rw), met)
	}
	// The stream's p99 against the side's own idle p99.
	gi := r.med(r.gsh, "rpc_call_beside_1MiB_stream.p99") / r.med(r.gsh, "rpc_call.p99")
	if !math.IsNaN(gi) {
		label := "beside_1MiB p99 / own rpc_call p99"
		if r.haveErl {
			ei := r.med(r.erl, "rpc_call_beside_1MiB_stream.p99") / r.med(r.erl, "rpc_call.p99")
			fmt.Fprintf(tw, "%s\t×\t%.2f\t%s\t\tgsh ≤ %g\t%s\t\n", label, gi, fmtValue(ei, "×"), idleTarget, yesNo(gi <= idleTarget))
		} else {
			fmt.Fprintf(tw, "%s\t×\t%.2f\t\n", label, gi)
		}
	}
	tw.Flush()
	if !r.haveErl {
		fmt.Fprintln(w)
		if r.cfg.erlang {
			fmt.Fprintln(w, "No Erlang/OTP here (erl, erlc, epmd): apt-get install -y erlang-base to get the Erlang column.")
		} else {
			fmt.Fprintln(w, "Erlang's side was not run (-erlang=false).")
		}
	}
	for _, n := range r.notes {
		fmt.Fprintln(w, "note:", n)
	}
	if len(r.cross) > 0 {
		printCross(w, r.cross, cfg.params.N)
	}
}
