package cluster

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

// The handshake, on a fresh TCP connection before yamux starts:
//
//	client → server  hello:     "GSH1" | flags u8 | len u8 | name | nonce [32] | creation u32
//	server → client  challenge: status u8 (0) | flags u8 | len u8 | name | nonce [32] | creation u32
//	                 or a refusal: status u8 (≠0) | len u16 | message
//	client → server  answer:    status u8 (0) | proof [32]
//	server → client  verdict:   status u8 (0 ok, statusDuplicate) | proof [32], or statusAuth alone
//
// proof = HMAC-SHA256(cookie, role | client nonce | server nonce | client name | server name),
// role "gsh-server" or "gsh-client": each side proves it has the cookie
// without sending it, bound to both fresh nonces and both names, so a captured
// handshake cannot be replayed and one side's proof cannot be reflected as the
// other's. The dialling side proves first, as in Erlang: a node gives its own
// proof only to a peer that has proved the cookie, so connecting to a node
// yields nothing to guess the cookie from offline.
const (
	handshakeMagic = "GSH1"
	nonceLen       = 32
	proofLen       = sha256.Size

	flagLongNames = 1 << 0
	flagHidden    = 1 << 1
	flagFastCalls = 1 << 2 // the node takes calls as fast frames (fastpath.go)

	statusOK        = 0
	statusAuth      = 1 // the cookies differ
	statusDuplicate = 2 // a link between the two nodes is being made the other way
	statusRefused   = 3 // followed by a message
	maxRefusalLen   = 1024
)

// hello is what each side learns of the other.
type hello struct {
	name  Atom
	flags byte
	nonce [nonceLen]byte
	// creation tells this run of the node from an earlier one.
	creation uint32
	// proof is, on the accepting side, this node's proof for the verdict,
	// sent once the client has proved the cookie.
	proof []byte
	// accepted is, on the accepting side, the connection's place in the
	// order this node accepted connections in (from 1): a larger one came
	// later.
	accepted uint64
}

func proof(cookie, role string, clientNonce, serverNonce []byte, client, server Atom) []byte {
	m := hmac.New(sha256.New, []byte(cookie))
	m.Write([]byte(role))
	m.Write(clientNonce)
	m.Write(serverNonce)
	m.Write([]byte(client))
	m.Write([]byte{0})
	m.Write([]byte(server))
	return m.Sum(nil)
}

func newHello(name Atom, flags byte) (hello, error) {
	h := hello{name: name, flags: flags}
	if _, err := rand.Read(h.nonce[:]); err != nil {
		return h, fmt.Errorf("making a nonce: %w", err)
	}
	return h, nil
}

func writeHello(w io.Writer, magic bool, status byte, h hello, extra []byte) error {
	b := make([]byte, 0, 4+3+len(h.name)+nonceLen+len(extra))
	if magic {
		b = append(b, handshakeMagic...)
	} else {
		b = append(b, status)
	}
	b = append(b, h.flags, byte(len(h.name)))
	b = append(b, h.name...)
	b = append(b, h.nonce[:]...)
	b = binary.BigEndian.AppendUint32(b, h.creation)
	b = append(b, extra...)
	_, err := w.Write(b)
	return err
}

// readHelloBody reads flags, name and nonce, checking the name.
func readHelloBody(r io.Reader) (hello, error) {
	var h hello
	var fl [2]byte
	if _, err := io.ReadFull(r, fl[:]); err != nil {
		return h, err
	}
	h.flags = fl[0]
	name := make([]byte, fl[1])
	if _, err := io.ReadFull(r, name); err != nil {
		return h, err
	}
	h.name = Atom(name)
	if _, _, err := SplitName(h.name); err != nil {
		return h, err
	}
	if _, err := io.ReadFull(r, h.nonce[:]); err != nil {
		return h, err
	}
	var c [4]byte
	if _, err := io.ReadFull(r, c[:]); err != nil {
		return h, err
	}
	h.creation = binary.BigEndian.Uint32(c[:])
	return h, nil
}

func writeRefusal(w io.Writer, msg string) error {
	if len(msg) > maxRefusalLen {
		msg = msg[:maxRefusalLen]
	}
	b := []byte{statusRefused, 0, 0}
	binary.BigEndian.PutUint16(b[1:], uint16(len(msg)))
	_, err := w.Write(append(b, msg...))
	return err
}

// nameTypeError says why a short-name node and a long-name node refuse each other.
func nameTypeError(local Atom, localLong bool, peer Atom) error {
	kind := func(long bool) string {
		if long {
			return "long names"
		}
		return "short names"
	}
	return fmt.Errorf("%s uses %s and %s uses %s: %w", local, kind(localLong), peer, kind(!localLong), ErrNameType)
}

// clientHandshake runs the dialing side. On success the connection is ready
// for yamux. A statusDuplicate verdict returns errDuplicate.
func (n *Node) clientHandshake(conn net.Conn, peer Atom) (hello, error) {
	deadline := time.Now().Add(n.cfg.HandshakeTimeout)
	conn.SetDeadline(deadline)
	defer conn.SetDeadline(time.Time{})

	me, err := newHello(n.name, n.flags())
	me.creation = n.creation()
	if err != nil {
		return hello{}, err
	}
	if err := writeHello(conn, true, 0, me, nil); err != nil {
		return hello{}, fmt.Errorf("sending hello: %w", netErr(err))
	}
	var st [1]byte
	if _, err := io.ReadFull(conn, st[:]); err != nil {
		return hello{}, fmt.Errorf("reading the challenge: %w", netErr(err))
	}
	if st[0] == statusRefused {
		var l [2]byte
		if _, err := io.ReadFull(conn, l[:]); err != nil {
			return hello{}, fmt.Errorf("reading a refusal: %w", netErr(err))
		}
		msg := make([]byte, min(int(binary.BigEndian.Uint16(l[:])), maxRefusalLen))
		if _, err := io.ReadFull(conn, msg); err != nil {
			return hello{}, fmt.Errorf("reading a refusal: %w", netErr(err))
		}
		return hello{}, refusalError(string(msg))
	}
	if st[0] != statusOK {
		return hello{}, fmt.Errorf("unexpected handshake status %d: %w", st[0], ErrProtocol)
	}
	them, err := readHelloBody(conn)
	if err != nil {
		return hello{}, fmt.Errorf("reading the challenge: %w", protoErr(err))
	}
	if them.name != peer {
		return hello{}, fmt.Errorf("dialed %s but %s answered: %w", peer, them.name, ErrProtocol)
	}
	cookie := n.CookieFor(peer)
	answer := append([]byte{statusOK}, proof(cookie, "gsh-client", me.nonce[:], them.nonce[:], n.name, them.name)...)
	if _, err := conn.Write(answer); err != nil {
		return hello{}, fmt.Errorf("sending our proof: %w", netErr(err))
	}
	if _, err := io.ReadFull(conn, st[:]); err != nil {
		return hello{}, fmt.Errorf("reading the verdict: %w", netErr(err))
	}
	switch st[0] {
	case statusOK, statusDuplicate:
	case statusAuth:
		return hello{}, fmt.Errorf("connecting to %s: %w", peer, ErrAuth)
	default:
		return hello{}, fmt.Errorf("unexpected verdict %d: %w", st[0], ErrProtocol)
	}
	var theirProof [proofLen]byte
	if _, err := io.ReadFull(conn, theirProof[:]); err != nil {
		return hello{}, fmt.Errorf("reading the verdict: %w", netErr(err))
	}
	want := proof(cookie, "gsh-server", me.nonce[:], them.nonce[:], n.name, them.name)
	if !hmac.Equal(want, theirProof[:]) {
		return hello{}, fmt.Errorf("connecting to %s: the node answering as %s does not have our cookie: %w", peer, them.name, ErrAuth)
	}
	if st[0] == statusDuplicate {
		return them, errDuplicate
	}
	return them, nil
}

var errDuplicate = errors.New("the link is being made from the other side")

// refusalError turns a refusal message back into an error of the right kind.
func refusalError(msg string) error {
	for _, e := range []error{ErrNameType, ErrBadName, ErrTLS} {
		if strings.HasSuffix(msg, ": "+e.Error()) {
			return fmt.Errorf("%s: %w", strings.TrimSuffix(msg, ": "+e.Error()), e)
		}
	}
	return fmt.Errorf("refused: %s: %w", msg, ErrProtocol)
}

// serverHandshake runs the accepting side up to the client's proof. It returns
// the client's hello once the client proved the cookie; the caller sends the
// verdict. The proof is checked in its turn (see authLimiter), before
// deadline.
func (n *Node) serverHandshake(conn net.Conn, deadline time.Time) (hello, error) {
	// The caller set one deadline for the whole handshake (TLS included).
	var magic [4]byte
	if _, err := io.ReadFull(conn, magic[:]); err != nil {
		return hello{}, fmt.Errorf("reading hello: %w", netErr(err))
	}
	if string(magic[:]) != handshakeMagic {
		return hello{}, fmt.Errorf("not a gsh handshake (first bytes %q): %w", magic[:], ErrProtocol)
	}
	them, err := readHelloBody(conn)
	if err != nil {
		err = protoErr(err)
		writeRefusal(conn, err.Error())
		return hello{}, fmt.Errorf("reading hello: %w", err)
	}
	if them.name == n.name {
		err := fmt.Errorf("a node calling itself %s connected to %s: %w", them.name, n.name, ErrBadName)
		writeRefusal(conn, err.Error())
		return them, err
	}
	if (them.flags&flagLongNames != 0) != n.cfg.LongNames {
		err := nameTypeError(n.name, n.cfg.LongNames, them.name)
		writeRefusal(conn, err.Error())
		return them, err
	}
	if tc, ok := conn.(*tls.Conn); ok && len(tc.ConnectionState().PeerCertificates) > 0 {
		if err := verifyPeerName(tc.ConnectionState().PeerCertificates[0], them.name); err != nil {
			err = fmt.Errorf("%w: %w", err, ErrTLS)
			writeRefusal(conn, fmt.Sprintf("%s refused the link: %v", n.name, err))
			return them, err
		}
	}
	me, err := newHello(n.name, n.flags())
	me.creation = n.creation()
	if err != nil {
		return them, err
	}
	cookie := n.CookieFor(them.name)
	if err := writeHello(conn, false, statusOK, me, nil); err != nil {
		return them, fmt.Errorf("sending the challenge: %w", netErr(err))
	}
	var answer [proofLen]byte
	var st [1]byte
	if _, err := io.ReadFull(conn, st[:]); err != nil {
		return them, fmt.Errorf("reading the answer: %w", netErr(err))
	}
	switch st[0] {
	case statusOK:
	default:
		return them, fmt.Errorf("%s answered with status %d: %w", them.name, st[0], ErrProtocol)
	}
	if _, err := io.ReadFull(conn, answer[:]); err != nil {
		return them, fmt.Errorf("reading the answer: %w", netErr(err))
	}
	if err := n.awaitTurn(conn, deadline); err != nil {
		return them, err
	}
	want := proof(cookie, "gsh-client", them.nonce[:], me.nonce[:], them.name, n.name)
	if !hmac.Equal(want, answer[:]) {
		conn.Write([]byte{statusAuth})
		return them, fmt.Errorf("%s: %w", them.name, ErrAuth)
	}
	them.proof = proof(cookie, "gsh-server", them.nonce[:], me.nonce[:], them.name, n.name)
	return them, nil
}

// awaitTurn waits for the turn to check a proof that came on conn (see
// authLimiter). The peer sends nothing more until the verdict, so a read
// that ends before the turn comes means it hung up (or broke the protocol):
// its turn goes to others.
func (n *Node) awaitTurn(conn net.Conn, deadline time.Time) error {
	if n.limit == nil {
		return nil
	}
	hung, read := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(read)
		var b [1]byte
		if _, err := conn.Read(b[:]); !errors.Is(err, os.ErrDeadlineExceeded) {
			close(hung)
		}
	}()
	err := n.limit.wait(n.ctx, authKey(conn.RemoteAddr()), deadline, hung)
	conn.SetReadDeadline(time.Now()) // ends the read
	<-read
	conn.SetReadDeadline(deadline)
	if err == nil {
		select {
		case <-hung:
			return fmt.Errorf("%s sent more than its proof: %w", conn.RemoteAddr(), ErrProtocol)
		default:
		}
	}
	return err
}

// verdict is the accepting side's last message: status and its own proof.
func verdict(status byte, them hello) []byte { return append([]byte{status}, them.proof...) }

// protoErr marks a malformed handshake field as a protocol error.
func protoErr(err error) error {
	if errors.Is(err, ErrBadName) || errors.Is(err, ErrProtocol) {
		return err
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return netErr(err)
	}
	return fmt.Errorf("%v: %w", err, ErrProtocol)
}

// netErr marks a failed read or write on a link as the node being down.
func netErr(err error) error {
	if err == nil || errors.Is(err, ErrNodeDown) {
		return err
	}
	return fmt.Errorf("%w: %v", ErrNodeDown, err)
}
