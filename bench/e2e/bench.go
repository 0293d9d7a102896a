package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"time"
)

type options struct {
	IdP           string
	Users, Groups int
	Runs          int
	Incremental   bool
	Small, Rounds int
	Binary, Dir   string
	Pprof         string
	Only          string // run only this step (profiling)
	Verbose       bool
}

// step names, in the order each repetition runs them.
const (
	stepBare    = "bare"
	stepDryText = "dry-text"
	stepDryJSON = "dry-json"
	stepReal    = "real-pull-plan"
)

// env is one benchmark environment: the binary, the emulator child and
// what idsync's config needs.
type env struct {
	o    options
	self string
	bin  string
	dir  string
	em   *child
	info idpInfo
	logw io.Writer
	seq  int
}

func bench(ctx context.Context, o options, logw io.Writer) (*report, error) {
	if o.IdP != "entra" && o.IdP != "okta" {
		return nil, fmt.Errorf("-idp: entra or okta, not %q", o.IdP)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dir := o.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "idsync-e2e-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	bin := o.Binary
	if bin == "" {
		bin = filepath.Join(dir, "idsync")
		fmt.Fprintln(logw, "building idsync…")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/idsync/idsync/cmd/idsync")
		build.Dir = moduleDir()
		if out, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build idsync: %v\n%s", err, out)
		}
	}
	e := &env{o: o, self: self, bin: bin, dir: dir, logw: logw}
	if o.Incremental {
		return e.incremental(ctx)
	}
	if err := e.startEmulator(ctx, o.Users); err != nil {
		return nil, err
	}
	defer e.em.stop()
	ws, wsURL, err := e.startWorkspace(ctx)
	if err != nil {
		return nil, err
	}
	defer ws.stop()
	rep := &report{IdP: o.IdP, Users: o.Users, Groups: o.Groups, Runs: o.Runs, Samples: map[string][]measured{}}
	for run := range o.Runs {
		fmt.Fprintf(logw, "run %d/%d\n", run+1, o.Runs)
		if o.Only != "" && o.Only != stepBare {
			goto dry
		}
		{
			m, err := e.measure(ctx, func() *exec.Cmd {
				args, _ := json.Marshal(childArgs{IdP: o.IdP, Info: &e.info})
				cmd := exec.CommandContext(ctx, self)
				cmd.Env = append(os.Environ(), childEnv+"=bare", argsEnv+"="+string(args))
				return cmd
			}, filepath.Join(dir, "bare.out"))
			if err != nil {
				return rep, err
			}
			rep.add(stepBare, m, logw)
		}
	dry:
		for _, step := range []string{stepDryText, stepDryJSON} {
			if o.Only != "" && o.Only != step {
				continue
			}
			cfg, err := e.config(wsURL)
			if err != nil {
				return rep, err
			}
			args := []string{"--config", cfg, "sync", "--dry-run", "--detailed-exitcode"}
			out := filepath.Join(dir, "plan.txt")
			if step == stepDryJSON {
				args = append(args, "--output", "json")
				out = filepath.Join(dir, "plan.json")
			}
			m, err := e.measure(ctx, func() *exec.Cmd {
				cmd := exec.CommandContext(ctx, bin, args...)
				if o.Pprof != "" {
					cmd.Env = append(os.Environ(), "IDSYNC_PPROF="+filepath.Join(o.Pprof, fmt.Sprintf("%s-%s-%d", o.IdP, step, run)))
				}
				return cmd
			}, out)
			if err != nil {
				return rep, err
			}
			rep.add(step, m, logw)
		}
		if o.Only != "" && o.Only != stepReal {
			continue
		}
		m, err := e.realFirst(ctx, run)
		if err != nil {
			return rep, err
		}
		rep.add(stepReal, m, logw)
	}
	return rep, nil
}

// moduleDir is the idsync module's directory, where this file was compiled
// from (go run builds from source), so the binary builds from any working
// directory.
func moduleDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return ""
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func (e *env) startEmulator(ctx context.Context, users int) error {
	fmt.Fprintf(e.logw, "starting the %s emulator with %d users, %d groups…\n", e.o.IdP, users, e.o.Groups)
	em, first, err := startChild(ctx, e.self, "emulator", childArgs{IdP: e.o.IdP, Users: users, Groups: e.o.Groups})
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(first), &e.info); err != nil {
		em.stop()
		return fmt.Errorf("emulator said %q: %w", first, err)
	}
	e.em = em
	return nil
}

func (e *env) startWorkspace(ctx context.Context) (*child, string, error) {
	return startChild(ctx, e.self, "workspace", childArgs{})
}

func (e *env) requests() (int, error) {
	s, err := e.em.ask("requests")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(s)
}

// measure runs the command make returns and counts the emulator's requests
// while it ran.
func (e *env) measure(ctx context.Context, make func() *exec.Cmd, out string) (measured, error) {
	r0, err := e.requests()
	if err != nil {
		return measured{}, err
	}
	m, err := runMeasured(make(), out)
	if err != nil {
		return m, err
	}
	r1, err := e.requests()
	m.Requests = r1 - r0
	return m, err
}

// config writes a fresh config (new empty state) for the workspace at wsURL.
//
// The connection: every user in scope, role rule on one group, generic SCIM
// preset, no rate limit, safety limits off (a first sync creates everyone).
func (e *env) config(wsURL string) (string, error) {
	e.seq++
	d := filepath.Join(e.dir, fmt.Sprintf("state-%d", e.seq))
	if err := os.MkdirAll(d, 0o700); err != nil {
		return "", err
	}
	var src string
	in := e.info
	switch e.o.IdP {
	case "entra":
		src = fmt.Sprintf(`      type: entra
      tenant_id: %q
      client_id: %q
      client_secret: %q
      graph_url: %q
      authority_url: %q
      ca_file: %q
`, in.TenantID, in.ClientID, in.ClientSecret, in.GraphURL, in.AuthorityURL, in.CAFile)
	case "okta":
		src = fmt.Sprintf(`      type: okta
      org_url: %q
      token: %q
      ca_file: %q
`, in.URL, in.Token, in.CAFile)
	}
	cfg := fmt.Sprintf(`state: %q
log: {level: error}
connections:
  - name: bench
    source:
%s    roles:
      default: reader
      rules:
        - {group: %q, role: admin}
    safety: {max_deletes: 0, max_delete_percent: 0}
    target:
      type: scim
      url: %q
      token: %q
      rate_limit: 0
      concurrency: 8
`, filepath.Join(d, "idsync.db"), src, in.RuleGroup, wsURL, wsToken)
	path := filepath.Join(d, "idsync.yaml")
	return path, os.WriteFile(path, []byte(cfg), 0o600)
}

// realFirst runs a real first sync into a fresh workspace and measures it
// until the workspace receives its first write: pull, plan and the outbox
// are done and apply has begun. Then the run is killed.
func (e *env) realFirst(ctx context.Context, run int) (measured, error) {
	ws, wsURL, err := e.startWorkspace(ctx)
	if err != nil {
		return measured{}, err
	}
	defer ws.stop()
	cfg, err := e.config(wsURL)
	if err != nil {
		return measured{}, err
	}
	r0, err := e.requests()
	if err != nil {
		return measured{}, err
	}
	cmd := exec.CommandContext(ctx, e.bin, "--config", cfg, "sync")
	stopSig := os.Kill
	if e.o.Pprof != "" {
		// SIGINT: idsync stops after the ops in flight and writes its profiles.
		cmd.Env = append(os.Environ(), "IDSYNC_PPROF="+filepath.Join(e.o.Pprof, fmt.Sprintf("%s-%s-%d", e.o.IdP, stepReal, run)))
		stopSig = os.Interrupt
	}
	var stderr tailWriter
	cmd.Stderr = &stderr
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return measured{}, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var m measured
	for {
		select {
		case err := <-exited:
			// Finished before a write was seen (nothing to apply?).
			s, _ := ws.ask("first-write")
			if ns, _ := strconv.ParseInt(s, 10, 64); ns > 0 {
				m.Wall = time.Unix(0, ns).Sub(t0)
			} else {
				return m, fmt.Errorf("real sync ended without writing to the workspace: %v\n%s", err, stderr.String())
			}
			m.PeakRSS = maxRSSMB(cmd.ProcessState)
			r1, err := e.requests()
			m.Requests = r1 - r0
			return m, err
		case <-time.After(20 * time.Millisecond):
		}
		s, err := ws.ask("first-write")
		if err != nil {
			return m, err
		}
		if ns, _ := strconv.ParseInt(s, 10, 64); ns > 0 {
			m.Wall = time.Unix(0, ns).Sub(t0)
			_ = cmd.Process.Signal(stopSig)
			<-exited
			m.PeakRSS = maxRSSMB(cmd.ProcessState)
			r1, err := e.requests()
			m.Requests = r1 - r0
			return m, err
		}
	}
}

// tailWriter keeps the last 4 KiB written to it.
type tailWriter struct{ b []byte }

func (t *tailWriter) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = slices.Clone(t.b[len(t.b)-4096:])
	}
	return len(p), nil
}

func (t *tailWriter) String() string { return string(t.b) }
