package okta_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/sources"
	"github.com/idsync/idsync/sources/okta"
	"github.com/idsync/idsync/sources/okta/oktatest"
)

func TestOpenValidates(t *testing.T) {
	keyFile := writeKey(t, rsaKey(t), "PKCS1")
	cases := []struct {
		name  string
		cfg   okta.Config
		field string // "" = valid
	}{
		{"token", okta.Config{OrgURL: "https://globex.okta.com", Token: "00abc"}, ""},
		{"trailing slash", okta.Config{OrgURL: "https://globex.okta.com/", Token: "00abc"}, ""},
		{"oauth", okta.Config{OrgURL: "https://globex.okta.com", OAuth: &okta.OAuth{ClientID: "0oa1", PrivateKeyFile: keyFile}}, ""},
		{"missing org", okta.Config{Token: "00abc"}, "org_url:"},
		{"http org", okta.Config{OrgURL: "http://globex.okta.com", Token: "00abc"}, "org_url: must be https://"},
		{"org with path", okta.Config{OrgURL: "https://globex.okta.com/api/v1", Token: "00abc"}, "org_url:"},
		{"admin domain", okta.Config{OrgURL: "https://globex-admin.okta.com", Token: "00abc"}, "org_url:"},
		{"no credentials", okta.Config{OrgURL: "https://globex.okta.com"}, "token:"},
		{"both credentials", okta.Config{OrgURL: "https://globex.okta.com", Token: "00abc", OAuth: &okta.OAuth{ClientID: "0oa1", PrivateKeyFile: keyFile}}, "token:"},
		{"token with SSWS prefix", okta.Config{OrgURL: "https://globex.okta.com", Token: "SSWS 00abc"}, "token:"},
		{"oauth without client", okta.Config{OrgURL: "https://globex.okta.com", OAuth: &okta.OAuth{PrivateKeyFile: keyFile}}, "oauth.client_id:"},
		{"oauth without key", okta.Config{OrgURL: "https://globex.okta.com", OAuth: &okta.OAuth{ClientID: "0oa1"}}, "oauth.private_key_file:"},
		{"oauth key missing", okta.Config{OrgURL: "https://globex.okta.com", OAuth: &okta.OAuth{ClientID: "0oa1", PrivateKeyFile: "/nonexistent/key.pem"}}, "oauth.private_key_file:"},
		{"oauth key not PEM", okta.Config{OrgURL: "https://globex.okta.com", OAuth: &okta.OAuth{ClientID: "0oa1", PrivateKey: "hello"}}, "oauth.private_key:"},
		{"headroom too big", okta.Config{OrgURL: "https://globex.okta.com", Token: "00abc", RateHeadroom: 95}, "rate_headroom:"},
		{"negative lag", okta.Config{OrgURL: "https://globex.okta.com", Token: "00abc", Lag: -1}, "lag:"},
		{"empty scope group", okta.Config{OrgURL: "https://globex.okta.com", Token: "00abc", Scope: sources.Scope{Groups: []string{" "}}}, "scope.groups[0]:"},
		{"ca file missing", okta.Config{OrgURL: "https://globex.okta.com", Token: "00abc", CAFile: "/nonexistent/ca.pem"}, "ca_file:"},
		{"ca file not PEM", okta.Config{OrgURL: "https://globex.okta.com", Token: "00abc", CAFile: keyFile}, "ca_file:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := okta.Open(context.Background(), tc.cfg)
			switch {
			case tc.field == "" && err != nil:
				t.Errorf("err = %v, want none", err)
			case tc.field != "" && (err == nil || !strings.Contains(err.Error(), tc.field)):
				t.Errorf("err = %v, want one naming %q", err, tc.field)
			}
			if err != nil && tc.cfg.Token != "" && strings.Contains(err.Error(), tc.cfg.Token) {
				t.Errorf("error shows the token: %v", err)
			}
		})
	}
}

func TestPullOAuth(t *testing.T) {
	cases := []struct {
		name    string
		key     any
		format  string
		trusted bool
	}{
		{"RSA PKCS#1", rsaKey(t), "PKCS1", true},
		{"RSA PKCS#8", rsaKey(t), "PKCS8", true},
		{"EC P-256", ecKey(t), "PKCS8", true},
		{"unregistered key", rsaKey(t), "PKCS1", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := oktatest.NewServer()
			defer srv.Close()
			srv.LoadSample()
			if tc.trusted {
				srv.AddOAuthClient("0oaidsync", publicKey(tc.key))
			} else {
				srv.AddOAuthClient("0oaidsync", publicKey(rsaKey(t)))
			}
			src := open(t, srv, func(c *okta.Config) {
				c.Token = ""
				c.OAuth = &okta.OAuth{ClientID: "0oaidsync", PrivateKeyFile: writeKey(t, tc.key, tc.format)}
			})
			n := 0
			_, _, err := src.Pull(context.Background(), "", func(p []idsync.Change) error { n += len(p); return nil })
			t.Logf("err = %v", err)
			switch {
			case tc.trusted && err != nil:
				t.Fatalf("Pull: %v", err)
			case tc.trusted && n == 0:
				t.Error("no changes")
			case !tc.trusted && !errors.Is(err, sources.ErrUnauthorized):
				t.Errorf("err = %v, want ErrUnauthorized", err)
			case !tc.trusted && !strings.Contains(err.Error(), "oauth.client_id"):
				t.Errorf("err = %v, want it to say what to check", err)
			}
		})
	}
}

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ecKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func publicKey(k any) any {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return &k.PublicKey
	case *ecdsa.PrivateKey:
		return &k.PublicKey
	}
	return nil
}

func writeKey(t *testing.T, k any, format string) string {
	t.Helper()
	var block *pem.Block
	if rk, ok := k.(*rsa.PrivateKey); ok && format == "PKCS1" {
		block = &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)}
	} else {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		block = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	}
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestOrgURLPasswordNotRepeated: a password written in org_url is not
// repeated by the error that rejects the URL.
func TestOrgURLPasswordNotRepeated(t *testing.T) {
	_, err := okta.Open(context.Background(), okta.Config{OrgURL: "https://admin:hunter2@globex.okta.com/api", Token: "00abc"})
	if err == nil || !strings.Contains(err.Error(), "org_url:") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err = %v", err)
	}
}
