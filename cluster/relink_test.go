package cluster

import (
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// TestOlderConnectionRegisteredLate: of two connections a peer made, the
// one accepted first may end its handshake last (its accept goroutine ran
// late) when the peer has already dropped it for the second. It must not
// replace the link the second one made: that would close the peer's live
// link, and a call right after Disconnect would fail with "node down:
// connection closed".
func TestOlderConnectionRegisteredLate(t *testing.T) {
	c := newTestCluster(t)
	a, b := c.start("a", "abc"), c.start("b", "abc")
	ctx := context.Background()

	// The older connection: accepted by b now, its handshake run later.
	old, err := net.Dial("tcp", b.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()

	down := make(chan error, 1)
	stop := a.Watch(func(peer Atom, up bool, reason error) {
		if peer == b.Name() && !up {
			select {
			case down <- reason:
			default:
			}
		}
	})
	defer stop()
	if err := a.Connect(ctx, b.Name()); err != nil {
		t.Fatal(err)
	}
	live := a.current(b.Name())
	// Until b has registered the live link, a's hello on the older
	// connection is the only one it has.
	waitFor(t, "b to register the link a made", func() bool { return b.current(a.Name()) != nil })

	if _, err := a.clientHandshake(old, b.Name()); err != nil {
		t.Fatalf("handshake on the older connection: %v", err)
	}
	// b either drops the older connection (its end reads EOF) or makes it
	// its link, closing the live one (a sees b go down).
	eof := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, old)
		eof <- err
	}()
	select {
	case reason := <-down:
		t.Fatalf("the older connection replaced the live link: a saw b go down: %v", reason)
	case <-eof:
	case <-time.After(10 * time.Second):
		t.Fatal("b neither dropped the older connection nor the live link")
	}
	if got, want := b.PeerAddr(a.Name()), live.conn.LocalAddr(); got == nil || got.String() != want.String() {
		t.Fatalf("b's link to a comes from %v, want the live link's %v", got, want)
	}
	if v, err := a.Call(ctx, b.Name(), "test", "double", 21); err != nil || v != 42 {
		t.Fatalf("a call over the live link: %v, %v", v, err)
	}
	if now := a.current(b.Name()); now != live {
		t.Fatal("a's link to b changed")
	}
}
