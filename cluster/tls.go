package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"syscall"
)

// ErrTLS: a TLS handshake between two nodes failed: one of them runs without
// TLS, or a certificate is not signed by the CA the other trusts, or it is
// not valid for the host it was presented for.
var ErrTLS = errors.New("TLS handshake failed")

// LoadTLS builds the TLS configuration for mutually authenticated links: the
// node presents the certificate in certFile (PEM, with its chain) and the
// private key in keyFile, and accepts only peers whose certificates are
// signed by a CA in caFile (PEM), in both directions. The result is what
// Config.TLS wants. TLS 1.3 is the minimum version.
//
// A key file that every user of the machine can read is refused, with the
// chmod that fixes it, as ReadCookieFile refuses such a cookie file.
func LoadTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	fi, err := os.Stat(keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading the TLS key: %w", err)
	}
	if fi.Mode().Perm()&0o007 != 0 {
		return nil, fmt.Errorf("loading the TLS key: %s can be read by every user (mode %v): run chmod 600 %s", keyFile, fi.Mode().Perm(), keyFile)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading the TLS certificate and key: %w", err)
	}
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("loading the TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("loading the TLS CA: no PEM certificate in %s", caFile)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS13,
	}, nil
}

// clientTLSConfig is the node's TLS configuration for dialling peer.
//
// Unless the configuration names a ServerName of its own (then Go's usual
// verification applies) or skips verification, the peer's certificate must
// chain to RootCAs and belong to peer (see verifyPeerName).
func clientTLSConfig(base *tls.Config, peer Atom) *tls.Config {
	c := base.Clone()
	if c.InsecureSkipVerify || c.ServerName != "" {
		return c
	}
	_, host, _ := SplitName(peer)
	c.ServerName = host // for SNI; not sent when host is an IP address
	c.InsecureSkipVerify = true
	user := c.VerifyConnection
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("the peer presented no certificate")
		}
		opts := x509.VerifyOptions{
			Roots:         base.RootCAs,
			Intermediates: x509.NewCertPool(),
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		if base.Time != nil {
			opts.CurrentTime = base.Time()
		}
		for _, ic := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(ic)
		}
		leaf := cs.PeerCertificates[0]
		if _, err := leaf.Verify(opts); err != nil {
			return fmt.Errorf("verifying the peer's certificate: %w", err)
		}
		if err := verifyPeerName(leaf, peer); err != nil {
			return fmt.Errorf("verifying the peer's certificate: %w", err)
		}
		if user != nil {
			return user(cs)
		}
		return nil
	}
	return c
}

// certNodeScheme is the scheme of the URI SAN that names a node in its
// certificate: gsh://gandalf@host.
const certNodeScheme = "gsh"

// verifyPeerName checks that a certificate (already verified against the
// CAs) belongs to node peer, so that holding the cookie does not let one
// node pose as another. The certificate must be valid for the host in
// peer's name (for a node on this host, 127.0.0.1 or localhost will also
// do, as that is where this node reaches it). When the certificate names a
// node, with a URI SAN gsh://name@host or a common name with an "@", one
// of those must be peer.
func verifyPeerName(leaf *x509.Certificate, peer Atom) error {
	_, host, err := SplitName(peer)
	if err != nil {
		return err
	}
	if err := leaf.VerifyHostname(host); err != nil {
		if !isLocalHost(host) || (leaf.VerifyHostname("127.0.0.1") != nil && leaf.VerifyHostname("localhost") != nil) {
			return fmt.Errorf("the certificate of %s is not valid for its host: %w", peer, err)
		}
	}
	var named []string
	for _, u := range leaf.URIs {
		if u.Scheme == certNodeScheme && u.User != nil {
			named = append(named, u.User.Username()+"@"+u.Host)
		}
	}
	if strings.Contains(leaf.Subject.CommonName, "@") {
		named = append(named, leaf.Subject.CommonName)
	}
	if len(named) == 0 || slices.Contains(named, string(peer)) {
		return nil
	}
	return fmt.Errorf("the certificate of %s is that of node %s", peer, strings.Join(named, ", "))
}

// clientTLS runs the TLS handshake on a connection this node dialed to
// peer, within the handshake timeout.
func (n *Node) clientTLS(ctx context.Context, conn net.Conn, peer Atom) (*tls.Conn, error) {
	tc := tls.Client(conn, clientTLSConfig(n.cfg.TLS, peer))
	ctx, cancel := context.WithTimeout(ctx, n.cfg.HandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		hint := ""
		if errors.Is(err, io.EOF) || isConnReset(err) {
			hint = " (does it run without TLS?)"
		}
		return nil, fmt.Errorf("%w with %s at %s%s: %w", ErrTLS, peer, conn.RemoteAddr(), hint, err)
	}
	return tc, nil
}

// serverTLS runs the TLS handshake on a connection another node made, of
// which first holds the bytes already read, within the handshake timeout. A
// gsh hello where the TLS handshake should be (a node without TLS) is read
// to its end and answered with a refusal that says why, so that the other
// node reports something clearer than a dropped connection.
func (n *Node) serverTLS(conn net.Conn, first []byte) (*tls.Conn, error) {
	if string(first) == handshakeMagic {
		// Read the whole hello, so that the refusal is not lost to a reset.
		h, _ := readHelloBody(conn)
		writeRefusal(conn, fmt.Sprintf("%s accepts TLS links only", n.name))
		who := "the peer"
		if h.name != "" {
			who = string(h.name)
		}
		return nil, fmt.Errorf("a gsh hello without TLS (%s runs without TLS): %w", who, ErrTLS)
	}
	tc := tls.Server(&prefixConn{Conn: conn, prefix: first}, n.cfg.TLS)
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.HandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTLS, err)
	}
	return tc, nil
}

// prefixConn gives back bytes already read from a connection before the rest.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		k := copy(p, c.prefix)
		c.prefix = c.prefix[k:]
		return k, nil
	}
	return c.Conn.Read(p)
}

// errConn remembers the first error of a read or write, before the
// handshake code turns it into a message: on a TLS 1.3 link the server's
// refusal of our certificate only shows when we first read.
type errConn struct {
	net.Conn
	err error
}

func (c *errConn) Read(p []byte) (int, error) {
	k, err := c.Conn.Read(p)
	if err != nil && c.err == nil {
		c.err = err
	}
	return k, err
}

func (c *errConn) Write(p []byte) (int, error) {
	k, err := c.Conn.Write(p)
	if err != nil && c.err == nil {
		c.err = err
	}
	return k, err
}

// tlsAlert reports whether err is a TLS alert the peer sent.
func tlsAlert(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "remote error"
}

func isConnReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
