package sources

// Scope selects the users a connection provisions. It sits in the config's
// source block (source.scope) because sources need it to know what to read
// (the app whose assignments matter) and the engine needs it to decide who is
// in scope.
type Scope struct {
	// Groups: users who are members, directly or through nested groups, of any
	// of these groups (names or ids).
	Groups []string `yaml:"groups" json:"groups,omitempty"`
	// AppID: users assigned to this application, directly or through a group.
	// Entra: the application (client) id; Okta: the app instance id.
	AppID string `yaml:"app_id" json:"app_id,omitempty"`
}

// All reports whether the scope selects every user of the directory.
func (s Scope) All() bool { return len(s.Groups) == 0 && s.AppID == "" }
