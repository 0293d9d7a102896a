package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHTTPAuth(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pw"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := "connections:\n  - {name: a, source: {type: entra}, target: {type: scim}}\nhttp:\n  listen: 127.0.0.1:8080\n"
	cfg, err := Parse(filepath.Join(dir, "idsync.yaml"), []byte(base+"  auth: {username: admin, password_file: pw}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if a := cfg.HTTP.Auth; a.Username != "admin" || a.Password() != "s3cret" || a.PasswordFile != filepath.Join(dir, "pw") {
		t.Fatalf("auth %+v (password %q)", a, a.Password())
	}
	for _, tc := range []struct{ auth, want string }{
		{"  auth: {password_file: pw}\n", "http.auth.username: required"},
		{"  auth: {username: admin}\n", "http.auth.password_file: required"},
		{"  auth: {username: admin, password_file: missing}\n", "no such file"},
		{"  auth: {username: admin, password_file: pw, password: x}\n", "unknown key"},
	} {
		_, err := Parse(filepath.Join(dir, "idsync.yaml"), []byte(base+tc.auth), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", strings.TrimSpace(tc.auth), err, tc.want)
		}
	}
	// Reading the state needs no password.
	if _, err := ParseForReading(filepath.Join(dir, "idsync.yaml"), []byte(base+"  auth: {username: admin, password_file: missing}\n"), nil); err != nil {
		t.Fatalf("ParseForReading: %v", err)
	}
}
