package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gsh/cluster"
)

// expectSince waits for text in what the process printed after mark,
// without moving the test's own mark.
func (p *gshProc) expectSince(mark int, text string) {
	p.t.Helper()
	p.out.WaitFor(p.t, mark, text, 10*time.Second)
}

// TestDurableKVSSurvivesKill: a node started with -kvs_dir acknowledges
// each store only once it is on disk, so every acknowledged store is there
// after the node is killed and started again.
func TestDurableKVSSurvivesKill(t *testing.T) {
	const n = 200
	_, port := privateMapper(t)
	host := cluster.ShortHostname()
	dir := filepath.Join(t.TempDir(), "kvs")
	args := []string{"-sname", "gandalf", "-setcookie", "abc", "-epmd_port", port, "-addr", "127.0.0.1", "-kvs_dir", dir}
	gandalf := startGsh(t, nil, args...)
	gandalf.expect("warning: -setcookie puts the cookie where ps shows it")
	gandalf.send("kvs.start()")
	gandalf.expect("true")

	bilbo := startGsh(t, []string{"GSH_COOKIE=abc"}, "-sname", "bilbo", "-epmd_port", port, "-addr", "127.0.0.1")
	g := `"gandalf@` + host + `"`
	for i := range n {
		bilbo.send(fmt.Sprintf(`rpc.call(%s, "kvs", "store", %d, "value-%d-end")`, g, i, i))
	}
	for range n {
		bilbo.expect("true")
	}
	if out := bilbo.out.String(); strings.Contains(out, "** error") || strings.Contains(out, "warning") {
		t.Fatalf("bilbo printed an error or a warning:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "gandalf@"+host+".kvs")); err != nil {
		t.Fatal(err)
	}

	// Kill gandalf right after the last acknowledgement: no clean shutdown.
	gandalf.cmd.Process.Signal(syscall.SIGKILL)
	<-gandalf.done
	waitNames(t, "127.0.0.1:"+port, 1) // its name is free again

	gandalf = startGsh(t, nil, args...)
	gandalf.send(`kvs.start()`)
	gandalf.expect("true")
	for i := range n {
		gandalf.send(fmt.Sprintf(`kvs.lookup(%d)`, i))
	}
	for i := range n {
		gandalf.expect(fmt.Sprintf("value-%d-end", i))
	}
	gandalf.send(fmt.Sprintf(`kvs.lookup(%d)`, n))
	gandalf.expect("undefined")
	// And over the wire, from the node that stored them.
	bilbo.send(fmt.Sprintf(`rpc.call(%s, "kvs", "lookup", %d)`, g, n-1))
	bilbo.expect(fmt.Sprintf("value-%d-end", n-1))
}

// writeTestPKI writes a CA and a certificate and key for each node named,
// valid for 127.0.0.1, into dir: ca.pem, NAME.pem and NAME.key.
func writeTestPKI(t *testing.T, dir string, names ...string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "gsh e2e CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte, mode os.FileMode) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", "CERTIFICATE", caDER, 0o644)
	for i, name := range names {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(int64(i + 2)),
			Subject:      pkix.Name{CommonName: name},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		write(name+".pem", "CERTIFICATE", der, 0o644)
		write(name+".key", "EC PRIVATE KEY", kder, 0o600)
	}
}

// TestTLSNodes: two nodes with -tls_* flags link; a node without TLS
// gets pang from them, and they from it, with the reason logged.
func TestTLSNodes(t *testing.T) {
	_, port := privateMapper(t)
	host := cluster.ShortHostname()
	dir := t.TempDir()
	writeTestPKI(t, dir, "gandalf", "bilbo")
	env := []string{"GSH_COOKIE=abc"}
	common := []string{"-epmd_port", port, "-addr", "127.0.0.1"}
	tlsFlags := func(name string) []string {
		return []string{"-tls_cert", filepath.Join(dir, name+".pem"), "-tls_key", filepath.Join(dir, name+".key"), "-tls_ca", filepath.Join(dir, "ca.pem")}
	}
	gandalf := startGsh(t, env, append(append([]string{"-sname", "gandalf"}, common...), tlsFlags("gandalf")...)...)
	bilbo := startGsh(t, env, append(append([]string{"-sname", "bilbo"}, common...), tlsFlags("bilbo")...)...)
	frodo := startGsh(t, env, append([]string{"-sname", "frodo"}, common...)...)
	g, b, f := `"gandalf@`+host+`"`, `"bilbo@`+host+`"`, `"frodo@`+host+`"`
	gandalf.send("node()")
	gandalf.expect("gandalf@" + host)

	bilbo.send(`net_adm.ping(` + g + `)`)
	bilbo.expect("pong")
	bilbo.send(`rpc.call(` + g + `, "erlang", "node")`)
	bilbo.expect("gandalf@" + host)

	// frodo, without TLS, is refused by gandalf, which says why.
	mark := frodo.mark
	frodo.send(`net_adm.ping(` + g + `)`)
	frodo.expect("pang")
	frodo.expectSince(mark, "accepts TLS links only")
	frodo.expectSince(mark, "links over TLS need -tls_cert, -tls_key and -tls_ca on both nodes")
	gandalf.expect("without TLS")
	gandalf.expect("links over TLS need -tls_cert, -tls_key and -tls_ca on both nodes")

	// gandalf, with TLS, cannot reach frodo either.
	mark = gandalf.mark
	gandalf.send(`net_adm.ping(` + f + `)`)
	gandalf.expect("pang")
	gandalf.expectSince(mark, "TLS handshake failed")
	frodo.expect("not a gsh handshake")

	// The TLS link is still there, both ways.
	gandalf.send(`nodes()`)
	gandalf.expect("bilbo@" + host)
	gandalf.send(`net_adm.ping(` + b + `)`)
	gandalf.expect("pong")
	bilbo.send(`net_adm.ping(` + g + `)`)
	bilbo.expect("pong")
	frodo.send(`nodes()`)
	frodo.expect("[]")
}
