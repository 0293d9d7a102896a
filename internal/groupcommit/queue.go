// Package groupcommit is the queue behind idsync's two group commits (the
// push listener's writes, the engine's records of applied ops): work that
// arrives while the database is busy is committed in groups, one
// transaction each.
package groupcommit

import stdsync "sync"

// Queue holds the items waiting for a group. The zero Queue is ready.
type Queue[T any] struct {
	mu         stdsync.Mutex
	items      []T
	committing bool
}

// Add queues item. If no group is being committed, the caller leads: it
// commits the group it is in (at most max items) before Add returns, and
// each later group is committed by a goroutine of its own, so no caller
// waits for items queued after its own. Otherwise Add returns at once and
// item goes in a group committed by whoever leads; commit must tell it
// the outcome.
func (q *Queue[T]) Add(item T, max int, commit func(group []T)) {
	q.mu.Lock()
	q.items = append(q.items, item)
	lead := !q.committing
	q.committing = true
	q.mu.Unlock()
	if lead {
		q.next(max, commit)
	}
}

// next commits the next group; if more wait, it hands on to a new
// goroutine, else it clears committing.
func (q *Queue[T]) next(max int, commit func(group []T)) {
	q.mu.Lock()
	n := min(len(q.items), max)
	group := q.items[:n:n]
	q.items = q.items[n:]
	q.mu.Unlock()

	commit(group)

	q.mu.Lock()
	more := len(q.items) > 0
	if !more {
		q.committing, q.items = false, nil
	}
	q.mu.Unlock()
	if more {
		go q.next(max, commit)
	}
}

// State is how many items wait for a group, and whether one is being
// committed.
func (q *Queue[T]) State() (waiting int, committing bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items), q.committing
}
