// Package entra reads Microsoft Entra ID through Microsoft Graph delta
// queries (msgraph-sdk-go with azidentity).
//
// A connection's source block:
//
//	source:
//	  type: entra
//	  tenant_id: 11111111-2222-3333-4444-555555555555
//	  client_id: 66666666-7777-8888-9999-000000000000
//	  client_secret: ${ACME_GRAPH_SECRET}   # or client_secret_file, or:
//	  # certificate_file: /etc/idsync/acme.pem   # PEM or PKCS#12 with the private key
//	  # certificate_password: ${ACME_CERT_PASSWORD}
//	  graph_url: https://graph.microsoft.com/v1.0        # default
//	  authority_url: https://login.microsoftonline.com/  # default
//	  ca_file: ""                                        # extra PEM roots for both
//	  timeout: 5m                                        # per request, answer included
//	  scope:
//	    groups: ["Whale Users"]
//	    app_id: ""
//
// The app registration needs the application permissions User.Read.All and
// GroupMember.Read.All, plus Application.Read.All when scope.app_id is set,
// with admin consent.
package entra

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/idsync/idsync/sources"
)

// Defaults of the global Azure cloud. US Government: graph_url
// https://graph.microsoft.us/v1.0, authority_url
// https://login.microsoftonline.us/; China (21Vianet): graph_url
// https://microsoftgraph.chinacloudapi.cn/v1.0, authority_url
// https://login.chinacloudapi.cn/.
const (
	DefaultGraphURL     = "https://graph.microsoft.com/v1.0"
	DefaultAuthorityURL = "https://login.microsoftonline.com/"
)

// Config is the source block of an entra connection.
type Config struct {
	TenantID            string        `yaml:"tenant_id"`
	ClientID            string        `yaml:"client_id"`
	ClientSecret        string        `yaml:"client_secret"`
	CertificateFile     string        `yaml:"certificate_file"`
	CertificatePassword string        `yaml:"certificate_password"`
	GraphURL            string        `yaml:"graph_url"`
	AuthorityURL        string        `yaml:"authority_url"`
	CAFile              string        `yaml:"ca_file"`
	Scope               sources.Scope `yaml:"scope"`
	// Timeout bounds each request to Graph or the authority, reading the
	// whole answer included (default 5m, httppolicy.DefaultTimeout): a
	// server that stops or trickles its answer fails the pull instead of
	// holding it.
	Timeout time.Duration `yaml:"timeout"`

	// HTTPClient's Transport, when set, carries every request (token and
	// Graph) under idsync's HTTP policy; ca_file then requires it to be an
	// *http.Transport.
	HTTPClient *http.Client `yaml:"-"`
}

// String describes c without its secrets.
func (c Config) String() string {
	cred := "client_secret"
	if c.CertificateFile != "" {
		cred = "certificate_file=" + c.CertificateFile
	}
	return fmt.Sprintf("entra{tenant_id=%s client_id=%s %s graph_url=%s}", c.TenantID, c.ClientID, cred, c.GraphURL)
}

// GoString keeps %#v from printing secrets too.
func (c Config) GoString() string { return c.String() }

// validate fills defaults and reports the first problem, naming the field.
func (c *Config) validate() error {
	if c.GraphURL == "" {
		c.GraphURL = DefaultGraphURL
	}
	if c.AuthorityURL == "" {
		c.AuthorityURL = DefaultAuthorityURL
	}
	c.GraphURL = strings.TrimRight(c.GraphURL, "/")
	if !strings.HasSuffix(c.AuthorityURL, "/") {
		c.AuthorityURL += "/"
	}
	switch {
	case c.TenantID == "":
		return fmt.Errorf("tenant_id: required (the directory (tenant) id of the app registration)")
	case !validTenant(c.TenantID):
		return fmt.Errorf("tenant_id: %q is not a tenant id or domain", c.TenantID)
	case c.ClientID == "":
		return fmt.Errorf("client_id: required (the application (client) id)")
	case c.ClientSecret == "" && c.CertificateFile == "":
		return fmt.Errorf("client_secret: required unless certificate_file is set")
	case c.ClientSecret != "" && c.CertificateFile != "":
		return fmt.Errorf("certificate_file: set either client_secret or certificate_file, not both")
	case c.CertificatePassword != "" && c.CertificateFile == "":
		return fmt.Errorf("certificate_password: only used with certificate_file")
	case c.Timeout < 0:
		return fmt.Errorf("timeout: must be positive (default 5m)")
	case c.Scope.AppID != "" && !guidRE.MatchString(c.Scope.AppID):
		return fmt.Errorf("scope.app_id: %q is not an application (client) id", c.Scope.AppID)
	}
	for _, f := range []struct{ name, v string }{{"graph_url", c.GraphURL}, {"authority_url", c.AuthorityURL}} {
		u, err := url.Parse(f.v)
		if err != nil || u.Host == "" || u.Scheme != "https" || u.RawQuery != "" || u.User != nil {
			// Tokens go to both; azidentity and the Graph auth provider
			// refuse plain http anyway, so say it here with the field name.
			// A password written in the URL is not repeated.
			shown := f.v
			if err == nil {
				shown = u.Redacted()
			}
			return fmt.Errorf("%s: must be an https URL without query or user:password@, got %q", f.name, shown)
		}
	}
	if c.HTTPClient != nil && c.HTTPClient.Transport != nil && c.CAFile != "" {
		if _, ok := c.HTTPClient.Transport.(*http.Transport); !ok {
			return fmt.Errorf("ca_file: cannot be added to a custom HTTP transport")
		}
	}
	return nil
}

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func validTenant(t string) bool {
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}
