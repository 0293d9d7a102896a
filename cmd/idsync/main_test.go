package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idsync/idsync/sources/entra/entratest"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

// binary is the idsync built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "idsync-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "idsync")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build idsync: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one idsync invocation.
type result struct {
	stdout, stderr string
	code           int
}

// e2e is an emulated Entra tenant, an emulated workspace and a config
// pointing idsync at both.
type e2e struct {
	t      *testing.T
	tenant *entratest.Server
	sample entratest.Sample
	ws     *scimtest.Server
	dir    string
	config string
}

// extra is appended to the connection block of the generated config.
func newE2E(t *testing.T, extra string) *e2e {
	t.Helper()
	e := &e2e{t: t, tenant: entratest.NewServer(), dir: t.TempDir()}
	t.Cleanup(e.tenant.Close)
	e.sample = e.tenant.LoadSample()
	e.ws = scimtest.NewServer(scimtest.Options{Token: demoToken, Preset: "generic", Strict: true, TLS: true})
	t.Cleanup(e.ws.Close)
	path, err := writeDemoConfig(e.dir, e.tenant, e.ws, "")
	if err != nil {
		t.Fatal(err)
	}
	if extra != "" {
		b, _ := os.ReadFile(path)
		b = append(b, []byte(extra)...)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e.config = path
	return e
}

// idsync runs the built binary with the test's config.
func (e *e2e) idsync(args ...string) result {
	e.t.Helper()
	return runBinary(e.t, append([]string{"--config", e.config}, args...)...)
}

func runBinary(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.CommandContext(context.Background(), binary, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run idsync: %v", err)
	}
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// must runs idsync and fails the test unless it exits with one of codes (default 0).
func (e *e2e) must(args []string, codes ...int) result {
	e.t.Helper()
	r := e.idsync(args...)
	if len(codes) == 0 {
		codes = []int{0}
	}
	for _, c := range codes {
		if r.code == c {
			return r
		}
	}
	e.t.Fatalf("idsync %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	return r
}

func (e *e2e) user(name string) string {
	return e.sample.Users[name+"@"+entratest.SampleDomain]
}

// workspace renders the workspace as "userName active role" lines.
func (e *e2e) workspace() map[string]string {
	out := map[string]string{}
	for _, u := range e.ws.Users() {
		if _, dup := out[u.UserName]; dup {
			e.t.Fatalf("duplicate account %s in the workspace", u.UserName)
		}
		out[u.UserName] = fmt.Sprintf("active=%v role=%s", u.Active, u.Role())
	}
	return out
}

func execIdsync(config string, args ...string) *exec.Cmd {
	return exec.Command(binary, append([]string{"--config", config}, args...)...)
}

func fmtGroup(g int) string { return fmt.Sprintf("Group %04d", g) }
