package cluster

import (
	"sync"
	"time"
)

// linkShutdownGrace bounds how long a closing node waits for a peer to
// close its side of a link.
const linkShutdownGrace = 500 * time.Millisecond

// shutdown ends the link as its node closes, without losing what the node
// wrote last (the reply to init.stop): what was written goes out, the
// connection is half-closed, and what the peer still sends is read until it
// closes its side too (or linkShutdownGrace passes). Closing a connection
// with unread input would reset it, and the peer would lose the data in
// flight.
func (l *link) shutdown() {
	if l.fc != nil {
		l.fc.drain()
	}
	if cw, ok := l.conn.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		t := time.NewTimer(linkShutdownGrace)
		select {
		case <-l.sess.CloseChan():
		case <-l.done:
		case <-t.C:
		}
		t.Stop()
	}
	l.close(ErrClosed)
}

// shutdownLinks shuts the links down at once.
func shutdownLinks(links []*link) {
	var wg sync.WaitGroup
	for _, l := range links {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.shutdown()
		}()
	}
	wg.Wait()
}
