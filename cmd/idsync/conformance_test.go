package main

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The Microsoft SCIM Postman collection (AzureAD/SCIMReferenceCode, the
// requests Entra's provisioning service sends, with Microsoft's assertions)
// run with newman against a live daemon. CI (.ci/run) installs newman and
// sets IDSYNC_CONFORMANCE=1; without it the test is skipped when newman is
// missing, so `go test ./...` needs nothing but Go.
const (
	msCollection       = "testdata/conformance/microsoft-scim-postman-collection.json"
	msExpectedFailures = "testdata/conformance/microsoft-expected-failures.txt"
)

// msFolders are the collection's folders and top-level requests, without
// "Get Token" (the reference implementation's own token endpoint; idsync's
// tokens come from `idsync token create`).
var msFolders = []string{"Endpoint tests", "User tests", "Group tests", "ComplexAttribute tests", "User tests with garbage",
	"Group tests with garbage", "Teardown garbage", "Get all users", "Get all groups"}

// newmanReport is the part of newman's JSON report read here.
type newmanReport struct {
	Run struct {
		Executions []struct {
			Item struct {
				Name string `json:"name"`
			} `json:"item"`
			Assertions []struct {
				Assertion string `json:"assertion"`
				Error     *struct {
					Message string `json:"message"`
				} `json:"error"`
			} `json:"assertions"`
		} `json:"executions"`
	} `json:"run"`
}

// readExpectedFailures reads "request / assertion  # why" lines.
func readExpectedFailures(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, why, ok := strings.Cut(line, "#")
		if !ok || strings.TrimSpace(why) == "" {
			t.Fatalf("%s: %q: every expected failure says why (after #)", path, line)
		}
		out[strings.TrimSpace(key)] = strings.TrimSpace(why)
	}
	return out
}

func TestMicrosoftSCIMConformance(t *testing.T) {
	newman, err := exec.LookPath("newman")
	if err != nil {
		if os.Getenv("IDSYNC_CONFORMANCE") != "" {
			t.Fatal("IDSYNC_CONFORMANCE is set but newman is not installed (npm i -g newman)")
		}
		t.Skip("newman is not installed (npm i -g newman); .ci/run installs it and runs this test")
	}
	if testing.Short() {
		t.Skip("conformance suite: not in -short")
	}
	collection, err := filepath.Abs(msCollection)
	if err != nil {
		t.Fatal(err)
	}
	p := newPushE2E(t, "", "conformance")
	p.start()
	tok := p.token("conformance")
	host, port, _ := net.SplitHostPort(p.listen)
	report := filepath.Join(p.dir, "newman.json")
	args := []string{"run", collection, "--reporters", "cli,json", "--reporter-json-export", report,
		"--env-var", "Protocol=http", "--env-var", "Server=" + host, "--env-var", "Port=:" + port,
		"--env-var", "Api=scim/v2/conformance", "--env-var", "token=" + tok, "--timeout-request", "10000"}
	for _, f := range msFolders {
		args = append(args, "--folder", f)
	}
	cmd := exec.Command(newman, args...)
	out, _ := cmd.CombinedOutput() // failed assertions make newman exit 1: the report says which
	raw, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("newman wrote no report: %v\n%s", err, out)
	}
	var rep newmanReport
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	expected := readExpectedFailures(t, msExpectedFailures)
	var failed []string
	total := 0
	for _, ex := range rep.Run.Executions {
		for _, a := range ex.Assertions {
			total++
			if a.Error == nil {
				continue
			}
			key := ex.Item.Name + " / " + a.Assertion
			failed = append(failed, key)
			if _, ok := expected[key]; !ok {
				t.Errorf("unexpected failure: %s: %s", key, a.Error.Message)
			}
		}
	}
	for key := range expected {
		if !slices.Contains(failed, key) {
			t.Errorf("expected failure now passes (remove it from %s): %s", msExpectedFailures, key)
		}
	}
	t.Logf("%d assertions, %d failed (%d expected)", total, len(failed), len(expected))
	if t.Failed() {
		t.Logf("newman:\n%s", out)
	}
}
