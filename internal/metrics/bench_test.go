package metrics_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/idsync/idsync/internal/metrics"
	"github.com/idsync/idsync/state"
)

// BenchmarkScrape gathers every metric of a daemon with 20 connections and
// 50,000 recorded runs: what one Prometheus scrape costs.
func BenchmarkScrape(b *testing.B) {
	ctx := context.Background()
	st, err := state.Open(ctx, filepath.Join(b.TempDir(), "idsync.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	var conns []string
	for i := range 20 {
		conns = append(conns, fmt.Sprintf("conn-%02d", i))
	}
	err = st.Update(ctx, func(tx *state.Tx) error {
		for i := range 50000 {
			c := conns[i%len(conns)]
			id, err := tx.StartRun(c, "incremental")
			if err != nil {
				return err
			}
			result := state.RunOK
			if i%3 == 0 {
				result = state.RunFailed
			}
			if err := tx.FinishRun(state.Run{ID: id, Result: result}); err != nil {
				return err
			}
		}
		for _, c := range conns {
			if err := tx.SaveCursor(c, "cursor", true); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	m := metrics.New(metrics.Sources{Store: st, Connections: func() []string { return conns }})
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.Registry().Gather(); err != nil {
			b.Fatal(err)
		}
	}
}
