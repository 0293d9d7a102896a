// Package targets defines how idsync changes a workspace. Each kind of
// target has its own package below this one (scim, webhook); the engine sees
// only these interfaces.
package targets

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/idsync/idsync"
)

// Target applies ops to a workspace.
type Target interface {
	// Apply performs op and returns the workspace's id for the object
	// (Applied.TargetID; empty after a delete).
	//
	// Apply must be idempotent: the engine may call it again for an op that
	// already succeeded (after a crash, before the success was recorded).
	// A create therefore first looks for an existing account; a delete of an
	// object that is already gone succeeds.
	//
	// Errors: a *RetryableError when trying again later may work (429, 5xx,
	// timeouts); an error wrapping ErrUnauthorized when the workspace rejects
	// idsync's credentials (the engine stops the whole run); anything else is
	// a permanent failure of this op, recorded and retried on a later run.
	Apply(ctx context.Context, op idsync.Op) (idsync.Applied, error)
}

// Lister is implemented by targets that can read the workspace's accounts,
// to adopt existing ones and detect drift.
type Lister interface {
	// ListUsers emits every account in the workspace, a page at a time.
	ListUsers(ctx context.Context, emit func([]idsync.Applied) error) error
}

// Limiter is implemented by targets that say how many ops they take at once.
type Limiter interface {
	// Concurrency is the most ops the engine should apply in parallel (>= 1).
	Concurrency() int
}

// ErrUnauthorized marks a credentials failure (SCIM 401/403): every further
// op would fail the same way, so the engine stops the run with one error.
var ErrUnauthorized = errors.New("workspace rejected credentials")

// RetryableError is a failure that may succeed if tried again later.
type RetryableError struct {
	// After is how long the workspace asked us to wait (Retry-After), or 0.
	After time.Duration
	Err   error
}

func (e *RetryableError) Error() string {
	if e.After > 0 {
		return fmt.Sprintf("%v (retry after %s)", e.Err, e.After)
	}
	return e.Err.Error()
}

func (e *RetryableError) Unwrap() error { return e.Err }

// Retryable reports whether err is worth retrying and how long the workspace
// asked to wait.
func Retryable(err error) (bool, time.Duration) {
	var re *RetryableError
	if errors.As(err, &re) {
		return true, re.After
	}
	return false, 0
}
