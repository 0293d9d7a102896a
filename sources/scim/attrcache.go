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
	r.mu.RLock()
	attrs, ok := r.decoded[p]
	r.mu.RUnlock()
	if ok {
		return &Resource{Kind: Kind(p.Kind), ID: p.ID, UserName: p.UserName, ExternalID: p.ExternalID,
			Version: p.Version, Created: p.Created, Modified: p.Modified, Attrs: cloneObject(attrs)}, nil
	}
	res, err := snapResourceOf(p, nil)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if r.rows[Kind(p.Kind)][p.ID] == p && len(r.decoded) < maxDecoded {
		if r.decoded == nil {
			r.decoded = map[*state.PushResource]map[string]any{}
		}
		r.decoded[p] = cloneObject(res.Attrs)
	}
	r.mu.Unlock()
	return res, nil
}

// cloneObject copies a decoded JSON object deeply (cloneJSON, memrepo.go).
func cloneObject(m map[string]any) map[string]any {
	c, _ := cloneJSON(m).(map[string]any)
	return c
}
