package service

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// inputConn is a connection whose peer sent data and then closed its
// side: reads give data, then io.EOF; writes succeed and go nowhere.
type inputConn struct {
	net.Conn // nil: only what is below is used
	r        *bytes.Reader
}

func (c inputConn) Read(b []byte) (int, error)         { return c.r.Read(b) }
func (c inputConn) Write(b []byte) (int, error)        { return len(b), nil }
func (c inputConn) Close() error                       { return nil }
func (c inputConn) RemoteAddr() net.Addr               { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (c inputConn) LocalAddr() net.Addr                { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2} }
func (c inputConn) SetDeadline(t time.Time) error      { return nil }
func (c inputConn) SetReadDeadline(t time.Time) error  { return nil }
func (c inputConn) SetWriteDeadline(t time.Time) error { return nil }

var _ io.ReadWriteCloser = inputConn{}

// FuzzServiceHandshake feeds arbitrary bytes to the server's side of the
// service handshake, as a client would send them: the server must neither
// panic nor accept a proof, whatever it receives (no input can prove a
// secret for a challenge it never saw). The seeds are a well-formed hello
// with a proof, a node's hello, a TLS ClientHello and other garbage.
func FuzzServiceHandshake(f *testing.F) {
	ts := startServer(f, func(c *Config) {
		c.HandshakeTimeout = 100 * time.Millisecond
		c.ProofRate = 1 << 30 // check every input's proof at once
		c.Logf = func(string, ...any) {}
	})
	base := len(ts.node.Processes())

	f.Add(append(hello("nameServer"), make([]byte, proofLen)...))
	f.Add(append(hello("echo"), make([]byte, proofLen+4)...))
	f.Add(hello(""))
	f.Add([]byte("GSH1\x00\x06a@host"))
	f.Add([]byte{0x16, 3, 1, 0, 5, 1, 0, 0, 1, 0})
	f.Add([]byte("GSHS\xffnameServer"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ts.srv.wg.Add(1)
		func() {
			defer ts.srv.wg.Done()
			ts.srv.serveConn(inputConn{r: bytes.NewReader(data)})
		}()
		if ts.srv.proved.Load() != 0 {
			t.Fatalf("%q: proved a secret", data)
		}
		if n := len(ts.node.Processes()); n != base {
			t.Fatalf("%q: the node runs %d processes, %d before: a client got in", data, n, base)
		}
	})
}
