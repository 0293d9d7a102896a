package main

import (
	"context"
	"slices"
	"strings"

	"github.com/idsync/idsync/config"
	"github.com/idsync/idsync/sources"
	"github.com/idsync/idsync/sources/entra"
	"github.com/idsync/idsync/sources/okta"
	pushscim "github.com/idsync/idsync/sources/scim"
	"github.com/idsync/idsync/targets"
	"github.com/idsync/idsync/targets/scim"
	"github.com/idsync/idsync/targets/webhook"
)

// The one place that knows every backend. Each entry decodes its block into
// the backend's own Config and opens it; errors come back as config
// Problems pointing at the field.
var (
	sourceTypes = map[string]func(ctx context.Context, b config.Backend) (sources.Source, error){
		"entra": func(ctx context.Context, b config.Backend) (sources.Source, error) {
			var cfg entra.Config
			if err := b.Decode(&cfg); err != nil {
				return nil, err
			}
			s, err := entra.Open(ctx, cfg)
			return s, b.Wrap(err)
		},
		"okta": func(ctx context.Context, b config.Backend) (sources.Source, error) {
			var cfg okta.Config
			if err := b.Decode(&cfg); err != nil {
				return nil, err
			}
			s, err := okta.Open(ctx, cfg)
			return s, b.Wrap(err)
		},
		"scim": func(ctx context.Context, b config.Backend) (sources.Source, error) {
			cfg := pushscim.DefaultConfig()
			if err := b.Decode(&cfg); err != nil {
				return nil, err
			}
			s, err := pushscim.Open(cfg)
			return s, b.Wrap(err)
		},
	}
	targetTypes = map[string]func(b config.Backend) (targets.Target, error){
		"scim": func(b config.Backend) (targets.Target, error) {
			var cfg scim.Config
			if err := b.Decode(&cfg); err != nil {
				return nil, err
			}
			t, err := scim.New(cfg)
			return t, b.Wrap(err)
		},
		"webhook": func(b config.Backend) (targets.Target, error) {
			var cfg webhook.Config
			if err := b.Decode(&cfg); err != nil {
				return nil, err
			}
			t, err := webhook.New(cfg)
			return t, b.Wrap(err)
		},
	}
)

func typeNames[V any](m map[string]V) string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// openSource builds a connection's source from its block.
func openSource(ctx context.Context, b config.Backend) (sources.Source, error) {
	open, ok := sourceTypes[b.Type]
	if !ok {
		return nil, config.Problems{b.Problemf("type", "unknown source type %q (known: %s)", b.Type, typeNames(sourceTypes))}
	}
	return open(ctx, b)
}

// openTarget builds a connection's target from its block.
func openTarget(b config.Backend) (targets.Target, error) {
	open, ok := targetTypes[b.Type]
	if !ok {
		return nil, config.Problems{b.Problemf("type", "unknown target type %q (known: %s)", b.Type, typeNames(targetTypes))}
	}
	return open(b)
}
