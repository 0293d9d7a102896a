package config

import (
	"net"
	"net/url"
	"strings"
	"time"
)

// Notify lets the IdP tell idsync that something changed (Microsoft Graph
// change notifications, Okta event hooks): each notification starts a
// debounced incremental run of the connection. The schedule keeps running
// as the safety net.
//
//	notify:
//	  public_url: https://idsync.example.com   # what the IdP can reach (usually a reverse proxy to http.listen)
//	  debounce: 2s                             # one follow-up run per window, however many notifications come
//
// The daemon serves the endpoints on http.listen under /notify/<connection>/
// (graph, graph/lifecycle, okta); public_url is prefixed to that path in
// what the IdP is told.
type Notify struct {
	PublicURL string
	Debounce  time.Duration
}

// DefaultNotifyDebounce is notify.debounce when it is not set.
const DefaultNotifyDebounce = 2 * time.Second

type rawNotify struct {
	PublicURL string         `yaml:"public_url"`
	Debounce  *time.Duration `yaml:"debounce"`
}

// URL is the public URL of the connection's endpoint below /notify/<conn>/,
// e.g. URL("acme", "graph") = https://idsync.example.com/notify/acme/graph.
func (n *Notify) URL(conn, endpoint string) string {
	return strings.TrimRight(n.PublicURL, "/") + "/notify/" + conn + "/" + endpoint
}

func (p *parser) notify(path string, raw *rawNotify, listen, sourceType string) *Notify {
	if raw == nil {
		return nil
	}
	if sourceType != "" && sourceType != "entra" && sourceType != "okta" {
		p.at(path, "change notifications come from entra and okta sources only, not %s", sourceType)
	}
	n := &Notify{PublicURL: raw.PublicURL, Debounce: DefaultNotifyDebounce}
	if raw.Debounce != nil {
		n.Debounce = *raw.Debounce
		if n.Debounce < 0 && !p.reported(path+".debounce") {
			p.at(path+".debounce", "must be 0 or more, such as 2s")
		}
	}
	if listen == "" {
		p.at(path, "needs http.listen: the daemon serves the notification endpoints there")
	}
	u, err := url.Parse(n.PublicURL)
	switch {
	case n.PublicURL == "":
		p.at(path+".public_url", "required: the https URL the IdP can reach (a reverse proxy to http.listen)")
	case err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "":
		p.at(path+".public_url", "must be an https URL without user, query or fragment, such as https://idsync.example.com")
	case u.Scheme == "https":
	case u.Scheme == "http" && loopbackHost(u.Hostname()):
		// Emulators and tests on this machine; the IdPs require https.
	default:
		p.at(path+".public_url", "must be https (Graph and Okta call only https endpoints); plain http only for a loopback address")
	}
	return n
}

func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
