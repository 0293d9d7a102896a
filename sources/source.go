// Package sources defines how idsync reads an identity provider. Each IdP
// has its own package below this one (entra, okta, scim); the engine sees
// only the Source interface.
package sources

import (
	"context"
	"errors"

	"github.com/idsync/idsync"
)

// Source reads a directory.
type Source interface {
	// Pull reports the changes since cursor to emit, one page at a time, in
	// the order they must be applied. cursor "" asks for a full read.
	//
	// It returns the cursor to save once every page has been emitted, and
	// full=true when this was a complete read of everything in scope (the
	// engine then sweeps whatever the read did not mention). A source may
	// decide on its own to do a full read (full=true) even when given a cursor.
	//
	// Absence from a full read is the engine's proof of a permanent delete,
	// so a full read must mention every user the IdP still holds: live ones
	// (ChangeUser, disabled or deactivated ones included) and restorable ones
	// (ChangeUserRemoved with RemovalSoft, e.g. Entra's recycle bin, every
	// full read again). A user a completed full read does not mention at all
	// becomes RemovalHard, even one the snapshot held as soft-deleted. A
	// source that cannot list something it still holds must fail the pull
	// rather than return full=true. Outside full reads, a source reports
	// RemovalHard only on the IdP's word that the user is gone for good.
	//
	// On any error the engine discards next; it never saves a cursor of a
	// pull that did not finish. If emit returns an error, Pull must stop and
	// return it. ErrCursorExpired asks the engine for a full read.
	//
	// emit takes ownership of page: the engine may still be writing it after
	// emit returns, so a source must not modify or reuse it.
	Pull(ctx context.Context, cursor string, emit func(page []idsync.Change) error) (next string, full bool, err error)
}

// ErrCursorExpired is returned (wrapped) by Pull when the IdP no longer
// honours the cursor (Graph 410 Gone / syncStateNotFound). The engine answers
// with a full read and a mark-and-sweep.
var ErrCursorExpired = errors.New("cursor expired")

// ErrUnauthorized is returned (wrapped) when the IdP rejects idsync's
// credentials, so the operator is told to fix them rather than wait.
var ErrUnauthorized = errors.New("credentials rejected")
