package config

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The state's forms:
//
//	state: /var/lib/idsync/idsync.db                     # SQLite (the default, ./idsync.db)
//	state: postgres://idsync@db.example.com/idsync       # PostgreSQL
//	state:
//	  postgres:
//	    dsn_file: /run/credentials/idsync/pg             # or dsn: postgres://...; the URL may hold a password
//	    lease: 30s                                       # how long a daemon's hold on a connection lasts unrenewed
//
// Config.State is the location either way: a file path, or the PostgreSQL
// URL (a secret: print it through state.Redact).

// DefaultLease is how long a daemon's lease on a connection lasts without
// renewal (PostgreSQL state): another daemon takes the connection over
// after it, so it stays well under a schedule interval.
const DefaultLease = 30 * time.Second

// MinLease is the shortest lease accepted: renewals go every third of it.
const MinLease = 3 * time.Second

// StateOptions are the PostgreSQL state's settings (zero for SQLite).
type StateOptions struct {
	Lease time.Duration
}

type rawState struct {
	Postgres *rawPostgres `yaml:"postgres"`
}

type rawPostgres struct {
	DSN     string         `yaml:"dsn"`
	DSNFile string         `yaml:"dsn_file"`
	Lease   *time.Duration `yaml:"lease"`
}

// isPostgresURL matches state.IsPostgres (config does not import state).
func isPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// stateLocation reads the state key: a scalar (path or URL) or a mapping
// {postgres: {...}}.
func (p *parser) stateLocation(n *yaml.Node, cfg *Config) {
	n = resolveAlias(n)
	cfg.State = DefaultState
	if isNull(n) {
		return
	}
	if n.Kind == yaml.ScalarNode {
		if n.Value != "" {
			cfg.State = n.Value
		}
		if isPostgresURL(n.Value) {
			p.doc.sensitive[n] = true // it may hold a password
			cfg.StateOpts.Lease = DefaultLease
		}
		return
	}
	var rs rawState
	p.decode("state", n, reflectValue(&rs))
	if rs.Postgres == nil {
		if n.Kind == yaml.MappingNode {
			p.at("state", "must be a SQLite file path, a postgres:// URL, or {postgres: {dsn_file: PATH}}")
		}
		return
	}
	pg := rs.Postgres
	_, pn := lookup(n, "postgres")
	markAll(p.doc, pn)
	dsn := pg.DSN
	switch {
	case pg.DSN != "" && pg.DSNFile != "":
		p.at("state.postgres.dsn_file", "set either dsn or dsn_file, not both")
		return
	case pg.DSNFile != "":
		file := pg.DSNFile
		if !filepath.IsAbs(file) {
			file = filepath.Join(p.doc.dir, file)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			p.at("state.postgres.dsn_file", "%s", p.doc.scrub(err.Error()))
			return
		}
		_, fn := lookup(pn, "dsn_file")
		p.warnIfReadable("state.postgres.dsn_file", fn, file)
		dsn = strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	case pg.DSN == "":
		p.at("state.postgres", "needs dsn_file (or dsn): the database's postgres:// URL")
		return
	}
	if !isPostgresURL(dsn) {
		p.at("state.postgres", "the DSN must be a postgres:// (or postgresql://) URL, such as postgres://idsync@db.example.com/idsync?sslmode=verify-full")
		return
	}
	cfg.State = dsn
	cfg.StateOpts.Lease = DefaultLease
	if pg.Lease != nil {
		if *pg.Lease < MinLease {
			p.at("state.postgres.lease", "must be at least %s", MinLease)
			return
		}
		cfg.StateOpts.Lease = *pg.Lease
	}
}

// markAll marks every scalar under n sensitive: never quoted in messages.
func markAll(doc *document, n *yaml.Node) {
	n = resolveAlias(n)
	if n == nil {
		return
	}
	if n.Kind == yaml.ScalarNode {
		doc.sensitive[n] = true
	}
	for _, c := range n.Content {
		markAll(doc, c)
	}
}
