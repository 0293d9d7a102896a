package bench

import (
	"context"
	"fmt"
	"testing"

	"github.com/idsync/idsync"
)

// firstReadPages are the pages a first Entra read of the 100k tenant emits:
// users 200 a page, then groups with their member links 500 a page.
func firstReadPages() [][]idsync.Change {
	var pages [][]idsync.Change
	var page []idsync.Change
	flush := func(n int) {
		if len(page) >= n {
			pages, page = append(pages, page), nil
		}
	}
	for i := range 100_000 {
		id := fmt.Sprintf("u%06d", i)
		page = append(page, idsync.UserChange(idsync.User{ID: id, UserName: id + "@contoso.test", Email: id + "@contoso.test",
			GivenName: "Given", FamilyName: "Family", DisplayName: "User " + id, EmployeeID: "G" + id, Title: "Engineer",
			Department: "Engineering", Status: idsync.StatusActive}))
		flush(200)
	}
	flush(1)
	members := map[int][]string{}
	for i := range 100_000 {
		a, b := i%1000, (i*31+7)%1000
		members[a] = append(members[a], fmt.Sprintf("u%06d", i))
		if b != a {
			members[b] = append(members[b], fmt.Sprintf("u%06d", i))
		}
	}
	for g := range 1000 {
		gid := fmt.Sprintf("g%04d", g)
		page = append(page, idsync.GroupChange(idsync.Group{ID: gid, Name: fmt.Sprintf("Group %04d", g)}))
		for _, m := range members[g] {
			page = append(page, idsync.MemberAddedChange(gid, m, idsync.MemberUser))
			flush(500)
		}
	}
	flush(1)
	return pages
}

// BenchmarkIngestFirstRead100k: the engine's per-page ApplyChanges of a
// first read (100,000 users, 200,000 member links) in one transaction that
// is rolled back, as a dry run does: the snapshot cost without the network.
func BenchmarkIngestFirstRead100k(b *testing.B) {
	pages := firstReadPages()
	st := openStore(b)
	b.ResetTimer()
	for b.Loop() {
		tx, err := st.Begin(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range pages {
			if err := tx.ApplyChanges("bench", 1, p); err != nil {
				b.Fatal(err)
			}
		}
		tx.Rollback()
	}
	b.ReportMetric(300_000*float64(b.N)/b.Elapsed().Seconds(), "changes/s")
}
