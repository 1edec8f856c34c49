package builtins

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"strconv"
	"time"

	"gsh/cluster"
	"gsh/cluster/service"
	"gsh/internal/interrupt"
)

// LibChan is a connection to a service another node offers to clients
// (gsh -services there), as lib_chan:connect gives in "Programming
// Erlang": the prompt uses what the service exposes, and nothing else.
type LibChan struct {
	c *service.Conn
	e *Env
}

func (l *LibChan) String() string {
	if l == nil || l.c == nil {
		return "#lib_chan<closed>"
	}
	return l.c.String()
}

// Call runs function, one the service exposes ("lookup" or "kvs.lookup"),
// with args, within the rpc timeout; Ctrl-C stops the wait.
func (l *LibChan) Call(function string, args ...any) (any, error) {
	ctx, cancel := context.WithTimeout(l.e.ctx(), l.e.Timeout())
	defer cancel()
	return l.c.Call(ctx, function, args...)
}

// Send sends msg to the service's handler process, without waiting.
func (l *LibChan) Send(msg any) error { return l.c.Send(msg) }

// Receive gives the next message the service sent, waiting up to a
// timeout (a time.Duration, or milliseconds) when one is given, else until
// one comes; timeout when none came. Its error is one the service sent
// about a Send (in its turn among the messages), or why the connection
// ended.
func (l *LibChan) Receive(timeout ...any) (any, error) {
	d := time.Duration(-1)
	if len(timeout) > 0 {
		switch v := timeout[0].(type) {
		case time.Duration:
			d = max(v, 0)
		case int:
			d = time.Duration(max(v, 0)) * time.Millisecond
		default:
			return nil, fmt.Errorf("receive(%T): give a timeout: %w", timeout[0], cluster.ErrBadArgs)
		}
	}
	ctx := l.e.ctx()
	m, ok, err := l.c.Receive(ctx, d)
	if err != nil {
		if ctx.Err() != nil {
			panic(interrupt.ErrInterrupted)
		}
		return nil, err
	}
	if !ok {
		return Timeout, nil
	}
	return m, nil
}

// Close ends the connection.
func (l *LibChan) Close() error { return l.c.Close() }

// libChanConnect is lib_chan.connect.
func (e *Env) libChanConnect(host string, port int, svc, secret string) (*LibChan, error) {
	return e.libChanDial(host, port, svc, secret, nil)
}

// libChanConnectTLS is lib_chan.connect_tls: the server's certificate must
// be signed by a CA in caFile and valid for host.
func (e *Env) libChanConnectTLS(host string, port int, svc, secret, caFile string) (*LibChan, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("loading the TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("loading the TLS CA: no PEM certificate in %s", caFile)
	}
	return e.libChanDial(host, port, svc, secret, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13})
}

func (e *Env) libChanDial(host string, port int, svc, secret string, tc *tls.Config) (*LibChan, error) {
	if port <= 0 || port > 65535 {
		return nil, fmt.Errorf("lib_chan.connect: port %d out of range: %w", port, cluster.ErrBadArgs)
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	c, err := service.Dial(e.ctx(), addr, svc, secret, &service.DialOptions{TLS: tc})
	if err != nil {
		if errors.Is(err, context.Canceled) {
			panic(interrupt.ErrInterrupted)
		}
		return nil, err
	}
	return &LibChan{c: c, e: e}, nil
}

// libChanSymbols are the lib_chan builtins.
func (e *Env) libChanSymbols() map[string]reflect.Value {
	v := reflect.ValueOf
	return map[string]reflect.Value{
		"LibChan":     v((*LibChan)(nil)),
		"connect":     v(e.libChanConnect),
		"connect_tls": v(e.libChanConnectTLS),
		"rpc":         v(func(l *LibChan, function string, args ...any) (any, error) { return l.Call(function, args...) }),
		"cast":        v(func(l *LibChan, msg any) error { return l.Send(msg) }),
		"receive":     v(func(l *LibChan, timeout ...any) (any, error) { return l.Receive(timeout...) }),
		"disconnect":  v(func(l *LibChan) error { return l.Close() }),
	}
}

func init() {
	docs = append(docs,
		Doc{"lib_chan.connect", "func lib_chan.connect(host string, port int, service, secret string) (*LibChan, error)",
			"connect to a service a node offers to clients (gsh -services), proving its secret",
			`The connection can use only what the service exposes: its functions
(c.Call or lib_chan.rpc) and its handler process (c.Send or lib_chan.cast,
and c.Receive or lib_chan.receive for what it sends back). Anything else is
refused with an error that says what the service exposes. A client is no
node: it is not in the server's nodes(), and cannot spawn or rpc.call there.

Example:
    c, err := lib_chan.connect("gandalf-host", 2233, "nameServer", "ABXy45")
    c.Call("store", "weather", "fine")
    c.Call("lookup", "weather")
    c.Close()`},
		Doc{"lib_chan.connect_tls", "func lib_chan.connect_tls(host string, port int, service, secret, caFile string) (*LibChan, error)",
			"lib_chan.connect over TLS: the server's certificate signed by a CA in caFile, valid for host", ""},
		Doc{"lib_chan.rpc", "func lib_chan.rpc(c *LibChan, function string, args ...any) (any, error)",
			"c.Call(function, args...): run a function the service exposes (\"lookup\" or \"kvs.lookup\")", ""},
		Doc{"lib_chan.cast", "func lib_chan.cast(c *LibChan, msg any) error",
			"c.Send(msg): send msg to the service's handler process, which gets []any{client, msg}", ""},
		Doc{"lib_chan.receive", "func lib_chan.receive(c *LibChan, timeout ...any) (any, error)",
			"c.Receive(timeout): the next message the service sent this client, or timeout", ""},
		Doc{"lib_chan.disconnect", "func lib_chan.disconnect(c *LibChan) error", "c.Close(): end the connection", ""},
	)
}
