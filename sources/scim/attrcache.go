package scim

import (
	"github.com/idsync/idsync/state"
)

// Decoding a stored row's JSON was the largest cost of a read served from
// memory (and a write decodes the row it replaces twice). The repo keeps
// each current row's decoded attributes and hands out copies: a copy of a
// decoded tree costs a fraction of decoding it, and no caller can change
// what another one sees. The cache holds only rows that are current
// (remember drops replaced ones) and at most maxDecoded of them.

// maxDecoded bounds the decoded rows kept: a large tenant costs a bounded
// amount of memory beyond its rows; past it, reads decode as before.
const maxDecoded = 20000

// resourceOf is p as a Resource (ErrNotFound for nil), its Attrs the
// caller's own.
func (r *StateRepo) resourceOf(p *state.PushResource) (*Resource, error) {
	if p == nil {
		return nil, ErrNotFound
	}
	if attrs, ok := r.decoded.Load(p); ok {
		return &Resource{Kind: Kind(p.Kind), ID: p.ID, UserName: p.UserName, ExternalID: p.ExternalID,
			Version: p.Version, Created: p.Created, Modified: p.Modified, Attrs: cloneObject(attrs.(map[string]any))}, nil
	}
	res, err := snapResourceOf(p, nil)
	if err != nil {
		return nil, err
	}
	// Kept only while p is current: the read lock orders this against
	// remember (which drops replaced rows under the write lock), so a row
	// replaced meanwhile is not kept for ever. A read lock, not the write
	// lock: the first read of each row must not stall every other reader.
	r.mu.RLock()
	if r.rows[Kind(p.Kind)][p.ID] == p && r.ndecoded.Load() < maxDecoded {
		if _, loaded := r.decoded.LoadOrStore(p, cloneObject(res.Attrs)); !loaded {
			r.ndecoded.Add(1)
		}
	}
	r.mu.RUnlock()
	return res, nil
}

// cloneObject copies a decoded JSON object deeply (cloneJSON, memrepo.go).
func cloneObject(m map[string]any) map[string]any {
	c, _ := cloneJSON(m).(map[string]any)
	return c
}
