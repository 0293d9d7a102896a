package scim

import (
	"context"
	"slices"
	stdsync "sync"
	"time"
)

// MemRepo is an in-memory Repo: the reference implementation of the
// contract (used by the tests and fuzzers, and a model for the state-DB
// one). Writes are serialized; an Update's Puts and Deletes are staged and
// land together only when f returns nil. Resources handed out are copies.
type MemRepo struct {
	mu    stdsync.RWMutex
	res   map[Kind]map[string]*Resource
	ids   map[Kind][]string // sorted, for Scan's stable order
	names map[string]string // UserNameKey(userName) → user id
	now   func() time.Time  // for Created/Modified
	wmu   stdsync.Mutex     // one writer at a time
}

var (
	_ Repo   = (*MemRepo)(nil)
	_ RepoTx = (*memTx)(nil)
)

// NewMemRepo returns an empty MemRepo.
func NewMemRepo() *MemRepo {
	return &MemRepo{
		res:   map[Kind]map[string]*Resource{KindUser: {}, KindGroup: {}},
		ids:   map[Kind][]string{},
		names: map[string]string{},
		now:   time.Now,
	}
}

// Len returns how many resources of kind are stored.
func (m *MemRepo) Len(kind Kind) int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.res[kind])
}

func (m *MemRepo) Get(ctx context.Context, kind Kind, id string) (*Resource, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	r, ok := m.res[kind][id]
	if !ok {
		return nil, ErrNotFound
	}
	return cloneResource(r), nil
}

func (m *MemRepo) ByUserName(ctx context.Context, userName string) (*Resource, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	id, ok := m.names[UserNameKey(userName)]
	if !ok {
		return nil, ErrNotFound
	}
	return cloneResource(m.res[KindUser][id]), nil
}

func (m *MemRepo) Scan(ctx context.Context, kind Kind, f func(*Resource) bool) error {
	m.mu.RLock()
	list := make([]*Resource, 0, len(m.ids[kind]))
	for _, id := range m.ids[kind] {
		list = append(list, m.res[kind][id])
	}
	m.mu.RUnlock()
	for _, r := range list {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !f(cloneResource(r)) {
			break
		}
	}
	return nil
}

func (m *MemRepo) Update(ctx context.Context, f func(tx RepoTx) error) error {
	m.wmu.Lock()
	defer m.wmu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	tx := &memTx{m: m, puts: map[Kind]map[string]*Resource{KindUser: {}, KindGroup: {}}, dels: map[Kind]map[string]bool{KindUser: {}, KindGroup: {}}}
	if err := f(tx); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for kind, dels := range tx.dels {
		for id := range dels {
			if old, ok := m.res[kind][id]; ok {
				if kind == KindUser {
					delete(m.names, UserNameKey(old.UserName))
				}
				delete(m.res[kind], id)
				if i, found := slices.BinarySearch(m.ids[kind], id); found {
					m.ids[kind] = slices.Delete(m.ids[kind], i, i+1)
				}
			}
		}
	}
	// Free every old userName before taking the new ones: names may have
	// been swapped within the transaction.
	for id := range tx.puts[KindUser] {
		if old, ok := m.res[KindUser][id]; ok {
			delete(m.names, UserNameKey(old.UserName))
		}
	}
	for kind, puts := range tx.puts {
		for id, r := range puts {
			if _, ok := m.res[kind][id]; !ok {
				if i, found := slices.BinarySearch(m.ids[kind], id); !found {
					m.ids[kind] = slices.Insert(m.ids[kind], i, id)
				}
			}
			m.res[kind][id] = r
			if kind == KindUser {
				m.names[UserNameKey(r.UserName)] = id
			}
		}
	}
	return nil
}

// memTx stages writes over the committed state. Only the writer touches
// the committed maps' structure (under wmu), so reading them here without
// mu is safe.
type memTx struct {
	m    *MemRepo
	puts map[Kind]map[string]*Resource
	dels map[Kind]map[string]bool
}

func (t *memTx) lookup(kind Kind, id string) (*Resource, bool) {
	if t.dels[kind][id] {
		return nil, false
	}
	if r, ok := t.puts[kind][id]; ok {
		return r, true
	}
	r, ok := t.m.res[kind][id]
	return r, ok
}

func (t *memTx) Get(kind Kind, id string) (*Resource, error) {
	r, ok := t.lookup(kind, id)
	if !ok {
		return nil, ErrNotFound
	}
	return cloneResource(r), nil
}

func (t *memTx) ByUserName(userName string) (*Resource, error) {
	id, err := t.userID(userName)
	if err != nil {
		return nil, err
	}
	return t.Get(KindUser, id)
}

func (t *memTx) userID(userName string) (string, error) {
	for id, r := range t.puts[KindUser] {
		if UserNameKey(r.UserName) == UserNameKey(userName) {
			return id, nil
		}
	}
	id, ok := t.m.names[UserNameKey(userName)]
	if !ok || t.dels[KindUser][id] {
		return "", ErrNotFound
	}
	if _, staged := t.puts[KindUser][id]; staged { // renamed in this tx
		return "", ErrNotFound
	}
	return id, nil
}

func (t *memTx) Put(r *Resource) error {
	if r.Kind != KindUser && r.Kind != KindGroup {
		return ErrNotFound
	}
	if r.Kind == KindUser {
		if other, err := t.userID(r.UserName); err == nil && other != r.ID {
			return ErrConflict
		}
	}
	now := r.Modified // the handler's clock (Options.Now) when it set one
	if now.IsZero() {
		now = t.m.now()
	}
	if old, ok := t.lookup(r.Kind, r.ID); ok {
		r.Version = old.Version + 1
		r.Created = old.Created
	} else {
		r.Version = 1
		if r.Created.IsZero() {
			r.Created = now
		}
	}
	r.Modified = now
	delete(t.dels[r.Kind], r.ID)
	t.puts[r.Kind][r.ID] = cloneResource(r)
	return nil
}

func (t *memTx) Delete(kind Kind, id string) error {
	if _, ok := t.lookup(kind, id); !ok {
		return ErrNotFound
	}
	delete(t.puts[kind], id)
	t.dels[kind][id] = true
	if kind != KindUser {
		return nil
	}
	// A deleted user leaves every group it was in.
	var groups []string
	for gid := range t.m.res[KindGroup] {
		groups = append(groups, gid)
	}
	for gid := range t.puts[KindGroup] {
		if _, ok := t.m.res[KindGroup][gid]; !ok {
			groups = append(groups, gid)
		}
	}
	for _, gid := range groups {
		g, ok := t.lookup(KindGroup, gid)
		if !ok {
			continue
		}
		members, _ := g.Attrs["members"].([]any)
		kept := members[:0:0]
		for _, mv := range members {
			if mm, ok := mv.(map[string]any); ok && mm["value"] == id {
				continue
			}
			kept = append(kept, mv)
		}
		if len(kept) == len(members) {
			continue
		}
		g = cloneResource(g)
		if len(kept) == 0 {
			delete(g.Attrs, "members")
		} else {
			g.Attrs["members"] = kept
		}
		if err := t.Put(g); err != nil {
			return err
		}
	}
	return nil
}

func cloneResource(r *Resource) *Resource {
	c := *r
	c.Attrs, _ = cloneJSON(r.Attrs).(map[string]any)
	if c.Attrs == nil {
		c.Attrs = map[string]any{}
	}
	return &c
}

// cloneJSON deep-copies a decoded JSON value.
func cloneJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		c := make(map[string]any, len(x))
		for k, e := range x {
			c[k] = cloneJSON(e)
		}
		return c
	case []any:
		c := make([]any, len(x))
		for i, e := range x {
			c[i] = cloneJSON(e)
		}
		return c
	}
	return v
}
