package entra

import (
	"context"
	stdsync "sync"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/sources"
)

var _ sources.Confirmer = (*Source)(nil)

// Confirm looks up, one by one, the users a completed full read did not
// mention (sources.Confirmer). The recycle bin listings before and after
// the users round miss a user deleted and restored again while the round
// runs (the everyday "oops, restore"), and the sweep would take that live
// user for deleted for good. So each is read now, as rereadUser reads a
// user that answered 404: GET /users/{id} (live: 1 request); else GET
// /directory/deletedItems/{id} (in the bin: a soft removal, 2 requests);
// else GET /users/{id} once more, so a restore between the first two reads
// cannot delete anyone (gone: a hard removal, 3 requests).
//
// Candidates are rare (a user purged from the bin, or deleted for good,
// since the last read reported it), but a first full read after an expired
// cursor may bring thousands: confirmWorkers requests run at a time, and
// each batch of confirmBatch users is emitted as one page once all of it
// is answered. The first failure stops the rest and is returned.
func (s *Source) Confirm(ctx context.Context, ids []string, emit func([]idsync.Change) error) error {
	for len(ids) > 0 {
		n := min(len(ids), confirmBatch)
		page, err := s.confirmBatch(ctx, ids[:n])
		if err != nil {
			return err
		}
		if err := emit(page); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

const (
	confirmBatch   = 100
	confirmWorkers = 4
)

// confirmBatch reads ids with up to confirmWorkers requests at a time and
// returns their changes in the order of ids.
func (s *Source) confirmBatch(ctx context.Context, ids []string) ([]idsync.Change, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	page := make([]idsync.Change, len(ids))
	next := make(chan int)
	var wg stdsync.WaitGroup
	for range min(confirmWorkers, len(ids)) {
		wg.Go(func() {
			for i := range next {
				c, err := s.rereadUser(ctx, ids[i])
				if err != nil {
					cancel(err)
					continue // drain: the sender stops at the cancel
				}
				page[i] = c
			}
		})
	}
feed:
	for i := range ids {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return page, nil
}
