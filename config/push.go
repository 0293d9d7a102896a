package config

// PushType is the source type of a push connection: the IdP (Entra's
// provisioning service, Okta's SCIM provisioning) pushes to idsync's SCIM
// listener instead of idsync reading it.
const PushType = "scim"

// Push reports whether c is a push connection, served by the daemon's
// listener at http.listen under /scim/v2/<name>/.
func (c Connection) Push() bool { return c.Source.Type == PushType }

// checkPush: a push connection is reached through the listener, so it
// needs one.
func (p *parser) checkPush(cfg *Config) {
	if cfg.HTTP.Listen != "" {
		return
	}
	for i, c := range cfg.Connections {
		if c.Push() {
			p.at(joinIndex("connections", i)+".source.type",
				"a push connection (type: scim) is served on the daemon's listener, under /scim/v2/%s/: set http.listen (e.g. 127.0.0.1:8080 behind a TLS proxy, or with http.tls)", c.Name)
		}
	}
}
