package service

import (
	"bufio"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"gsh/cluster"
	"gsh/cluster/frame"
)

// The handshake, on a fresh TCP connection (inside TLS when the client
// starts one; the server tells a TLS ClientHello from a hello by its first
// byte):
//
//	client → server  hello:     "GSHS" | len u8 | service | nonce [32]
//	server → client  challenge: status u8 (0) | nonce [32]
//	                 or a refusal: status u8 (≠0) | len u16 | message
//	client → server  answer:    proof [32]
//	server → client  verdict:   status u8 (0) | proof [32], or a refusal
//
// proof = HMAC-SHA256(secret, role | client nonce | server nonce | service),
// role "gsh-service-client" or "gsh-service-server": each side proves it has
// the service's secret without sending it, bound to both fresh nonces and to
// the service, so a captured handshake cannot be replayed, one side's proof
// cannot be reflected as the other's, and a proof for one service is no
// proof for another. The client proves first: the server gives its own
// proof only to a client that has proved the secret, so connecting yields
// nothing to guess the secret from offline.
//
// Then frames, each a 4-byte big-endian length and one wire value
// (cluster.Encode), no larger than the server's MaxFrameSize:
//
//	client → server  ["call", ref, function, [args...], timeout_ms]
//	                 ["send", 0, msg]
//	server → client  ["reply", ref, value]
//	                 ["error", ref, error]   (ref 0: about the connection, or a send)
//	                 ["msg", 0, msg]         (a message the handler process sent to the client)
const (
	magic    = "GSHS"
	nonceLen = 32
	proofLen = sha256.Size

	// MaxServiceName is the longest service name.
	MaxServiceName = 64

	statusOK         = 0
	statusAuth       = 1 // the secret is not the service's
	statusRefused    = 3 // the hello is malformed, or the client is not a service client
	statusUnknown    = 4 // no such service
	statusNeedTLS    = 5 // the service asks for TLS and the client did not start it
	statusBusy       = 6 // the server serves as many clients as it may
	maxRefusalLen    = 1024
	tlsRecordHandsk  = 0x16 // the first byte of a TLS ClientHello
	roleClient       = "gsh-service-client"
	roleServer       = "gsh-service-server"
	opCall, opSend   = "call", "send"
	opReply, opError = "reply", "error"
	opMsg            = "msg"
)

// Errors a client can tell apart with errors.Is, besides cluster.ErrAuth (a
// wrong secret), cluster.ErrProtocol, cluster.ErrTooLarge, cluster.ErrTLS and
// cluster.ErrNodeDown (the connection was lost).
var (
	// ErrUnknownService: the server offers no service of that name.
	ErrUnknownService = errors.New("unknown service")
	// ErrNotExposed: the service does not expose the function called, or
	// takes no messages.
	ErrNotExposed = errors.New("not exposed by the service")
	// ErrBusy: the server already serves as many clients as it may.
	ErrBusy = errors.New("the server is busy")
	// ErrClosed: the connection was closed by this side.
	ErrClosed = errors.New("connection closed")
)

// kinds name this package's errors on the wire (a RemoteError's Kind).
var kinds = []struct {
	kind string
	err  error
}{
	{"not_exposed", ErrNotExposed},
	{"busy", ErrBusy},
}

func proof(secret, role string, clientNonce, serverNonce []byte, service string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(role))
	m.Write(clientNonce)
	m.Write(serverNonce)
	m.Write([]byte(service))
	return m.Sum(nil)
}

func newNonce() ([nonceLen]byte, error) {
	var b [nonceLen]byte
	if _, err := rand.Read(b[:]); err != nil {
		return b, fmt.Errorf("making a nonce: %w", err)
	}
	return b, nil
}

// validName reports whether s may name a service: 1 to MaxServiceName
// letters, digits, '_', '-' and '.'.
func validName(s string) bool {
	if len(s) == 0 || len(s) > MaxServiceName {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func refusal(status byte, msg string) []byte {
	if len(msg) > maxRefusalLen {
		msg = msg[:maxRefusalLen]
	}
	b := []byte{status, 0, 0}
	binary.BigEndian.PutUint16(b[1:], uint16(len(msg)))
	return append(b, msg...)
}

// readRefusal reads a refusal's message, the status already read, and
// turns it into an error of its kind.
func readRefusal(r io.Reader, status byte) error {
	var l [2]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return fmt.Errorf("reading a refusal: %w", netErr(err))
	}
	msg := make([]byte, min(int(binary.BigEndian.Uint16(l[:])), maxRefusalLen))
	if _, err := io.ReadFull(r, msg); err != nil {
		return fmt.Errorf("reading a refusal: %w", netErr(err))
	}
	var kind error
	switch status {
	case statusAuth:
		return authError(msg)
	case statusUnknown:
		kind = ErrUnknownService
	case statusNeedTLS:
		kind = cluster.ErrTLS
	case statusBusy:
		kind = ErrBusy
	default:
		kind = cluster.ErrProtocol
	}
	return fmt.Errorf("%s: %w", msg, kind)
}

// authError is a failed proof of a service's secret: errors.Is(err,
// cluster.ErrAuth) holds, and it reads as itself, not as the cookies of
// two nodes.
type authError string

func (e authError) Error() string { return string(e) }
func (e authError) Unwrap() error { return cluster.ErrAuth }

// netErr marks a failed read or write as the connection being lost.
func netErr(err error) error {
	if err == nil || errors.Is(err, cluster.ErrNodeDown) {
		return err
	}
	return fmt.Errorf("%w: %v", cluster.ErrNodeDown, err)
}

// encodeFrame appends v, encoded, to dst as one frame.
func encodeFrame(dst []byte, v any) ([]byte, error) {
	b, start := frame.Begin(dst)
	out, err := cluster.Encode(b, v)
	if err != nil {
		return dst, err
	}
	frame.End(out, start)
	return out, nil
}

// readFrame reads one frame of at most limit bytes and decodes it. The
// buffer grows as the bytes arrive, so a peer cannot make this side
// allocate a frame's declared length by sending only its header.
func readFrame(br *bufio.Reader, limit int) (any, error) {
	b, err := frame.Read(br, limit, nil)
	if err != nil {
		return nil, err
	}
	return cluster.Decode(b)
}
