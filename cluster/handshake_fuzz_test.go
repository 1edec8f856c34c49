package cluster

import (
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// FuzzHandshake feeds arbitrary bytes to the accepting side of the
// handshake, as a peer would send them: the node must neither panic nor make
// a link, whatever it receives. The seed corpus in
// testdata/fuzz/FuzzHandshake holds a well-formed hello (with and without a
// proof), the abort byte, flags and names the node refuses, a TLS
// ClientHello and other garbage.
func FuzzHandshake(f *testing.F) {
	c := newTestCluster(f)
	cfg := c.config("fz", "abc")
	cfg.Name = "fz@fuzzhost"
	cfg.HandshakeTimeout = 100 * time.Millisecond
	cfg.Logf = func(string, ...any) {}
	n, err := Start(context.Background(), cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { n.Close() })
	n.limit = nil // check every input's proof at once: the fuzzer sends more than the rate

	f.Add([]byte("GSH1\x00\x06a@host" + string(make([]byte, nonceLen+proofLen))))
	f.Fuzz(func(t *testing.T, data []byte) {
		client, server := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			n.accept(server, 1)
		}()
		go func() {
			// Everything the node reads has been read when Write
			// returns; closing then ends its wait for more.
			client.Write(data)
			client.Close()
		}()
		io.Copy(io.Discard, client) // until the node or the writer closes
		<-done
		n.mu.Lock()
		links := len(n.links)
		n.mu.Unlock()
		if links != 0 {
			t.Fatalf("%q made a link", data)
		}
	})
}
