package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/idsync/idsync/sources/entra/entratest"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

type options struct {
	Kills, Users, Changes int
	Seed                  uint64
	Binary, Dir           string
	Verbose               bool // log every run
}

// report is what a soak did and found.
type report struct {
	Seed         uint64         `json:"seed"`
	Users        int            `json:"users_at_start"`
	Kills        int            `json:"kills"`
	KillsByPhase map[string]int `json:"kills_by_phase"` // pull | plan | apply: the last phase the run's log reached
	Completed    int            `json:"runs_completed"` // runs that ended before their kill point
	FullRuns     int            `json:"full_runs"`      // runs started with --full
	Changes      map[string]int `json:"tenant_changes"`
	Requests     int            `json:"workspace_requests"`
	Final        verdict        `json:"final"`
	Pending      int            `json:"outbox_pending"`
	Applied      int            `json:"users_applied"`
	FullReplan   int            `json:"ops_planned_by_final_full_dry_run"`
	Elapsed      string         `json:"elapsed"`
}

func (r *report) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "seed\t%d\n", r.Seed)
	fmt.Fprintf(tw, "users at start\t%d\n", r.Users)
	fmt.Fprintf(tw, "kills\t%d (pull %d, plan %d, apply %d)\n", r.Kills, r.KillsByPhase["pull"], r.KillsByPhase["plan"], r.KillsByPhase["apply"])
	fmt.Fprintf(tw, "runs completed between kills\t%d (%d with --full)\n", r.Completed, r.FullRuns)
	n := 0
	for _, c := range r.Changes {
		n += c
	}
	fmt.Fprintf(tw, "tenant changes\t%d %v\n", n, r.Changes)
	fmt.Fprintf(tw, "workspace requests\t%d\n", r.Requests)
	fmt.Fprintf(tw, "workspace accounts\t%d (%d active); idsync applied %d\n", r.Final.Accounts, r.Final.Active, r.Applied)
	fmt.Fprintf(tw, "duplicates / strays\t%d / %d\n", r.Final.Duplicates, r.Final.Strays)
	fmt.Fprintf(tw, "accounts differing from the tenant\t%d\n", len(r.Final.Wrong))
	fmt.Fprintf(tw, "outbox pending\t%d\n", r.Pending)
	fmt.Fprintf(tw, "ops a full re-read plans\t%d\n", r.FullReplan)
	fmt.Fprintf(tw, "elapsed\t%s\n", r.Elapsed)
	tw.Flush()
	for _, s := range r.Final.Wrong {
		fmt.Fprintln(w, "  wrong:", s)
	}
}

const wsToken = "soak-workspace-token"

func soak(ctx context.Context, o options, logw io.Writer) (*report, error) {
	start := time.Now()
	if o.Changes == 0 {
		o.Changes = max(o.Users/100, 5)
	}
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "idsync-soak-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	bin := o.Binary
	if bin == "" {
		bin = filepath.Join(dir, "idsync")
		fmt.Fprintln(logw, "building idsync…")
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/idsync/idsync/cmd/idsync").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build idsync: %v\n%s", err, out)
		}
	}
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x5eed))
	srv := entratest.NewServer()
	defer srv.Close()
	// Bulk on: creates go in batches of 100, so a kill can land between a
	// Bulk request the workspace carried out and idsync's record of it.
	ws := scimtest.NewServer(scimtest.Options{Token: wsToken, TLS: true, Bulk: true, BulkMaxOperations: 100})
	defer ws.Close()
	// A workspace a little slower than loopback, so apply is a phase a kill can hit.
	ws.SetLatency(time.Millisecond)
	t, err := newTenant(srv, rng, o.Users)
	if err != nil {
		return nil, err
	}
	cfg, err := writeConfig(dir, srv, ws)
	if err != nil {
		return nil, err
	}
	rep := &report{Seed: o.Seed, Users: o.Users, KillsByPhase: map[string]int{}, Changes: map[string]int{}}
	idsync := func(ctx context.Context, args ...string) *exec.Cmd {
		return exec.CommandContext(ctx, bin, append([]string{"--config", cfg}, args...)...)
	}

	// window is how long a run took lately; kill points are drawn from it.
	// Every few kills one run is let finish, to measure it (and to let the
	// soak make progress, as a daemon would between crashes).
	window, streak := time.Second, 0
	seen := map[string]bool{}
	sample := func() {
		for _, u := range ws.Users() {
			seen[u.ExternalID] = true
		}
	}
	for attempt := 0; rep.Kills < o.Kills; attempt++ {
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
		if attempt > 0 {
			kinds, err := t.mutate(o.Changes)
			for k, n := range kinds {
				rep.Changes[k] += n
			}
			if err != nil {
				return rep, err
			}
		}
		args := []string{"--verbose", "sync"}
		if rng.IntN(4) == 0 {
			args = append(args, "--full")
		}
		delay := time.Duration(rng.Float64() * float64(window) * 1.2)
		if streak == 4 {
			delay, streak = time.Hour, 0
		}
		var stderr bytes.Buffer
		cmd := idsync(ctx, args...)
		cmd.Stderr = &stderr
		began := time.Now()
		if err := cmd.Start(); err != nil {
			return rep, err
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			took := time.Since(began)
			window = (window*3 + took) / 4
			if len(args) == 3 {
				rep.FullRuns++
			}
			rep.Completed++
			sample()
			if o.Verbose {
				fmt.Fprintf(logw, "run %d: %s finished in %s\n", attempt, strings.Join(args[1:], " "), took.Round(time.Millisecond))
			}
			if code := exitCode(err); code != 0 {
				return rep, fmt.Errorf("run %d (%s) exited %d before its kill point:\n%s", attempt, strings.Join(args, " "), code, stderr.String())
			}
		case <-time.After(delay):
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
			sample()
			rep.Kills++
			streak++
			phase := phaseOf(stderr.String())
			rep.KillsByPhase[phase]++
			if o.Verbose {
				fmt.Fprintf(logw, "run %d: %s killed after %s, in %s\n", attempt, strings.Join(args[1:], " "), delay.Round(time.Millisecond), phase)
			}
		}
	}

	// The last run is allowed to finish.
	var stderr bytes.Buffer
	final := idsync(ctx, "--verbose", "sync")
	final.Stderr = &stderr
	if o.Verbose {
		final.Stderr = io.MultiWriter(&stderr, logw)
	}
	if err := final.Run(); err != nil {
		return rep, fmt.Errorf("final run: %v\n%s", err, stderr.String())
	}
	rep.Requests = len(ws.Requests())
	sample()
	rep.Final = check(t, ws.Users(), seen)

	var status struct {
		Connections []struct {
			Applied int `json:"users_applied"`
			Pending int `json:"ops_pending"`
		} `json:"connections"`
	}
	if err := runJSON(idsync(ctx, "status", "--output", "json"), &status); err != nil {
		return rep, err
	}
	if len(status.Connections) != 1 {
		return rep, fmt.Errorf("status: %d connections, want 1", len(status.Connections))
	}
	rep.Applied, rep.Pending = status.Connections[0].Applied, status.Connections[0].Pending

	// A full re-read of the tenant must find nothing left to do.
	var plan struct {
		Results []struct {
			Ops []json.RawMessage `json:"ops"`
		} `json:"results"`
	}
	if err := runJSON(idsync(ctx, "sync", "--dry-run", "--full", "--output", "json"), &plan); err != nil {
		return rep, err
	}
	for _, r := range plan.Results {
		rep.FullReplan += len(r.Ops)
	}
	rep.Elapsed = time.Since(start).Round(time.Second).String()

	var problems []string
	if !rep.Final.ok() {
		problems = append(problems, "the workspace differs from the tenant")
	}
	if rep.Pending != 0 {
		problems = append(problems, fmt.Sprintf("%d ops left in the outbox", rep.Pending))
	}
	if rep.FullReplan != 0 {
		problems = append(problems, fmt.Sprintf("a full re-read still plans %d ops", rep.FullReplan))
	}
	if rep.Applied != rep.Final.Accounts {
		problems = append(problems, fmt.Sprintf("idsync records %d applied users, the workspace has %d accounts", rep.Applied, rep.Final.Accounts))
	}
	if len(problems) > 0 {
		return rep, errors.New(strings.Join(problems, "; "))
	}
	return rep, nil
}

// phaseOf names the last phase a killed run's log reached.
func phaseOf(log string) string {
	switch {
	case strings.Contains(log, "msg=plan "):
		return "apply"
	case strings.Contains(log, "msg=pulled "):
		return "plan"
	}
	return "pull"
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

func runJSON(cmd *exec.Cmd, v any) error {
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("%s: %v\n%s", strings.Join(cmd.Args[1:], " "), err, stderr.String())
	}
	if err := json.Unmarshal(out, v); err != nil {
		return fmt.Errorf("%s: unreadable output: %w", strings.Join(cmd.Args[1:], " "), err)
	}
	return nil
}

func writeConfig(dir string, srv *entratest.Server, ws *scimtest.Server) (string, error) {
	secret := filepath.Join(dir, "graph-secret")
	token := filepath.Join(dir, "ws-token")
	if err := os.WriteFile(secret, []byte(srv.ClientSecret), 0o600); err != nil {
		return "", err
	}
	if err := os.WriteFile(token, []byte(wsToken), 0o600); err != nil {
		return "", err
	}
	cfg := fmt.Sprintf(`state: %q
log: {level: info}
connections:
  - name: soak
    source:
      type: entra
      tenant_id: %q
      client_id: %q
      client_secret_file: %q
      graph_url: %q
      authority_url: %q
      ca_file: %q
      scope: {groups: [%q]}
    roles:
      default: reader
      rules: [{group: %q, role: admin}]
    safety: {max_deletes: 0, max_delete_percent: 0}
    target:
      type: scim
      url: %q
      token_file: %q
      ca_file: %q
      concurrency: 4
      rate_limit: 0
`, filepath.Join(dir, "idsync.db"), srv.TenantID, srv.ClientID, secret, srv.GraphURL, srv.AuthorityURL, srv.CAFile,
		scopeGroup, adminGroup, ws.URL, token, ws.CAFile)
	path := filepath.Join(dir, "idsync.yaml")
	return path, os.WriteFile(path, []byte(cfg), 0o600)
}
