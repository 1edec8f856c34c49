package builtins_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gsh/builtins"
	"gsh/cluster"
	"gsh/cluster/portmap"
)

// observerNode is a node with the builtins and no interpreter.
type observerNode struct {
	node *cluster.Node
	env  *builtins.Env
}

// startObserverNodes starts in-process nodes with the builtins on a private
// port mapper; hidden names the hidden ones.
func startObserverNodes(tb testing.TB, names []string, hidden map[string]bool) []observerNode {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	m := portmap.NewServer()
	go m.Serve(ln)
	tb.Cleanup(func() { m.Close() })
	var out []observerNode
	for _, name := range names {
		var env atomic.Pointer[builtins.Env]
		cfg := cluster.DefaultConfig()
		cfg.Name = cluster.Atom(name + "@" + cluster.ShortHostname())
		cfg.Cookie = "observer-test"
		cfg.ListenAddr = "127.0.0.1:0"
		cfg.MapperPort = ln.Addr().(*net.TCPAddr).Port
		cfg.Hidden = hidden[name]
		cfg.Logf = func(string, ...any) {}
		ready := make(chan struct{})
		cfg.Handler = cluster.HandlerFunc(func(ctx context.Context, from cluster.Atom, m, f string, a []any) (any, error) {
			<-ready
			return env.Load().HandleCall(ctx, from, m, f, a)
		})
		n, err := cluster.Start(context.Background(), cfg)
		if err != nil {
			tb.Fatal(err)
		}
		e := builtins.New(n)
		env.Store(e)
		close(ready)
		tb.Cleanup(func() { e.StopObserver(); n.Close() })
		out = append(out, observerNode{n, e})
	}
	return out
}

// observerState is the part of the page's state the tests read.
type observerState struct {
	Self  string `json:"self"`
	Nodes []struct {
		Name  string `json:"name"`
		Up    bool   `json:"up"`
		Error string `json:"error"`
		Info  *struct {
			Visible   []string `json:"visible"`
			Hidden    []string `json:"hidden"`
			Processes []struct {
				Pid         string   `json:"pid"`
				Name        string   `json:"name"`
				Global      string   `json:"global"`
				What        string   `json:"what"`
				Mailbox     int      `json:"mailbox"`
				Memory      int      `json:"memory"`
				Links       []string `json:"links"`
				MonitoredBy []string `json:"monitored_by"`
			} `json:"processes"`
			KVS []struct{ Key, Value string } `json:"kvs"`
		} `json:"info"`
	} `json:"nodes"`
}

// readEvents follows the page's event stream and passes each state to
// check until it returns true; it fails the test after 10 s.
func readEvents(t *testing.T, page, what string, check func(*observerState) bool) {
	t.Helper()
	u, _ := url.Parse(page)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", u.Scheme+"://"+u.Host+"/events?token="+u.Query().Get("token"), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /events: %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 64<<20)
	var last string
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		last = line
		var st observerState
		if err := json.Unmarshal([]byte(line), &st); err != nil {
			t.Fatalf("an event that is not the state: %v: %s", err, line)
		}
		if check(&st) {
			return
		}
	}
	t.Fatalf("waiting for %s: %v; the last state: %s", what, sc.Err(), last)
}

// TestObserverThroughHiddenNode: an observer on a hidden node sees the
// nodes it links to, their processes with links and monitors, global
// names and kvs, as the nodes themselves tell it; it refuses requests
// without its token and kills a process only when allowed.
func TestObserverThroughHiddenNode(t *testing.T) {
	ns := startObserverNodes(t, []string{"a", "b", "watcher"}, map[string]bool{"watcher": true})
	a, b, w := ns[0], ns[1], ns[2]
	ctx := context.Background()
	if err := a.node.Connect(ctx, b.node.Name()); err != nil {
		t.Fatal(err)
	}
	for _, n := range []observerNode{a, b} {
		if err := w.node.Connect(ctx, n.node.Name()); err != nil {
			t.Fatal(err)
		}
	}
	// On b: a process linked to another and monitored by a third, with
	// three messages waiting, and a kvs entry.
	worker := b.node.Spawn(func(p *cluster.Process) { <-p.Context().Done() }, nil)
	b.node.Register("worker", worker.Pid())
	partner := b.node.Spawn(func(p *cluster.Process) { <-p.Context().Done() }, nil)
	partner.Link(worker.Pid())
	watcher := a.node.NewProcess()
	watcher.Monitor(worker.Pid())
	for i := range 3 {
		a.node.Send(worker.Pid(), i)
	}
	b.env.KVS.Start()
	b.env.KVS.Store("weather", "fine")

	page, err := w.env.StartObserver(builtins.ObserverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(page, "http://127.0.0.1:") {
		t.Fatalf("observer address %q, want one on 127.0.0.1", page)
	}
	readEvents(t, page, "b's worker with its links, monitor and mailbox", func(st *observerState) bool {
		up := 0
		for _, n := range st.Nodes {
			if n.Up {
				up++
			}
		}
		for _, n := range st.Nodes {
			if n.Name != string(b.node.Name()) || n.Info == nil || up != 3 {
				continue
			}
			kvs := len(n.Info.KVS) == 1 && n.Info.KVS[0].Key == "weather" && n.Info.KVS[0].Value == "fine"
			for _, p := range n.Info.Processes {
				if p.Name == "worker" && p.Mailbox == 3 && len(p.Links) == 1 && p.Links[0] == partner.Pid().String() &&
					len(p.MonitoredBy) == 1 && p.MonitoredBy[0] == watcher.Pid().String() && p.Memory > 0 && kvs {
					return true
				}
			}
		}
		return false
	})

	// Without the token: 403, and nothing served.
	u, _ := url.Parse(page)
	for _, path := range []string{"/", "/events", "/state", "/app.js", "/state?token=wrong"} {
		resp, err := http.Get(u.Scheme + "://" + u.Host + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || strings.Contains(string(body), "weather") {
			t.Fatalf("GET %s without the token: %s %q, want 403", path, resp.Status, body)
		}
	}
	kill := func(page string) *http.Response {
		u, _ := url.Parse(page)
		resp, err := http.PostForm(u.Scheme+"://"+u.Host+"/kill?token="+u.Query().Get("token"),
			url.Values{"node": {string(b.node.Name())}, "pid": {worker.Pid().String()}})
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if resp := kill(page); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("kill on a read-only observer: %s, want 403", resp.Status)
	}
	if !worker.Alive() {
		t.Fatal("a read-only observer killed the worker")
	}

	// Started again with Kill, the page may kill b's worker.
	w.env.StopObserver()
	page, err = w.env.StartObserver(builtins.ObserverOptions{Kill: true})
	if err != nil {
		t.Fatal(err)
	}
	if resp := kill(page); resp.StatusCode != http.StatusOK {
		t.Fatalf("kill: %s", resp.Status)
	}
	select {
	case <-worker.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the worker still runs after the page killed it")
	}
	if r := worker.Reason(); r != cluster.Killed {
		t.Fatalf("the worker ended with %v, want killed", r)
	}
}

// TestObserverBadAddress: an address that is not HOST:PORT is refused
// with a clear error, and the node carries on.
func TestObserverBadAddress(t *testing.T) {
	ns := startObserverNodes(t, []string{"a"}, nil)
	_, err := ns[0].env.StartObserver(builtins.ObserverOptions{Addr: "256.1.1.1:0"})
	if err == nil || !strings.Contains(err.Error(), "starting the observer on 256.1.1.1:0") {
		t.Fatalf("observer on 256.1.1.1:0: %v, want an error naming the address", err)
	}
	page, err := ns[0].env.StartObserver(builtins.ObserverOptions{})
	if err != nil || page == "" {
		t.Fatalf("observer after a bad address: %q, %v", page, err)
	}
}

// openPage follows the observer's event stream as an open page does, until
// the benchmark ends.
func openPage(b *testing.B, page string) {
	u, _ := url.Parse(page)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", u.Scheme+"://"+u.Host+"/events?token="+u.Query().Get("token"), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	got := make(chan struct{})
	go func() {
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		first := true
		for {
			if _, err := br.ReadString('\n'); err != nil {
				return
			}
			if first {
				first = false
				close(got)
			}
		}
	}()
	<-got
	b.Cleanup(cancel)
}

// BenchmarkObserverCost measures the rpc_call and send_one_way workloads
// between two nodes with the observer's page closed and open (the
// observer runs on the calling node and gathers from both every second).
func BenchmarkObserverCost(b *testing.B) {
	for _, open := range []bool{false, true} {
		page := "closed"
		if open {
			page = "open"
		}
		b.Run("rpc_call/page="+page, func(b *testing.B) {
			ns := startObserverNodes(b, []string{"a", "b"}, nil)
			x, y := ns[0].node, ns[1].node
			ctx := context.Background()
			if err := x.Connect(ctx, y.Name()); err != nil {
				b.Fatal(err)
			}
			addr, err := ns[0].env.StartObserver(builtins.ObserverOptions{})
			if err != nil {
				b.Fatal(err)
			}
			if open {
				openPage(b, addr)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := x.Call(ctx, y.Name(), "erlang", "node"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("send_one_way/page="+page, func(b *testing.B) {
			ns := startObserverNodes(b, []string{"a", "b"}, nil)
			x, y := ns[0].node, ns[1].node
			addr, err := ns[0].env.StartObserver(builtins.ObserverOptions{})
			if err != nil {
				b.Fatal(err)
			}
			me := x.NewProcess()
			done := make(chan int, 1)
			sink := y.Spawn(func(p *cluster.Process) {
				k := 0
				for {
					m, _, err := p.Receive(context.Background(), nil, -1)
					if err != nil {
						return
					}
					if a, ok := m.([]any); ok && a[0] == "done" {
						done <- k
						k = 0
						continue
					}
					k++
				}
			}, nil)
			if err := x.Connect(context.Background(), y.Name()); err != nil {
				b.Fatal(err)
			}
			if open {
				openPage(b, addr)
			}
			msg := []any{cluster.Atom("msg"), 42}
			b.ReportAllocs()
			for b.Loop() {
				x.Send(sink.Pid(), msg)
			}
			x.Send(sink.Pid(), []any{"done", me.Pid()})
			if k := <-done; k != b.N {
				b.Fatalf("sink counted %d of %d", k, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkObserverInfo is the observer's work for one node in one
// gathering (it gathers once a second while a page is open): what a node
// with 1,000 processes tells of itself, read in place and over rpc.
func BenchmarkObserverInfo(b *testing.B) {
	ns := startObserverNodes(b, []string{"a", "b"}, nil)
	x, y := ns[0].node, ns[1].node
	for range 1000 {
		y.Spawn(func(p *cluster.Process) { <-p.Context().Done() }, nil)
	}
	b.Run("local", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if info := ns[1].env.ObserverInfo(); info.ProcessCount < 1000 {
				b.Fatalf("%d processes", info.ProcessCount)
			}
		}
	})
	b.Run("rpc", func(b *testing.B) {
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := x.Call(ctx, y.Name(), "observer", "info"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
