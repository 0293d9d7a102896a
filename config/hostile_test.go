package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestRunTimeout(t *testing.T) {
	conn := func(extra string) string {
		return "connections:\n  - name: a\n    source: {type: okta}\n    target: {type: scim}\n" + extra
	}
	if got := mustParse(t, conn(""), nil).Connections[0].RunTimeout; got != time.Hour {
		t.Errorf("default run_timeout %s, want 1h", got)
	}
	if got := mustParse(t, conn("    run_timeout: 20m\n"), nil).Connections[0].RunTimeout; got != 20*time.Minute {
		t.Errorf("run_timeout: 20m gave %s", got)
	}
	if got := mustParse(t, conn("    run_timeout: ${T}\n"), map[string]string{"T": "90s"}).Connections[0].RunTimeout; got != 90*time.Second {
		t.Errorf("run_timeout from the environment gave %s", got)
	}
	for value, want := range map[string]string{
		"0s":    "idsync.yaml:5: connections[0].run_timeout: must be at least 1s: it is each run's deadline, such as 1h",
		"-5m":   "idsync.yaml:5: connections[0].run_timeout: must be at least 1s: it is each run's deadline, such as 1h",
		"500ms": "idsync.yaml:5: connections[0].run_timeout: must be at least 1s: it is each run's deadline, such as 1h",
		"3600":  `idsync.yaml:5: connections[0].run_timeout: must be a duration such as "30s" or "1m30s", got "3600"`,
	} {
		got := problems(t, conn("    run_timeout: "+value+"\n"), nil)
		if len(got) != 1 || got[0] != want {
			t.Errorf("run_timeout: %s:\n got %q\nwant %q", value, got, want)
		}
	}
}

// TestWorldReadableSecretFilesWarn: a secret, key or certificate file any
// user can read (a 0666 token file was accepted silently) is named in a
// warning; CA bundles are public and are not.
func TestWorldReadableSecretFilesWarn(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permission bits")
	}
	dir := t.TempDir()
	write := func(name string, mode os.FileMode) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte("secret-"+name+"\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil { // past the umask
			t.Fatal(err)
		}
		return path
	}
	write("token", 0o666)
	write("private", 0o600)
	write("okta.pem", 0o644)
	write("entra.pem", 0o640) // group read is the advised 640: no warning
	write("ca.pem", 0o644)
	write("tls.key", 0o604)
	write("tls.crt", 0o644)
	config := write("idsync.yaml", 0o644)
	if err := os.WriteFile(config, []byte(`
http:
  listen: 127.0.0.1:8443
  tls: {cert_file: tls.crt, key_file: tls.key}
connections:
  - name: a
    source:
      type: okta
      oauth: {client_id: cid, private_key_file: okta.pem}
      ca_file: ca.pem
    target: {type: scim, token_file: token, ca_file: ca.pem}
  - name: b
    source: {type: entra, certificate_file: entra.pem, client_secret_file: private}
    target: {type: webhook, secret: "${HOOK_SECRET}"}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOOK_SECRET", "from-the-environment")
	cfg, err := Load(config)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range cfg.Warnings {
		got = append(got, w.String())
	}
	want := []string{
		config + ":4: http.tls.key_file: " + filepath.Join(dir, "tls.key") + " holds a secret or a private key and other users can read it (mode 0604): chmod 600 it, or 640 with a group only idsync's user is in",
		config + ":9: connections[0].source.oauth.private_key_file: " + filepath.Join(dir, "okta.pem") + " holds a secret or a private key and other users can read it (mode 0644): chmod 600 it, or 640 with a group only idsync's user is in",
		config + ":11: connections[0].target.token_file: " + filepath.Join(dir, "token") + " holds a secret or a private key and other users can read it (mode 0666): chmod 600 it, or 640 with a group only idsync's user is in",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// A secret written in the file itself: the file is a secret file.
	if err := os.WriteFile(config, []byte("connections:\n  - name: a\n    source: {type: okta, token: inline-secret}\n    target: {type: scim}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if cfg, err = Load(config); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0].String(), config+": connections[0].source.token: this file holds a secret and other users can read it (mode 0644)") {
		t.Errorf("inline secret in a 0644 config: warnings %v", cfg.Warnings)
	}
	if err := os.Chmod(config, 0o600); err != nil {
		t.Fatal(err)
	}
	if cfg, err = Load(config); err != nil || len(cfg.Warnings) != 0 {
		t.Errorf("inline secret in a 0600 config: warnings %v, %v", cfg.Warnings, err)
	}
}

// TestBackendProblemsNeverShowEnvironmentValues: whatever a backend's
// error quotes, a value that came from the environment or a file is not
// shown: whole, quoted, or in part (the host or user:password@ of a URL).
func TestBackendProblemsNeverShowEnvironmentValues(t *testing.T) {
	const marker = "zq7MARKERx9"
	env := map[string]string{
		"URL":    "https://user:p4ss-" + marker + "@" + marker + ".example.com/scim v2",
		"TENANT": "bad tenant " + marker,
	}
	b := targetOf(t, "      type: scim\n      url: ${URL}\n      tenant: \"${TENANT}\"\n      preset: plain-preset-name\n", env)
	u := env["URL"]
	for _, err := range []error{
		fmt.Errorf("scim: url: %q is not an absolute URL", u),
		fmt.Errorf("url: host %s is not allowed", marker+".example.com"),
		fmt.Errorf("url: %w", &os.PathError{Op: "parse", Path: u, Err: errors.New("bad")}),
		fmt.Errorf("tenant: %q is not a tenant id", env["TENANT"]),
		errors.Join(errors.New("url: credentials user:p4ss-"+marker+" in the URL"), errors.New("tenant: "+env["TENANT"])),
		Problems{{Path: "x", Msg: "carried " + marker}},
	} {
		out := b.Wrap(err).Error()
		if strings.Contains(out, marker) || strings.Contains(out, "p4ss") {
			t.Errorf("%v\nbecame %q: shows the environment's value", err, out)
		}
		if !strings.Contains(out, "(values from the environment or files are not shown)") {
			t.Errorf("%q does not say that something is not shown", out)
		}
	}
	// Values written in the file are shown, and so are the words of the
	// message around a hidden value.
	if out := b.Wrap(errors.New(`preset: unknown "plain-preset-name" (one of generic, whale)`)).Error(); !strings.Contains(out, `unknown "plain-preset-name" (one of generic, whale)`) {
		t.Errorf("a value written in the file was hidden: %s", out)
	}
	if out := b.Wrap(fmt.Errorf("url: %q is not an absolute URL", u)).Error(); !strings.HasPrefix(out, `idsync.yaml:6: connections[0].target.url: "…" is not an absolute URL`) {
		t.Errorf("scrubbed message lost its place or words: %s", out)
	}
	if p := b.Problemf("type", "unknown target type %q", marker); strings.Contains(p.Msg, marker) {
		t.Errorf("Problemf shows the environment's value: %s", p)
	}
	if s := b.Scrub("must be https, got a value"); s != "must be https, got a value" {
		t.Errorf("a message sharing only short words with a hidden value was changed: %s", s)
	}
}
