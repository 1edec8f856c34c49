// Package observer serves a web page that shows a whole gsh cluster, as
// Erlang's observer does: the nodes and the links between them, each node's
// processes with their mailboxes, links and monitors, load over the last
// minutes, the kvs contents and the global names, updated live with
// server-sent events.
//
// The server knows nothing of nodes itself: it gathers through a Source,
// which asks every node through that node's own calls. It gathers only while
// a page is open, and the page and its script are embedded in the binary.
// Every request must carry the token the server made when it started (the
// URL it prints has it); killing a process from the page is refused unless
// Options.AllowKill is set.
package observer

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"
)

//go:embed web
var webFiles embed.FS

// NodeInfo is what one node says of itself.
type NodeInfo struct {
	Node         string    `json:"node"`
	Visible      []string  `json:"visible"` // the nodes it links to
	Hidden       []string  `json:"hidden"`  // the hidden nodes it links to
	Processes    []Process `json:"processes"`
	ProcessCount int       `json:"process_count"` // all live processes (Processes may list fewer)
	Globals      []Global  `json:"globals"`
	KVSStarted   bool      `json:"kvs_started"`
	KVS          []KV      `json:"kvs"`
	KVSCount     int       `json:"kvs_count"`
	Load         Load      `json:"load"`
}

// Process is one process of a node.
type Process struct {
	Pid         string   `json:"pid"`
	Name        string   `json:"name,omitempty"`   // registered name
	Global      string   `json:"global,omitempty"` // global name
	What        string   `json:"what"`             // the function it runs
	Mailbox     int      `json:"mailbox"`
	Dropped     uint64   `json:"dropped"`
	Memory      int      `json:"memory"` // estimated bytes
	TrapExits   bool     `json:"trap_exits,omitempty"`
	LinkedTo    []string `json:"links,omitempty"`
	MonitoredBy []string `json:"monitored_by,omitempty"`
	Monitoring  []string `json:"monitoring,omitempty"`
}

// Global is a global name and the process that holds it.
type Global struct {
	Name string `json:"name"`
	Pid  string `json:"pid"`
}

// KV is one kvs entry, key and value as the prompt prints them.
type KV struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Load is a node's running totals and current figures.
type Load struct {
	Messages    uint64 `json:"messages"`     // messages delivered so far
	Calls       uint64 `json:"calls"`        // calls made so far
	CallsServed uint64 `json:"calls_served"` // calls served so far
	Memory      uint64 `json:"memory"`       // bytes the runtime holds
	Goroutines  int    `json:"goroutines"`
}

// Source gathers what the observer shows.
type Source interface {
	// Self is the name of the node the observer runs on.
	Self() string
	// Connected lists the nodes linked to it, visible and hidden.
	Connected() []string
	// Info asks node (the observer's own, or another) about itself.
	Info(ctx context.Context, node string) (*NodeInfo, error)
	// Kill ends process pid (as printed) on node.
	Kill(ctx context.Context, node, pid string) error
	// Watch calls f when a link to a node comes up or goes down, until
	// stop is called; f must not block.
	Watch(f func(node string, up bool)) (stop func())
}

// Options configure a Server.
type Options struct {
	// Addr is where to listen; "" is 127.0.0.1 on a free port.
	Addr string
	// AllowKill lets the page kill processes.
	AllowKill bool
	// Interval is how often the nodes are asked while a page is open; 0 is
	// one second.
	Interval time.Duration
	// History is how much load history is kept; 0 is three minutes.
	History time.Duration
}

// Server is a running observer.
type Server struct {
	src   Source
	opt   Options
	token string
	ln    net.Listener
	http  *http.Server
	url   string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	kick   chan struct{} // gather now

	mu      sync.Mutex
	subs    map[chan []byte]struct{}
	nodes   map[string]*nodeState
	last    []byte // the latest state, as sent
	running bool   // the gathering loop runs
}

type nodeState struct {
	Name    string    `json:"name"`
	Up      bool      `json:"up"`
	Error   string    `json:"error,omitempty"`
	Since   int64     `json:"since"` // unix ms of the last change of Up
	Info    *NodeInfo `json:"info,omitempty"`
	History []Sample  `json:"history"`

	prev     Load
	prevTime time.Time
}

// Sample is one point of a node's load history.
type Sample struct {
	T          int64   `json:"t"` // unix ms
	Messages   float64 `json:"msgs"`
	Calls      float64 `json:"calls"`
	Memory     uint64  `json:"mem"`
	Goroutines int     `json:"gor"`
}

// state is what the page receives in each event.
type state struct {
	Self      string       `json:"self"`
	AllowKill bool         `json:"allow_kill"`
	Time      int64        `json:"time"`
	Nodes     []*nodeState `json:"nodes"`
}

// Start serves the observer and returns it; URL gives its address.
func Start(src Source, opt Options) (*Server, error) {
	if opt.Addr == "" {
		opt.Addr = "127.0.0.1:0"
	}
	if opt.Interval <= 0 {
		opt.Interval = time.Second
	}
	if opt.History <= 0 {
		opt.History = 3 * time.Minute
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("making the observer's token: %w", err)
	}
	ln, err := net.Listen("tcp", opt.Addr)
	if err != nil {
		return nil, fmt.Errorf("starting the observer on %s: %w", opt.Addr, err)
	}
	s := &Server{src: src, opt: opt, token: hex.EncodeToString(b[:]), ln: ln,
		subs: map[chan []byte]struct{}{}, nodes: map[string]*nodeState{}, kick: make(chan struct{}, 1)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	s.url = fmt.Sprintf("http://%s/?token=%s", net.JoinHostPort(host, port), s.token)
	s.http = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	stop := src.Watch(func(node string, up bool) {
		if !up {
			s.markDown(node, "link lost")
		}
		s.gatherSoon()
	})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.http.Serve(ln)
	}()
	go func() {
		<-s.ctx.Done()
		stop()
	}()
	return s, nil
}

// URL is the page's address, token included.
func (s *Server) URL() string { return s.url }

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Public reports whether the server listens on an address other machines
// can reach (not loopback).
func (s *Server) Public() bool {
	ip := s.ln.Addr().(*net.TCPAddr).IP
	return !ip.IsLoopback()
}

// Close stops the server and every page's updates.
func (s *Server) Close() error {
	s.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := s.http.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.http.Close()
	}
	s.wg.Wait()
	return err
}

func (s *Server) routes() http.Handler {
	static, _ := fs.Sub(webFiles, "web")
	files := http.FileServer(http.FS(static))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /events", s.events)
	mux.HandleFunc("GET /state", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(s.snapshot(r.Context()))
	})
	mux.HandleFunc("POST /kill", s.kill)
	index, _ := webFiles.ReadFile("web/index.html")
	page := bytes.ReplaceAll(index, []byte("__TOKEN__"), []byte(s.token))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	})
	mux.Handle("GET /", files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		if !s.authorized(r) {
			http.Error(w, "forbidden: open the address the observer printed when it started, with its token", http.StatusForbidden)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func (s *Server) authorized(r *http.Request) bool {
	t := r.URL.Query().Get("token")
	if t == "" {
		t = r.Header.Get("X-Observer-Token")
	}
	return subtle.ConstantTimeCompare([]byte(t), []byte(s.token)) == 1
}

// events streams the cluster's state to one page, one event per gathering.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	ch := make(chan []byte, 1)
	s.mu.Lock()
	s.subs[ch] = struct{}{}
	if !s.running {
		s.running = true
		s.wg.Add(1)
		go s.loop()
	}
	last := s.last
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.subs, ch)
		s.mu.Unlock()
	}()
	if last != nil {
		fmt.Fprintf(w, "data: %s\n\n", last)
	}
	fl.Flush()
	s.gatherSoon()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.ctx.Done():
			return
		case b := <-ch:
			if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
				return
			}
			fl.Flush()
		}
	}
}

func (s *Server) kill(w http.ResponseWriter, r *http.Request) {
	if !s.opt.AllowKill {
		http.Error(w, "killing processes is off: start the observer with observer.start(observer.Options{Kill: true}) or gsh -observer_kill", http.StatusForbidden)
		return
	}
	node, pid := r.FormValue("node"), r.FormValue("pid")
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := s.src.Kill(ctx, node, pid); err != nil {
		http.Error(w, fmt.Sprintf("killing %s on %s: %v", pid, node, err), http.StatusBadRequest)
		return
	}
	s.gatherSoon()
	fmt.Fprintln(w, "killed")
}

func (s *Server) gatherSoon() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// loop gathers while at least one page listens, then ends.
func (s *Server) loop() {
	defer s.wg.Done()
	t := time.NewTicker(s.opt.Interval)
	defer t.Stop()
	for {
		s.mu.Lock()
		if len(s.subs) == 0 {
			s.running = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		s.publish(s.gather(s.ctx))
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		case <-s.kick:
		}
	}
}

func (s *Server) snapshot(ctx context.Context) []byte {
	s.mu.Lock()
	last := s.last
	s.mu.Unlock()
	if last != nil {
		return last
	}
	return s.gather(ctx)
}

func (s *Server) publish(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.subs {
		select {
		case <-ch: // a page that has not taken the previous state gets this one instead
		default:
		}
		ch <- b
	}
}

func (s *Server) markDown(node, why string) {
	s.mu.Lock()
	ns := s.nodes[node]
	changed := ns != nil && ns.Up
	if changed {
		ns.Up, ns.Error, ns.Since = false, why, time.Now().UnixMilli()
	}
	var b []byte
	if changed {
		b = s.encodeLocked()
	}
	s.mu.Unlock()
	if b != nil {
		s.publish(b)
	}
}

// gather asks every node it knows of, at once, and returns the new state.
func (s *Server) gather(ctx context.Context) []byte {
	names := map[string]bool{s.src.Self(): true}
	for _, n := range s.src.Connected() {
		names[n] = true
	}
	s.mu.Lock()
	for n, ns := range s.nodes {
		names[n] = true
		if ns.Info != nil {
			for _, p := range append(slices.Clone(ns.Info.Visible), ns.Info.Hidden...) {
				names[p] = true
			}
		}
	}
	s.mu.Unlock()
	type answer struct {
		name string
		info *NodeInfo
		err  error
	}
	answers := make(chan answer, len(names))
	for n := range names {
		go func() {
			c, cancel := context.WithTimeout(ctx, s.opt.Interval*2)
			defer cancel()
			info, err := s.src.Info(c, n)
			answers <- answer{n, info, err}
		}()
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for range names {
		s.mu.Unlock()
		a := <-answers
		s.mu.Lock()
		ns := s.nodes[a.name]
		if ns == nil {
			ns = &nodeState{Name: a.name, Since: now.UnixMilli()}
			s.nodes[a.name] = ns
		}
		if a.err != nil {
			if ns.Up || ns.Error == "" {
				ns.Since = now.UnixMilli()
			}
			ns.Up, ns.Error = false, a.err.Error()
			continue
		}
		if !ns.Up {
			ns.Since = now.UnixMilli()
		}
		ns.Up, ns.Error, ns.Info = true, "", a.info
		if !ns.prevTime.IsZero() && now.Sub(ns.prevTime) < s.opt.Interval/2 {
			continue // too soon after the last sample for a rate
		}
		smp := Sample{T: now.UnixMilli(), Memory: a.info.Load.Memory, Goroutines: a.info.Load.Goroutines}
		if !ns.prevTime.IsZero() {
			dt := now.Sub(ns.prevTime).Seconds()
			if dt > 0 {
				smp.Messages = float64(a.info.Load.Messages-ns.prev.Messages) / dt
				smp.Calls = float64(a.info.Load.CallsServed-ns.prev.CallsServed) / dt
			}
		}
		ns.prev, ns.prevTime = a.info.Load, now
		ns.History = append(ns.History, smp)
		keep := int(s.opt.History / s.opt.Interval)
		if len(ns.History) > keep {
			ns.History = slices.Delete(ns.History, 0, len(ns.History)-keep)
		}
	}
	b := s.encodeLocked()
	s.last = b
	return b
}

// encodeLocked encodes the state; s.mu held.
func (s *Server) encodeLocked() []byte {
	st := state{Self: s.src.Self(), AllowKill: s.opt.AllowKill, Time: time.Now().UnixMilli()}
	for _, ns := range s.nodes {
		st.Nodes = append(st.Nodes, ns)
	}
	sort.Slice(st.Nodes, func(i, j int) bool { return st.Nodes[i].Name < st.Nodes[j].Name })
	b, err := json.Marshal(st)
	if err != nil {
		b = []byte(fmt.Sprintf(`{"error":%q}`, err.Error()))
	}
	s.last = b
	return b
}
