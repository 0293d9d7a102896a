package main

import (
	"context"
	"errors"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/config"
	"github.com/idsync/idsync/sources"
	"github.com/idsync/idsync/sync"
	"github.com/idsync/idsync/targets"
	"github.com/idsync/idsync/targets/scim"
)

// The commands that only read the state (status, log, explain, and the
// held plan approve shows) need the state path and each connection's name
// and policy, never a backend: they work with the IdP and the workspace
// unreachable and the secret and CA files unreadable or gone (as a kept
// demo's emulator CAs are). describe wires such connections: a source and
// a target that only describe themselves and refuse to be used.

// errReadOnly is what a described backend answers if anything tries to use
// it: a bug, since only read-only commands get one.
var errReadOnly = errors.New("a read-only command has no backends to use (a bug: please report it)")

// describedSource stands in for a connection's source.
type describedSource struct{}

func (describedSource) Pull(ctx context.Context, cursor string, emit func([]idsync.Change) error) (string, bool, error) {
	return "", false, errReadOnly
}

// describedTarget stands in for a connection's target: its traits (which
// shape the plan explain shows), and nothing to send to.
type describedTarget struct{ traits targets.Traits }

func (describedTarget) Apply(ctx context.Context, op idsync.Op) (idsync.Applied, error) {
	return idsync.Applied{}, errReadOnly
}

func (t describedTarget) Traits() targets.Traits { return t.traits }

var (
	_ sources.Source    = describedSource{}
	_ targets.Describer = describedTarget{}
)

// targetTraits is what a target block says about its workspace, read from
// the block alone (no file, no network).
func targetTraits(b config.Backend) targets.Traits {
	if b.Type != "scim" {
		return targets.Traits{}
	}
	var cfg scim.Config
	if err := b.Decode(&cfg); err != nil {
		return targets.Traits{}
	}
	t, _ := scim.PresetTraits(cfg.Preset)
	return t
}

// describe wires every connection of cfg on described backends.
func (a *app) describe(cfg *config.Config) {
	a.byName = map[string]*sync.Connection{}
	a.sched = map[string]sync.Schedule{}
	for _, cc := range cfg.Connections {
		c := newConnection(cc, describedSource{}, describedTarget{traits: targetTraits(cc.Target)})
		a.conns = append(a.conns, c)
		a.byName[c.Name] = c
		a.sched[c.Name] = sync.Schedule{Incremental: cc.Schedule, Full: cc.FullResync}
	}
}
