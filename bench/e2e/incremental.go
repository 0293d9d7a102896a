package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// incremental syncs a tenant of o.Small users and one of o.Users for real
// (untimed, into scimtest), then times o.Rounds runs of `idsync sync`,
// each after 10 changes in the tenant that each make one op.
func (e *env) incremental(ctx context.Context) (*report, error) {
	rep := &report{IdP: e.o.IdP, Users: e.o.Users, Groups: e.o.Groups, Runs: e.o.Rounds,
		Incremental: map[int][]time.Duration{}, FullSync: map[int]time.Duration{}}
	for _, n := range []int{e.o.Small, e.o.Users} {
		if n == 0 {
			continue // -small 0: the large snapshot only
		}
		if err := e.incrementalAt(ctx, n, rep); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func (e *env) incrementalAt(ctx context.Context, users int, rep *report) error {
	groups := e.o.Groups
	e.o.Groups = max(10, e.o.Groups*users/e.o.Users) // the same shape at every size
	defer func() { e.o.Groups = groups }()
	if err := e.startEmulator(ctx, users); err != nil {
		return err
	}
	defer e.em.stop()
	ws, wsURL, err := e.startWorkspace(ctx)
	if err != nil {
		return err
	}
	defer ws.stop()
	cfg, err := e.config(wsURL)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.logw, "full sync of %d users…\n", users)
	m, err := runMeasured(exec.CommandContext(ctx, e.bin, "--config", cfg, "sync"), "")
	if err != nil {
		return err
	}
	rep.FullSync[users] = m.Wall
	out := filepath.Join(filepath.Dir(cfg), "run.json")
	for round := range e.o.Rounds {
		if _, err := e.em.ask("mutate 10"); err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, e.bin, "--config", cfg, "sync", "--output", "json")
		if e.o.Pprof != "" {
			cmd.Env = append(os.Environ(), "IDSYNC_PPROF="+filepath.Join(e.o.Pprof, fmt.Sprintf("%s-incremental-%d-%d", e.o.IdP, users, round)))
		}
		m, err := runMeasured(cmd, out)
		if err != nil {
			return err
		}
		applied, err := appliedIn(out)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.logw, "  %d users, round %d: %.1f ms, %d applied, %.0f MB\n", users, round+1, float64(m.Wall.Microseconds())/1000, applied, m.PeakRSS)
		if applied != 10 {
			return fmt.Errorf("incremental run on %d users applied %d ops, want 10 (see %s)", users, applied, out)
		}
		rep.Incremental[users] = append(rep.Incremental[users], m.Wall)
	}
	return nil
}

func appliedIn(path string) (int, error) {
	var out struct {
		Results []struct {
			Applied int    `json:"applied"`
			Error   string `json:"error"`
		} `json:"results"`
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	if err := json.Unmarshal(b, &out); err != nil || len(out.Results) != 1 {
		return 0, fmt.Errorf("%s: %v", path, err)
	}
	if out.Results[0].Error != "" {
		return 0, fmt.Errorf("run failed: %s", out.Results[0].Error)
	}
	return out.Results[0].Applied, nil
}
