package state

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/idsync/idsync"
)

// Pending is an op waiting in the outbox.
type Pending struct {
	Seq   int64
	RunID int64
	Op    idsync.Op
}

// The outbox keeps no workspace ids. Whoever sends a pending op takes its
// target id (and its members') from the applied state at that moment
// (sync's resolveTargetIDs): an object created earlier in the run has one
// by then, and an id the state has forgotten since the op was planned
// (migration 0003 forgets one recorded for two objects) is never sent, so
// the target finds the object by identity instead. Ops written by older
// versions carry ids; Outbox drops them on read.

// withoutTargetIDs is op as the outbox keeps it.
func withoutTargetIDs(op idsync.Op) idsync.Op {
	op.TargetID = ""
	if len(op.Members) > 0 {
		ms := make([]idsync.Member, len(op.Members))
		for i, m := range op.Members {
			ms[i] = idsync.Member{ExternalID: m.ExternalID}
		}
		op.Members = ms
	}
	return op
}

// Enqueue writes ops to the outbox in order, without workspace ids, and
// returns them with their stable ids set.
func (tx *Tx) Enqueue(conn string, runID int64, ops []idsync.Op) ([]idsync.Op, error) {
	out, _, err := tx.enqueue(conn, runID, ops, false)
	return out, err
}

// EnqueuePending is Enqueue returning the ops as Outbox would read them
// back (what the run applies next, without reading 100,000 ops back). They
// share their accounts, groups and changes with ops: the apply path only
// reads through an op's pointers (targets shape copies), and a copy of
// every account was ~18 MB of a 100,000-user first sync's peak heap.
func (tx *Tx) EnqueuePending(conn string, runID int64, ops []idsync.Op) ([]Pending, error) {
	_, ps, err := tx.enqueue(conn, runID, ops, true)
	return ps, err
}

// enqueueRows is how many ops one INSERT writes at most.
const enqueueRows = 128

func (tx *Tx) enqueue(conn string, runID int64, ops []idsync.Op, pending bool) ([]idsync.Op, []Pending, error) {
	if err := tx.fenced(conn); err != nil {
		return nil, nil, err
	}
	var seq int64
	if err := tx.tx.QueryRowContext(tx.ctx, `SELECT COALESCE(MAX(seq), 0) FROM outbox WHERE connection = ?`, conn).Scan(&seq); err != nil {
		return nil, nil, fmt.Errorf("state: enqueue: %w", err)
	}
	// One of the two is wanted (Enqueue, EnqueuePending): 100,000 ops are
	// not copied twice.
	wantOps := !pending
	var out []idsync.Op
	var ps []Pending
	if wantOps {
		out = make([]idsync.Op, len(ops))
	} else {
		ps = make([]Pending, len(ops))
	}
	// The ops are marshalled a batch ahead of the INSERTs, on another
	// goroutine: JSON and SQLite each took about half of the ~0.35 s a
	// 100,000-op plan spent here, one after the other.
	batches := make(chan outboxBatch, 2)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(batches)
		defer func() {
			if r := recover(); r != nil {
				select {
				case batches <- outboxBatch{err: fmt.Errorf("marshal an op: %v", r)}:
				case <-stop:
				}
			}
		}()
		for i := 0; i < len(ops); {
			n := min(len(ops)-i, enqueueRows)
			if n > 1 {
				n = batchLen(n) // prepared statements of a few sizes only
			}
			b := outboxBatch{n: n, args: make([]any, 0, 4*n)}
			for j := i; j < i+n; j++ {
				seq++
				op := ops[j]
				op.ID = fmt.Sprintf("%s-%d-%d", conn, runID, seq)
				kept := withoutTargetIDs(op)
				data, err := json.Marshal(kept)
				if err != nil {
					b.err = err
					break
				}
				b.args = append(b.args, conn, seq, runID, string(data))
				if wantOps {
					out[j] = op
				} else {
					ps[j] = Pending{Seq: seq, RunID: runID, Op: kept}
				}
			}
			select {
			case batches <- b:
			case <-stop:
				return
			}
			if b.err != nil {
				return
			}
			i += n
		}
	}()
	err := func() error {
		defer func() { close(stop); <-done }()
		for b := range batches {
			if b.err != nil {
				return b.err
			}
			if err := tx.execBatch(b.n, `INSERT INTO outbox (connection, seq, run_id, op) VALUES `+placeholders(b.n, 4), b.args...); err != nil {
				return err
			}
		}
		return nil
	}()
	if err != nil {
		return nil, nil, fmt.Errorf("state: enqueue: %w", err)
	}
	return out, ps, nil
}

// outboxBatch is one INSERT of enqueue: n rows' arguments, or why not.
type outboxBatch struct {
	n    int
	args []any
	err  error
}

// Outbox returns the connection's pending ops in order, without workspace
// ids.
func (tx *Tx) Outbox(conn string) ([]Pending, error) {
	out, err := queryAll(tx, func(r *sql.Rows) (Pending, error) {
		var p Pending
		var data string
		if err := r.Scan(&p.Seq, &p.RunID, &data); err != nil {
			return p, err
		}
		err := json.Unmarshal([]byte(data), &p.Op)
		p.Op = withoutTargetIDs(p.Op)
		return p, err
	}, `SELECT seq, run_id, op FROM outbox WHERE connection = ? ORDER BY seq`, conn)
	if err != nil {
		return nil, fmt.Errorf("state: read outbox: %w", err)
	}
	return out, nil
}

// OutboxLen counts the connection's pending ops.
func (tx *Tx) OutboxLen(conn string) (int, error) {
	var n int
	if err := tx.tx.QueryRowContext(tx.ctx, `SELECT COUNT(*) FROM outbox WHERE connection = ?`, conn).Scan(&n); err != nil {
		return 0, fmt.Errorf("state: count outbox: %w", err)
	}
	return n, nil
}

// Done removes an op from the outbox.
func (tx *Tx) Done(conn string, seq int64) error {
	if err := tx.fenced(conn); err != nil {
		return err
	}
	if _, err := tx.exec(`DELETE FROM outbox WHERE connection = ? AND seq = ?`, conn, seq); err != nil {
		return fmt.Errorf("state: remove op from outbox: %w", err)
	}
	return nil
}

// HeldPlan is a plan the safety limits stopped.
type HeldPlan struct {
	ID     string // idsync.Plan.ID of Plan: what an approval names
	RunID  int64
	HeldAt time.Time
	Reason string
	Plan   idsync.Plan
}

// Hold stores plan, with its id, as the connection's held plan, replacing
// an older one.
func (tx *Tx) Hold(conn string, runID int64, reason string, plan idsync.Plan) error {
	if err := tx.fenced(conn); err != nil {
		return err
	}
	data, err := json.Marshal(plan)
	if err != nil {
		return err
	}
	if _, err := tx.exec(`INSERT INTO held_plans (connection, run_id, held_at, reason, plan, plan_id) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (connection) DO UPDATE SET run_id = excluded.run_id, held_at = excluded.held_at, reason = excluded.reason,
		plan = excluded.plan, plan_id = excluded.plan_id`,
		conn, runID, tx.now(), reason, string(data), plan.ID()); err != nil {
		return fmt.Errorf("state: hold plan: %w", err)
	}
	return nil
}

// Held returns the connection's held plan, or nil.
func (tx *Tx) Held(conn string) (*HeldPlan, error) {
	hs, err := queryAll(tx, func(r *sql.Rows) (HeldPlan, error) {
		var h HeldPlan
		var at, data string
		if err := r.Scan(&h.ID, &h.RunID, &at, &h.Reason, &data); err != nil {
			return h, err
		}
		h.HeldAt, _ = time.Parse(time.RFC3339Nano, at)
		if err := json.Unmarshal([]byte(data), &h.Plan); err != nil {
			return h, err
		}
		if h.ID == "" { // held before plans had ids
			h.ID = h.Plan.ID()
		}
		return h, nil
	}, `SELECT plan_id, run_id, held_at, reason, plan FROM held_plans WHERE connection = ?`, conn)
	if err != nil {
		return nil, fmt.Errorf("state: read held plan: %w", err)
	}
	if len(hs) == 0 {
		return nil, nil
	}
	return &hs[0], nil
}

// DropHeld discards the connection's held plan.
func (tx *Tx) DropHeld(conn string) error {
	if err := tx.fenced(conn); err != nil {
		return err
	}
	if _, err := tx.exec(`DELETE FROM held_plans WHERE connection = ?`, conn); err != nil {
		return fmt.Errorf("state: drop held plan: %w", err)
	}
	return nil
}
