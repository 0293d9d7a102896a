// Package config loads idsync's YAML configuration: the envelope (state,
// http, log, connections with schedule, scope, roles, deprovision, safety,
// groups) is decoded and validated here; each connection's `source:` and
// `target:` blocks are kept raw (Backend) for the backend chosen by `type`.
//
// Before anything is decoded, ${NAME} and ${NAME:-default} are expanded from
// the environment in every value ($$ is a literal $), and in backend blocks
// every secret key (client_secret, token, secret, certificate_password) may
// be given as <key>_file: PATH instead, read with one trailing newline
// trimmed. Unknown keys are errors. Every problem is reported at once, with
// its field path and line; secret values never appear in a message.
package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"

	"github.com/idsync/idsync/sources"
)

// DefaultPath is the configuration file used without --config or IDSYNC_CONFIG.
const DefaultPath = "idsync.yaml"

// Defaults applied by Parse.
const (
	DefaultState            = "./idsync.db"
	DefaultSchedule         = "@every 5m"
	DefaultFullResync       = "@weekly"
	DefaultMaxDeletes       = 25
	DefaultMaxDeletePercent = 10.0
	DefaultRunTimeout       = time.Hour
	// MinRunTimeout is the shortest run_timeout accepted.
	MinRunTimeout = time.Second
)

// Deprovision actions.
const (
	ActionDisable = "disable"
	ActionDelete  = "delete"
	ActionIgnore  = "ignore"
)

// Config is the whole file.
type Config struct {
	State       string // SQLite file; default ./idsync.db (relative to the working directory); or a PostgreSQL URL (state.go)
	StateOpts   StateOptions
	HTTP        HTTP
	Log         Log
	Connections []Connection
	// Warnings are things that work but should be fixed: a secret or key
	// file other users can read. Callers log them; they are not errors.
	Warnings []Problem

	inlineSecret string // path of a secret written in the file itself, if any
}

// HTTP is the optional listener (SCIM push endpoint, /metrics, /healthz).
type HTTP struct {
	Listen string    `yaml:"listen"` // host:port; "" = no listener
	TLS    *TLS      `yaml:"tls"`
	Auth   *HTTPAuth `yaml:"auth"` // basic auth for the listener (http_auth.go)
}

// TLS serves the listener over HTTPS. Relative paths are resolved against
// the config file's directory.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Log configures log/slog.
type Log struct {
	Level  string `yaml:"level"`  // debug | info | warn | error; default info
	Format string `yaml:"format"` // text | json; default text
}

// Connection ties one source to one target.
type Connection struct {
	Name       string // [a-z0-9-]+, unique
	Schedule   string // robfig/cron spec; default "@every 5m"
	FullResync string // robfig/cron spec; default "@weekly"
	// RunTimeout is each run's deadline: a run still going after it (an
	// IdP or workspace that stopped answering) is ended and recorded as
	// failed, so the next scheduled run happens. Default 1h.
	RunTimeout time.Duration
	Source     Backend
	// Scope is source.scope, parsed here for the engine; it stays in the
	// Source block too, so a backend's Config may declare it.
	Scope       sources.Scope
	Roles       Roles
	Deprovision Deprovision
	Safety      Safety
	Groups      Groups
	// Unmanaged is what to do with workspace accounts idsync does not
	// manage, found when a full read lists the workspace: report (default)
	// or disable (within the safety limits).
	Unmanaged string
	Target    Backend
	// Notify, when set, lets the IdP's change notifications start runs
	// (see notify.go); nil without a notify block.
	Notify *Notify
}

// Roles decides each in-scope user's role.
type Roles struct {
	Default string     `yaml:"default"` // role when no rule matches; may be ""
	Rules   []RoleRule `yaml:"rules"`   // first match wins
}

// RoleRule matches by exactly one of Group (name or id, transitive
// membership) or AppRole (Entra app role value / Okta app user profile value).
type RoleRule struct {
	Group   string `yaml:"group"`
	AppRole string `yaml:"app_role"`
	Role    string `yaml:"role"`
}

// Deprovision says what happens to a workspace account when its user ...
type Deprovision struct {
	Disabled    string `yaml:"disabled"`     // ... is disabled/suspended in the IdP: disable | delete | ignore
	OutOfScope  string `yaml:"out_of_scope"` // ... leaves the scope: disable | delete | ignore
	SoftDeleted string `yaml:"soft_deleted"` // ... is in Entra's recycle bin: disable | delete
	Deleted     string `yaml:"deleted"`      // ... is permanently deleted: delete | disable
}

// Safety holds a run whose deletes + disables exceed either limit.
type Safety struct {
	MaxDeletes       int     // 0 = no limit; default 25
	MaxDeletePercent float64 // of the users currently applied; 0 = no limit; default 10
}

// Groups pushes groups (with members) to the target.
type Groups struct {
	Sync    bool     `yaml:"sync"`
	Include []string `yaml:"include"` // empty with Sync = the scope's groups
}

// The envelope as written; pointers tell "absent" from an explicit zero.
type rawConfig struct {
	State       *yaml.Node      `yaml:"state"`
	HTTP        HTTP            `yaml:"http"`
	Log         Log             `yaml:"log"`
	Connections []rawConnection `yaml:"connections"`
}

type rawConnection struct {
	Name        string         `yaml:"name"`
	Schedule    string         `yaml:"schedule"`
	FullResync  string         `yaml:"full_resync"`
	RunTimeout  *time.Duration `yaml:"run_timeout"`
	Source      *yaml.Node     `yaml:"source"`
	Roles       Roles          `yaml:"roles"`
	Deprovision Deprovision    `yaml:"deprovision"`
	Safety      rawSafety      `yaml:"safety"`
	Groups      Groups         `yaml:"groups"`
	Unmanaged   string         `yaml:"unmanaged"`
	Target      *yaml.Node     `yaml:"target"`
	Notify      *rawNotify     `yaml:"notify"`
}

type rawSafety struct {
	MaxDeletes       *int     `yaml:"max_deletes"`
	MaxDeletePercent *float64 `yaml:"max_delete_percent"`
}

// Load reads and parses the file at path, expanding ${NAME} from the
// process environment.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg, err := Parse(path, data, os.LookupEnv)
	if cfg != nil {
		warnIfConfigReadable(cfg, path)
	}
	return cfg, err
}

// Parse parses data; name is the file's name for messages, and relative
// <secret>_file and other *_file paths resolve against its directory. env
// looks up variables (nil: the process environment).
//
// A non-nil error is Problems listing every problem, sorted by line. The
// Config is still returned when the file is valid YAML, so `idsync config
// check` can decode the backend blocks and report their problems in the
// same pass; anything else must not use a Config that came with an error.
func Parse(name string, data []byte, env func(string) (string, bool)) (*Config, error) {
	return parse(name, data, env, false)
}

// parse is Parse; readOnly is ParseForReading's mode.
func parse(name string, data []byte, env func(string) (string, bool), readOnly bool) (*Config, error) {
	if env == nil {
		env = os.LookupEnv
	}
	p := &parser{
		decoder: newDecoder(&document{
			file:      name,
			dir:       filepath.Dir(name),
			sensitive: map[*yaml.Node]bool{},
			renamed:   map[*yaml.Node]string{},
			expanded:  map[*yaml.Node]bool{},
		}),
		env:      env,
		readOnly: readOnly,
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Problems{p.syntaxProblem(err, data)}
	}
	// Every walk below follows aliases: a self-containing or exploding one
	// must stop here, before any of them runs.
	if !p.checkAliases(&root) {
		return nil, p.probs.err()
	}
	cfg := p.parse(&root)
	cfg.Warnings = Problems(p.warnings).Sorted()
	cfg.inlineSecret = p.inlineSecret
	return cfg, p.probs.err()
}

type parser struct {
	*decoder
	env          func(string) (string, bool)
	warnings     []Problem
	inlineSecret string // path of the first secret written in the file itself
	// readOnly: secrets are neither read nor required (ParseForReading).
	readOnly bool
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (p *parser) syntaxProblem(err error, data []byte) Problem {
	pr := Problem{File: p.doc.file, Msg: err.Error()}
	m := yamlLine.FindStringSubmatch(err.Error())
	if m == nil {
		return pr
	}
	fmt.Sscan(m[1], &pr.Line)
	pr.Msg = "invalid YAML: " + m[2]
	// A plain ${NAME} inside {...} or [...] ends at its '{': a trap the
	// YAML message does not explain.
	// yaml.v3 reports some parser errors a line early (a 0-based context
	// mark), so look at the next line too.
	lines := strings.Split(string(data), "\n")
	for _, i := range []int{pr.Line - 1, pr.Line} {
		if i >= 0 && i < len(lines) && strings.Contains(lines[i], "${") && strings.ContainsAny(lines[i], "{[") {
			pr.Msg += ` (inside {...} or [...], quote values that use ${...}: token: "${NAME}")`
			break
		}
	}
	return pr
}

func (p *parser) parse(root *yaml.Node) *Config {
	top := root
	if top.Kind == yaml.DocumentNode && len(top.Content) > 0 {
		top = top.Content[0]
	}
	p.expandEnv("", top)
	var raw rawConfig
	if top.Kind != 0 {
		_, conns := lookup(top, "connections")
		if conns = resolveAlias(conns); conns != nil && conns.Kind == yaml.SequenceNode {
			seen := map[*yaml.Node]bool{}
			for i, c := range conns.Content {
				for _, key := range []string{"source", "target"} {
					if _, b := lookup(c, key); b != nil {
						p.resolveSecrets(joinKey(joinIndex("connections", i), key), b, seen)
					}
				}
			}
		}
		p.decode("", top, reflectValue(&raw))
	}
	return p.validate(&raw, top)
}

// reported reports whether a problem was found at path already (a value
// that did not decode).
func (p *parser) reported(path string) bool {
	for _, pr := range p.probs {
		if pr.Path == path {
			return true
		}
	}
	return false
}

// line finds the line of path or, when it is absent, of its nearest
// present parent.
func (p *parser) line(path string) int {
	for {
		if n, ok := p.nodes[path]; ok {
			return n.Line
		}
		i := strings.LastIndexAny(path, ".[")
		if i <= 0 {
			return 0
		}
		path = path[:i]
	}
}

func (p *parser) at(path, format string, args ...any) {
	p.probs = append(p.probs, Problem{File: p.doc.file, Path: path, Line: p.line(path), Msg: fmt.Sprintf(format, args...)})
}

// oneOf checks an enum, filling the default when the key is absent or empty.
func (p *parser) oneOf(path string, v *string, def string, allowed ...string) {
	if *v == "" {
		*v = def
		return
	}
	for _, a := range allowed {
		if *v == a {
			return
		}
	}
	msg := "must be one of " + strings.Join(allowed, ", ")
	if p.shown(path) {
		msg += fmt.Sprintf(" (got %q)", *v)
	}
	p.at(path, "%s", msg)
}

// shown reports whether the value at path may be quoted in a message: not
// when it came from the environment or a file, which may hold secrets.
func (p *parser) shown(path string) bool {
	n := p.nodes[path]
	return n == nil || !p.doc.sensitive[n]
}

// quote quotes the value at path, or says it is not shown.
func (p *parser) quote(path, v string) string {
	if p.shown(path) {
		return fmt.Sprintf("%q", v)
	}
	return "(value from the environment, not shown)"
}

var namePattern = regexp.MustCompile(`^[a-z0-9-]+$`)

func (p *parser) validate(raw *rawConfig, top *yaml.Node) *Config {
	if top.Kind != 0 && top.Kind != yaml.MappingNode {
		// decode has reported "must be a mapping".
		return &Config{}
	}
	cfg := &Config{HTTP: raw.HTTP, Log: raw.Log}
	p.stateLocation(raw.State, cfg)
	if l := cfg.HTTP.Listen; l != "" {
		if _, _, err := net.SplitHostPort(l); err != nil {
			msg := "must be host:port such as 127.0.0.1:8080"
			if p.shown("http.listen") {
				msg += fmt.Sprintf(" (%v)", err)
			}
			p.at("http.listen", "%s", msg)
		}
	}
	if t := cfg.HTTP.TLS; t != nil {
		for _, f := range []struct {
			key string
			v   *string
		}{{"cert_file", &t.CertFile}, {"key_file", &t.KeyFile}} {
			switch {
			case *f.v == "":
				p.at("http.tls."+f.key, "required with http.tls")
			case !filepath.IsAbs(*f.v):
				*f.v = filepath.Join(p.doc.dir, *f.v)
			}
		}
		if t.KeyFile != "" {
			p.warnIfReadable("http.tls.key_file", p.nodes["http.tls.key_file"], t.KeyFile)
		}
		if cfg.HTTP.Listen == "" {
			p.at("http.listen", "required with http.tls")
		}
	}
	p.httpAuth(&cfg.HTTP)
	p.oneOf("log.level", &cfg.Log.Level, "info", "debug", "info", "warn", "error")
	p.oneOf("log.format", &cfg.Log.Format, "text", "text", "json")

	if len(raw.Connections) == 0 {
		p.at("connections", "at least one connection is required")
	}
	names := map[string]int{}
	for i, rc := range raw.Connections {
		path := joinIndex("connections", i)
		c := Connection{
			Name:        rc.Name,
			Schedule:    rc.Schedule,
			FullResync:  rc.FullResync,
			Roles:       rc.Roles,
			Deprovision: rc.Deprovision,
			Groups:      rc.Groups,
			Unmanaged:   rc.Unmanaged,
		}
		switch {
		case c.Name == "":
			p.at(path+".name", "required")
		case !namePattern.MatchString(c.Name):
			p.at(path+".name", "%s must be lower-case letters, digits and dashes ([a-z0-9-]+)", p.quote(path+".name", c.Name))
		default:
			if j, dup := names[c.Name]; dup {
				p.at(path+".name", "duplicate of connections[%d].name %s", j, p.quote(path+".name", c.Name))
			} else {
				names[c.Name] = i
			}
		}
		p.cronSpec(path+".schedule", &c.Schedule, DefaultSchedule)
		p.cronSpec(path+".full_resync", &c.FullResync, DefaultFullResync)
		c.RunTimeout = DefaultRunTimeout
		if v := rc.RunTimeout; v != nil {
			c.RunTimeout = *v
			if *v < MinRunTimeout && !p.reported(path+".run_timeout") {
				p.at(path+".run_timeout", "must be at least %s: it is each run's deadline, such as 1h", MinRunTimeout)
			}
		}

		c.Source = p.backend(path+".source", rc.Source)
		if _, scope := lookup(rc.Source, "scope"); scope != nil {
			p.decode(path+".source.scope", scope, reflectValue(&c.Scope))
		}
		c.Target = p.backend(path+".target", rc.Target)

		for j, r := range c.Roles.Rules {
			rpath := joinIndex(path+".roles.rules", j)
			if (r.Group == "") == (r.AppRole == "") {
				p.at(rpath, "set exactly one of group, app_role")
			}
			if r.Role == "" {
				p.at(rpath+".role", "required")
			}
		}

		p.oneOf(path+".unmanaged", &c.Unmanaged, "report", "report", "disable")
		dp := path + ".deprovision"
		p.oneOf(dp+".disabled", &c.Deprovision.Disabled, ActionDisable, ActionDisable, ActionDelete, ActionIgnore)
		p.oneOf(dp+".out_of_scope", &c.Deprovision.OutOfScope, ActionDisable, ActionDisable, ActionDelete, ActionIgnore)
		p.oneOf(dp+".soft_deleted", &c.Deprovision.SoftDeleted, ActionDisable, ActionDisable, ActionDelete)
		p.oneOf(dp+".deleted", &c.Deprovision.Deleted, ActionDelete, ActionDelete, ActionDisable)

		c.Safety = Safety{MaxDeletes: DefaultMaxDeletes, MaxDeletePercent: DefaultMaxDeletePercent}
		if v := rc.Safety.MaxDeletes; v != nil {
			c.Safety.MaxDeletes = *v
			if *v < 0 {
				p.at(path+".safety.max_deletes", "must be 0 (no limit) or more")
			}
		}
		if v := rc.Safety.MaxDeletePercent; v != nil {
			c.Safety.MaxDeletePercent = *v
			if *v < 0 || *v > 100 {
				p.at(path+".safety.max_delete_percent", "must be between 0 (no limit) and 100")
			}
		}
		c.Notify = p.notify(path+".notify", rc.Notify, cfg.HTTP.Listen, c.Source.Type)
		cfg.Connections = append(cfg.Connections, c)
	}
	p.checkPush(cfg)
	return cfg
}

func (p *parser) cronSpec(path string, spec *string, def string) {
	if *spec == "" {
		*spec = def
		return
	}
	if err := parseCron(*spec); err != nil {
		if !p.shown(path) {
			// robfig's error quotes the spec.
			p.at(path, "bad cron spec (from the environment, not shown)")
			return
		}
		p.at(path, "bad cron spec %q: %v", *spec, err)
	}
}

// parseCron checks spec with robfig/cron's parser, which panics on some
// inputs (a time zone with nothing after it: "TZ=UTC"): a panic is a bad
// spec like any other, never a crash of config check, sync or run.
func parseCron(spec string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New("a time zone (TZ= or CRON_TZ=) must be followed by five fields, e.g. \"CRON_TZ=UTC 0 * * * *\"")
		}
	}()
	_, err = cron.ParseStandard(spec)
	return err
}

// backend checks a source/target block and keeps it raw.
func (p *parser) backend(path string, n *yaml.Node) Backend {
	b := Backend{Path: path, doc: p.doc}
	n = resolveAlias(n)
	if isNull(n) {
		p.at(path, "required")
		return b
	}
	if n.Kind != yaml.MappingNode {
		p.problem(path, n, "must be a mapping with a type, got %s", p.describe(n))
		return b
	}
	b.block = n
	k, t := lookup(n, "type")
	switch t = resolveAlias(t); {
	case k == nil || isNull(t):
		p.problem(path+".type", n, "required")
	case t.Kind != yaml.ScalarNode:
		p.problem(path+".type", t, "must be a string, got %s", p.describe(t))
	default:
		b.Type = t.Value
		if b.Type == "" {
			p.problem(path+".type", t, "required")
		}
	}
	b.node = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
	for _, pr := range pairs(n) {
		if pr.key.Value != "type" {
			b.node.Content = append(b.node.Content, pr.key, pr.val)
		}
	}
	return b
}

// reflectValue is the settable value ptr points to.
func reflectValue(ptr any) reflect.Value { return reflect.ValueOf(ptr).Elem() }
