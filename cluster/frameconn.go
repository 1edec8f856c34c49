package cluster

import (
	"encoding/binary"
	"net"
)

// yamux writes each frame as two writes, its 12-byte header and then its
// body: two system calls, and on loopback two wake-ups of the reader.
// frameConn holds back the header of a data frame that has a body and sends
// it with the body in one write (writev on TCP), halving the system calls
// of every call and message. yamux writes from one goroutine only (its send
// loop), which is what makes holding a header safe.
type frameConn struct {
	net.Conn
	held []byte
	bufs net.Buffers
}

const (
	yamuxHeaderSize = 12
	yamuxTypeData   = 0
)

func (c *frameConn) Write(p []byte) (int, error) {
	if len(c.held) > 0 {
		c.bufs = append(c.bufs[:0], c.held, p)
		c.held = c.held[:0]
		_, err := c.bufs.WriteTo(c.Conn)
		if err != nil {
			return 0, err
		}
		return len(p), nil
	}
	if len(p) == yamuxHeaderSize && p[1] == yamuxTypeData && binary.BigEndian.Uint32(p[8:12]) > 0 {
		c.held = append(c.held[:0], p...)
		return len(p), nil // the body comes in the next write
	}
	return c.Conn.Write(p)
}
