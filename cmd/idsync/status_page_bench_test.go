package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/config"
	"github.com/idsync/idsync/state"
)

// BenchmarkStatusPage reads and renders the page of a connection with 60
// runs of 2,000 ops each (a log of 120,000 events) and a held plan of
// 1,000 disables (500 listed).
//
//	go test ./cmd/idsync -run '^$' -bench StatusPage -benchtime 20x
func BenchmarkStatusPage(b *testing.B) {
	ctx := context.Background()
	st, err := state.Open(ctx, b.TempDir()+"/idsync.db")
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	kinds := []idsync.OpKind{idsync.OpCreate, idsync.OpUpdate, idsync.OpSetRole, idsync.OpDisable}
	var last int64
	for r := range 60 {
		if err := st.Update(ctx, func(tx *state.Tx) error {
			id, err := tx.StartRun("acme", "incremental")
			if err != nil {
				return err
			}
			last = id
			for i := range 2000 {
				if err := tx.AddEvent(state.Event{RunID: id, Connection: "acme", Kind: string(kinds[(i+r)%len(kinds)]), ObjectID: fmt.Sprint(i),
					Name: fmt.Sprintf("user%d@acme.test", i), Result: "applied"}); err != nil {
					return err
				}
			}
			return tx.FinishRun(state.Run{ID: id, Result: state.RunOK, Planned: 2000, Applied: 2000})
		}); err != nil {
			b.Fatal(err)
		}
	}
	var plan idsync.Plan
	for i := range 1000 {
		plan.Ops = append(plan.Ops, idsync.Op{Kind: idsync.OpDisable, ObjectID: fmt.Sprint(i),
			Account: &idsync.Account{UserName: fmt.Sprintf("user%d@acme.test", i)}, Reason: "account disabled in Entra"})
	}
	if err := st.Update(ctx, func(tx *state.Tx) error {
		return tx.Hold("acme", last, "1000 deletes and disables exceed safety.max_deletes (25)", plan)
	}); err != nil {
		b.Fatal(err)
	}
	a := &app{cfg: &config.Config{Connections: []config.Connection{{Name: "acme", Schedule: "@every 5m", FullResync: "@weekly",
		Source: config.Backend{Type: "entra"}, Target: config.Backend{Type: "scim"}}}}, store: st, log: slog.New(slog.DiscardHandler),
		file: configFile{Path: "/etc/idsync/idsync.yaml"}}
	size := 0
	b.ResetTimer()
	for b.Loop() {
		data, err := readStatusPage(ctx, a, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		w := &countWriter{}
		if err := statusPageTmpl.Execute(w, data); err != nil {
			b.Fatal(err)
		}
		size = w.n
	}
	b.ReportMetric(float64(size), "bytes/page")
}

type countWriter struct{ n int }

func (w *countWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

var _ io.Writer = (*countWriter)(nil)
