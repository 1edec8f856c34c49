package cluster

import (
	"bytes"
	"context"
	"errors"
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
func challengeLen(server Atom) int { return 1 + 2 + len(server) + nonceLen + proofLen }

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
	helloLen := len(handshakeMagic) + 2 + len(a.Name()) + nonceLen
	if len(captured) < helloLen+proofLen || !bytes.HasPrefix(captured, []byte(handshakeMagic)) {
		t.Fatalf("captured %q", captured)
	}
	if len(first) != challengeLen(b.Name())+1 || first[len(first)-1] != statusOK {
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
	// The replays are failures that count against the address.
	if b.limit.size() != 1 {
		t.Fatalf("the limiter tracks %d addresses, want 1", b.limit.size())
	}
	// a and b still link normally.
	if err := a.Ping(context.Background(), b.Name()); err != nil {
		t.Fatal(err)
	}
}

// reflectConn sends the server's own proof back in place of the client's.
type reflectConn struct {
	recordConn
	server Atom
}

func (c *reflectConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	read := c.read.Bytes()
	if n := challengeLen(c.server); len(read) >= n && len(p) >= proofLen {
		serverProof := read[n-proofLen : n]
		p = append(bytes.Clone(p[:len(p)-proofLen]), serverProof...)
	}
	c.mu.Unlock()
	return c.recordConn.Write(p)
}

// TestReflectedProof: a client that sends back the server's own proof as
// its answer is refused: the proofs are bound to their roles.
func TestReflectedProof(t *testing.T) {
	c := newTestCluster(t)
	b, blog := c.startTLS("b", "abc", nil)
	// The client runs the real handshake (with the cookie, so that it
	// accepts the server's proof), but its answer carries the server's
	// proof in place of its own.
	mallory := c.start("mallory", "abc")
	conn, err := net.Dial("tcp", b.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rc := &reflectConn{recordConn: recordConn{Conn: conn}, server: b.Name()}
	_, err = mallory.clientHandshake(rc, b.Name())
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("a reflected proof: %v, want ErrAuth", err)
	}
	blog.wait("mallory@", "authentication failed")
}
