package state

import (
	"testing"

	"github.com/idsync/idsync"
)

func TestHeldPlanCarriesItsID(t *testing.T) {
	s := open(t, t.TempDir()+"/idsync.db")
	plan := idsync.Plan{Connection: "acme", Ops: []idsync.Op{{Kind: idsync.OpDelete, ObjectID: "u2", TargetID: "t2"}}}
	update(t, s, func(tx *Tx) error {
		if err := tx.Hold("acme", 1, "too many", plan); err != nil {
			return err
		}
		h, err := tx.Held("acme")
		if err != nil || h == nil || h.ID != plan.ID() {
			t.Fatalf("held %+v (%v), want id %s", h, err, plan.ID())
		}
		// A plan held before plan ids existed gets its id computed on read.
		if _, err := tx.exec(`UPDATE held_plans SET plan_id = '' WHERE connection = ?`, "acme"); err != nil {
			return err
		}
		if h, _ := tx.Held("acme"); h == nil || h.ID != plan.ID() {
			t.Fatalf("held without a stored id: %+v", h)
		}
		return nil
	})
}

func TestPolicyFingerprintRoundTrip(t *testing.T) {
	s := open(t, t.TempDir()+"/idsync.db")
	update(t, s, func(tx *Tx) error {
		if fp, err := tx.PolicyFingerprint("acme"); err != nil || fp != "" {
			t.Fatalf("fresh database: %q, %v", fp, err)
		}
		for _, want := range []string{"one", "two"} {
			if err := tx.SavePolicyFingerprint("acme", want); err != nil {
				return err
			}
			if fp, err := tx.PolicyFingerprint("acme"); err != nil || fp != want {
				t.Fatalf("fingerprint %q (%v), want %q", fp, err, want)
			}
		}
		if fp, _ := tx.PolicyFingerprint("globex"); fp != "" {
			t.Fatalf("another connection sees %q", fp)
		}
		return nil
	})
}
