package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Review of issue 12 (adversarial): each test failed on the code as merged.

// A listener whose TLS key idsync cannot read (a key under /etc/ssl/private
// the DynamicUser account may not open, a file not copied yet) used to be
// found only by the listener's goroutine: the daemon logged "listening",
// said READY=1 and ran on with no listener, /metrics and the status page
// gone. It must refuse to start instead, naming http.tls.
func TestUnreadableTLSKeyStopsTheDaemonAtStart(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "missing-key.pem")
	if err := os.WriteFile(cert, []byte("not a certificate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := newE2E(t, "    schedule: \"@every 1h\"\n")
	f, err := os.OpenFile(e.config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("http:\n  listen: 127.0.0.1:0\n  tls: {cert_file: " + cert + ", key_file: " + key + "}\n")
	f.Close()
	d := e.startDaemon()
	waitFor(t, "the daemon to refuse to start", func() bool {
		select {
		case <-d.done:
			return true
		default:
			return false
		}
	})
	if d.err == nil || !strings.Contains(d.log.String(), "http.tls") {
		t.Fatalf("exit %v, want a failure naming http.tls; log:\n%s", d.err, d.log)
	}
}

// The same listener with a readable key pair serves HTTPS.
func TestTLSListenerServes(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	pk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &pk.PublicKey, pk)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(pk)
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	e := newE2E(t, "    schedule: \"@every 1h\"\n")
	f, _ := os.OpenFile(e.config, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("http:\n  listen: 127.0.0.1:0\n  tls: {cert_file: " + cert + ", key_file: " + key + "}\n")
	f.Close()
	d := e.startDaemon()
	addr := d.listenAddr(t)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("GET https://%s/healthz: %v\n%s", addr, err, d.log)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /healthz over TLS: %d", resp.StatusCode)
	}
}
