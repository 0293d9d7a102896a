package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
