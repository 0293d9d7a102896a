package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/idsync/idsync/config"
	"github.com/idsync/idsync/sources"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/sync"
	"github.com/idsync/idsync/targets"
)

// app is what every subcommand starts from: the loaded config, the state
// store and the engine, with the connections wired.
type app struct {
	cfg    *config.Config
	store  *state.Store
	engine *sync.Engine
	log    *slog.Logger
	conns  []*sync.Connection
	byName map[string]*sync.Connection
	sched  map[string]sync.Schedule
	// lock is the state's write lock, held by a writer (openWriter, the
	// daemon) until close; readers have none.
	lock *state.Lock
	// borrowed: the daemon's app lent to a command sent to its control
	// socket; close leaves it open.
	borrowed bool
	// file is the configuration the daemon loaded (its start or last
	// reload); a forwarded command must come with the same one.
	file configFile
	// onClose releases what a writer on a PostgreSQL state holds (its leases).
	onClose func()
}

// configPath is --config, else IDSYNC_CONFIG, else ./idsync.yaml.
func configPath(flag string) string {
	if flag != "" {
		return flag
	}
	if p := os.Getenv("IDSYNC_CONFIG"); p != "" {
		return p
	}
	return config.DefaultPath
}

func loadConfig(path string) (*config.Config, error) {
	return loadWith(config.Load, path)
}

// loadConfigForReading is loadConfig for the read-only commands
// (config.LoadForReading: no secret is read).
func loadConfigForReading(path string) (*config.Config, error) {
	return loadWith(config.LoadForReading, path)
}

func loadWith(load func(string) (*config.Config, error), path string) (*config.Config, error) {
	cfg, err := load(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no configuration at %s: write one (`idsync config example` prints a starting point), or pass --config / set IDSYNC_CONFIG", path)
	}
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

func newLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openApp loads the config, opens the store read-only, and (wire=true)
// opens every connection's source and target. It never takes the state's
// lock and never writes the database: status, log, explain and dry runs
// run beside the writer without blocking it. Commands that write use
// openWriter. Without wire (status, log, explain) no backend is opened and
// no secret read: the connections are described (readonly.go).
func openApp(ctx context.Context, g *globals, wire bool) (*app, error) {
	load := loadConfig
	if !wire {
		load = loadConfigForReading
	}
	cfg, err := load(configPath(g.config))
	if err != nil {
		return nil, err
	}
	a, err := newApp(ctx, g, cfg, wire)
	if err != nil {
		return nil, err
	}
	if !wire {
		a.describe(cfg)
	}
	if a.store, err = state.OpenReadOnly(ctx, cfg.State); err != nil {
		return nil, err
	}
	a.engine = sync.New(a.store, a.log)
	return a, nil
}

// newApp is an app on cfg without a store.
func newApp(ctx context.Context, g *globals, cfg *config.Config, wire bool) (*app, error) {
	a := &app{cfg: cfg, log: newLogger(cfg.Log, g.stderr)}
	if g.verbose {
		a.log = newLogger(config.Log{Level: "debug", Format: cfg.Log.Format}, g.stderr)
	}
	if wire {
		if err := a.wire(ctx, cfg); err != nil {
			return nil, err
		}
	}
	// The backends' HTTP policy (internal/httppolicy) logs through the
	// default logger: a server wait it had to clamp, a Date it distrusts.
	slog.SetDefault(a.log)
	return a, nil
}

// wire opens every connection's backends. All problems are collected. The
// configuration's warnings (secret files other users can read) are logged
// here: every command that uses the secrets wires.
func (a *app) wire(ctx context.Context, cfg *config.Config) error {
	for _, w := range cfg.Warnings {
		a.log.Warn(w.Msg, "config", location(w))
	}
	var probs config.Problems
	var conns []*sync.Connection
	sched := map[string]sync.Schedule{}
	for _, cc := range cfg.Connections {
		c, err := connection(ctx, cc)
		if err != nil {
			var ps config.Problems
			if errors.As(err, &ps) {
				probs = append(probs, ps...)
				continue
			}
			return fmt.Errorf("%s: %w", cc.Name, err)
		}
		if n, ok := c.Target.(interface{ Notes() []string }); ok {
			for _, note := range n.Notes() {
				a.log.Debug(note, "connection", c.Name)
			}
		}
		conns = append(conns, c)
		sched[c.Name] = pushSchedule(c, sync.Schedule{Incremental: cc.Schedule, Full: cc.FullResync})
	}
	if len(probs) > 0 {
		return probs.Sorted()
	}
	a.conns, a.sched = conns, sched
	a.byName = map[string]*sync.Connection{}
	for _, c := range conns {
		a.byName[c.Name] = c
	}
	return nil
}

// close closes the store, then releases the lock (a writer's). A borrowed
// app stays open: it is the daemon's.
func (a *app) close() {
	if a.borrowed {
		return
	}
	if a.onClose != nil {
		a.onClose()
	}
	if a.store != nil {
		a.store.Close()
	}
	a.lock.Unlock()
}

// connection turns one config connection into an engine connection.
func connection(ctx context.Context, cc config.Connection) (*sync.Connection, error) {
	var probs config.Problems
	collect := func(err error) {
		var ps config.Problems
		if errors.As(err, &ps) {
			probs = append(probs, ps...)
		} else if err != nil {
			probs = append(probs, config.Problem{Path: cc.Name, Msg: cc.Source.Scrub(err.Error())})
		}
	}
	src, err := openSource(ctx, cc.Source)
	collect(err)
	if err == nil {
		limitMemberReads(src, cc)
	}
	tgt, err := openTarget(cc.Target)
	collect(err)
	if len(probs) > 0 {
		return nil, probs
	}
	// What the target's app does not take (role values, groups, deletes;
	// each with its vendor guide's reason) is found now, not at the first
	// op.
	conn := strings.TrimSuffix(cc.Source.Path, ".source")
	check := func(key string, err error) {
		if err != nil {
			// Scrubbed: a role or action may come from the environment.
			probs = append(probs, config.Problem{Path: conn + "." + key, Msg: cc.Target.Scrub(err.Error())})
		}
	}
	if v, ok := tgt.(interface{ ValidRole(string) error }); ok {
		check("roles.default", v.ValidRole(cc.Roles.Default))
		for i, r := range cc.Roles.Rules {
			check(fmt.Sprintf("roles.rules[%d].role", i), v.ValidRole(r.Role))
		}
	}
	if v, ok := tgt.(interface{ ValidGroupSync() error }); ok && cc.Groups.Sync {
		check("groups.sync", v.ValidGroupSync())
	}
	if v, ok := tgt.(interface{ ValidDeprovision(string) error }); ok {
		d := cc.Deprovision
		for key, action := range map[string]string{"disabled": d.Disabled, "out_of_scope": d.OutOfScope, "soft_deleted": d.SoftDeleted, "deleted": d.Deleted} {
			check("deprovision."+key, v.ValidDeprovision(action))
		}
	}
	if len(probs) > 0 {
		return nil, probs
	}
	return newConnection(cc, src, tgt), nil
}

// newConnection is the engine connection of cc on its opened (or, for
// read-only commands, described) backends.
func newConnection(cc config.Connection, src sources.Source, tgt targets.Target) *sync.Connection {
	p := sync.Policy{
		Scope:       cc.Scope,
		DefaultRole: cc.Roles.Default,
		Deprovision: sync.Deprovision{
			Disabled:    sync.Action(cc.Deprovision.Disabled),
			OutOfScope:  sync.Action(cc.Deprovision.OutOfScope),
			SoftDeleted: sync.Action(cc.Deprovision.SoftDeleted),
			Deleted:     sync.Action(cc.Deprovision.Deleted),
		},
		MaxDeletes:       cc.Safety.MaxDeletes,
		MaxDeletePercent: cc.Safety.MaxDeletePercent,
		GroupSync:        cc.Groups.Sync,
		GroupInclude:     cc.Groups.Include,
		Unmanaged:        cc.Unmanaged,
	}
	for _, r := range cc.Roles.Rules {
		p.Rules = append(p.Rules, sync.RoleRule{Group: r.Group, AppRole: r.AppRole, Role: r.Role})
	}
	// Errors raised while a run goes are scrubbed like those raised here:
	// a backend may quote a URL or tenant id from the environment.
	scrub := func(msg string) string { return cc.Target.Scrub(cc.Source.Scrub(msg)) }
	return &sync.Connection{Name: cc.Name, SourceType: cc.Source.Type, Source: src, Target: tgt, Policy: p,
		PolicyKey: targetPolicyKey(cc.Target), RunTimeout: cc.RunTimeout, Scrub: scrub}
}

// location is where a config problem or warning is: "idsync.yaml:12 connections[0].target.token_file".
func location(p config.Problem) string {
	at := p.File
	if p.Line > 0 {
		at = fmt.Sprintf("%s:%d", at, p.Line)
	}
	if p.Path != "" {
		at += " " + p.Path
	}
	return at
}

// pick returns the named connections (all when names is empty), or an error
// listing the names that do not exist.
func (a *app) pick(names []string) ([]*sync.Connection, error) {
	if len(names) == 0 {
		return a.conns, nil
	}
	var out []*sync.Connection
	for _, n := range names {
		c, ok := a.byName[n]
		if !ok {
			return nil, fmt.Errorf("no connection %q in %s (have: %s)", n, "the config", strings.Join(a.names(), ", "))
		}
		out = append(out, c)
	}
	return out, nil
}

func (a *app) names() []string {
	var out []string
	for _, c := range a.cfg.Connections {
		out = append(out, c.Name)
	}
	slices.Sort(out)
	return out
}
