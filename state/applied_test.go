package state

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idsync/idsync"
)

func acct(id, name string) idsync.Account {
	return idsync.Account{ExternalID: id, UserName: name, Active: true}
}

// One workspace object belongs to one applied user (group): recording its
// id for a second one fails with both named, and nothing is overwritten.
func TestOneTargetIDPerAppliedObject(t *testing.T) {
	s := open(t, t.TempDir()+"/idsync.db")
	update(t, s, func(tx *Tx) error {
		if err := tx.SetAppliedUser("acme", "X", acct("aaa-111", "jsmith@x")); err != nil {
			return err
		}
		err := tx.SetAppliedUser("acme", "X", acct("bbb-222", "jsmith2@x"))
		var te *TargetTakenError
		if !errors.Is(err, ErrTargetTaken) || !errors.As(err, &te) {
			t.Fatalf("second user on one target id: %v", err)
		}
		for _, want := range []string{"workspace user X", "jsmith@x (aaa-111)", "jsmith2@x (bbb-222)"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %q", err, want)
			}
		}
		// Re-recording the owner, another connection, and ids not known yet are fine.
		for _, set := range []func() error{
			func() error { return tx.SetAppliedUser("acme", "X", acct("aaa-111", "jsmith@x")) },
			func() error { return tx.SetAppliedUser("globex", "X", acct("bbb-222", "jsmith2@x")) },
			func() error { return tx.SetAppliedUser("acme", "", acct("c", "c@x")) },
			func() error { return tx.SetAppliedUser("acme", "", acct("d", "d@x")) },
		} {
			if err := set(); err != nil {
				t.Fatal(err)
			}
		}
		got, err := tx.AppliedUsers("acme", nil)
		if err != nil {
			return err
		}
		if _, ok := got["bbb-222"]; ok || got["aaa-111"].TargetID != "X" || len(got) != 3 {
			t.Fatalf("applied users %+v", got)
		}
		// The index holds even for a writer that skips the check. (In a
		// savepoint: PostgreSQL aborts a transaction whose statement failed.)
		if _, err := tx.exec(`SAVEPOINT dup`); err != nil {
			return err
		}
		if _, err := tx.exec(`INSERT INTO applied_users (connection, id, target_id, user_name, email, given_name, family_name,
			display_name, employee_id, title, department, active, role) VALUES ('acme', 'e', 'X', 'e', '', '', '', '', '', '', '', 1, '')`); err == nil {
			t.Fatal("the unique index on (connection, target_id) let a duplicate in")
		}
		if _, err := tx.exec(`ROLLBACK TO dup`); err != nil {
			return err
		}

		if err := tx.SetAppliedGroup("acme", AppliedGroup{ID: "g1", TargetID: "G", Name: "Sales"}); err != nil {
			return err
		}
		err = tx.SetAppliedGroup("acme", AppliedGroup{ID: "g2", TargetID: "G", Name: "Sales EU"})
		if !errors.Is(err, ErrTargetTaken) || !strings.Contains(err.Error(), "Sales (g1)") || !strings.Contains(err.Error(), "Sales EU (g2)") {
			t.Fatalf("second group on one target id: %v", err)
		}
		gs, err := tx.AppliedGroups("acme")
		if len(gs) != 1 || gs["g1"].TargetID != "G" {
			t.Fatalf("applied groups %+v", gs)
		}
		return err
	})
}

// A database that already records one target id for two users opens: the
// pairs are reported in the provisioning log, forgotten with their
// memberships and marked dirty, so the next run re-adopts each by identity.
func TestMigrationForgetsSharedTargetIDs(t *testing.T) {
	path := t.TempDir() + "/idsync.db"
	s := open(t, path)
	// Back to the state before 0003, with the duplicates an older idsync wrote.
	for _, q := range []string{
		`DROP INDEX applied_users_target`,
		`DROP INDEX applied_groups_target`,
		`DELETE FROM migrations WHERE name = 'migrations/0003_unique_target_ids.sql'`,
	} {
		if _, err := s.db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	update(t, s, func(tx *Tx) error {
		for _, u := range []struct{ id, name, target string }{
			{"aaa-111", "jsmith.old@x", "X"}, {"bbb-222", "jsmith@x", "X"}, {"ccc-333", "carol@x", "Y"},
			{"d", "d@x", ""}, {"e", "e@x", ""},
		} {
			if _, err := tx.exec(`INSERT INTO applied_users (connection, id, target_id, user_name, email, given_name, family_name,
				display_name, employee_id, title, department, active, role) VALUES ('acme', ?, ?, ?, '', '', '', '', '', '', '', 1, '')`,
				u.id, u.target, u.name); err != nil {
				return err
			}
		}
		for _, g := range []AppliedGroup{{ID: "g1", TargetID: "G", Name: "Sales"}, {ID: "g2", TargetID: "G", Name: "Sales EU"}, {ID: "g3", TargetID: "H", Name: "Support"}} {
			if _, err := tx.exec(`INSERT INTO applied_groups (connection, id, target_id, name) VALUES ('acme', ?, ?, ?)`, g.ID, g.TargetID, g.Name); err != nil {
				return err
			}
		}
		if err := tx.SetAppliedMembers("acme", "g3", []string{"aaa-111", "ccc-333"}, true); err != nil {
			return err
		}
		return tx.SetAppliedMembers("acme", "g1", []string{"ccc-333"}, true)
	})
	s.Close()

	s = open(t, path)
	update(t, s, func(tx *Tx) error {
		users, err := tx.AppliedUsers("acme", nil)
		if err != nil {
			return err
		}
		var ids []string
		for id := range users {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		if !slices.Equal(ids, []string{"ccc-333", "d", "e"}) {
			t.Errorf("applied users after the migration: %v, want the shared pair forgotten", ids)
		}
		gs, _ := tx.AppliedGroups("acme")
		if len(gs) != 1 || gs["g3"].TargetID != "H" {
			t.Errorf("applied groups after the migration: %+v", gs)
		}
		m, _ := tx.AppliedMemberships("acme", nil)
		if !slices.Equal(m["ccc-333"], []string{"g3"}) || len(m["aaa-111"]) != 0 {
			t.Errorf("memberships after the migration: %v", m)
		}
		du, dg, err := tx.Dirty("acme")
		slices.Sort(du)
		slices.Sort(dg)
		if !slices.Equal(du, []string{"aaa-111", "bbb-222"}) || !slices.Equal(dg, []string{"g1", "g2"}) {
			t.Errorf("dirty after the migration: users %v groups %v", du, dg)
		}
		ev, err := tx.Events(Filter{Connection: "acme", User: "bbb-222"})
		if len(ev) != 1 || ev[0].Kind != "migration" || ev[0].Result != "failed" || time.Since(ev[0].At) > time.Hour ||
			!strings.Contains(ev[0].Detail, "workspace account X") || !strings.Contains(ev[0].Detail, "jsmith.old@x (aaa-111)") ||
			!strings.Contains(ev[0].Detail, "jsmith@x (bbb-222)") {
			t.Errorf("provisioning log for bbb-222: %+v", ev)
		}
		if ev, _ := tx.Events(Filter{Connection: "acme", User: "g2"}); len(ev) != 1 || !strings.Contains(ev[0].Detail, "Sales (g1)") {
			t.Errorf("provisioning log for g2: %+v", ev)
		}
		// From now on the index holds.
		if err := tx.SetAppliedUser("acme", "Y", acct("bbb-222", "jsmith@x")); !errors.Is(err, ErrTargetTaken) {
			t.Errorf("after the migration: %v", err)
		}
		return err
	})
}
