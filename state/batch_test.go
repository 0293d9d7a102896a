package state

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/idsync/idsync"
)

// TestBatchedApplyMatchesOneByOne: a page applied whole (batched runs of
// users and member additions) leaves exactly the rows, generations and
// dirty marks that the same changes applied one per call leave.
func TestBatchedApplyMatchesOneByOne(t *testing.T) {
	user := func(i int, title string) idsync.Change {
		return idsync.UserChange(idsync.User{ID: fmt.Sprintf("u%03d", i), UserName: fmt.Sprintf("u%03d@x.test", i), Title: title, Status: idsync.StatusActive})
	}
	var first, second []idsync.Change
	for i := range 600 { // more than two batches
		first = append(first, user(i, "Engineer"))
	}
	first = append(first, user(5, "Manager"), user(5, "Director"), user(6, "Engineer")) // repeats in one page
	first = append(first, idsync.GroupChange(idsync.Group{ID: "g1", Name: "One"}), idsync.GroupChange(idsync.Group{ID: "g2", Name: "Two"}))
	for i := range 300 {
		first = append(first, idsync.MemberAddedChange("g1", fmt.Sprintf("u%03d", i), ""))
	}
	first = append(first, idsync.MemberAddedChange("g1", "u001", idsync.MemberUser), idsync.MemberAddedChange("g1", "g2", idsync.MemberGroup),
		idsync.MemberAddedChange("g2", "u400", idsync.MemberUser), idsync.MemberRemovedChange("g1", "u002"), idsync.MemberAddedChange("g1", "u002", idsync.MemberUser))
	// A second read: most unchanged, some changed, one removed and back,
	// memberships partly new.
	second = append(second, idsync.UserRemovedChange("u010", idsync.RemovalSoft))
	for i := range 600 {
		title := "Engineer"
		if i%7 == 0 {
			title = "Lead"
		}
		second = append(second, user(i, title))
	}
	for i := 200; i < 500; i++ {
		second = append(second, idsync.MemberAddedChange("g1", fmt.Sprintf("u%03d", i), idsync.MemberUser))
	}
	second = append(second, idsync.MemberAddedChange("g1", "u000", idsync.MemberUser))

	dump := func(s *Store) string {
		var b strings.Builder
		for _, q := range []string{
			`SELECT id, ` + userCols + `, removed, generation FROM source_users ORDER BY id`,
			`SELECT group_id, member_id, member_kind, generation FROM source_members ORDER BY group_id, member_id`,
			`SELECT id, name, generation FROM source_groups ORDER BY id`,
			`SELECT id FROM dirty_users ORDER BY id`,
			`SELECT id FROM dirty_groups ORDER BY id`,
		} {
			rows, err := s.db.Query(q)
			if err != nil {
				t.Fatal(err)
			}
			cols, _ := rows.Columns()
			for rows.Next() {
				v := make([]any, len(cols))
				p := make([]any, len(cols))
				for i := range v {
					p[i] = &v[i]
				}
				if err := rows.Scan(p...); err != nil {
					t.Fatal(err)
				}
				fmt.Fprintln(&b, v...)
			}
			rows.Close()
			b.WriteString("--\n")
		}
		return b.String()
	}
	whole := open(t, t.TempDir()+"/whole.db")
	single := open(t, t.TempDir()+"/single.db")
	for gen, page := range [][]idsync.Change{first, second} {
		errWhole := whole.Update(t.Context(), func(tx *Tx) error { return tx.ApplyChanges("c", int64(gen+1), page) })
		var errSingle error
		for c := range slices.Values(page) {
			if errSingle = single.Update(t.Context(), func(tx *Tx) error { return tx.ApplyChanges("c", int64(gen+1), []idsync.Change{c}) }); errSingle != nil {
				break
			}
		}
		if errWhole != nil || errSingle != nil {
			t.Fatalf("read %d: whole page: %v; one by one: %v", gen+1, errWhole, errSingle)
		}
		if w, s := dump(whole), dump(single); w != s {
			t.Fatalf("read %d: batched snapshot differs:\n%s\none by one:\n%s", gen+1, w, s)
		}
	}
}
