package state

import "fmt"

// Savepoints let one transaction carry several independent writes and undo
// a failed one alone: the push listener's group commit runs the requests
// waiting for the database in one transaction, each inside a savepoint, so
// a request that fails (a taken userName, a bad member) leaves the others'
// writes in and none of its own. SAVEPOINT, ROLLBACK TO SAVEPOINT and
// RELEASE SAVEPOINT are standard SQL (PostgreSQL has them too).

// Savepoint opens the savepoint named name (a fixed identifier, never
// input).
func (tx *Tx) Savepoint(name string) error {
	if _, err := tx.exec("SAVEPOINT " + name); err != nil {
		return fmt.Errorf("state: savepoint: %w", err)
	}
	return nil
}

// ReleaseSavepoint keeps what was written since Savepoint(name) as part of
// the transaction.
func (tx *Tx) ReleaseSavepoint(name string) error {
	if _, err := tx.exec("RELEASE SAVEPOINT " + name); err != nil {
		return fmt.Errorf("state: release savepoint: %w", err)
	}
	return nil
}

// RollbackToSavepoint undoes what was written since Savepoint(name) and
// closes the savepoint; the transaction goes on.
func (tx *Tx) RollbackToSavepoint(name string) error {
	if _, err := tx.exec("ROLLBACK TO SAVEPOINT " + name); err != nil {
		return fmt.Errorf("state: roll back to savepoint: %w", err)
	}
	return tx.ReleaseSavepoint(name)
}
