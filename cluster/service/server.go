package service

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gsh/cluster"
)

// Service is one named service: its secret, and what a client that proves
// the secret may use. It exposes a handler process, functions, or both.
type Service struct {
	// Name names the service: 1 to MaxServiceName letters, digits, '_',
	// '-' and '.'. Names are not secret: a client that names no service
	// of the server's is told so.
	Name string `json:"name"`
	// Secret is what a client must prove it knows.
	Secret string `json:"secret"`
	// Process is a name registered on the node: a client's Send delivers
	// []any{client, msg} to it, where client is the Pid of a process that
	// stands for the connection; what the handler sends to that Pid goes
	// to the client (Conn.Receive). The client's process ends with reason
	// Closed when the connection does, so the handler can monitor it.
	// Empty: the service takes no messages.
	Process string `json:"process,omitempty"`
	// Functions are the functions a client may call, as "module.function"
	// ("kvs.lookup", or a function of a package loaded at the prompt),
	// run through Config.Handler. Nothing else can be called.
	Functions []string `json:"functions,omitempty"`
	// TLS makes the service refuse clients that did not start TLS.
	TLS bool `json:"tls,omitempty"`
}

// Closed is the exit reason of a client's process when its connection ends.
const Closed cluster.Atom = "closed"

// Config configures a Server. Start from DefaultConfig.
type Config struct {
	// Node is the node whose processes get the clients' messages. Required.
	Node *cluster.Node
	// Handler runs the functions services expose; nil uses the node's
	// (cluster.Config.Handler). A call reaches it only once its function
	// is found in the service's Functions.
	Handler cluster.Handler
	// Services are the services offered.
	Services []Service
	// TLS is the server's TLS configuration (its certificate): clients may
	// start TLS on any service when it is set, and must on services that
	// ask for it. Client certificates are not asked for: the service's
	// secret authenticates the client.
	TLS *tls.Config
	// HandshakeTimeout bounds the whole handshake, TLS included.
	HandshakeTimeout time.Duration
	// ProofRate bounds how many secret proofs the server checks a second,
	// from all clients together (plus a burst of a tenth of it): the rate
	// at which anyone can guess a secret. A proof over the rate waits its
	// turn within its handshake deadline.
	ProofRate int
	// CallTimeout bounds one call; a client may ask for less.
	CallTimeout time.Duration
	// WriteTimeout bounds one write to a client: a client that does not
	// read for that long is dropped.
	WriteTimeout time.Duration
	// MaxClients bounds the connections served at once, handshakes
	// included; more are refused with ErrBusy.
	MaxClients int
	// MaxFrameSize bounds one request; a larger one ends the connection.
	MaxFrameSize int
	// MaxHandlerQueue bounds the messages waiting in a service's handler
	// process: a client's message past it is dropped, and the client told
	// with ErrBusy. With MaxFrameSize, it bounds the memory that clients
	// can fill a handler that does not keep up with.
	MaxHandlerQueue int
	// Logf receives one line per notable event (a refused connection or
	// call). Nil uses the standard logger.
	Logf func(format string, args ...any)
}

// DefaultConfig returns a Config with every default filled in.
func DefaultConfig() *Config {
	return &Config{
		HandshakeTimeout: 5 * time.Second,
		ProofRate:        1000,
		CallTimeout:      30 * time.Second,
		WriteTimeout:     10 * time.Second,
		MaxClients:       1024,
		MaxFrameSize:     1 << 20,
		MaxHandlerQueue:  1024,
	}
}

// ErrNoCertificate: a service asks for TLS and the server has no TLS
// certificate (Config.TLS).
var ErrNoCertificate = errors.New("the server has no TLS certificate")

// Verify checks a Config, as yamux.VerifyConfig does.
func (c *Config) Verify() error {
	if c.Node == nil {
		return errors.New("a service server needs a node")
	}
	if c.HandshakeTimeout <= 0 || c.CallTimeout <= 0 || c.WriteTimeout <= 0 {
		return errors.New("timeouts must be positive")
	}
	if c.ProofRate <= 0 {
		return errors.New("ProofRate must be positive")
	}
	if c.MaxClients <= 0 {
		return errors.New("MaxClients must be positive")
	}
	if c.MaxFrameSize < 1024 {
		return errors.New("MaxFrameSize must be at least 1024")
	}
	if c.MaxHandlerQueue <= 0 {
		return errors.New("MaxHandlerQueue must be positive")
	}
	seen := map[string]bool{}
	for _, s := range c.Services {
		if err := s.verify(); err != nil {
			return err
		}
		if seen[s.Name] {
			return fmt.Errorf("service %s is given twice", s.Name)
		}
		seen[s.Name] = true
		if s.TLS && c.TLS == nil {
			return fmt.Errorf("service %s asks for TLS, but %w (Config.TLS)", s.Name, ErrNoCertificate)
		}
	}
	if c.TLS != nil && len(c.TLS.Certificates) == 0 && c.TLS.GetCertificate == nil {
		return errors.New("the TLS configuration has no certificate")
	}
	return nil
}

func (s *Service) verify() error {
	if !validName(s.Name) {
		return fmt.Errorf("service name %q: 1 to %d letters, digits, '_', '-' or '.'", s.Name, MaxServiceName)
	}
	if s.Secret == "" {
		return fmt.Errorf("service %s has no secret", s.Name)
	}
	if s.Process == "" && len(s.Functions) == 0 {
		return fmt.Errorf("service %s exposes nothing: give it a process or functions", s.Name)
	}
	for _, f := range s.Functions {
		if m, _, ok := splitFunction(f); !ok || m == "" {
			return fmt.Errorf("service %s: %q is not module.function", s.Name, f)
		}
	}
	return nil
}

// splitFunction splits "module.function" at its last dot; the function
// part must be an identifier.
func splitFunction(f string) (module, function string, ok bool) {
	i := strings.LastIndexByte(f, '.')
	module, function = f[:max(i, 0)], f[i+1:]
	if function == "" {
		return "", "", false
	}
	for _, r := range function {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r > 127) {
			return "", "", false
		}
	}
	return module, function, true
}

// Server serves services on listeners. It is safe for concurrent use.
type Server struct {
	cfg     Config
	handler cluster.Handler
	byName  map[string]*Service
	limit   *rateLimiter
	refused *logThrottle
	slots   chan struct{}
	// proved counts the clients that proved a secret.
	proved atomic.Int64

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	lns    map[net.Listener]struct{}
	conns  map[net.Conn]struct{}
	closed bool
}

// ErrServerClosed is what Serve returns once Close was called.
var ErrServerClosed = errors.New("service server closed")

// New checks cfg and returns a server for it; Serve starts serving.
func New(cfg *Config) (*Server, error) {
	c := *cfg
	if err := c.Verify(); err != nil {
		return nil, fmt.Errorf("starting the service server: %w", err)
	}
	s := &Server{
		cfg:     c,
		handler: c.Handler,
		byName:  map[string]*Service{},
		limit:   newRateLimiter(c.ProofRate),
		slots:   make(chan struct{}, c.MaxClients),
		lns:     map[net.Listener]struct{}{},
		conns:   map[net.Conn]struct{}{},
	}
	if s.handler == nil {
		s.handler = c.Node.Config().Handler
	}
	for i := range c.Services {
		sv := c.Services[i]
		sv.Functions = append([]string(nil), sv.Functions...)
		s.byName[sv.Name] = &sv
	}
	s.refused = &logThrottle{logf: s.logf, burst: logBurst}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

func (s *Server) logf(format string, args ...any) {
	if s.cfg.Logf != nil {
		s.cfg.Logf(format, args...)
		return
	}
	log.Printf(format, args...)
}

// Serve accepts clients on ln until Close, and returns ErrServerClosed
// then (or the listener's error).
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.lns[ln] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	var delay time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("accepting service clients: %w", err)
		}
		delay = 0
		if !s.track(conn, true) {
			conn.Close()
			return ErrServerClosed
		}
		go func() {
			defer s.wg.Done()
			defer s.track(conn, false)
			s.serveConn(conn)
		}()
	}
}

// track adds conn to the connections Close closes (and the goroutine
// serving it to those it waits for), or removes it.
func (s *Server) track(conn net.Conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.conns, conn)
		return true
	}
	if s.closed {
		return false
	}
	s.conns[conn] = struct{}{}
	s.wg.Add(1)
	return true
}

// Close stops every listener and connection and waits for the goroutines
// serving them, calls in progress included (their context is cancelled).
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.cancel()
	for ln := range s.lns {
		ln.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.refused.flush()
	return nil
}

// Services lists the names of the services offered, in the order given.
func (s *Server) Services() []string {
	var names []string
	for _, sv := range s.cfg.Services {
		names = append(names, sv.Name)
	}
	return names
}

// prefixed is a connection whose first bytes were read ahead into br.
type prefixed struct {
	net.Conn
	br *bufio.Reader
}

func (p prefixed) Read(b []byte) (int, error) { return p.br.Read(b) }

// serveConn runs one client: the handshake, then its requests.
func (s *Server) serveConn(conn net.Conn) {
	defer conn.Close()
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	default:
		conn.SetWriteDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
		conn.Write(refusal(statusBusy, fmt.Sprintf("the server serves %d clients, its limit", s.cfg.MaxClients)))
		s.refused.log(fmt.Sprintf("refused a service client at %s: %d clients already, the limit", conn.RemoteAddr(), s.cfg.MaxClients))
		return
	}
	deadline := time.Now().Add(s.cfg.HandshakeTimeout)
	conn.SetDeadline(deadline)
	sv, c, br, err := s.handshake(conn, deadline)
	if err != nil {
		what := "a service client"
		if sv != nil {
			what = "a client of service " + sv.Name
		}
		s.refused.log(fmt.Sprintf("refused %s at %s: %v", what, conn.RemoteAddr(), err))
		return
	}
	conn = c
	conn.SetDeadline(time.Time{})
	s.serveClient(conn, br, sv)
}

// handshake runs the server's side of the handshake (see proto.go). It
// returns the service, the connection to go on with (TLS or not) and its
// reader.
func (s *Server) handshake(conn net.Conn, deadline time.Time) (*Service, net.Conn, *bufio.Reader, error) {
	br := bufio.NewReaderSize(conn, 512)
	first, err := br.Peek(1)
	if err != nil {
		return nil, conn, nil, fmt.Errorf("reading hello: %w", netErr(err))
	}
	secure := false
	if first[0] == tlsRecordHandsk {
		if s.cfg.TLS == nil {
			return nil, conn, nil, fmt.Errorf("it started TLS, which this server does not offer: %w", cluster.ErrTLS)
		}
		tc := tls.Server(prefixed{conn, br}, s.cfg.TLS)
		ctx, cancel := context.WithDeadline(s.ctx, deadline)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			return nil, conn, nil, fmt.Errorf("%v: %w", err, cluster.ErrTLS)
		}
		conn, secure = tc, true
		br = bufio.NewReaderSize(tc, 512)
	}
	var m [4]byte
	if _, err := io.ReadFull(br, m[:]); err != nil {
		return nil, conn, nil, fmt.Errorf("reading hello: %w", netErr(err))
	}
	if string(m[:]) != magic {
		err := fmt.Errorf("not a gsh service handshake (first bytes %q): %w", m[:], cluster.ErrProtocol)
		if string(m[:]) == "GSH1" {
			err = fmt.Errorf("a node's handshake on a service port (nodes link to the node's own port): %w", cluster.ErrProtocol)
		}
		conn.Write(refusal(statusRefused, err.Error()))
		return nil, conn, nil, err
	}
	l, err := br.ReadByte()
	if err != nil {
		return nil, conn, nil, fmt.Errorf("reading hello: %w", netErr(err))
	}
	name := make([]byte, l)
	if _, err := io.ReadFull(br, name); err != nil {
		return nil, conn, nil, fmt.Errorf("reading hello: %w", netErr(err))
	}
	var cnonce [nonceLen]byte
	if _, err := io.ReadFull(br, cnonce[:]); err != nil {
		return nil, conn, nil, fmt.Errorf("reading hello: %w", netErr(err))
	}
	if !validName(string(name)) {
		err := fmt.Errorf("service name %q: 1 to %d letters, digits, '_', '-' or '.': %w", name, MaxServiceName, cluster.ErrProtocol)
		conn.Write(refusal(statusRefused, err.Error()))
		return nil, conn, nil, err
	}
	sv := s.byName[string(name)]
	if sv == nil {
		err := fmt.Errorf("no service %s here: %w", name, ErrUnknownService)
		conn.Write(refusal(statusUnknown, fmt.Sprintf("no service %s here", name)))
		return nil, conn, nil, err
	}
	if sv.TLS && !secure {
		msg := fmt.Sprintf("service %s asks for TLS: connect with TLS", sv.Name)
		conn.Write(refusal(statusNeedTLS, msg))
		return sv, conn, nil, fmt.Errorf("%s: %w", msg, cluster.ErrTLS)
	}
	snonce, err := newNonce()
	if err != nil {
		return sv, conn, nil, err
	}
	if _, err := conn.Write(append([]byte{statusOK}, snonce[:]...)); err != nil {
		return sv, conn, nil, fmt.Errorf("sending the challenge: %w", netErr(err))
	}
	var answer [proofLen]byte
	if _, err := io.ReadFull(br, answer[:]); err != nil {
		return sv, conn, nil, fmt.Errorf("reading the answer: %w", netErr(err))
	}
	if err := s.limit.wait(s.ctx, deadline); err != nil {
		conn.Write(refusal(statusBusy, err.Error()))
		return sv, conn, nil, err
	}
	if !hmac.Equal(answer[:], proof(sv.Secret, roleClient, cnonce[:], snonce[:], sv.Name)) {
		err := authError("wrong secret for service " + sv.Name)
		conn.Write(refusal(statusAuth, err.Error()))
		return sv, conn, nil, err
	}
	s.proved.Add(1)
	if br.Buffered() > 0 {
		err := fmt.Errorf("it sent more than its proof: %w", cluster.ErrProtocol)
		conn.Write(refusal(statusRefused, err.Error()))
		return sv, conn, nil, err
	}
	v := append([]byte{statusOK}, proof(sv.Secret, roleServer, cnonce[:], snonce[:], sv.Name)...)
	if _, err := conn.Write(v); err != nil {
		return sv, conn, nil, fmt.Errorf("sending the verdict: %w", netErr(err))
	}
	return sv, conn, br, nil
}

// client is one connection past the handshake.
type client struct {
	s    *Server
	sv   *Service
	conn net.Conn
	p    *cluster.Process
	who  string

	wmu sync.Mutex
	buf []byte
}

// write sends one frame, within WriteTimeout.
func (c *client) write(v ...any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	out, err := encodeFrame(c.buf[:0], []any(v))
	if err != nil {
		return err
	}
	c.conn.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
	_, err = c.conn.Write(out)
	if cap(out) <= 64<<10 {
		c.buf = out
	} else {
		c.buf = nil
	}
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			c.s.refused.log(fmt.Sprintf("dropped a %s: it read nothing for %v", c.who, c.s.cfg.WriteTimeout))
		}
		c.conn.Close() // the reader sees it too
	}
	return err
}

// wireError is err as the client sees it: its kind, and its message
// without the node's name.
func wireError(err error) *cluster.RemoteError {
	var re *cluster.RemoteError
	if errors.As(err, &re) && err.Error() == re.Error() {
		return &cluster.RemoteError{Kind: re.Kind, Msg: re.Msg}
	}
	kind := cluster.ErrorKind(err)
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			kind = k.kind
		}
	}
	return &cluster.RemoteError{Kind: kind, Msg: err.Error()}
}

func (s *Server) serveClient(conn net.Conn, br *bufio.Reader, sv *Service) {
	c := &client{s: s, sv: sv, conn: conn, who: fmt.Sprintf("client of service %s at %s", sv.Name, conn.RemoteAddr())}
	p, err := s.cfg.Node.TryNewProcess()
	if err != nil {
		c.write(opError, 0, wireError(err))
		s.refused.log(fmt.Sprintf("dropped a %s: %v", c.who, err))
		return
	}
	c.p = p
	p.SetWhat("service " + sv.Name + " client " + conn.RemoteAddr().String())
	defer p.Exit(Closed)
	if sv.Process != "" {
		done := make(chan struct{})
		defer func() { <-done }()
		defer p.Exit(Closed)
		go func() {
			defer close(done)
			c.forward()
		}()
	}
	for {
		v, err := readFrame(br, s.cfg.MaxFrameSize)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || s.ctx.Err() != nil {
				return
			}
			if errors.Is(err, cluster.ErrTooLarge) || errors.Is(err, cluster.ErrProtocol) {
				c.write(opError, 0, wireError(err))
			}
			s.refused.log(fmt.Sprintf("dropped a %s: bad frame: %v", c.who, err))
			return
		}
		if err := c.request(v); err != nil {
			return
		}
	}
}

// forward sends the client what its process receives.
func (c *client) forward() {
	for {
		m, ok, err := c.p.Receive(c.s.ctx, nil, -1)
		if err != nil || !ok {
			return
		}
		if err := c.write(opMsg, 0, m); err != nil {
			if !errors.Is(err, cluster.ErrBadArgs) {
				return
			}
			c.write(opError, 0, wireError(fmt.Errorf("a message the service sent cannot cross the wire: %w", err)))
		}
	}
}

// request serves one request; an error ends the connection.
func (c *client) request(v any) error {
	a, ok := v.([]any)
	if !ok || len(a) < 3 {
		return c.malformed(v)
	}
	op, ok1 := a[0].(string)
	ref, ok2 := a[1].(int)
	if !ok1 || !ok2 {
		return c.malformed(v)
	}
	switch {
	case op == opCall && len(a) == 5:
		fn, ok1 := a[2].(string)
		args, ok2 := a[3].([]any)
		ms, ok3 := a[4].(int)
		if a[3] == nil {
			ok2 = true
		}
		if !ok1 || !ok2 || !ok3 || ms < 0 {
			return c.malformed(v)
		}
		res, err := c.call(fn, args, time.Duration(ms)*time.Millisecond)
		if err != nil {
			return c.write(opError, ref, wireError(err))
		}
		if err := c.write(opReply, ref, res); err != nil {
			if !errors.Is(err, cluster.ErrBadArgs) {
				return err
			}
			return c.write(opError, ref, wireError(fmt.Errorf("the result cannot be sent: %w", err)))
		}
		return nil
	case op == opSend && len(a) == 3:
		if c.sv.Process == "" {
			err := fmt.Errorf("service %s takes no messages: %w", c.sv.Name, ErrNotExposed)
			c.s.refused.log(fmt.Sprintf("refused a send from a %s: it takes no messages", c.who))
			return c.write(opError, 0, wireError(err))
		}
		node := c.s.cfg.Node
		pid, ok := node.Whereis(c.sv.Process)
		h, alive := node.Process(pid)
		if !ok || !alive {
			c.s.refused.log(fmt.Sprintf("dropped a message from a %s: no process is registered as %s", c.who, c.sv.Process))
			return c.write(opError, 0, wireError(fmt.Errorf("service %s: its handler is not running: %w", c.sv.Name, cluster.ErrNoProcess)))
		}
		if k := h.MailboxLen(); k >= c.s.cfg.MaxHandlerQueue {
			c.s.refused.log(fmt.Sprintf("dropped a message from a %s: its handler %s has %d messages waiting", c.who, c.sv.Process, k))
			return c.write(opError, 0, wireError(fmt.Errorf("service %s: its handler has %d messages waiting, the limit; the message was dropped: %w", c.sv.Name, k, ErrBusy)))
		}
		h.Deliver([]any{c.p.Pid(), a[2]})
		return nil
	}
	return c.malformed(v)
}

// malformed answers a well-formed frame holding no request with an error;
// the connection stays.
func (c *client) malformed(v any) error {
	err := fmt.Errorf("malformed request: %w", cluster.ErrProtocol)
	c.s.refused.log(fmt.Sprintf("a %s sent a malformed request", c.who))
	return c.write(opError, 0, wireError(err))
}

// call runs one exposed function, refusing any other.
func (c *client) call(fn string, args []any, timeout time.Duration) (any, error) {
	module, function, ok := c.resolve(fn)
	if !ok {
		c.s.refused.log(fmt.Sprintf("refused a call of %q from a %s: not exposed", fn, c.who))
		if len(c.sv.Functions) == 0 {
			return nil, fmt.Errorf("service %s exposes no functions, so not %s: %w", c.sv.Name, fn, ErrNotExposed)
		}
		return nil, fmt.Errorf("service %s exposes %s, not %s: %w", c.sv.Name, strings.Join(c.sv.Functions, ", "), fn, ErrNotExposed)
	}
	if c.s.handler == nil {
		return nil, fmt.Errorf("the node serves no modules: %w", cluster.ErrUnknownModule)
	}
	if timeout <= 0 || timeout > c.s.cfg.CallTimeout {
		timeout = c.s.cfg.CallTimeout
	}
	ctx, cancel := context.WithTimeout(c.s.ctx, timeout)
	defer cancel()
	return c.invoke(ctx, module, function, args)
}

// invoke runs the handler, turning a panic into an error.
func (c *client) invoke(ctx context.Context, module, function string, args []any) (res any, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, &cluster.PanicError{Value: r}
		}
	}()
	from := cluster.Atom("service:" + c.sv.Name)
	res, err = c.s.handler.HandleCall(ctx, from, module, function, args)
	if err != nil && ctx.Err() == context.DeadlineExceeded && !errors.Is(err, cluster.ErrTimeout) {
		err = fmt.Errorf("%s.%s: %w", module, function, cluster.ErrTimeout)
	}
	return res, err
}

// resolve finds fn among the service's functions: "module.function", or
// "function" when one exposed function has that name.
func (c *client) resolve(fn string) (module, function string, ok bool) {
	found := 0
	for _, f := range c.sv.Functions {
		m, name, _ := splitFunction(f)
		if f == fn {
			return m, name, true
		}
		if name == fn {
			module, function = m, name
			found++
		}
	}
	return module, function, found == 1
}
