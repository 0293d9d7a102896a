package targets

import (
	"context"

	"github.com/idsync/idsync"
)

// Batcher is implemented by targets that can send ops of several objects
// in one request (SCIM Bulk, RFC 7644 §3.7), to spend fewer of the
// workspace's requests.
//
// Contract: the engine asks BatchSize once per phase (a target may learn it
// from the workspace, e.g. /ServiceProviderConfig; 0 or 1 means "do not
// batch") and Batchable for each op. It then calls ApplyBatch with at most
// BatchSize ops, each on a different object, in plan order; one op at a time
// per object still holds (an object's next op waits for its batch). Unlike
// Merger, a batch is not all or nothing: ApplyBatch returns one result per
// op, in order, each classified as for Target.Apply (RetryableError,
// ErrUnauthorized, or permanent), and the engine records each op on its own
// and retries only the retryable ones. A failure of the whole request is
// every op's result. Like Apply, ApplyBatch must be idempotent per op.
//
// Ops other than creates change an account idsync recorded. A target that
// is also an Indexer batches them by checking each against the phase's
// index (IndexOf) instead of reading it first, so the engine batches them
// only in a phase whose ctx carries one, and applies them alone,
// concurrently, otherwise; Batchable answers as if the phase had an index.
type Batcher interface {
	BatchSize(ctx context.Context) int
	Batchable(op idsync.Op) bool
	ApplyBatch(ctx context.Context, ops []idsync.Op) []Result
}

// Result is what one op of a batch came to.
type Result struct {
	Applied idsync.Applied
	Err     error
}
