package config

import (
	"os"
	"path/filepath"
	"strings"
)

// HTTPAuth puts HTTP basic auth in front of the listener: the status page
// and whatever else it serves, except /healthz, /readyz and the endpoints
// that authenticate their callers themselves.
//
//	http:
//	  listen: 127.0.0.1:8080
//	  auth: {username: admin, password_file: /etc/idsync/status-password}
type HTTPAuth struct {
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"` // read at load, one trailing newline removed
	password     string
}

// Password is the password read from PasswordFile ("" for a
// configuration loaded for reading only).
func (a *HTTPAuth) Password() string { return a.password }

// httpAuth checks http.auth and reads its password file.
func (p *parser) httpAuth(h *HTTP) {
	a := h.Auth
	if a == nil {
		return
	}
	if a.Username == "" {
		p.at("http.auth.username", "required with http.auth")
	} else if strings.Contains(a.Username, ":") {
		p.at("http.auth.username", "must not contain ':' (HTTP basic auth cannot carry it)")
	}
	if h.Listen == "" {
		p.at("http.listen", "required with http.auth")
	}
	if a.PasswordFile == "" {
		p.at("http.auth.password_file", "required with http.auth: a file holding the password")
		return
	}
	if !filepath.IsAbs(a.PasswordFile) {
		a.PasswordFile = filepath.Join(p.doc.dir, a.PasswordFile)
	}
	if p.readOnly {
		return
	}
	data, err := os.ReadFile(a.PasswordFile)
	if err != nil {
		p.at("http.auth.password_file", "%s", p.doc.scrub(err.Error()))
		return
	}
	p.warnIfReadable("http.auth.password_file", p.nodes["http.auth.password_file"], a.PasswordFile)
	pw := string(data)
	if s, ok := strings.CutSuffix(pw, "\n"); ok {
		pw = strings.TrimSuffix(s, "\r")
	}
	if pw == "" {
		p.at("http.auth.password_file", "the file is empty: write the password in it")
		return
	}
	a.password = pw
}
