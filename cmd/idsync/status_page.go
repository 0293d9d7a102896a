package main

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/state"
)

// The status page (GET / on http.listen): each connection's health, last
// runs, schedule and next run, cursor age, held plan with the command that
// approves it, and a chart of its last runs, rendered on the server with
// html/template into one self-contained page: no JavaScript, no asset from
// anywhere, inline SVG. It only reads the state (one read transaction) and
// shows nothing secret: names from the IdP and errors are the ones status
// and log print (scrubbed and cut, shown()), and html/template escapes them.

//go:embed status_page.html
var statusPageHTML string

var statusPageTmpl = template.Must(template.New("status").Funcs(template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.Local().Format(time.DateTime)
	},
}).Parse(statusPageHTML))

// Chart geometry (SVG user units).
const (
	chartRuns   = 50 // runs charted
	pageRuns    = 10 // runs listed
	chartW      = 720
	chartH      = 200
	chartLeft   = 44
	chartRight  = 52
	chartTop    = 14
	chartBottom = 24
	maxHeldOps  = 500 // ops of a held plan listed on the page
)

type pageData struct {
	Now         time.Time
	Config      string
	Connections []pageConn
}

type pageConn struct {
	Name, Source, Target string
	Health, HealthClass  string // ok | warn | bad | none
	HealthWhy            string
	Schedule, Full       string
	Next                 string // the next scheduled run, estimated
	CursorAge, FullAge   string
	CursorWarn           bool
	Applied, Pending     int
	Workspace            string
	Runs                 []pageRun
	Held                 *pageHeld
	Chart                *pageChart
}

type pageRun struct {
	ID                       int64
	Kind, Result, Error      string
	Started                  time.Time
	Duration                 string
	Planned, Applied, Failed int
}

type pageHeld struct {
	ID, Reason, Command string
	At                  time.Time
	Ops                 []pageOp
	More                int
}

type pageOp struct{ Sign, Kind, Name, Detail string }

type pageChart struct {
	W, H, Left, Right, Top, Bottom int
	PlotRight, PlotBottom          int
	MaxOps, MaxDur                 string
	Bars                           []pageBar
	DurLine                        string // polyline points
	Dots                           []pageDot
	Legend                         []pageLegend
	FirstID, LastID                int64
}

type pageBar struct {
	Title string
	Segs  []pageSeg
}

type pageSeg struct {
	Class      string
	X, Y, W, H float64
}

type pageDot struct{ X, Y float64 }

type pageLegend struct{ Class, Label string }

// chartKinds are the chart's op categories, bottom to top.
var chartKinds = []pageLegend{
	{"k-create", "create"}, {"k-update", "update / role / enable"}, {"k-disable", "disable"},
	{"k-delete", "delete"}, {"k-group", "groups and members"}, {"k-failed", "failed"},
}

// chartClass is the category of an event of kind and result ("" when it
// is not an op: reconcile reports, interrupted runs).
func chartClass(kind, result string) string {
	if result == "failed" {
		return "k-failed"
	}
	if result != "applied" {
		return ""
	}
	switch idsync.OpKind(kind) {
	case idsync.OpCreate:
		return "k-create"
	case idsync.OpUpdate, idsync.OpSetRole, idsync.OpEnable:
		return "k-update"
	case idsync.OpDisable:
		return "k-disable"
	case idsync.OpDelete:
		return "k-delete"
	case idsync.OpGroupCreate, idsync.OpGroupUpdate, idsync.OpGroupDelete, idsync.OpMemberAdd, idsync.OpMemberRemove:
		return "k-group"
	}
	return ""
}

// statusPage serves the page of the daemon's current configuration.
func statusPage(d daemonHTTP) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := d.app()
		data, err := readStatusPage(r.Context(), a, time.Now())
		if err != nil {
			a.log.Error("status page", "error", err)
			http.Error(w, "could not read the state; the daemon's log says why", http.StatusInternalServerError)
			return
		}
		var b bytes.Buffer
		if err := statusPageTmpl.Execute(&b, data); err != nil {
			a.log.Error("status page", "error", err)
			http.Error(w, "could not render the page; the daemon's log says why", http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		// Nothing but the page's own inline style: no script at all.
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		w.Write(b.Bytes())
	})
}

// readStatusPage reads what the page shows, in one read transaction.
func readStatusPage(ctx context.Context, a *app, now time.Time) (*pageData, error) {
	data := &pageData{Now: now, Config: a.file.Path}
	err := a.store.View(ctx, func(tx *state.Tx) error {
		for _, cc := range a.cfg.Connections {
			c := pageConn{Name: cc.Name, Source: cc.Source.Type, Target: cc.Target.Type, Schedule: cc.Schedule, Full: cc.FullResync}
			runs, err := tx.Runs(state.Filter{Connection: cc.Name, Limit: chartRuns})
			if err != nil {
				return err
			}
			cur, err := tx.Cursor(cc.Name)
			if err != nil {
				return err
			}
			c.CursorAge, c.FullAge = agoOrNever(now, cur.UpdatedAt), agoOrNever(now, cur.FullAt)
			c.CursorWarn = cc.Source.Type == "entra" && !cur.UpdatedAt.IsZero() && now.Sub(cur.UpdatedAt) > 6*24*time.Hour
			if c.Applied, err = tx.AppliedCount(cc.Name); err != nil {
				return err
			}
			if c.Pending, err = tx.OutboxLen(cc.Name); err != nil {
				return err
			}
			rec, err := tx.Events(state.Filter{Connection: cc.Name, Kind: "reconcile", Limit: 1})
			if err != nil {
				return err
			}
			if len(rec) > 0 {
				c.Workspace = ago(now, rec[0].At) + " ago: " + shown(rec[0].Detail)
			}
			held, err := tx.Held(cc.Name)
			if err != nil {
				return err
			}
			if held != nil {
				c.Held = heldView(cc.Name, a.file.Path, held)
			}
			var counts []state.OpCount
			if len(runs) > 0 {
				if counts, err = tx.RunOps(cc.Name, runs[len(runs)-1].ID, runs[0].ID); err != nil {
					return err
				}
			}
			for i, r := range runs {
				if i == pageRuns {
					break
				}
				c.Runs = append(c.Runs, pageRun{ID: r.ID, Kind: r.Kind, Result: r.Result, Error: shown(r.Error), Started: r.StartedAt,
					Duration: runDuration(r, now).Round(time.Millisecond).String(), Planned: r.Planned, Applied: r.Applied, Failed: r.Failed})
			}
			c.Health, c.HealthClass, c.HealthWhy = health(runs, held, c.CursorWarn)
			c.Next = nextRunText(cc.Schedule, runs, now)
			c.Chart = chart(runs, counts, now)
			data.Connections = append(data.Connections, c)
		}
		return nil
	})
	return data, err
}

func heldView(conn, config string, h *state.HeldPlan) *pageHeld {
	v := &pageHeld{ID: h.ID, Reason: shown(h.Reason), At: h.HeldAt}
	v.Command = fmt.Sprintf("idsync approve %s --plan %s", conn, h.ID)
	if config != "" {
		v.Command = fmt.Sprintf("idsync --config %s approve %s --plan %s", shellQuote(config), conn, h.ID)
	}
	for i, op := range h.Plan.Ops {
		if i == maxHeldOps {
			v.More = len(h.Plan.Ops) - i
			break
		}
		sign, word, detail := describeOp(op)
		v.Ops = append(v.Ops, pageOp{Sign: sign, Kind: word, Name: shown(op.Name()), Detail: detail})
	}
	return v
}

// shellQuote quotes a path for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=,:@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// runDuration is how long r took, or has been going.
func runDuration(r state.Run, now time.Time) time.Duration {
	end := r.FinishedAt
	if end.IsZero() {
		end = now
	}
	return max(end.Sub(r.StartedAt), 0)
}

// health sums up a connection from its runs (newest first), held plan
// and cursor.
func health(runs []state.Run, held *state.HeldPlan, cursorOld bool) (label, class, why string) {
	if held != nil {
		return "held", "warn", "a plan waits for approval since " + held.HeldAt.Local().Format(time.DateTime)
	}
	if len(runs) == 0 {
		return "never run", "none", "no run recorded yet"
	}
	last := runs[0]
	if last.Result == state.RunRunning && len(runs) > 1 {
		last = runs[1] // judge by the last run that ended
	}
	switch last.Result {
	case state.RunFailed, state.RunInterrupted:
		n, since := 0, last.StartedAt
		for _, r := range runs {
			if r.Result == state.RunRunning {
				continue
			}
			if r.Result != state.RunFailed && r.Result != state.RunInterrupted {
				break
			}
			n, since = n+1, r.StartedAt
		}
		return "failing", "bad", fmt.Sprintf("the last %d run(s) failed, since %s", n, since.Local().Format(time.DateTime))
	case state.RunPartial:
		return "degraded", "warn", fmt.Sprintf("%d ops failed in the last run; they are retried on the next", last.Failed)
	case state.RunRunning:
		return "running", "ok", "its first run is going"
	}
	if cursorOld {
		return "stale", "warn", "no completed pull for over 6 days: Graph delta tokens expire after 7"
	}
	return "healthy", "ok", "the last run ended " + last.Result
}

// nextRunText estimates the next scheduled run: a cron spec's next time
// from now, or for @every the last run's start plus the interval (the
// scheduler ticks at that rhythm from the daemon's start).
func nextRunText(spec string, runs []state.Run, now time.Time) string {
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return "?"
	}
	var next time.Time
	if every, ok := s.(cron.ConstantDelaySchedule); ok && len(runs) > 0 {
		next = runs[0].StartedAt.Add(every.Delay)
		if !next.After(now) {
			return "due now"
		}
	} else {
		next = s.Next(now)
	}
	return fmt.Sprintf("%s (in %s)", next.Local().Format(time.DateTime), next.Sub(now).Round(time.Second))
}

// chart draws runs (newest first) as stacked bars of ops by category, and
// their durations as a line on the right-hand scale.
func chart(runs []state.Run, counts []state.OpCount, now time.Time) *pageChart {
	if len(runs) == 0 {
		return nil
	}
	byRun := map[int64]map[string]int{}
	for _, c := range counts {
		class := chartClass(c.Kind, c.Result)
		if class == "" {
			continue
		}
		if byRun[c.RunID] == nil {
			byRun[c.RunID] = map[string]int{}
		}
		byRun[c.RunID][class] += c.N
	}
	ch := &pageChart{W: chartW, H: chartH, Left: chartLeft, Right: chartRight, Top: chartTop, Bottom: chartBottom,
		PlotRight: chartW - chartRight, PlotBottom: chartH - chartBottom, Legend: chartKinds,
		FirstID: runs[len(runs)-1].ID, LastID: runs[0].ID}
	maxOps, maxDur := 1, time.Millisecond
	for _, r := range runs {
		n := 0
		for _, v := range byRun[r.ID] {
			n += v
		}
		maxOps = max(maxOps, n)
		maxDur = max(maxDur, runDuration(r, now))
	}
	ch.MaxOps, ch.MaxDur = fmt.Sprint(maxOps), maxDur.Round(time.Millisecond).String()
	plotW, plotH := float64(ch.PlotRight-ch.Left), float64(ch.PlotBottom-ch.Top)
	slot := plotW / chartRuns
	var points []string
	for i := range runs {
		r := runs[len(runs)-1-i] // oldest first, left to right
		x := float64(ch.Left) + float64(i)*slot
		bar := pageBar{Title: fmt.Sprintf("run #%d, %s, %s: %s in %s", r.ID, r.Kind, r.StartedAt.Local().Format(time.DateTime), r.Result,
			runDuration(r, now).Round(time.Millisecond))}
		y := float64(ch.PlotBottom)
		for _, k := range chartKinds {
			n := byRun[r.ID][k.Class]
			if n == 0 {
				continue
			}
			h := float64(n) / float64(maxOps) * plotH
			y -= h
			bar.Segs = append(bar.Segs, pageSeg{Class: k.Class, X: round1(x + slot*0.15), Y: round1(y), W: round1(slot * 0.7), H: round1(h)})
			bar.Title += fmt.Sprintf(", %d %s", n, k.Label)
		}
		ch.Bars = append(ch.Bars, bar)
		dy := float64(ch.PlotBottom) - float64(runDuration(r, now))/float64(maxDur)*plotH
		dot := pageDot{X: round1(x + slot/2), Y: round1(dy)}
		ch.Dots = append(ch.Dots, dot)
		points = append(points, fmt.Sprintf("%g,%g", dot.X, dot.Y))
	}
	ch.DurLine = strings.Join(points, " ")
	return ch
}

func round1(f float64) float64 { return float64(int(f*10+0.5)) / 10 }
