package entra

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	abs "github.com/microsoft/kiota-abstractions-go"
	khttp "github.com/microsoft/kiota-http-go"
	jsonserialization "github.com/microsoft/kiota-serialization-json-go"
	core "github.com/microsoftgraph/msgraph-sdk-go-core"
	coreauth "github.com/microsoftgraph/msgraph-sdk-go-core/authentication"

	"github.com/idsync/idsync/internal/httppolicy"
	"github.com/idsync/idsync/sources"
)

// Source reads one Entra tenant. It is safe for one Pull at a time (the
// engine never runs two pulls of a connection at once).
type Source struct {
	cfg     Config
	adapter abs.RequestAdapter
}

var _ sources.Source = (*Source)(nil)

// Throttling policy for Graph requests (the SDK's retry handler). Graph
// answers 429 (and 503/504 when busy) with Retry-After, which the handler
// honours (the transport has already bounded it by httppolicy.MaxWait); the
// retry count and the total wait are bounded so that a tenant throttled for
// minutes fails the run (nothing applied, cursor kept) and the next
// scheduled run tries again, instead of holding the connection.
const (
	maxRetries   = 6
	retryDelay   = 2 * time.Second // first backoff when Retry-After is missing; doubles
	maxRetryWait = 2 * time.Minute // total wait across retries of one request
	// maxPage caps one Graph answer: a 999-user delta page is a few MiB.
	maxPage = 64 << 20
	// maxPageEntries caps the entries of one page: Graph's $top is at
	// most 999 and a delta or recycle-bin page holds no more than it was
	// asked for; twice that (and a margin) leaves room for a Graph that
	// pages loosely while keeping a page's decoded heap bounded.
	maxPageEntries = 2*1000 + 48
)

// Open validates cfg, fills its defaults and prepares the credential and the
// Graph client. It does not contact Entra; the first Pull does.
func Open(ctx context.Context, cfg Config) (*Source, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("entra: %w", err)
	}
	// One transport under both azidentity and Graph, with idsync's HTTP
	// policy: requests only to graph_url's and authority_url's origins,
	// redirects only within an origin, every request (body included)
	// bounded by timeout, answers capped.
	o := httppolicy.Options{
		Name: "entra", Origins: []string{cfg.GraphURL, cfg.AuthorityURL}, CAFile: cfg.CAFile,
		Timeout: cfg.Timeout, MaxBody: maxPage,
	}
	if cfg.HTTPClient != nil {
		o.Base = cfg.HTTPClient.Transport
	}
	base, err := httppolicy.NewTransport(o)
	if err != nil {
		return nil, fmt.Errorf("entra: %w", err)
	}
	cred, err := credential(cfg, base)
	if err != nil {
		return nil, fmt.Errorf("entra: %w", err)
	}
	graph, _ := url.Parse(cfg.GraphURL)
	// The auth provider only attaches tokens for its allowed hosts (and
	// silently sends none elsewhere), so the Graph host must be listed.
	auth, err := coreauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(cred,
		[]string{graph.Scheme + "://" + graph.Host + "/.default"}, []string{graph.Hostname()})
	if err != nil {
		return nil, fmt.Errorf("entra: graph_url: %w", err)
	}
	opts := core.GraphClientOptions{GraphServiceLibraryVersion: "1.89.0"}
	// No kiota RedirectHandler: it follows a redirect to any host, dropping
	// only Authorization (before v1.5.5 Cookie and Proxy-Authorization went
	// along, GO-2026-5224); the client's CheckRedirect follows redirects
	// only within the origin, as every idsync client does.
	middlewares := []khttp.Middleware{
		core.NewGraphTelemetryHandler(&opts),
		khttp.NewRetryHandlerWithOptions(khttp.RetryHandlerOptions{
			MaxRetries:   maxRetries,
			DelaySeconds: int(retryDelay / time.Second),
			// The handler checks only the time already waited; adding the
			// wait it is about to start keeps one long Retry-After from
			// holding the run past the bound.
			ShouldRetry: func(waited time.Duration, _ int, _ *http.Request, resp *http.Response) bool {
				return waited+retryAfter(resp) <= maxRetryWait
			},
		}),
		khttp.NewParametersNameDecodingHandler(),
		khttp.NewUserAgentHandler(),
	}
	client := &http.Client{
		Transport: khttp.NewCustomTransportWithParentTransport(base, middlewares...),
		// No client Timeout, which would cut retry waits short: the
		// transport bounds each attempt and ctx the whole pull.
		CheckRedirect: httppolicy.CheckRedirect,
	}
	adapter, err := core.NewGraphRequestAdapterBaseWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(
		auth, opts, jsonserialization.NewJsonParseNodeFactory(), jsonserialization.NewJsonSerializationWriterFactory(), client)
	if err != nil {
		return nil, fmt.Errorf("entra: %w", err)
	}
	adapter.SetBaseUrl(cfg.GraphURL)
	return &Source{cfg: cfg, adapter: adapter}, nil
}

// retryAfter reads Retry-After (seconds or an HTTP date); 0 when absent.
// The transport has rewritten it to whole seconds within MaxWait.
func retryAfter(resp *http.Response) time.Duration {
	d, _ := httppolicy.RetryAfter(resp.Header.Get("Retry-After"), time.Now())
	return min(d, httppolicy.MaxWait)
}

func credential(cfg Config, base http.RoundTripper) (azcore.TokenCredential, error) {
	client := azcore.ClientOptions{
		Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: cfg.AuthorityURL},
		// azidentity's policy.Transporter is satisfied by *http.Client.
		// Token requests carry the client secret or assertion in their
		// body: redirects only within the authority's origin.
		Transport: &http.Client{Transport: base, CheckRedirect: httppolicy.CheckRedirect},
		Retry:     policy.RetryOptions{MaxRetries: 2, RetryDelay: 500 * time.Millisecond},
	}
	// Instance discovery asks login.microsoftonline.com about the
	// authority; known clouds skip it anyway and a private authority
	// (emulator, air-gapped cloud) must not depend on it.
	if cfg.CertificateFile == "" {
		c, err := azidentity.NewClientSecretCredential(cfg.TenantID, cfg.ClientID, cfg.ClientSecret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: client, DisableInstanceDiscovery: true})
		if err != nil {
			return nil, fmt.Errorf("client_secret: %w", err)
		}
		return c, nil
	}
	data, err := os.ReadFile(cfg.CertificateFile)
	if err != nil {
		return nil, fmt.Errorf("certificate_file: %w", err)
	}
	var password []byte
	if cfg.CertificatePassword != "" {
		password = []byte(cfg.CertificatePassword)
	}
	certs, key, err := azidentity.ParseCertificates(data, password)
	if err != nil {
		return nil, fmt.Errorf("certificate_file: %s: %w", cfg.CertificateFile, err)
	}
	c, err := azidentity.NewClientCertificateCredential(cfg.TenantID, cfg.ClientID, certs, key,
		&azidentity.ClientCertificateCredentialOptions{ClientOptions: client, DisableInstanceDiscovery: true})
	if err != nil {
		return nil, fmt.Errorf("certificate_file: %w", err)
	}
	return c, nil
}
