package entra

import (
	"fmt"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/internal/httppolicy"
)

// The users and groups delta pages are decoded here, in one pass over the
// bytes, straight into changes (jsonReader says how it stays
// encoding/json's equal). On a first read of 100,000 users they are ~900
// pages and ~45 MB; encoding/json took ~0.5 s of CPU over them and
// allocated every field and member on its own. Here a page's kept values
// (ids, names, ...) are copied into one arena that becomes one string,
// which every field of the page slices; users and groups are one slice per
// page; and the change slice is allocated at its final size.
//
// What comes out is what decodePage and appendUserChange /
// appendGroupChanges make of the same page (they remain for single users
// and as the reference of the differential fuzz test).

// deltaResult is a decoded users or groups delta page.
type deltaResult struct {
	next, delta string
	changes     []idsync.Change
	partial     []int // users: the changes that stand for partial entries, to be re-read whole
}

var (
	pageFields    = newFields("@odata.nextLink", "@odata.deltaLink", "value")
	userFields    = newFields("id", "userPrincipalName", "mail", "givenName", "surname", "displayName", "accountEnabled", "employeeId", "jobTitle", "department", "@removed")
	removedFields = newFields("reason")
	groupFields   = newFields("id", "displayName", "description", "@removed", "members@delta")
	memberFields  = newFields("@odata.type", "id", "@removed")
)

const (
	uID, uUPN, uMail, uGiven, uSurname, uDisplay, uEnabled, uEmployee, uTitle, uDept, uRemoved = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
	gID, gName, gDesc, gRemoved, gMembers                                                      = 0, 1, 2, 3, 4
	mType, mID, mRemoved                                                                       = 0, 1, 2
)

// entryReader reads one element of a page's value (r.i at it, nesting
// depth its own).
type entryReader interface {
	entry(r *jsonReader, depth int) error
}

// readPage reads a delta page: its links, and each element of value
// through er. onNext, when set, gets the nextLink as soon as it is read
// (Graph sends it before value), so the next page can be asked for while
// this one is read; the caller still checks it as decodePage does.
func readPage(r *jsonReader, max int, onNext func(string), er entryReader) (next, delta string, err error) {
	switch c := r.peek(); c {
	case '{':
	case 'n': // null decodes to an empty page
		if err := r.lit("null"); err != nil {
			return "", "", err
		}
		return "", "", r.end()
	case 0:
		return "", "", r.unexpected("a JSON value")
	default:
		return "", "", r.errf("want an object, got %s", jsonKind(c))
	}
	_ = r.open(1)
	err = r.object(&pageFields, 1, func(f int) error {
		if f != 2 { // a link
			s0, s1, pl, ok, err := r.strOrNull(pageFields.names[f])
			if err != nil || !ok {
				return err
			}
			if l := string(r.value(s0, s1, pl)); f == 0 {
				next = l
				if onNext != nil {
					onNext(l)
				}
			} else {
				delta = l
			}
			return nil
		}
		switch r.b[r.i] {
		case 'n':
			return r.lit("null")
		case '[':
		default:
			return r.typeError("value", "an array")
		}
		_ = r.open(2)
		for n, first := 0, true; ; first = false {
			more, err := r.elem(first)
			if err != nil || !more {
				return err
			}
			if n++; n > max {
				return &httppolicy.TooManyElementsError{Key: "value", Max: max}
			}
			if err := er.entry(r, 3); err != nil {
				return err
			}
		}
	})
	if err != nil {
		return "", "", err
	}
	return next, delta, r.end()
}

// readRemoved reads an "@removed" value: null (not removed) or an object
// whose reason, if a string, says how.
func (r *jsonReader) readRemoved(depth int) (removed, hard bool, err error) {
	switch r.b[r.i] {
	case 'n':
		return false, false, r.lit("null")
	case '{':
	default:
		return false, false, r.typeError("@removed", "an object")
	}
	if err := r.open(depth); err != nil {
		return false, false, err
	}
	err = r.object(&removedFields, depth, func(int) error {
		s0, s1, pl, ok, err := r.strOrNull("reason")
		hard = err == nil && ok && removal(string(r.value(s0, s1, pl))) == idsync.RemovalHard
		return err
	})
	return err == nil, hard, err
}

// users

type userEntry struct {
	f                         [uDept + 1]span // the string fields, by userFields index
	hasUPN, disabled, removed bool
	hard                      bool
}

type usersDecoder struct {
	r       jsonReader
	entries []userEntry
}

// decode decodes a users/delta page into the changes
// appendUserChange makes of its entries, and checks its links as
// decodePage does. A partial entry (no userPrincipalName) comes as a user
// with its id only, listed in partial.
func (d *usersDecoder) decode(graphURL, asked string, body []byte, max int, onNext func(string)) (deltaResult, error) {
	d.r = jsonReader{b: body, arena: d.r.arena[:0], tmp: d.r.tmp, fold: d.r.fold}
	d.entries = d.entries[:0]
	next, delta, err := readPage(&d.r, max, onNext, d)
	if err != nil {
		return deltaResult{}, fmt.Errorf("decode: %w", err)
	}
	if err := checkLinks(graphURL, asked, next, delta); err != nil {
		return deltaResult{}, err
	}
	res := deltaResult{next: next, delta: delta}
	if len(d.entries) == 0 {
		return res, nil
	}
	s := string(d.r.arena)
	val := func(sp span) string { return s[sp.off:sp.end] }
	users := make([]idsync.User, len(d.entries))
	res.changes = make([]idsync.Change, 0, len(d.entries))
	for k := range d.entries {
		e := &d.entries[k]
		id := val(e.f[uID])
		switch {
		case e.removed:
			r := idsync.RemovalSoft
			if e.hard {
				r = idsync.RemovalHard
			}
			res.changes = append(res.changes, idsync.UserRemovedChange(id, r))
			continue
		case !e.hasUPN:
			res.partial = append(res.partial, len(res.changes))
			users[k] = idsync.User{ID: id}
		default:
			status := idsync.StatusActive
			if e.disabled {
				status = idsync.StatusDisabled
			}
			users[k] = idsync.User{
				ID:          id,
				UserName:    val(e.f[uUPN]),
				Email:       val(e.f[uMail]),
				GivenName:   val(e.f[uGiven]),
				FamilyName:  val(e.f[uSurname]),
				DisplayName: val(e.f[uDisplay]),
				EmployeeID:  val(e.f[uEmployee]),
				Title:       val(e.f[uTitle]),
				Department:  val(e.f[uDept]),
				Status:      status,
			}
		}
		res.changes = append(res.changes, idsync.Change{Kind: idsync.ChangeUser, User: &users[k]})
	}
	return res, nil
}

func (d *usersDecoder) entry(r *jsonReader, depth int) error {
	switch r.b[r.i] {
	case 'n': // a zero entry: no id, no change
		return r.lit("null")
	case '{':
	default:
		return r.typeError("value entry", "an object")
	}
	if err := r.open(depth); err != nil {
		return err
	}
	mark := len(r.arena)
	var e userEntry
	err := r.object(&userFields, depth, func(f int) (err error) {
		switch f {
		case uEnabled:
			v, set, err := r.boolOrNull(userFields.names[f])
			e.disabled = set && !v
			return err
		case uRemoved:
			e.removed, e.hard, err = r.readRemoved(depth + 1)
			return err
		}
		sp, ok, err := r.keepStr(userFields.names[f])
		e.f[f] = sp
		if f == uUPN {
			e.hasUPN = ok
		}
		return err
	})
	if err != nil {
		return err
	}
	if e.f[uID].end == e.f[uID].off { // no id: appendUserChange skips it
		r.arena = r.arena[:mark]
		return nil
	}
	d.entries = append(d.entries, e)
	return nil
}

// groups

type groupEntry struct {
	id, name, desc   span
	hasName, removed bool
	m0, m1           int // its members: groupsDecoder.members[m0:m1]
}

type memberEntry struct {
	id      span
	kind    idsync.MemberKind
	removed bool
}

type groupsDecoder struct {
	r       jsonReader
	entries []groupEntry
	members []memberEntry
}

// decode decodes a groups/delta page into the changes appendGroupChanges
// makes of its entries, and checks its links as decodePage does.
func (d *groupsDecoder) decode(graphURL, asked string, body []byte, max int, onNext func(string)) (deltaResult, error) {
	d.r = jsonReader{b: body, arena: d.r.arena[:0], tmp: d.r.tmp, fold: d.r.fold}
	d.entries, d.members = d.entries[:0], d.members[:0]
	next, delta, err := readPage(&d.r, max, onNext, d)
	if err != nil {
		return deltaResult{}, fmt.Errorf("decode: %w", err)
	}
	if err := checkLinks(graphURL, asked, next, delta); err != nil {
		return deltaResult{}, err
	}
	res := deltaResult{next: next, delta: delta}
	if len(d.entries) == 0 {
		return res, nil
	}
	s := string(d.r.arena)
	val := func(sp span) string { return s[sp.off:sp.end] }
	n, named := 0, 0
	for _, e := range d.entries {
		switch {
		case e.removed:
			n++
		case e.hasName:
			n, named = n+1+e.m1-e.m0, named+1
		default:
			n += e.m1 - e.m0
		}
	}
	if n == 0 {
		return res, nil
	}
	groups := make([]idsync.Group, 0, named)
	res.changes = make([]idsync.Change, 0, n)
	for _, e := range d.entries {
		id := val(e.id)
		if e.removed {
			res.changes = append(res.changes, idsync.GroupRemovedChange(id))
			continue
		}
		if e.hasName {
			groups = append(groups, idsync.Group{ID: id, Name: val(e.name), Description: val(e.desc)})
			res.changes = append(res.changes, idsync.Change{Kind: idsync.ChangeGroup, Group: &groups[len(groups)-1]})
		}
		for _, m := range d.members[e.m0:e.m1] {
			if m.removed {
				res.changes = append(res.changes, idsync.MemberRemovedChange(id, val(m.id)))
			} else {
				res.changes = append(res.changes, idsync.MemberAddedChange(id, val(m.id), m.kind))
			}
		}
	}
	return res, nil
}

func (d *groupsDecoder) entry(r *jsonReader, depth int) error {
	switch r.b[r.i] {
	case 'n':
		return r.lit("null")
	case '{':
	default:
		return r.typeError("value entry", "an object")
	}
	if err := r.open(depth); err != nil {
		return err
	}
	mark, m0 := len(r.arena), len(d.members)
	var e groupEntry
	err := r.object(&groupFields, depth, func(f int) (err error) {
		switch f {
		case gID:
			e.id, _, err = r.keepStr("id")
		case gName:
			e.name, e.hasName, err = r.keepStr("displayName")
		case gDesc:
			e.desc, _, err = r.keepStr("description")
		case gRemoved:
			e.removed, _, err = r.readRemoved(depth + 1)
		case gMembers:
			err = d.readMembers(r, depth+1)
		}
		return err
	})
	if err != nil {
		return err
	}
	if e.id.end == e.id.off { // no id: appendGroupChanges skips it, members and all
		r.arena, d.members = r.arena[:mark], d.members[:m0]
		return nil
	}
	e.m0, e.m1 = m0, len(d.members)
	d.entries = append(d.entries, e)
	return nil
}

// readMembers reads members@delta (an array of members, or null), keeping
// the members appendGroupChanges turns into changes: users and groups with
// an id.
func (d *groupsDecoder) readMembers(r *jsonReader, depth int) error {
	switch r.b[r.i] {
	case 'n':
		return r.lit("null")
	case '[':
	default:
		return r.typeError("members@delta", "an array")
	}
	if err := r.open(depth); err != nil {
		return err
	}
	for first := true; ; first = false {
		more, err := r.elem(first)
		if err != nil || !more {
			return err
		}
		switch r.b[r.i] {
		case 'n':
			if err := r.lit("null"); err != nil {
				return err
			}
			continue
		case '{':
		default:
			return r.typeError("members@delta entry", "an object")
		}
		if err := r.open(depth + 1); err != nil {
			return err
		}
		mark := len(r.arena)
		var m memberEntry
		err = r.object(&memberFields, depth+1, func(f int) (err error) {
			switch f {
			case mType:
				s0, s1, pl, ok, err := r.strOrNull("@odata.type")
				if err != nil || !ok {
					return err
				}
				// Only users and nested groups matter for provisioning;
				// devices, contacts and service principals are skipped.
				switch string(r.value(s0, s1, pl)) {
				case "#microsoft.graph.user":
					m.kind = idsync.MemberUser
				case "#microsoft.graph.group":
					m.kind = idsync.MemberGroup
				}
			case mID:
				m.id, _, err = r.keepStr("id")
			case mRemoved:
				m.removed, _, err = r.readRemoved(depth + 2)
			}
			return err
		})
		if err != nil {
			return err
		}
		if m.kind == "" || m.id.end == m.id.off {
			r.arena = r.arena[:mark]
			continue
		}
		d.members = append(d.members, m)
	}
}
