package cluster

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// erlSendName is a well-formed send_name message of version 6.
func erlSendName(name string, flags uint64) []byte {
	m := []byte{'N'}
	m = binary.BigEndian.AppendUint64(m, flags)
	m = binary.BigEndian.AppendUint32(m, 1)
	m = binary.BigEndian.AppendUint16(m, uint16(len(name)))
	m = append(m, name...)
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(m))), m...)
}

// FuzzErlangHandshake feeds arbitrary bytes to the accepting side of a node
// that links with Erlang nodes, as an Erlang peer would send them: the node
// must neither panic nor make a link without the cookie.
func FuzzErlangHandshake(f *testing.F) {
	c := newTestCluster(f)
	cfg := c.config("fz", "abc")
	cfg.Name = "fz@fuzzhost"
	cfg.Erlang = true
	cfg.HandshakeTimeout = 100 * time.Millisecond
	cfg.Logf = func(string, ...any) {}
	n, err := Start(context.Background(), cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { n.Close() })
	n.limit = nil // net.Pipe has no address

	ok := erlSendName("e@host", erlOffered)
	reply := append([]byte{0, 21, 'r', 0, 0, 0, 1}, make([]byte, 16)...)
	f.Add(ok)
	f.Add(append(ok, reply...))
	f.Add(erlSendName("e@host", 0))
	f.Add(erlSendName("nohost", erlOffered))
	f.Add(append([]byte{0, 11, 'n', 0, 5, 0, 0x7f, 0xfd, 0xf4}, "e@h"...))
	f.Add([]byte{0xff, 0xff, 'N'})
	f.Fuzz(func(t *testing.T, data []byte) {
		client, server := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			n.accept(server, 1)
		}()
		go func() {
			client.Write(data)
			client.Close()
		}()
		io.Copy(io.Discard, client)
		<-done
		if len(n.ErlangNodes()) != 0 {
			t.Fatalf("%q made a link", data)
		}
	})
}
