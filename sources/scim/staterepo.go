package scim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	stdsync "sync"
	"sync/atomic"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/internal/groupcommit"
	"github.com/idsync/idsync/state"
)

// StateRepo is the Repo of a push connection in the state database: every
// accepted write lands, in one transaction, in the connection's pushed
// resources (what the listener serves back) and in its snapshot as
// idsync's users, groups and memberships (what the engine plans from),
// marking what changed dirty. The engine then runs the connection as it
// runs a pull source's, from the snapshot on.
//
// Identity is the id the listener assigned (Resource.ID): it is the
// snapshot user's id and so the workspace account's externalId. userName
// and the sender's externalId may change; the id never does.
//
// Reads by id and by userName are served from memory: a copy of the
// connection's rows, loaded at the first read and updated after each
// committed write, in commit order (one write of the repo at a time). The
// daemon holds the state's lock and this repo is the only writer of the
// connection's pushed resources, so the copy is what the database holds.
// Listings (Scan) read the database. Writes that queue for the database are
// committed together, each in a savepoint (groupcommit.go).
//
// On a shared store (PostgreSQL, where other daemons may take pushes for
// the same connection: state/pushwrite.go) there is no copy: every read
// goes to the database, and a write transaction first takes the
// connection's push lock, so that it reads what the last push at any
// daemon committed.
type StateRepo struct {
	store *state.Store
	conn  string

	wmu    stdsync.Mutex // one write at a time: the copy follows the commits in order
	mu     stdsync.RWMutex
	loaded bool
	rows   map[Kind]map[string]*state.PushResource
	names  map[string]string // lower-cased userName → user id
	// decoded holds current rows' attributes decoded (attrcache.go).
	decoded  stdsync.Map // *state.PushResource → map[string]any
	ndecoded atomic.Int64

	// The writes waiting for their group's commit (groupcommit.go).
	queue groupcommit.Queue[*pendingWrite]
}

var (
	_ Repo   = (*StateRepo)(nil)
	_ RepoTx = (*stateTx)(nil)
)

// NewStateRepo is the Repo of connection conn in store.
func NewStateRepo(store *state.Store, conn string) *StateRepo {
	return &StateRepo{store: store, conn: conn}
}

// pushGeneration stamps what a push writes into the snapshot. Push
// connections never do a full read, so nothing is ever swept by
// generation; the engine's pulls (which read nothing) only bump the
// counter.
const pushGeneration = 0

func (r *StateRepo) Get(ctx context.Context, kind Kind, id string) (*Resource, error) {
	if r.store.Shared() {
		return r.read(ctx, func(tx *state.Tx) (*state.PushResource, error) { return tx.PushResource(r.conn, string(kind), id) })
	}
	if err := r.load(ctx); err != nil {
		return nil, err
	}
	r.mu.RLock()
	p := r.rows[kind][id]
	r.mu.RUnlock()
	return r.resourceOf(p)
}

func (r *StateRepo) ByUserName(ctx context.Context, userName string) (*Resource, error) {
	if r.store.Shared() {
		return r.read(ctx, func(tx *state.Tx) (*state.PushResource, error) { return tx.PushUserByName(r.conn, userName) })
	}
	if err := r.load(ctx); err != nil {
		return nil, err
	}
	r.mu.RLock()
	p := r.rows[KindUser][r.names[strings.ToLower(userName)]]
	r.mu.RUnlock()
	return r.resourceOf(p)
}

// read is one row read from the database (a shared store keeps no copy).
func (r *StateRepo) read(ctx context.Context, f func(*state.Tx) (*state.PushResource, error)) (*Resource, error) {
	var p *state.PushResource
	err := r.store.View(ctx, func(tx *state.Tx) error {
		var err error
		p, err = f(tx)
		return err
	})
	return snapResourceOf(p, err)
}

// load reads the connection's rows into memory, once.
func (r *StateRepo) load(ctx context.Context) error {
	r.mu.RLock()
	done := r.loaded
	r.mu.RUnlock()
	if done {
		return nil
	}
	r.wmu.Lock() // no write commits while the copy is read
	defer r.wmu.Unlock()
	return r.loadLocked(ctx)
}

func (r *StateRepo) loadLocked(ctx context.Context) error {
	// Loaded: no exclusive lock (each write group comes here, and a
	// writer waiting for mu holds up every read behind it).
	r.mu.RLock()
	done := r.loaded
	r.mu.RUnlock()
	if done {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.loaded || r.store.Shared() {
		return nil
	}
	rows := map[Kind]map[string]*state.PushResource{KindUser: {}, KindGroup: {}}
	names := map[string]string{}
	err := r.store.View(ctx, func(tx *state.Tx) error {
		for _, kind := range []Kind{KindUser, KindGroup} {
			after := ""
			for {
				page, err := tx.PushResources(r.conn, string(kind), after, snapScanPage)
				if err != nil {
					return err
				}
				for _, p := range page {
					rows[kind][p.ID] = p
					if kind == KindUser {
						names[strings.ToLower(p.UserName)] = p.ID
					}
				}
				if len(page) < snapScanPage {
					break
				}
				after = page[len(page)-1].ID
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	r.rows, r.names, r.loaded = rows, names, true
	return nil
}

// remember applies a committed transaction's writes to the copy.
func (r *StateRepo) remember(t *stateTx) {
	if r.store.Shared() {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range t.writes {
		old := r.rows[w.kind][w.id]
		if _, ok := r.decoded.LoadAndDelete(old); ok {
			r.ndecoded.Add(-1)
		}
		if old != nil && w.kind == KindUser {
			delete(r.names, strings.ToLower(old.UserName))
		}
		if w.row == nil {
			delete(r.rows[w.kind], w.id)
			continue
		}
		r.rows[w.kind][w.id] = w.row
		if w.kind == KindUser {
			r.names[strings.ToLower(w.row.UserName)] = w.id
		}
	}
}

// snapScanPage is how many resources Scan reads per statement.
const snapScanPage = 500

func (r *StateRepo) Scan(ctx context.Context, kind Kind, f func(*Resource) bool) error {
	// One read transaction: the listing is one consistent state, and a
	// read never blocks the writer.
	return r.store.View(ctx, func(tx *state.Tx) error {
		after := ""
		for {
			page, err := tx.PushResources(r.conn, string(kind), after, snapScanPage)
			if err != nil {
				return err
			}
			for _, p := range page {
				res, err := snapResourceOf(p, nil)
				if err != nil {
					return err
				}
				if !f(res) {
					return nil
				}
			}
			if len(page) < snapScanPage {
				return nil
			}
			after = page[len(page)-1].ID
		}
	})
}

// stateTx is a write transaction of a StateRepo.
type stateTx struct {
	tx     *state.Tx
	conn   string
	repo   *StateRepo
	writes []stateWrite // in order, for the repo's copy once committed
}

// stateWrite is a row a transaction wrote (row nil: deleted).
type stateWrite struct {
	kind Kind
	id   string
	row  *state.PushResource
}

// Reads in a write transaction are served from the repo's copy and the
// transaction's own writes: the repo's write lock is held, so the copy is
// what the database holds (the database still enforces userName's
// uniqueness on every Put).

// row is the resource as this transaction sees it (nil: none).
func (t *stateTx) row(kind Kind, id string) (*state.PushResource, error) {
	if t.repo.store.Shared() {
		// Under the push lock: the database is what the last push wrote.
		return t.tx.PushResource(t.conn, string(kind), id)
	}
	for i := len(t.writes) - 1; i >= 0; i-- {
		if w := t.writes[i]; w.kind == kind && w.id == id {
			return w.row, nil
		}
	}
	t.repo.mu.RLock()
	defer t.repo.mu.RUnlock()
	return t.repo.rows[kind][id], nil
}

// cached is row on a store that is not shared (no error possible).
func (t *stateTx) cached(kind Kind, id string) *state.PushResource {
	p, _ := t.row(kind, id)
	return p
}

func (t *stateTx) Get(kind Kind, id string) (*Resource, error) {
	p, err := t.row(kind, id)
	if err != nil {
		return nil, err
	}
	return t.repo.resourceOf(p)
}

func (t *stateTx) ByUserName(userName string) (*Resource, error) {
	if t.repo.store.Shared() {
		return snapResourceOf(t.tx.PushUserByName(t.conn, userName))
	}
	key := strings.ToLower(userName)
	named := func(p *state.PushResource) bool { return p != nil && strings.ToLower(p.UserName) == key }
	for i := len(t.writes) - 1; i >= 0; i-- {
		if w := t.writes[i]; w.kind == KindUser && named(w.row) && t.cached(KindUser, w.id) == w.row {
			return snapResourceOf(w.row, nil)
		}
	}
	t.repo.mu.RLock()
	id := t.repo.names[key]
	t.repo.mu.RUnlock()
	if p := t.cached(KindUser, id); id != "" && named(p) {
		return t.repo.resourceOf(p)
	}
	return nil, ErrNotFound
}

func (t *stateTx) Put(r *Resource) error {
	if r.Kind != KindUser && r.Kind != KindGroup {
		return fmt.Errorf("scim: put a resource of kind %q", r.Kind)
	}
	old, err := t.Get(r.Kind, r.ID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	attrs, err := json.Marshal(r.Attrs)
	if err != nil {
		return fmt.Errorf("scim: store %s %s: %w", r.Kind, r.ID, err)
	}
	if r.Attrs == nil {
		attrs = []byte("{}")
	}
	userName := r.UserName
	if r.Kind == KindGroup {
		userName = ""
	}
	p := &state.PushResource{Kind: string(r.Kind), ID: r.ID, UserName: userName, ExternalID: r.ExternalID, Attrs: attrs}
	if err := t.tx.PutPushResource(t.conn, p); err != nil {
		if errors.Is(err, state.ErrUserNameTaken) {
			return ErrConflict
		}
		return err
	}
	r.Version, r.Created, r.Modified = p.Version, p.Created, p.Modified
	t.writes = append(t.writes, stateWrite{r.Kind, r.ID, p})
	var changes []idsync.Change
	if r.Kind == KindUser {
		changes = snapUserChanges(old, r)
	} else if changes, err = t.groupChanges(old, r); err != nil {
		return err
	}
	return t.apply(changes)
}

func (t *stateTx) Delete(kind Kind, id string) error {
	ok, err := t.tx.DeletePushResource(t.conn, string(kind), id)
	if err != nil {
		return err
	}
	if !ok {
		return ErrNotFound
	}
	t.writes = append(t.writes, stateWrite{kind, id, nil})
	// A user (or a nested group) leaves every group it was in, in the
	// groups as served too.
	groups, err := t.tx.PushGroupsOf(t.conn, id)
	if err != nil {
		return err
	}
	for _, gid := range groups {
		g, err := t.Get(KindGroup, gid)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if snapMembers, ok := g.Attrs["members"].([]any); ok {
			kept := make([]any, 0, len(snapMembers))
			for _, m := range snapMembers {
				if snapMemberID(m) != id {
					kept = append(kept, m)
				}
			}
			g.Attrs["members"] = kept
		}
		if err := t.Put(g); err != nil {
			return err
		}
	}
	if kind == KindGroup {
		return t.apply([]idsync.Change{idsync.GroupRemovedChange(id)})
	}
	// Deleted for good: the connection's deprovision.deleted applies.
	return t.apply([]idsync.Change{idsync.UserRemovedChange(id, idsync.RemovalHard), idsync.UnassignedChange(id)})
}

func (t *stateTx) apply(changes []idsync.Change) error {
	if len(changes) == 0 {
		return nil
	}
	if err := t.tx.ApplyChanges(t.conn, pushGeneration, changes); err != nil {
		return fmt.Errorf("scim: write the snapshot: %w", err)
	}
	return nil
}

// groupChanges is what replacing old (nil: none) with g changes in the
// snapshot: the group, and its direct members added and removed. A member
// is a group when the connection holds a group of that id (or the sender
// said "type": "Group"), else a user.
func (t *stateTx) groupChanges(old, g *Resource) ([]idsync.Change, error) {
	changes := []idsync.Change{idsync.GroupChange(snapGroupOf(g))}
	before := map[string]bool{}
	if old != nil {
		for _, m := range snapMembers(old) {
			before[m.id] = true
		}
	}
	now := map[string]bool{}
	for _, m := range snapMembers(g) {
		now[m.id] = true
		if before[m.id] {
			continue
		}
		kind := idsync.MemberUser
		if m.group {
			kind = idsync.MemberGroup
		} else if _, err := t.Get(KindGroup, m.id); err == nil {
			kind = idsync.MemberGroup
		} else if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		changes = append(changes, idsync.MemberAddedChange(g.ID, m.id, kind))
	}
	for id := range before {
		if !now[id] {
			changes = append(changes, idsync.MemberRemovedChange(g.ID, id))
		}
	}
	return changes, nil
}

// snapResourceOf turns a stored row into a Resource (ErrNotFound for none).
func snapResourceOf(p *state.PushResource, err error) (*Resource, error) {
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, ErrNotFound
	}
	r := &Resource{Kind: Kind(p.Kind), ID: p.ID, UserName: p.UserName, ExternalID: p.ExternalID,
		Version: p.Version, Created: p.Created, Modified: p.Modified}
	if err := json.Unmarshal(p.Attrs, &r.Attrs); err != nil {
		return nil, fmt.Errorf("scim: stored %s %s: %w", p.Kind, p.ID, err)
	}
	if r.Attrs == nil {
		r.Attrs = map[string]any{}
	}
	return r, nil
}
