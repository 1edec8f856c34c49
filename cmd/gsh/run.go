package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/chzyer/readline"
	"github.com/traefik/yaegi/interp"

	"gsh/builtins"
	"gsh/cluster"
	"gsh/cluster/portmap"
	"gsh/internal/interrupt"
	"gsh/shell"
)

// exitError carries halt(code)'s code out of run.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

type options struct {
	sname, name, cookie string
	mapperPort          int
	portMin, portMax    int // the range -port gives: 0, 0 for an ephemeral port
	addr                string
	hidden              bool
	erlang              bool
	eval                string
	noshell             bool
	portmapper          bool
	tick                time.Duration
	script              string
	args                []string
	tlsCert, tlsKey     string
	tlsCA, kvsDir       string
	remsh               string
	procs               int
	quiet               bool
	services            string
	observer            string
	observerKill        bool
}

const usageText = `usage: gsh [flags] [file.gsh [args...]]

gsh is Erlang's distributed shell in Go: a named node with a Go prompt.
Without a file it opens the prompt; with one it runs the file's statements and
exits (0 when all went well).

Flags:
`

const envText = `
Environment:
  GSH_COOKIE      the cookie, when -setcookie is not given
                  (else ~/.gsh.cookie, created on first use)
  GSH_EPMD_PORT   the port mapper's port (default 4369), when -epmd_port is not given:
                  this node's, and the one it looks up on every other host
  HOME            where ~/.gsh.cookie and ~/.gsh_history live
`

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("gsh", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.sname, "sname", "", "start a distributed node with a short name: `NAME` (or NAME@HOST)")
	fs.StringVar(&o.name, "name", "", "start a distributed node with a long name: `NAME` or NAME@HOST.DOMAIN")
	fs.StringVar(&o.cookie, "setcookie", "", "the `COOKIE` that nodes must share (ps shows it: GSH_COOKIE or ~/.gsh.cookie are safer)")
	fs.IntVar(&o.mapperPort, "epmd_port", 0, "the port mapper's `PORT`, on this host and on every other (default $GSH_EPMD_PORT, else 4369)")
	var ports string
	fs.StringVar(&ports, "port", "", "listen for links on this `PORT`, or on the first free one of MIN-MAX (default: an ephemeral one)")
	fs.StringVar(&o.addr, "addr", "", "listen on this `ADDRESS` only (default: every interface); with -portmapper, the port mapper does")
	fs.BoolVar(&o.hidden, "hidden", false, "a hidden node: not passed on to the nodes it connects to")
	fs.BoolVar(&o.erlang, "erlang", false, "link with Erlang and Elixir nodes too (their handshake proves the cookie with MD5)")
	fs.StringVar(&o.eval, "eval", "", "evaluate `EXPR` and exit (with -noshell: keep running after it)")
	fs.BoolVar(&o.quiet, "q", false, "quiet: a script or piped input prints only what its code prints (no values), its errors on stderr")
	fs.BoolVar(&o.noshell, "noshell", false, "no prompt: keep the node running until halt() or a signal")
	fs.BoolVar(&o.portmapper, "portmapper", false, "run only the port mapper (as epmd does), in the foreground")
	fs.DurationVar(&o.tick, "ticktime", 15*time.Second, "declare a silent link down after this `DURATION`")
	fs.StringVar(&o.tlsCert, "tls_cert", "", "run links over TLS: this node's certificate, a PEM `FILE` (with -tls_key and -tls_ca)")
	fs.StringVar(&o.tlsKey, "tls_key", "", "the private key of -tls_cert, a PEM `FILE` that only its owner can read")
	fs.StringVar(&o.tlsCA, "tls_ca", "", "the CA certificates, a PEM `FILE`: links only with nodes whose certificates they signed")
	fs.StringVar(&o.kvsDir, "kvs_dir", "", "keep this node's kvs on disk in `DIR`, across restarts (default: in memory)")
	fs.IntVar(&o.procs, "procs", cluster.DefaultMaxProcesses, "run at most `N` processes (Erlang's +P): spawns and casts past it fail")
	fs.StringVar(&o.services, "services", "", "offer the services in this JSON `FILE` to clients that are not nodes (lib_chan.connect)")
	fs.StringVar(&o.observer, "observer", "", "serve the observer page (observer.start()) on `ADDR`, as 127.0.0.1:0; another than a loopback address is warned of")
	fs.BoolVar(&o.observerKill, "observer_kill", false, "let the observer page kill processes (with -observer)")
	fs.StringVar(&o.remsh, "remsh", "", "a remote shell: evaluate the input on `NODE` (NAME@HOST, or NAME on this host) and print here")
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
		fmt.Fprint(stderr, envText)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w (gsh --help lists the flags)", err)
	}
	var empty []string
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "sname", "name", "setcookie", "remsh", "eval":
			if f.Value.String() == "" {
				empty = append(empty, "-"+f.Name)
			}
		}
	})
	if len(empty) > 0 {
		return nil, fmt.Errorf("%s given an empty value (gsh --help lists the flags)", strings.Join(empty, ", "))
	}
	if ports != "" {
		var err error
		if o.portMin, o.portMax, err = parsePorts(ports); err != nil {
			return nil, err
		}
	}
	if o.sname != "" && o.name != "" {
		return nil, errors.New("give -sname or -name, not both")
	}
	if o.observerKill && o.observer == "" {
		return nil, errors.New("-observer_kill goes with -observer ADDR")
	}
	if tls := o.tlsCert + o.tlsKey + o.tlsCA; tls != "" && (o.tlsCert == "" || o.tlsKey == "" || o.tlsCA == "") {
		return nil, errors.New("TLS needs all of -tls_cert, -tls_key and -tls_ca")
	}
	if rest := fs.Args(); len(rest) > 0 {
		o.script, o.args = rest[0], rest[1:]
		if o.eval != "" {
			return nil, fmt.Errorf("give -eval or a script (%s), not both", o.script)
		}
	}
	if o.remsh != "" {
		if o.noshell {
			return nil, errors.New("-remsh opens a shell: not with -noshell")
		}
		if o.sname == "" && o.name == "" {
			// A name of its own, of the target's kind, on a hidden node
			// that the target does not pass on to its peers.
			o.hidden = true
			own := fmt.Sprintf("remsh%d", os.Getpid())
			if _, host, ok := strings.Cut(o.remsh, "@"); ok && strings.Contains(host, ".") {
				o.name = own
			} else {
				o.sname = own
			}
		}
	}
	if o.mapperPort == 0 {
		o.mapperPort = cluster.DefaultMapperPort
		if p := os.Getenv("GSH_EPMD_PORT"); p != "" {
			v, err := strconv.Atoi(p)
			if err != nil || v <= 0 || v > 65535 {
				return nil, fmt.Errorf("GSH_EPMD_PORT=%q is not a port number", p)
			}
			o.mapperPort = v
		}
	}
	return o, nil
}

// run is gsh: it parses args, starts the node and runs the prompt, a
// script, or -eval, until the input ends or halt() is called.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if o.portmapper {
		return runPortMapper(ctx, o, stderr)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var exitCode atomic.Int32
	halt := func(code int) {
		exitCode.Store(int32(code))
		cancel()
	}

	// Log lines go above the prompt once the shell runs.
	log.SetOutput(io.Discard) // the interpreter logs what it also returns as an error
	var logMu sync.Mutex
	logf := func(format string, args ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		fmt.Fprintf(stderr, "=INFO= "+format+"\n", args...)
	}
	var sh atomic.Pointer[shell.Shell]
	nodeLog := func(format string, args ...any) {
		line := explainLine(fmt.Sprintf(format, args...))
		if s := sh.Load(); s != nil {
			s.Logf("%s", line)
			return
		}
		logf("%s", line)
	}

	// A panic in a goroutine that interpreted code started: one line above
	// the prompt once the shell runs, on stderr before.
	defer interrupt.SetOnPanic(func(v any, _ []byte) {
		if s := sh.Load(); s != nil {
			s.Logf("gsh: panic in goroutine: %v", v)
			return
		}
		logMu.Lock()
		defer logMu.Unlock()
		fmt.Fprintf(stderr, "gsh: panic in goroutine: %v\n", v)
	})()

	// What calls served on other nodes print for this one's processes.
	var outMu sync.Mutex
	output := func(_ cluster.Pid, text string) {
		if s := sh.Load(); s != nil {
			s.Print(text)
			return
		}
		outMu.Lock()
		defer outMu.Unlock()
		io.WriteString(stdout, text)
	}

	var handler atomic.Pointer[builtins.Env]
	node, err := startNode(ctx, o, stderr, nodeLog, output, envHandler{&handler})
	if err != nil {
		return explain(err)
	}
	defer node.Close()

	// The interpreter, with the builtins it runs.
	var (
		env     *builtins.Env
		server  *shell.Server               // remote shells (gsh -remsh this node) evaluate here
		history atomic.Pointer[shell.Shell] // the shell whose history history() prints
	)
	in, err := shell.NewInterp(shell.Options{
		Stdout:  stdout,
		Stderr:  stderr,
		Prelude: []string{builtins.Prelude},
		Bind: func(in *shell.Interp) []interp.Exports {
			env = builtins.NewWith(ctx, node, in, builtins.Host{
				Halt:   halt,
				Logf:   nodeLog,
				Format: shell.Format,
				Args:   o.args,
				History: func() (old, session []string) {
					if h, ok := server.History(in.Context()); ok {
						return nil, h // a remote shell's own
					}
					if s := history.Load(); s != nil {
						return s.History()
					}
					return nil, nil
				},
			})
			return []interp.Exports{env.Symbols()}
		},
	})
	if err != nil {
		return err
	}
	if o.kvsDir != "" {
		if err := env.KVS.Open(o.kvsDir); err != nil {
			return err
		}
		defer env.KVS.Close()
	}
	in.OnStructType(cluster.RegisterStruct)
	// Runs before the kvs closes: calls being served may still use it.
	defer shutdown(node, stderr)
	complete := completer{env: env, interp: in}
	server = &shell.Server{Interp: in, Complete: complete, Logf: nodeLog,
		Caller: func(ctx context.Context) string {
			from, ok := builtins.Caller(ctx)
			if !ok {
				return ""
			}
			if a := node.PeerAddr(from); a != nil {
				return fmt.Sprintf("%s (%s)", from, a)
			}
			return string(from)
		}}
	env.Serve(shell.RemoteModule, server.Module())
	stopWatch := node.Watch(func(peer cluster.Atom, up bool, _ error) {
		if !up {
			server.DropNode(string(peer))
		}
	})
	defer stopWatch()
	handler.Store(env)
	if o.services != "" {
		stop, err := startServices(o.services, node, env, nodeLog)
		if err != nil {
			return explain(err)
		}
		defer stop()
	}
	if o.observer != "" {
		url, err := env.StartObserver(builtins.ObserverOptions{Addr: o.observer, Kill: o.observerKill})
		if err != nil {
			return fmt.Errorf("-observer %s: %w", o.observer, err)
		}
		defer env.StopObserver()
		nodeLog("observer on %s", url)
	}

	// The inputs are evaluated here, or on another node (-remsh).
	var eval shell.Evaluator = in
	var completion shell.Completer = complete
	promptNode := node.Name()
	if o.remsh != "" {
		remote, target, err := remoteShell(ctx, node, o)
		if err != nil {
			return explain(err)
		}
		defer remote.Close()
		eval, completion, promptNode = remote, remote, target
	}
	newShell := func(cfg shell.Config) *shell.Shell {
		cfg.Interp, cfg.Eval, cfg.Complete = in, explaining{eval}, completion
		s := shell.New(cfg)
		history.Store(s)
		return s
	}

	var failed atomic.Bool // an input of a piped session failed
	interactive := false
	if f, ok := stdin.(*os.File); ok && o.script == "" && o.eval == "" && !o.noshell {
		interactive = readline.IsTerminal(int(f.Fd()))
	}
	// The shell runs until its input ends, or until ctx does (halt(),
	// SIGTERM): a shell that reads piped input may be blocked in a read
	// that ctx cannot end, and is not waited for past shellGrace.
	ran := make(chan error, 1)
	go func() {
		ran <- func() error {
			switch {
			case o.eval != "":
				s := newShell(shell.Config{In: strings.NewReader(o.eval), Out: stdout, Err: stderr, Name: "-eval"})
				if err := s.Run(ctx); err != nil {
					return err
				}
				if o.noshell {
					<-ctx.Done()
				}
				return nil
			case o.noshell:
				<-ctx.Done()
				return nil
			case o.script != "":
				f, err := os.Open(o.script)
				if err != nil {
					return err
				}
				defer f.Close()
				s := newShell(shell.Config{In: f, Out: stdout, Err: stderr, Name: filepath.Base(o.script), Quiet: o.quiet})
				return s.Run(ctx)
			}
			home, _ := os.UserHomeDir()
			prompt := func(n int) string { return fmt.Sprintf("(%s)%d> ", promptNode, n) }
			s := newShell(shell.Config{
				In:          stdin,
				Out:         stdout,
				Err:         stderr,
				Interactive: interactive,
				Quiet:       o.quiet && !interactive,
				Prompt:      prompt,
				HistoryFile: filepath.Join(home, ".gsh_history"),
				// Input piped in is a session: an error is shown and the
				// session goes on, as at the prompt, and gsh exits 1 at
				// the end. A script file stops.
				OnError: func(error) bool { failed.Store(true); return true },
			})
			sh.Store(s)
			defer sh.Store(nil)
			if err := s.Run(ctx); err != nil {
				return err
			}
			if failed.Load() && !interactive {
				return &shell.InputError{Name: "input", Err: errors.New("the session had errors")}
			}
			return nil
		}()
	}()
	select {
	case err = <-ran:
	case <-ctx.Done():
		t := time.NewTimer(shellGrace)
		select {
		case err = <-ran:
		case <-t.C:
			err = nil
		}
		t.Stop()
	}
	var ie *shell.InputError
	if errors.As(err, &ie) {
		if c := exitCode.Load(); c != 0 {
			return exitError(c) // halt(code) says how it ends
		}
		return exitError(1) // the shell printed it already
	}
	if err != nil {
		return err
	}
	if c := exitCode.Load(); c != 0 {
		return exitError(c)
	}
	return nil
}

// shutdownGrace is how long gsh, when it exits (end of input or of -eval,
// q(), halt(), init.stop(), SIGTERM), waits for the calls its node serves
// to return and for what it sent to reach the other nodes.
const shutdownGrace = 5 * time.Second

// shellGrace is how long gsh, told to stop, waits for its shell to return.
const shellGrace = time.Second

// shutdown shuts node down within shutdownGrace, saying on stderr what it
// had to leave running.
func shutdown(node *cluster.Node, stderr io.Writer) {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	var se *cluster.ShutdownError
	if err := node.Shutdown(ctx); errors.As(err, &se) {
		fmt.Fprintf(stderr, "gsh: %v\n", se)
	} else if err != nil {
		fmt.Fprintf(stderr, "gsh: shutting down: %v\n", err)
	}
}

// startNode starts the node the flags describe. When no port mapper answers,
// it starts one in the background as a detached gsh, as erl starts epmd.
func startNode(ctx context.Context, o *options, stderr io.Writer, logf func(string, ...any), output func(cluster.Pid, string), h cluster.Handler) (*cluster.Node, error) {
	cfg := cluster.DefaultConfig()
	cfg.MapperPort = o.mapperPort
	cfg.CheckHost = true
	cfg.Handler = h
	cfg.Logf = logf
	cfg.Output = output
	cfg.Hidden = o.hidden
	cfg.Erlang = o.erlang
	cfg.TickTime = o.tick
	cfg.MaxProcesses = o.procs
	if o.tlsCert != "" {
		var err error
		if cfg.TLS, err = cluster.LoadTLS(o.tlsCert, o.tlsKey, o.tlsCA); err != nil {
			return nil, err
		}
	}
	if o.sname == "" && o.name == "" {
		return cluster.Start(ctx, cfg)
	}
	start := func() (*cluster.Node, error) { return startInRange(ctx, cfg, o) }
	var err error
	if o.name != "" {
		cfg.LongNames = true
		cfg.Name, err = cluster.MakeName(o.name, true)
	} else {
		cfg.Name, err = cluster.MakeName(o.sname, false)
		if err == nil {
			if _, host, _ := cluster.SplitName(cfg.Name); strings.Contains(host, ".") {
				err = fmt.Errorf("-sname %s: a short name's host has no dots (use -name for %s)", o.sname, host)
			}
		}
	}
	if err != nil {
		return nil, err
	}
	cfg.Cookie, err = cookie(o, stderr)
	if err != nil {
		return nil, err
	}
	n, err := start()
	if err == nil || !errors.Is(err, syscall.ECONNREFUSED) {
		return n, err
	}
	if err := spawnPortMapper(o.mapperPort, o.addr); err != nil {
		return nil, fmt.Errorf("starting a port mapper: %w", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err = start()
		if err == nil || !errors.Is(err, syscall.ECONNREFUSED) || time.Now().After(deadline) {
			return n, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// startInRange starts the node on the first port of -port's range that is
// free (an ephemeral port without -port).
func startInRange(ctx context.Context, cfg *cluster.Config, o *options) (*cluster.Node, error) {
	if o.portMin == 0 {
		cfg.ListenAddr = net.JoinHostPort(o.addr, "0")
		return cluster.Start(ctx, cfg)
	}
	for p := o.portMin; ; p++ {
		cfg.ListenAddr = net.JoinHostPort(o.addr, strconv.Itoa(p))
		n, err := cluster.Start(ctx, cfg)
		if err == nil || !errors.Is(err, syscall.EADDRINUSE) {
			return n, err
		}
		if p == o.portMax {
			if o.portMin == o.portMax {
				return nil, err
			}
			return nil, fmt.Errorf("starting node %s: every port of %d-%d is in use: %w", cfg.Name, o.portMin, o.portMax, err)
		}
	}
}

// parsePorts reads -port: PORT, or MIN-MAX.
func parsePorts(s string) (lo, hi int, err error) {
	a, b, isRange := strings.Cut(s, "-")
	if !isRange {
		b = a
	}
	lo, err1 := strconv.Atoi(a)
	hi, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || lo <= 0 || hi > 65535 || lo > hi {
		return 0, 0, fmt.Errorf("-port %s: give a port (1-65535) or a range MIN-MAX, as in -port 9100-9105", s)
	}
	return lo, hi, nil
}

// cookie picks the cookie: -setcookie, else GSH_COOKIE, else ~/.gsh.cookie.
func cookie(o *options, stderr io.Writer) (string, error) {
	if o.cookie != "" {
		fmt.Fprintln(stderr, "gsh: warning: -setcookie puts the cookie where ps shows it to every user; set GSH_COOKIE or keep it in ~/.gsh.cookie (mode 400) instead")
		return o.cookie, nil
	}
	if c := os.Getenv("GSH_COOKIE"); c != "" {
		return c, nil
	}
	return cluster.ReadCookieFile(cluster.DefaultCookiePath())
}

// spawnPortMapper starts "gsh -portmapper" detached from this process, on
// addr (every address when empty). It outlives the node, so it gets the
// node's environment without the cookie.
func spawnPortMapper(port int, addr string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	var args []string
	if addr != "" {
		args = append(args, "-addr", addr)
	}
	cmd := exec.Command(exe, append(args, "-portmapper", "-epmd_port", strconv.Itoa(port))...)
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return strings.Contains(strings.ToUpper(k), "COOKIE")
	})
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	return cmd.Process.Release()
}

// runPortMapper serves the port mapper until ctx ends, on -addr (every
// interface without it).
func runPortMapper(ctx context.Context, o *options, stderr io.Writer) error {
	m := portmap.NewServer()
	m.Logf = func(format string, args ...any) { fmt.Fprintf(stderr, "gsh portmapper: "+format+"\n", args...) }
	ln, err := net.Listen("tcp", net.JoinHostPort(o.addr, strconv.Itoa(o.mapperPort)))
	if err != nil {
		return fmt.Errorf("port mapper: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Serve(ln) }()
	select {
	case <-ctx.Done():
		m.Close()
		<-done
		return nil
	case err := <-done:
		if errors.Is(err, portmap.ErrClosed) {
			return nil
		}
		return err
	}
}

// envHandler serves other nodes' calls with the builtins, once they are
// ready; it names the builtins' short calls (cluster.InlineHandler).
type envHandler struct{ e *atomic.Pointer[builtins.Env] }

func (h envHandler) HandleCall(ctx context.Context, from cluster.Atom, m, f string, a []any) (any, error) {
	e := h.e.Load()
	if e == nil {
		return nil, fmt.Errorf("node is starting: %w", cluster.ErrUnknownModule)
	}
	return e.HandleCall(ctx, from, m, f, a)
}

func (h envHandler) Inline(m, f string) bool {
	e := h.e.Load()
	return e != nil && e.Inline(m, f)
}
