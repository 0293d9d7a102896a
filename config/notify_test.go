package config

import (
	"strings"
	"testing"
	"time"
)

const notifyBase = `
http: {listen: "127.0.0.1:8080"}
connections:
  - name: acme
    source: {type: entra}
    target: {type: scim}
`

func TestNotify(t *testing.T) {
	cfg := mustParse(t, notifyBase+"    notify: {public_url: \"https://idsync.example.com/\"}\n", nil)
	n := cfg.Connections[0].Notify
	if n == nil || n.Debounce != DefaultNotifyDebounce {
		t.Fatalf("notify %+v", n)
	}
	if got := n.URL("acme", "graph/lifecycle"); got != "https://idsync.example.com/notify/acme/graph/lifecycle" {
		t.Errorf("URL %s", got)
	}
	cfg = mustParse(t, notifyBase+"    notify: {public_url: \"http://127.0.0.1:9\", debounce: 500ms}\n", nil)
	if n := cfg.Connections[0].Notify; n.Debounce != 500*time.Millisecond {
		t.Errorf("debounce %s", n.Debounce)
	}
	if mustParse(t, notifyBase, nil).Connections[0].Notify != nil {
		t.Errorf("no notify block, yet Notify is set")
	}
}

func TestNotifyProblems(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"plain http", notifyBase + "    notify: {public_url: \"http://idsync.example.com\"}\n", "connections[0].notify.public_url: must be https"},
		{"missing url", notifyBase + "    notify: {debounce: 1s}\n", "connections[0].notify.public_url: required"},
		{"query", notifyBase + "    notify: {public_url: \"https://x.example/?a=b\"}\n", "without user, query or fragment"},
		{"negative debounce", notifyBase + "    notify: {public_url: \"https://x.example\", debounce: -1s}\n", "notify.debounce: must be 0 or more"},
		{"unknown key", notifyBase + "    notify: {public_url: \"https://x.example\", debounse: 1s}\n", "debounse"},
		{"push source", strings.Replace(notifyBase, "type: entra", "type: scim", 1) + "    notify: {public_url: \"https://x.example\"}\n",
			"entra and okta sources only"},
		{"no listener", strings.Replace(notifyBase, `http: {listen: "127.0.0.1:8080"}`, "", 1) + "    notify: {public_url: \"https://x.example\"}\n",
			"needs http.listen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(problems(t, tc.yaml, nil), "\n")
			if !strings.Contains(got, tc.want) {
				t.Errorf("problems:\n%s\nwant %q", got, tc.want)
			}
		})
	}
}
