package groupcommit

import (
	"runtime"
	stdsync "sync"
	"testing"
)

// Items added from many goroutines while groups commit are each committed
// exactly once, in groups of at most max, and the queue ends idle.
func TestEveryItemCommittedOnceInBoundedGroups(t *testing.T) {
	var q Queue[int]
	var mu stdsync.Mutex
	seen := map[int]int{}
	largest := 0
	commit := func(group []int) {
		mu.Lock()
		defer mu.Unlock()
		largest = max(largest, len(group))
		for _, v := range group {
			seen[v]++
		}
	}
	var wg stdsync.WaitGroup
	for i := range 2000 {
		wg.Add(1)
		go func() { defer wg.Done(); q.Add(i, 7, commit) }()
	}
	wg.Wait()
	for { // the last hand-on goroutines may still run: wait until idle
		if n, busy := q.State(); n == 0 && !busy {
			break
		}
		runtime.Gosched()
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2000 || largest > 7 || largest == 0 {
		t.Fatalf("%d items committed, largest group %d", len(seen), largest)
	}
	for v, n := range seen {
		if n != 1 {
			t.Fatalf("item %d committed %d times", v, n)
		}
	}
}
