package cluster

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"
)

// issueFor makes a node certificate from ca with the given common name,
// DNS names and URI SANs.
func (ca *testCA) issueFor(t testing.TB, cn string, dns []string, uris ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial.Lock()
	serial.n++
	sn := serial.n + 1
	serial.Unlock()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(sn),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     dns,
	}
	for _, u := range uris {
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, pu)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// TestTLSCertificateBelongsToTheDialler: the node that accepts a link checks
// the dialler's certificate against the name it claims, as the dialler
// checks the accepting node's: a certificate for another host, or one that
// names another node, is refused with a message saying so.
func TestTLSCertificateBelongsToTheDialler(t *testing.T) {
	ca := newTestCA(t, "gsh test CA")
	c := newTestCluster(t)
	host := ShortHostname()
	a, alog := c.startTLS("a", "abc", ca.tlsConfig(t, "a", ca))
	ctx := context.Background()

	// frodo's certificate, for elsewhere.example, used by node c7.
	cp, kp := ca.issueFor(t, "frodo", []string{"elsewhere.example"})
	c7, _ := c.startTLS("c7", "abc", tlsConfigOf(t, cp, kp, ca))
	err := c7.Ping(ctx, a.Name())
	if !errors.Is(err, ErrTLS) {
		t.Fatalf("c7 with a certificate for elsewhere.example: %v", err)
	}
	want := "the certificate of c7@" + host + " is not valid for its host: x509: certificate is valid for elsewhere.example, not " + host
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("c7 sees %q, want it to say %q", err, want)
	}
	alog.wait("refused a connection from a node calling itself c7@"+host, want)

	// A certificate for this host that names node frodo, used by c8.
	cp, kp = ca.issueFor(t, "c8", []string{host}, "gsh://frodo@"+host)
	c8, _ := c.startTLS("c8", "abc", tlsConfigOf(t, cp, kp, ca))
	want = "the certificate of c8@" + host + " is that of node frodo@" + host
	if err := c8.Ping(ctx, a.Name()); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("c8 with frodo's certificate dialling: %v", err)
	}
	if err := a.Ping(ctx, c8.Name()); !errors.Is(err, ErrTLS) || !strings.Contains(err.Error(), want) {
		t.Fatalf("a dialling c8 with frodo's certificate: %v", err)
	}
	// So does a common name that is a node name.
	cp, kp = ca.issueFor(t, "frodo@"+host, []string{host})
	c9, _ := c.startTLS("c9", "abc", tlsConfigOf(t, cp, kp, ca))
	if err := c9.Ping(ctx, a.Name()); err == nil || !strings.Contains(err.Error(), "is that of node frodo@"+host) {
		t.Fatalf("c9 with a certificate for frodo@%s: %v", host, err)
	}

	// Its own name: links both ways.
	cp, kp = ca.issueFor(t, "frodo", []string{host}, "gsh://frodo@"+host)
	frodo, _ := c.startTLS("frodo", "abc", tlsConfigOf(t, cp, kp, ca))
	if err := frodo.Ping(ctx, a.Name()); err != nil {
		t.Fatalf("frodo with its own certificate: %v", err)
	}
	cp, kp = ca.issueFor(t, "sam", []string{host}, "gsh://sam@"+host)
	sam, _ := c.startTLS("sam", "abc", tlsConfigOf(t, cp, kp, ca))
	if err := a.Ping(ctx, sam.Name()); err != nil {
		t.Fatalf("a dialling sam, whose certificate is its own: %v", err)
	}
}
