package config

import (
	"strings"
	"testing"
)

func TestPushConnectionNeedsTheListener(t *testing.T) {
	const conn = "connections:\n  - name: initech\n    source: {type: scim}\n    target: {type: scim}\n"
	_, err := Parse("idsync.yaml", []byte(conn), mapEnv(nil))
	if err == nil || !strings.Contains(err.Error(), "connections[0].source.type") || !strings.Contains(err.Error(), "set http.listen") {
		t.Fatalf("no listener: %v", err)
	}
	cfg, err := Parse("idsync.yaml", []byte("http: {listen: 127.0.0.1:8080}\n"+conn), mapEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Connections[0].Push() {
		t.Fatal("not a push connection")
	}
}
