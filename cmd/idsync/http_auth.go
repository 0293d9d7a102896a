package main

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"strings"

	"github.com/idsync/idsync/config"
)

// openPaths are served without http.auth: the probes (a load balancer or
// systemd has no password), and the endpoints that authenticate their
// callers themselves (the SCIM push listener's bearer tokens: a request
// carries one Authorization header; change notifications check their
// clientState or hook secret). A feature mounted on the listener
// that authenticates its own callers adds its prefix here.
var openPaths = []string{"/healthz", "/readyz", "/scim/", "/notify/"}

func isOpenPath(p string) bool {
	for _, o := range openPaths {
		if p == o || (strings.HasSuffix(o, "/") && strings.HasPrefix(p, o)) {
			return true
		}
	}
	return false
}

// withAuth puts http.auth (basic auth) in front of h: the status page,
// /metrics and everything else the listener serves but openPaths. The
// configuration is the daemon's current one, so a reload that sets or
// changes the password takes effect at once. Without http.auth on an
// address other machines can reach, it warns that the page is open.
func withAuth(a *app, d daemonHTTP, h http.Handler) http.Handler {
	current := d.app
	if current == nil {
		current = func() *app { return a }
	}
	if a.cfg.HTTP.Auth == nil && !loopbackListen(a.cfg.HTTP.Listen) {
		a.log.Warn("http.listen is reachable from other machines and http.auth is not set: anyone who reaches it can read the status page; set http.auth or bind 127.0.0.1",
			"listen", a.cfg.HTTP.Listen)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := current().cfg.HTTP.Auth
		if auth == nil || isOpenPath(r.URL.Path) {
			h.ServeHTTP(w, r)
			return
		}
		user, pass, ok := r.BasicAuth()
		if !ok || !authorized(auth, user, pass) {
			w.Header().Set("WWW-Authenticate", `Basic realm="idsync", charset="UTF-8"`)
			http.Error(w, "authentication required (http.auth)", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// authorized compares the credentials in constant time: digests of equal
// length, both compared whatever the first gave.
func authorized(auth *config.HTTPAuth, user, pass string) bool {
	u1, u2 := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(auth.Username))
	p1, p2 := sha256.Sum256([]byte(pass)), sha256.Sum256([]byte(auth.Password()))
	okUser := subtle.ConstantTimeCompare(u1[:], u2[:])
	okPass := subtle.ConstantTimeCompare(p1[:], p2[:])
	return okUser&okPass == 1 && auth.Password() != ""
}

// loopbackListen reports whether host:port only takes connections from
// this machine.
func loopbackListen(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
