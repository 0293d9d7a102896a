package scim

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The identity providers' own conformance suites, replayed against the
// handler. Every assertion passes or is listed, with its reason, in
// testdata/expected-failures.txt; a listed one that passes fails the test
// too, so the list stays honest.

// conformanceDir holds the suites, copied into the repository once (one
// copy for this test and the daemon's in cmd/idsync).
func conformanceDir(t *testing.T) string {
	dir := filepath.Join("..", "..", "cmd", "idsync", "testdata", "conformance")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("conformance suites not found at %s: %v", dir, err)
	}
	return dir
}

// expectedFailures reads "suite | request | assertion | why" lines; an
// assertion of "*" covers every assertion of the request.
func expectedFailures(t *testing.T, suite string) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "expected-failures.txt"))
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
		parts := strings.SplitN(line, "|", 4)
		if len(parts) != 4 || strings.TrimSpace(parts[3]) == "" {
			t.Fatalf("expected-failures.txt: %q is not \"suite | request | assertion | why\"", line)
		}
		if strings.TrimSpace(parts[0]) == suite {
			out[strings.TrimSpace(parts[1])+" | "+strings.TrimSpace(parts[2])] = strings.TrimSpace(parts[3])
		}
	}
	return out
}

// verdicts checks results against the expected failures.
type verdicts struct {
	t        *testing.T
	expected map[string]string
	seen     map[string]bool
	passed   int
}

func (v *verdicts) record(request, assertion string, ok bool, detail string) {
	v.t.Helper()
	key, any := request+" | "+assertion, request+" | *"
	_, exp := v.expected[key]
	if !exp {
		_, exp = v.expected[any]
		key = any
	}
	if exp {
		v.seen[key] = true
	}
	switch {
	case ok && exp && key != any:
		v.t.Errorf("%s: passes now; take it off expected-failures.txt", key)
	case ok:
		v.passed++
	case !exp:
		v.t.Errorf("%s | %s: failed: %s", request, assertion, detail)
	}
}

func (v *verdicts) done() {
	for k := range v.expected {
		if !v.seen[k] {
			v.t.Errorf("expected failure %q did not occur (renamed or fixed?); update expected-failures.txt", k)
		}
	}
	v.t.Logf("%d assertions passed, %d listed as expected failures", v.passed, len(v.expected))
}

type rsStep struct {
	StepType   string              `json:"step_type"`
	Note       string              `json:"note"`
	Method     string              `json:"method"`
	URL        string              `json:"url"`
	Headers    map[string][]string `json:"headers"`
	Body       string              `json:"body"`
	Assertions []struct {
		Comparison string  `json:"comparison"`
		Source     string  `json:"source"`
		Property   string  `json:"property"`
		Value      *string `json:"value"`
	} `json:"assertions"`
	Variables []struct {
		Name, Source, Property string
	} `json:"variables"`
	Scripts []string `json:"scripts"`
}

// TestOktaSpecTest replays Okta's SCIM 2.0 spec test (a Runscope export)
// with the variables its initial script sets.
func TestOktaSpecTest(t *testing.T) {
	dir := conformanceDir(t)
	raw, err := os.ReadFile(filepath.Join(dir, "okta-scim-20-spec-test.json"))
	if err != nil {
		t.Fatal(err)
	}
	var suite struct{ Steps []rsStep }
	if err := json.Unmarshal(raw, &suite); err != nil {
		t.Fatal(err)
	}
	c := newTClient(t)
	// "it needs one existing user before it starts"
	c.must(201, "POST", "/Users", `{"userName":"existing@atko.com","active":true,"name":{"givenName":"Existing","familyName":"User"},"emails":[{"value":"existing@atko.com","type":"work","primary":true}]}`)

	// The initial script's variables.
	digits := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteByte(byte('0' + rand.IntN(10)))
		}
		return b.String()
	}
	first := "Runscope" + digits(3)
	letters := func(from byte, n int) string {
		var b strings.Builder
		for range n {
			b.WriteByte(from + byte(rand.IntN(26)))
		}
		return b.String()
	}
	last := letters('A', 1) + letters('a', 8) + digits(3)
	email := first + last + "@atko.com"
	vars := map[string]string{
		"SCIMBaseURL": c.srv.URL + "/scim/v2/acme", "auth": "Bearer conformance",
		"randomGivenName": first, "randomFamilyName": last, "randomEmail": email, "randomUsername": email,
		"InvalidUserEmail": "abcdefgh@atko.com", "UserIdThatDoesNotExist": "010101001010101011001010101011",
		"randomUsernameCaps": strings.ToUpper(email),
	}
	subst := regexp.MustCompile(`\{\{(\w+)\}\}`)
	expand := func(s string) string {
		return subst.ReplaceAllStringFunc(s, func(m string) string {
			if v, ok := vars[m[2:len(m)-2]]; ok {
				return v
			}
			return m
		})
	}

	v := &verdicts{t: t, expected: expectedFailures(t, "okta"), seen: map[string]bool{}}
	for _, st := range suite.Steps {
		if st.StepType != "request" {
			continue // pauses
		}
		u := expand(st.URL)
		u = strings.NewReplacer(" ", "%20", `"`, "%22").Replace(u)
		var body io.Reader
		if st.Body != "" {
			body = strings.NewReader(expand(st.Body))
		}
		req, err := http.NewRequest(st.Method, u, body)
		if err != nil {
			t.Fatalf("%s: %v", st.Note, err)
		}
		for k, vs := range st.Headers {
			for _, hv := range vs {
				req.Header.Add(k, expand(hv))
			}
		}
		res, err := c.srv.Client().Do(req)
		if err != nil {
			t.Fatalf("%s: %v", st.Note, err)
		}
		rb, _ := io.ReadAll(res.Body)
		res.Body.Close()
		var doc any
		_ = json.Unmarshal(rb, &doc)
		name := expand(st.Note)
		for _, a := range st.Assertions {
			want := ""
			if a.Value != nil {
				want = expand(*a.Value)
			}
			desc := strings.TrimSpace(a.Source + " " + a.Property + " " + a.Comparison + " " + want)
			var got any
			switch a.Source {
			case "response_status":
				got = float64(res.StatusCode)
			case "response_json":
				got = jsPath(doc, a.Property)
			case "response_time":
				// Wall-clock time is not asserted here.
				v.record(name, desc, false, "not measured")
				continue
			}
			ok := runscopeCompare(a.Comparison, got, want)
			v.record(name, desc, ok, fmt.Sprintf("got %v (status %d, body %s)", got, res.StatusCode, rb))
		}
		for _, va := range st.Variables {
			if s, ok := jsPath(doc, va.Property).(string); ok {
				vars[va.Name] = s
			}
		}
		if len(st.Scripts) > 0 && strings.TrimSpace(st.Scripts[0]) != "" {
			// The Groups step's script: an empty list, or Resources an array.
			m, _ := doc.(map[string]any)
			_, isArr := m["Resources"].([]any)
			v.record(name, "script Resources is an array", isArr || m["totalResults"] == float64(0), string(rb))
		}
	}
	v.done()
}

var jsIndex = regexp.MustCompile(`^(\w+)\[(\d+)\]$`)

// jsPath evaluates a Runscope property like "Resources[0].name.familyName".
func jsPath(v any, path string) any {
	for _, p := range strings.Split(path, ".") {
		idx := -1
		if m := jsIndex.FindStringSubmatch(p); m != nil {
			p = m[1]
			idx, _ = strconv.Atoi(m[2])
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = obj[p]
		if idx >= 0 {
			arr, ok := v.([]any)
			if !ok || idx >= len(arr) {
				return nil
			}
			v = arr[idx]
		}
	}
	return v
}

// runscopeCompare implements the comparisons the Okta suite uses, with
// JavaScript's loose string forms ("true" equals true, "0" equals 0).
func runscopeCompare(cmp string, got any, want string) bool {
	str := func(v any) string {
		switch x := v.(type) {
		case nil:
			return ""
		case string:
			return x
		case float64:
			return strconv.FormatFloat(x, 'f', -1, 64)
		case bool:
			return strconv.FormatBool(x)
		}
		b, _ := json.Marshal(v)
		return string(b)
	}
	switch cmp {
	case "equal", "equal_number":
		return got != nil && str(got) == want
	case "not_empty":
		switch x := got.(type) {
		case nil:
			return false
		case string:
			return x != ""
		case []any:
			return len(x) > 0
		case map[string]any:
			return len(x) > 0
		}
		return true
	case "is_a_number":
		_, ok := got.(float64)
		return ok
	case "has_value", "contains":
		if arr, ok := got.([]any); ok {
			for _, e := range arr {
				if str(e) == want {
					return true
				}
			}
			return false
		}
		return strings.Contains(str(got), want)
	}
	return false
}
