package okta_test

import (
	"bytes"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/idsync/idsync/sources/okta"
)

// The source block of DESIGN.md's example decodes into Config with unknown
// keys rejected, the way the config loader reads it.
func TestConfigYAML(t *testing.T) {
	doc := `
org_url: https://globex.okta.com
token: 00secret
ca_file: /etc/ssl/corp.pem
scope:
  groups: [Engineering]
  app_id: 0oa1whale
role_attribute: whaleRole
rate_headroom: 30
lag: 5m
`
	var c okta.Config
	dec := yaml.NewDecoder(bytes.NewBufferString(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if c.OrgURL != "https://globex.okta.com" || c.Token != "00secret" || c.Scope.AppID != "0oa1whale" ||
		c.Scope.Groups[0] != "Engineering" || c.RoleAttribute != "whaleRole" || c.RateHeadroom != 30 || c.Lag != 5*time.Minute {
		t.Errorf("decoded %+v", c)
	}
	var o okta.Config
	oauth := "org_url: https://globex.okta.com\noauth: {client_id: 0oa1, private_key_file: /k.pem, key_id: kid1, scopes: [okta.users.read]}\n"
	if err := yaml.Unmarshal([]byte(oauth), &o); err != nil || o.OAuth == nil || o.OAuth.PrivateKeyFile != "/k.pem" || o.OAuth.KeyID != "kid1" {
		t.Errorf("oauth: %v %+v", err, o.OAuth)
	}
	if s := c.String(); bytes.Contains([]byte(s), []byte("00secret")) {
		t.Errorf("String() shows the token: %s", s)
	}
}
