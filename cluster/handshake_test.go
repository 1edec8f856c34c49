package cluster

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// recordConn keeps a copy of everything written to and read from a
// connection.
type recordConn struct {
	net.Conn
	mu            sync.Mutex
	written, read bytes.Buffer
}

func (c *recordConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.written.Write(p)
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *recordConn) Read(p []byte) (int, error) {
	k, err := c.Conn.Read(p)
	c.mu.Lock()
	c.read.Write(p[:k])
	c.mu.Unlock()
	return k, err
}

// challengeLen is the length of a server's challenge to a client.
func challengeLen(server Atom) int { return 1 + 2 + len(server) + nonceLen + 4 }

// exchange writes msg on a fresh connection to n and returns all that n
// answers, until it closes the connection.
func exchange(t *testing.T, n *Node, msg []byte) []byte {
	t.Helper()
	conn, err := net.Dial("tcp", n.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(msg); err != nil {
		t.Fatal(err)
	}
	reply, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("reading the answer: %v (after %q)", err, reply)
	}
	return reply
}

// TestReplayedHandshake: the bytes of a client's successful handshake,
// captured and played again to the same node, do not make a link: the node's
// nonce differs, so the recorded proof is wrong. The node logs the failure.
func TestReplayedHandshake(t *testing.T) {
	c := newTestCluster(t)
	b, blog := c.startTLS("b", "abc", nil)
	a := c.start("a", "abc")

	conn, err := net.Dial("tcp", b.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordConn{Conn: conn}
	them, err := a.clientHandshake(rec, b.Name())
	if err != nil || them.name != b.Name() {
		t.Fatalf("the recorded handshake failed: %v, %v", them.name, err)
	}
	rec.mu.Lock()
	captured := bytes.Clone(rec.written.Bytes())
	first := bytes.Clone(rec.read.Bytes())
	rec.mu.Unlock()
	// All that the client sends: its hello, then its answer, which ends
	// with its proof.
	helloLen := len(handshakeMagic) + 2 + len(a.Name()) + nonceLen + 4
	if len(captured) < helloLen+proofLen || !bytes.HasPrefix(captured, []byte(handshakeMagic)) {
		t.Fatalf("captured %q", captured)
	}
	if n := challengeLen(b.Name()); len(first) != n+1+proofLen || first[n] != statusOK {
		t.Fatalf("the recorded handshake read %q", first)
	}
	conn.Close()

	for i := range 3 {
		reply := exchange(t, b, captured)
		n := challengeLen(b.Name())
		if len(reply) < n || reply[0] != statusOK {
			t.Fatalf("replay %d: answer %q, want a challenge", i, reply)
		}
		if bytes.Equal(reply[:n], first[:n]) {
			t.Fatalf("replay %d: the node sent the same challenge again", i)
		}
		if v := reply[n:]; !bytes.Equal(v, []byte{statusAuth}) {
			t.Fatalf("replay %d: verdict %q, want statusAuth", i, v)
		}
		blog.wait("refused a connection from a node calling itself "+string(a.Name()), "127.0.0.1:", "authentication failed")
	}
	// a and b still link normally.
	if err := a.Ping(context.Background(), b.Name()); err != nil {
		t.Fatal(err)
	}
}

// TestServerProvesLast: the accepting node sends no proof of its own until
// the client has proved the cookie, so connecting to it gives nothing to
// guess the cookie from offline; a wrong answer gets a bare statusAuth.
func TestServerProvesLast(t *testing.T) {
	c := newTestCluster(t)
	b, blog := c.startTLS("b", "abc", nil)
	h, err := newHello("mallory@"+Atom(ShortHostname()), 0)
	if err != nil {
		t.Fatal(err)
	}
	var msg bytes.Buffer
	writeHello(&msg, true, 0, h, nil)
	msg.WriteByte(statusOK)
	msg.Write(make([]byte, proofLen)) // a guess
	reply := exchange(t, b, msg.Bytes())
	n := challengeLen(b.Name())
	if len(reply) != n+1 || reply[0] != statusOK || reply[n] != statusAuth {
		t.Fatalf("the node answered %q: want a challenge without a proof, then statusAuth alone", reply)
	}
	blog.wait("mallory@", "authentication failed")
}
