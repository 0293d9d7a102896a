package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Secrets handed over by systemd (LoadCredential=) are read from
// ${CREDENTIALS_DIRECTORY}; the fallback the README recommends lets root run
// the CLI beside the service, and without either the problem says what
// the variable is.
func TestSecretsFromSystemdCredentials(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "idsync_whale-token"), []byte("s3cret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := `connections:
  - name: acme
    source: {type: okta, org_url: https://acme.okta.com, token: x}
    target: {type: scim, url: https://whale.example.com/scim/v2, token_file: "${CREDENTIALS_DIRECTORY:-/run/credentials/idsync.service}/idsync_whale-token"}
`
	cfg := mustParse(t, yaml, map[string]string{"CREDENTIALS_DIRECTORY": dir})
	var target struct {
		Token string `yaml:"token"`
		URL   string `yaml:"url"`
		Type  string `yaml:"type"`
	}
	if err := cfg.Connections[0].Target.Decode(&target); err != nil {
		t.Fatal(err)
	}
	if target.Token != "s3cret-token" {
		t.Fatalf("token = %q, want the credential's content", target.Token)
	}
	bare := strings.Replace(yaml, ":-/run/credentials/idsync.service", "", 1)
	got := strings.Join(problems(t, bare, nil), "\n")
	if !strings.Contains(got, "CREDENTIALS_DIRECTORY is not set: systemd sets it for the idsync service") {
		t.Fatalf("problem without CREDENTIALS_DIRECTORY:\n%s", got)
	}
}
