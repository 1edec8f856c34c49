package cluster

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
)

// Erlang's distribution handshake, version 6 (OTP 23 and later), which gsh
// speaks with nodes whose port mapper entry is not a gsh one. Every message
// is a 2-byte length and a tag:
//
//	client → server  send_name:       'N' flags u64 | creation u32 | len u16 | name
//	server → client  send_status:     's' "ok" | "ok_simultaneous" | "nok" | "not_allowed" | "alive"
//	server → client  send_challenge:  'N' flags u64 | challenge u32 | creation u32 | len u16 | name
//	client → server  challenge_reply: 'r' challenge u32 | digest [16]
//	server → client  challenge_ack:   'a' digest [16]
//
// digest = MD5(cookie ++ the other side's challenge as decimal text). A
// client of the older version 5 sends 'n' version u16 | flags u32 | name and,
// after the challenge, a complement: 'c' flags high u32 | creation u32.
//
// The cookie is proven with MD5 digests over 32-bit challenges, weaker than
// gsh's own HMAC-SHA256 handshake: gsh speaks it only when
// Config.Erlang allows, and logs a warning for each such link.

// Distribution flags (DFLAG_*).
const (
	dflagPublished          = 0x1
	dflagExtendedReferences = 0x4
	dflagDistMonitor        = 0x8
	dflagFunTags            = 0x10
	dflagDistMonitorName    = 0x20
	dflagNewFunTags         = 0x80
	dflagExtendedPidsPorts  = 0x100
	dflagExportPtrTag       = 0x200
	dflagBitBinaries        = 0x400
	dflagNewFloats          = 0x800
	dflagUnicodeIO          = 0x1000
	dflagSmallAtomTags      = 0x4000
	dflagUTF8Atoms          = 0x10000
	dflagMapTag             = 0x20000
	dflagBigCreation        = 0x40000
	dflagExitPayload        = 0x400000
	dflagHandshake23        = 0x1000000
	dflagSpawn              = 1 << 32

	// erlNeeded are the flags gsh needs of an Erlang peer: OTP 25's
	// mandatory ones that change how terms look.
	erlNeeded = dflagExtendedReferences | dflagExtendedPidsPorts | dflagUTF8Atoms | dflagNewFloats |
		dflagMapTag | dflagBigCreation | dflagHandshake23
	// erlOffered are the flags gsh sends.
	erlOffered = dflagPublished | dflagExtendedReferences | dflagDistMonitor | dflagFunTags |
		dflagDistMonitorName | dflagNewFunTags | dflagExtendedPidsPorts | dflagExportPtrTag |
		dflagBitBinaries | dflagNewFloats | dflagUnicodeIO | dflagSmallAtomTags | dflagUTF8Atoms |
		dflagMapTag | dflagBigCreation | dflagExitPayload | dflagHandshake23 | dflagSpawn
)

// erlMaxHandshakeMsg bounds one handshake message: a name is at most 255
// characters for its alive part and its host.
const erlMaxHandshakeMsg = 2048

// erlHello is what the handshake tells of an Erlang peer.
type erlHello struct {
	name      Atom
	flags     uint64
	creation  uint32
	challenge uint32
}

// erlDigest is Erlang's proof of the cookie for a challenge.
func erlDigest(cookie string, challenge uint32) [16]byte {
	return md5.Sum([]byte(cookie + strconv.FormatUint(uint64(challenge), 10)))
}

func erlChallenge() (uint32, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0, fmt.Errorf("making a challenge: %w", err)
	}
	return binary.BigEndian.Uint32(b[:]), nil
}

// erlReadMsg reads one length-prefixed handshake message.
func erlReadMsg(r io.Reader) ([]byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, netErr(err)
	}
	n := int(binary.BigEndian.Uint16(h[:]))
	if n == 0 || n > erlMaxHandshakeMsg {
		return nil, fmt.Errorf("a handshake message of %d bytes: %w", n, ErrProtocol)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, netErr(err)
	}
	return b, nil
}

func erlWriteMsg(w io.Writer, b []byte) error {
	out := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(b)), uint16(len(b)))
	if _, err := w.Write(append(out, b...)); err != nil {
		return netErr(err)
	}
	return nil
}

// erlParseName reads a send_name or send_challenge message ('N' or 'n').
func erlParseName(b []byte, challenge bool) (erlHello, error) {
	var h erlHello
	bad := fmt.Errorf("a malformed %s message: %w", map[bool]string{false: "send_name", true: "send_challenge"}[challenge], ErrProtocol)
	switch b[0] {
	case 'N':
		need := 1 + 8 + 4 + 2
		if challenge {
			need += 4
		}
		if len(b) < need {
			return h, bad
		}
		h.flags = binary.BigEndian.Uint64(b[1:])
		p := b[9:]
		if challenge {
			h.challenge = binary.BigEndian.Uint32(p)
			p = p[4:]
		}
		h.creation = binary.BigEndian.Uint32(p)
		n := int(binary.BigEndian.Uint16(p[4:]))
		if len(p[6:]) != n {
			return h, bad
		}
		h.name = Atom(p[6:])
	case 'n':
		need := 1 + 2 + 4
		if challenge {
			need += 4
		}
		if len(b) < need {
			return h, bad
		}
		h.flags = uint64(binary.BigEndian.Uint32(b[3:]))
		p := b[7:]
		if challenge {
			h.challenge = binary.BigEndian.Uint32(p)
			p = p[4:]
		}
		h.name = Atom(p)
	default:
		return h, fmt.Errorf("handshake message %q where a name belongs: %w", b[0], ErrProtocol)
	}
	if _, _, err := SplitName(h.name); err != nil {
		return h, fmt.Errorf("the peer's name %.80q: %w", h.name, err)
	}
	if h.flags&erlNeeded != erlNeeded {
		return h, fmt.Errorf("the Erlang node %s lacks distribution flags gsh needs (%#x of %#x): it is older than OTP 23: %w",
			h.name, h.flags&erlNeeded, uint64(erlNeeded), ErrProtocol)
	}
	return h, nil
}

// erlClientHandshake runs the client side on a fresh connection to peer. A
// "nok" status (the peer is making a link to this node at the same time and
// its wins) is errDuplicate.
func erlClientHandshake(rw io.ReadWriter, self Atom, creation uint32, flags uint64, cookie string, peer Atom) (erlHello, error) {
	var them erlHello
	msg := []byte{'N'}
	msg = binary.BigEndian.AppendUint64(msg, flags)
	msg = binary.BigEndian.AppendUint32(msg, creation)
	msg = binary.BigEndian.AppendUint16(msg, uint16(len(self)))
	msg = append(msg, self...)
	if err := erlWriteMsg(rw, msg); err != nil {
		return them, fmt.Errorf("sending the name: %w", err)
	}
	b, err := erlReadMsg(rw)
	if err != nil {
		return them, fmt.Errorf("reading the status: %w", err)
	}
	if b[0] != 's' {
		return them, fmt.Errorf("handshake message %q where the status belongs: %w", b[0], ErrProtocol)
	}
	switch status := string(b[1:]); status {
	case "ok", "ok_simultaneous":
	case "nok":
		return them, errDuplicate
	case "alive":
		if err := erlWriteMsg(rw, []byte("strue")); err != nil {
			return them, err
		}
	case "not_allowed":
		return them, fmt.Errorf("it does not allow this node to connect (net_kernel:allow/1, or a name or host it refuses): %w", ErrAuth)
	default:
		return them, fmt.Errorf("handshake status %.40q: %w", status, ErrProtocol)
	}
	b, err = erlReadMsg(rw)
	if err != nil {
		return them, fmt.Errorf("reading the challenge: %w", err)
	}
	if them, err = erlParseName(b, true); err != nil {
		return them, err
	}
	if them.name != peer {
		return them, fmt.Errorf("the node at that port is %s: %w", them.name, ErrProtocol)
	}
	if b[0] == 'n' {
		return them, fmt.Errorf("the Erlang node %s speaks only the old handshake (version 5): %w", peer, ErrProtocol)
	}
	mine, err := erlChallenge()
	if err != nil {
		return them, err
	}
	d := erlDigest(cookie, them.challenge)
	msg = binary.BigEndian.AppendUint32([]byte{'r'}, mine)
	if err := erlWriteMsg(rw, append(msg, d[:]...)); err != nil {
		return them, fmt.Errorf("sending the challenge reply: %w", err)
	}
	b, err = erlReadMsg(rw)
	if err != nil {
		// An Erlang node closes the connection on a wrong cookie.
		return them, fmt.Errorf("the challenge was not acknowledged (%w): %w", err, ErrAuth)
	}
	want := erlDigest(cookie, mine)
	if len(b) != 17 || b[0] != 'a' || subtle.ConstantTimeCompare(b[1:], want[:]) != 1 {
		return them, fmt.Errorf("the peer did not prove the cookie: %w", ErrAuth)
	}
	return them, nil
}

// erlServerHandshake runs the server side on a connection whose first
// bytes, already read, are prefix. status decides the send_status answer
// once the client's name is known ("ok", "ok_simultaneous", "nok", "alive"
// or "not_allowed"). A client told "alive" that does not want its new
// connection to replace the old one, and one told "nok", end it with
// errDuplicate.
// turn, when not nil, waits for the node's turn to check a proof (see
// authLimiter) before the challenge reply's digest is checked.
func erlServerHandshake(rw io.ReadWriter, self Atom, creation uint32, flags uint64, cookie string, status func(them Atom) string, turn func() error) (erlHello, error) {
	b, err := erlReadMsg(rw)
	if err != nil {
		return erlHello{}, fmt.Errorf("reading the name: %w", err)
	}
	them, err := erlParseName(b, false)
	if err != nil {
		return them, err
	}
	old := b[0] == 'n'
	st := status(them.name)
	if err := erlWriteMsg(rw, append([]byte{'s'}, st...)); err != nil {
		return them, err
	}
	switch st {
	case "ok", "ok_simultaneous":
	case "alive":
		b, err := erlReadMsg(rw)
		if err != nil {
			return them, err
		}
		if string(b) != "strue" {
			return them, errDuplicate
		}
	case "nok":
		return them, errDuplicate
	default:
		return them, fmt.Errorf("%s: %w", st, ErrErlangOff)
	}
	mine, err := erlChallenge()
	if err != nil {
		return them, err
	}
	msg := []byte{'N'}
	msg = binary.BigEndian.AppendUint64(msg, flags)
	msg = binary.BigEndian.AppendUint32(msg, mine)
	msg = binary.BigEndian.AppendUint32(msg, creation)
	msg = binary.BigEndian.AppendUint16(msg, uint16(len(self)))
	msg = append(msg, self...)
	if err := erlWriteMsg(rw, msg); err != nil {
		return them, err
	}
	if old {
		b, err := erlReadMsg(rw)
		if err != nil {
			return them, fmt.Errorf("reading the complement: %w", err)
		}
		if len(b) != 9 || b[0] != 'c' {
			return them, fmt.Errorf("a malformed complement: %w", ErrProtocol)
		}
		them.flags |= uint64(binary.BigEndian.Uint32(b[1:])) << 32
		them.creation = binary.BigEndian.Uint32(b[5:])
	}
	b, err = erlReadMsg(rw)
	if err != nil {
		return them, fmt.Errorf("reading the challenge reply: %w", err)
	}
	if len(b) != 21 || b[0] != 'r' {
		return them, fmt.Errorf("a malformed challenge reply: %w", ErrProtocol)
	}
	if turn != nil {
		if err := turn(); err != nil {
			return them, err
		}
	}
	want := erlDigest(cookie, mine)
	if subtle.ConstantTimeCompare(b[5:], want[:]) != 1 {
		return them, fmt.Errorf("wrong cookie: %w", ErrAuth)
	}
	d := erlDigest(cookie, binary.BigEndian.Uint32(b[1:]))
	if err := erlWriteMsg(rw, append([]byte{'a'}, d[:]...)); err != nil {
		return them, err
	}
	return them, nil
}
