package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/idsync/idsync/config"
)

func configCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Check or print the configuration"}
	cmd.AddCommand(&cobra.Command{
		Use:   "check",
		Short: "Validate the configuration file and print every problem with its field path and line",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			path := configPath(g.config)
			cfg, err := config.Load(path)
			var probs config.Problems
			if err != nil && !errors.As(err, &probs) {
				return err
			}
			if cfg != nil {
				// Also decode and open every backend block (no network is used).
				for _, cc := range cfg.Connections {
					if cc.Source.Type == "" || cc.Target.Type == "" {
						continue // already reported
					}
					if _, err := connection(cmd.Context(), cc); err != nil {
						var ps config.Problems
						if !errors.As(err, &ps) {
							return err
						}
						probs = append(probs, ps...)
					}
				}
			}
			if cfg != nil {
				for _, w := range cfg.Warnings {
					fmt.Fprintf(g.stderr, "idsync: warning: %s\n", w)
				}
			}
			if len(probs) > 0 {
				return probs.Sorted()
			}
			fmt.Fprintf(g.stdout, "%s: ok (%d connections)\n", path, len(cfg.Connections))
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "example",
		Short: "Print an annotated example configuration",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := g.stdout.Write(config.Example)
			return err
		},
	})
	return cmd
}
