package entratest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// Delta semantics served here (Graph "Use delta query to track changes"):
//
//   - The first request (no token) starts a full round: every live object,
//     paged. Each page but the last carries @odata.nextLink ($skiptoken);
//     the last carries @odata.deltaLink ($deltatoken), the cursor for the
//     next round, which returns only what changed since.
//   - Pages hold at most MaxPageSize objects and, for groups, at most
//     MaxMemberLinks members@delta entries; a group with more members than
//     fit is continued on the next page(s) as {id, members@delta} only.
//   - $select is remembered by the tokens (nextLink and deltaLink URLs do not
//     repeat it). Users without $select get Graph's default property set,
//     which lacks accountEnabled, employeeId and department.
//   - Removed users: @removed {"reason": "changed"} (recycle bin) or
//     {"reason": "deleted"} (permanent). A restored user comes back whole.
//     Deleted groups: @removed {"reason": "deleted"}.
//   - Changed groups come with their properties; groups whose members
//     changed but not their properties come as {id, members@delta} listing
//     only the added members and the removed ones (with @removed).
//   - With PartialUpdates, a user changed since the token (not created or
//     restored) comes as its id and only the properties that changed, the
//     minimum Graph documents ("at least the updated properties").
//   - $deltatoken=latest answers no objects and a deltaLink for "now".
//   - A delta token from before ExpireDeltaTokens answers 410 Gone with a
//     Location to restart from and error code syncStateNotFound; an
//     unreadable one 400 syncStateInvalid.
//
// A round may report an object twice or report a change again in the next
// round (pages are read from live data); clients must be idempotent, as
// they must be with Graph.

type deltaToken struct {
	R string `json:"r"`           // route
	F bool   `json:"f,omitempty"` // full round
	W uint64 `json:"w,omitempty"` // report changes stamped after W
	U uint64 `json:"u"`           // stamp at the start of the round: the next round's W
	P int    `json:"p,omitempty"` // next object index
	L int    `json:"l,omitempty"` // next member link index of object P
	N int    `json:"n,omitempty"` // page number of the request
	E int    `json:"e"`           // epoch
	S string `json:"s,omitempty"` // $select
}

func encodeToken(t deltaToken) string {
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(s string) (deltaToken, bool) {
	var t deltaToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &t) != nil {
		return t, false
	}
	return t, true
}

var defaultUserSelect = "displayName,givenName,jobTitle,mail,surname,userPrincipalName"

func (s *Server) delta(w http.ResponseWriter, r *http.Request, route string) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.count(route)
	restart := s.GraphURL + "/" + strings.TrimSuffix(route, "/delta") + "/delta()"
	var t deltaToken
	switch {
	case q.Get("$deltatoken") == "latest":
		t = deltaToken{R: route, U: s.seq, E: s.epoch, S: q.Get("$select")}
		s.writePage(w, t, nil, false)
		return
	case q.Get("$deltatoken") != "":
		old, ok := decodeToken(q.Get("$deltatoken"))
		if !ok || old.R != route {
			graphError(w, http.StatusBadRequest, "syncStateInvalid", "The delta token is invalid.")
			return
		}
		if old.E < s.epoch {
			w.Header().Set("Location", restart)
			graphError(w, http.StatusGone, "syncStateNotFound",
				"The requested sync state has expired or is not found. Restart the sync from the Location header.")
			return
		}
		t = deltaToken{R: route, W: old.U, U: s.seq, N: 1, E: s.epoch, S: old.S}
	case q.Get("$skiptoken") != "":
		var ok bool
		t, ok = decodeToken(q.Get("$skiptoken"))
		if !ok || t.R != route {
			graphError(w, http.StatusBadRequest, "syncStateInvalid", "The skip token is invalid.")
			return
		}
	default:
		t = deltaToken{R: route, F: true, U: s.seq, N: 1, E: s.epoch, S: q.Get("$select")}
	}
	if st := s.takePageFault(route, t.N); st != 0 {
		writeFault(w, st, 0)
		return
	}
	var items [][]byte
	more := false
	if route == "users/delta" {
		items, more = s.userPage(&t)
	} else {
		items, more = s.groupPage(&t)
	}
	s.writePage(w, t, items, more)
}

func (s *Server) writePage(w http.ResponseWriter, t deltaToken, items [][]byte, more bool) {
	link := s.GraphURL + "/" + t.R + "()?"
	b := []byte(`{"@odata.context":`)
	b = appendString(b, s.GraphURL+"/$metadata#"+strings.TrimSuffix(t.R, "/delta"))
	if more {
		t.N++
		b = appendField(b, "@odata.nextLink", link+"$skiptoken="+url.QueryEscape(encodeToken(t)))
	} else {
		next := deltaToken{R: t.R, U: t.U, E: t.E, S: t.S}
		b = appendField(b, "@odata.deltaLink", link+"$deltatoken="+url.QueryEscape(encodeToken(next)))
	}
	b = append(b, `,"value":[`...)
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, it...)
	}
	b = append(b, "]}"...)
	writeJSON(w, b)
}

func selectSet(sel, def string) map[string]bool {
	if sel == "" {
		sel = def
	}
	m := map[string]bool{}
	for _, f := range strings.Split(sel, ",") {
		m[strings.TrimSpace(f)] = true
	}
	return m
}

// userPage fills one page from t.P on and advances t.
func (s *Server) userPage(t *deltaToken) ([][]byte, bool) {
	sel := selectSet(t.S, defaultUserSelect)
	var items [][]byte
	for ; t.P < len(s.userOrder) && len(items) < s.MaxPageSize; t.P++ {
		u := s.userOrder[t.P]
		switch {
		case t.F && u.state == stateLive, !t.F && u.changed > t.W && u.state == stateLive:
			since := uint64(0)
			if s.PartialUpdates && !t.F && u.whole <= t.W {
				since = t.W
			}
			items = append(items, userJSON(u, sel, since))
		case !t.F && u.changed > t.W && u.state == stateSoftDeleted:
			items = append(items, removedJSON(u.ID, "changed"))
		case !t.F && u.changed > t.W && u.state == stateHardDeleted:
			items = append(items, removedJSON(u.ID, "deleted"))
		}
	}
	return items, t.P < len(s.userOrder)
}

func removedJSON(id, reason string) []byte {
	b := []byte(`{"id":`)
	b = appendString(b, id)
	return append(b, `,"@removed":{"reason":"`+reason+`"}}`...)
}

// userJSON writes u's selected properties, or with since > 0 only those
// changed after since.
func userJSON(u *userRec, sel map[string]bool, since uint64) []byte {
	want := func(name string) bool { return sel[name] && (since == 0 || u.stamps[name] > since) }
	b := make([]byte, 0, 384)
	b = append(b, `{"id":`...)
	b = appendString(b, u.ID)
	for _, f := range [...]struct{ name, v string }{
		{"userPrincipalName", u.UserPrincipalName},
		{"mail", u.Mail},
		{"givenName", u.GivenName},
		{"surname", u.Surname},
		{"displayName", u.DisplayName},
		{"employeeId", u.EmployeeID},
		{"jobTitle", u.JobTitle},
		{"department", u.Department},
	} {
		if want(f.name) {
			b = appendField(b, f.name, f.v)
		}
	}
	if want("accountEnabled") {
		if u.AccountEnabled {
			b = append(b, `,"accountEnabled":true`...)
		} else {
			b = append(b, `,"accountEnabled":false`...)
		}
	}
	return append(b, '}')
}

// groupPage fills one page from (t.P, t.L) on and advances t.
func (s *Server) groupPage(t *deltaToken) ([][]byte, bool) {
	sel := selectSet(t.S, "displayName,description")
	withMembers := sel["members"]
	var items [][]byte
	links := 0
	for t.P < len(s.groupOrder) && len(items) < s.MaxPageSize && links < s.MaxMemberLinks {
		g := s.groupOrder[t.P]
		propsChanged := t.F || g.changed > t.W
		switch {
		case t.F && g.state != stateLive:
			t.P, t.L = t.P+1, 0
			continue
		case !t.F && g.state != stateLive:
			if propsChanged {
				items = append(items, removedJSON(g.id, "deleted"))
			}
			t.P, t.L = t.P+1, 0
			continue
		}
		linkWanted := func(l *link) bool {
			if t.F {
				return !l.removed
			}
			return l.changed > t.W
		}
		var chunk []*link
		if withMembers {
			for ; t.L < len(g.links) && links < s.MaxMemberLinks; t.L++ {
				if l := g.links[t.L]; linkWanted(l) {
					chunk = append(chunk, l)
					links++
				}
			}
		} else {
			t.L = len(g.links)
		}
		// The first instance of a group in a round carries its properties
		// when they are news; continuations carry members only.
		first := len(chunk) == 0 || chunk[0] == firstWanted(g, linkWanted)
		props := propsChanged && first
		if props || len(chunk) > 0 {
			items = append(items, groupJSON(g, sel, props, chunk))
		}
		if t.L >= len(g.links) {
			t.P, t.L = t.P+1, 0
		}
	}
	return items, t.P < len(s.groupOrder)
}

func firstWanted(g *groupRec, wanted func(*link) bool) *link {
	for _, l := range g.links {
		if wanted(l) {
			return l
		}
	}
	return nil
}

func groupJSON(g *groupRec, sel map[string]bool, props bool, chunk []*link) []byte {
	b := make([]byte, 0, 128+len(chunk)*80)
	b = append(b, `{"id":`...)
	b = appendString(b, g.id)
	if props {
		if sel["displayName"] {
			b = appendField(b, "displayName", g.name)
		}
		if sel["description"] {
			b = appendField(b, "description", g.description)
		}
	}
	if len(chunk) > 0 {
		b = append(b, `,"members@delta":[`...)
		for i, l := range chunk {
			if i > 0 {
				b = append(b, ',')
			}
			if l.isGroup {
				b = append(b, `{"@odata.type":"#microsoft.graph.group","id":`...)
			} else {
				b = append(b, `{"@odata.type":"#microsoft.graph.user","id":`...)
			}
			b = appendString(b, l.member)
			if l.removed {
				b = append(b, `,"@removed":{"reason":"deleted"}`...)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}
