package entra

import (
	"strings"
	"testing"
)

// TestURLPasswordNotRepeated: a password written in graph_url or
// authority_url is not repeated by the error that rejects the URL.
func TestURLPasswordNotRepeated(t *testing.T) {
	for _, c := range []Config{
		{GraphURL: "https://admin:hunter2@graph.example.com/v1.0"},
		{AuthorityURL: "http://admin:hunter2@login.example.com/"},
	} {
		c.TenantID, c.ClientID, c.ClientSecret = "contoso.example", "66666666-7777-8888-9999-000000000000", "s3cret"
		err := c.validate()
		if err == nil || !strings.Contains(err.Error(), "_url: must be an https URL") || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("err = %v", err)
		}
	}
}
