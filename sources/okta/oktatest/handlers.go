package oktatest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

const stamp = "2006-01-02T15:04:05.000Z" // Okta's millisecond timestamps

func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(stamp)
}

var userAttrs = map[string]bool{"id": true, "status": true, "lastUpdated": true, "created": true,
	"activated": true, "statusChanged": true, "profile.*": true, "type.id": true}

var groupAttrs = map[string]bool{"id": true, "type": true, "lastUpdated": true, "lastMembershipUpdated": true,
	"created": true, "profile.name": true, "profile.description": true}

var logAttrs = map[string]bool{"eventType": true, "target.id": true, "target.type": true, "uuid": true,
	"actor.id": true, "outcome.result": true, "published": true, "severity": true}

func (s *Server) route(w http.ResponseWriter, r *http.Request, now time.Time) {
	if rest, ok := strings.CutPrefix(r.URL.Path, "/api/v1/"); ok && strings.HasPrefix(rest, "eventHooks") {
		s.eventHooks(w, r, strings.Split(strings.Trim(rest, "/"), "/"))
		return
	}
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, "E0000022", "The endpoint does not support the provided HTTP method")
		return
	}
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/api/v1/"), "/"), "/")
	q := r.URL.Query()
	switch {
	case len(parts) == 1 && parts[0] == "users":
		s.listUsers(w, r, q, now)
	case len(parts) == 2 && parts[0] == "users":
		u := s.st.users[parts[1]]
		if u == nil {
			for _, c := range s.st.users {
				if strings.EqualFold(c.Login, parts[1]) {
					u = c
				}
			}
		}
		if u == nil {
			notFound(w)
			return
		}
		writeJSON(w, s.userJSON(u))
	case len(parts) == 1 && parts[0] == "groups":
		s.listGroups(w, r, q)
	case len(parts) == 2 && parts[0] == "groups":
		g := s.st.groups[parts[1]]
		if g == nil {
			notFound(w)
			return
		}
		writeJSON(w, s.groupJSON(g))
	case len(parts) == 3 && parts[0] == "groups" && parts[2] == "users":
		if s.st.groups[parts[1]] == nil {
			notFound(w)
			return
		}
		ids := s.st.sortedMembers(parts[1])
		page, next := pageOf(ids, q, 1000, 10000, func(id string) bool { return s.st.users[id] != nil })
		out := make([]any, len(page))
		for i, id := range page {
			out[i] = s.userJSON(s.st.users[id])
		}
		s.writePage(w, r, out, next)
	case len(parts) >= 3 && parts[0] == "apps":
		a := s.st.apps[parts[1]]
		if a == nil {
			notFound(w)
			return
		}
		s.app(w, r, q, a, parts[2:])
	case len(parts) == 2 && parts[0] == "apps":
		a := s.st.apps[parts[1]]
		if a == nil {
			notFound(w)
			return
		}
		writeJSON(w, map[string]any{"id": a.ID, "label": a.Label, "status": "ACTIVE", "name": "oktatest_app", "signOnMode": "SAML_2_0"})
	case len(parts) == 1 && parts[0] == "logs":
		s.logs(w, r, q, now)
	default:
		notFound(w)
	}
}

func notFound(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, "E0000007", "Not found: Resource not found")
}

func badQuery(w http.ResponseWriter, err error) {
	writeError(w, http.StatusBadRequest, "E0000031", "Invalid search: "+err.Error())
}

// pageOf pages ids (sorted) after q's after cursor, keeping those ok accepts.
func pageOf(ids []string, q url.Values, def, max int, ok func(string) bool) (page []string, next string) {
	limit := def
	if l, err := strconv.Atoi(q.Get("limit")); err == nil && l > 0 {
		limit = min(l, max)
	}
	i := 0
	if after := q.Get("after"); after != "" {
		i = sort.SearchStrings(ids, after)
		if i < len(ids) && ids[i] == after {
			i++
		}
	}
	for ; i < len(ids) && len(page) < limit; i++ {
		if ok(ids[i]) {
			page = append(page, ids[i])
		}
	}
	if len(page) == limit {
		for j := i; j < len(ids); j++ {
			if ok(ids[j]) {
				next = page[len(page)-1]
				break
			}
		}
	}
	return page, next
}

// writePage answers a list with a self link and, when there is more, a next
// link — as two separate Link headers, the way Okta sends them.
func (s *Server) writePage(w http.ResponseWriter, r *http.Request, items []any, after string) {
	self := *r.URL
	self.Scheme, self.Host = "https", r.Host
	w.Header().Add("Link", "<"+self.String()+`>; rel="self"`)
	if after != "" {
		q := r.URL.Query()
		q.Set("after", after)
		next := self
		next.RawQuery = q.Encode()
		w.Header().Add("Link", "<"+next.String()+`>; rel="next"`)
	}
	writeJSON(w, items)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, q url.Values, now time.Time) {
	src := s.st.users
	var e expr
	var err error
	includeDeprovisioned := false
	switch {
	case q.Get("search") != "":
		// search reads the eventually consistent index and, unlike a list
		// or a filter, includes DEPROVISIONED users.
		s.st.catchUp(now)
		src = s.st.index
		e, err = parseExpr(q.Get("search"), userAttrs)
		includeDeprovisioned = true
	case q.Get("filter") != "":
		e, err = parseExpr(q.Get("filter"), userAttrs)
		if err == nil {
			includeDeprovisioned = mentions(e, "status", "DEPROVISIONED")
		}
	}
	if err != nil {
		badQuery(w, err)
		return
	}
	find := strings.ToLower(q.Get("q"))
	page, next := pageOf(s.st.sortedIDs(), q, 200, 200, func(id string) bool {
		u := src[id]
		if u == nil || (u.Status == "DEPROVISIONED" && !includeDeprovisioned) {
			return false
		}
		if find != "" && !strings.HasPrefix(strings.ToLower(u.FirstName), find) &&
			!strings.HasPrefix(strings.ToLower(u.LastName), find) && !strings.HasPrefix(strings.ToLower(u.Email), find) {
			return false
		}
		return e == nil || e.eval(userGetter(u))
	})
	out := make([]any, len(page))
	for i, id := range page {
		out[i] = s.userJSON(src[id])
	}
	s.writePage(w, r, out, next)
}

func userGetter(u *User) func(string) (string, bool) {
	return func(attr string) (string, bool) {
		switch attr {
		case "id":
			return u.ID, true
		case "status":
			return u.Status, true
		case "lastUpdated":
			return u.LastUpdated.Format(stamp), true
		case "created":
			return u.Created.Format(stamp), true
		case "activated":
			return u.Activated.Format(stamp), !u.Activated.IsZero()
		case "statusChanged":
			return u.StatusChanged.Format(stamp), !u.StatusChanged.IsZero()
		case "profile.login":
			return u.Login, true
		case "profile.email":
			return u.Email, u.Email != ""
		case "profile.firstName":
			return u.FirstName, u.FirstName != ""
		case "profile.lastName":
			return u.LastName, u.LastName != ""
		case "profile.displayName":
			return u.DisplayName, u.DisplayName != ""
		case "profile.employeeNumber":
			return u.EmployeeNumber, u.EmployeeNumber != ""
		case "profile.title":
			return u.Title, u.Title != ""
		case "profile.department":
			return u.Department, u.Department != ""
		}
		return "", false
	}
}

type userDoc struct {
	ID              string         `json:"id"`
	Status          string         `json:"status"`
	Created         any            `json:"created"`
	Activated       any            `json:"activated"`
	StatusChanged   any            `json:"statusChanged"`
	LastLogin       any            `json:"lastLogin"`
	LastUpdated     any            `json:"lastUpdated"`
	PasswordChanged any            `json:"passwordChanged"`
	Type            map[string]any `json:"type"`
	Profile         map[string]any `json:"profile"`
	Credentials     map[string]any `json:"credentials"`
	Links           map[string]any `json:"_links"`
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

var userType = map[string]any{"id": "oty1oktatestdefault"}

func (s *Server) userJSON(u *User) userDoc {
	return userDoc{
		ID: u.ID, Status: u.Status, Created: ts(u.Created), Activated: ts(u.Activated),
		StatusChanged: ts(u.StatusChanged), LastUpdated: ts(u.LastUpdated), PasswordChanged: ts(u.Created),
		Type: userType,
		Profile: map[string]any{
			"login": u.Login, "email": u.Email, "firstName": nullable(u.FirstName), "lastName": nullable(u.LastName),
			"displayName": nullable(u.DisplayName), "employeeNumber": nullable(u.EmployeeNumber),
			"title": nullable(u.Title), "department": nullable(u.Department),
			"mobilePhone": nil, "secondEmail": nil,
		},
		Credentials: map[string]any{
			"password": map[string]any{},
			"provider": map[string]any{"type": "OKTA", "name": "OKTA"},
		},
		Links: map[string]any{"self": map[string]any{"href": s.URL + "/api/v1/users/" + u.ID}},
	}
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request, q url.Values) {
	var e expr
	if f := q.Get("filter"); f != "" {
		var err error
		if e, err = parseExpr(f, groupAttrs); err != nil {
			badQuery(w, err)
			return
		}
	}
	find := strings.ToLower(q.Get("q"))
	page, next := pageOf(s.st.sortedGroupIDs(), q, 10000, 10000, func(id string) bool {
		g := s.st.groups[id]
		if g == nil || (find != "" && !strings.HasPrefix(strings.ToLower(g.Name), find)) {
			return false
		}
		return e == nil || e.eval(func(attr string) (string, bool) {
			switch attr {
			case "id":
				return g.ID, true
			case "type":
				return g.Type, true
			case "lastUpdated":
				return g.LastUpdated.Format(stamp), true
			case "lastMembershipUpdated":
				return g.LastMembershipUpdated.Format(stamp), true
			case "created":
				return g.Created.Format(stamp), true
			case "profile.name":
				return g.Name, true
			case "profile.description":
				return g.Description, g.Description != ""
			}
			return "", false
		})
	})
	out := make([]any, len(page))
	for i, id := range page {
		out[i] = s.groupJSON(s.st.groups[id])
	}
	s.writePage(w, r, out, next)
}

func (s *Server) groupJSON(g *Group) map[string]any {
	return map[string]any{
		"id": g.ID, "created": ts(g.Created), "lastUpdated": ts(g.LastUpdated),
		"lastMembershipUpdated": ts(g.LastMembershipUpdated),
		"objectClass":           []string{"okta:user_group"}, "type": g.Type,
		"profile": map[string]any{"name": g.Name, "description": nullable(g.Description)},
		"_links": map[string]any{
			"self":  map[string]any{"href": s.URL + "/api/v1/groups/" + g.ID},
			"users": map[string]any{"href": s.URL + "/api/v1/groups/" + g.ID + "/users"},
		},
	}
}

func (s *Server) app(w http.ResponseWriter, r *http.Request, q url.Values, a *appState, rest []string) {
	switch {
	case rest[0] == "users" && len(rest) == 1:
		eff := s.st.effective(a)
		page, next := pageOf(a.sorted, q, 50, 500, func(string) bool { return true })
		out := make([]any, len(page))
		for i, id := range page {
			out[i] = s.appUserJSON(a, id, eff[id])
		}
		s.writePage(w, r, out, next)
	case rest[0] == "users" && len(rest) == 2:
		e, ok := s.st.effective(a)[rest[1]]
		if !ok {
			notFound(w)
			return
		}
		writeJSON(w, s.appUserJSON(a, rest[1], e))
	case rest[0] == "groups" && len(rest) == 1:
		ids := make([]string, 0, len(a.groups))
		for id := range a.groups {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		page, next := pageOf(ids, q, 20, 200, func(string) bool { return true })
		out := make([]any, len(page))
		for i, id := range page {
			out[i] = s.appGroupJSON(a, id)
		}
		s.writePage(w, r, out, next)
	case rest[0] == "groups" && len(rest) == 2:
		if a.groups[rest[1]] == nil {
			notFound(w)
			return
		}
		writeJSON(w, s.appGroupJSON(a, rest[1]))
	default:
		notFound(w)
	}
}

func (s *Server) roleProfile(role string) map[string]any {
	p := map[string]any{}
	if role != "" {
		p[s.RoleAttribute] = role
	}
	return p
}

func (s *Server) appUserJSON(a *appState, uid string, e effective) map[string]any {
	u := s.st.users[uid]
	login := ""
	if u != nil {
		login = u.Login
	}
	links := map[string]any{
		"app":  map[string]any{"href": s.URL + "/api/v1/apps/" + a.ID},
		"user": map[string]any{"href": s.URL + "/api/v1/users/" + uid},
	}
	if e.scope == "GROUP" {
		links["group"] = map[string]any{"href": s.URL + "/api/v1/groups/" + e.group, "name": s.st.groups[e.group].Name}
	}
	return map[string]any{
		"id": uid, "externalId": nil, "created": ts(e.a.created), "lastUpdated": ts(e.a.updated),
		"scope": e.scope, "status": "PROVISIONED", "statusChanged": ts(e.a.created), "passwordChanged": nil,
		"syncState":   "DISABLED",
		"credentials": map[string]any{"userName": login},
		"profile":     s.roleProfile(e.role),
		"_links":      links,
	}
}

func (s *Server) appGroupJSON(a *appState, gid string) map[string]any {
	as := a.groups[gid]
	return map[string]any{
		"id": gid, "lastUpdated": ts(as.updated), "priority": as.priority,
		"profile": s.roleProfile(as.role),
		"_links": map[string]any{
			"app":   map[string]any{"href": s.URL + "/api/v1/apps/" + a.ID},
			"group": map[string]any{"href": s.URL + "/api/v1/groups/" + gid},
		},
	}
}

// logs answers System Log queries. Without until it is a polling query:
// events in order from since (or after the after cursor), and always a next
// link, also on an empty page, so a poller can come back for more.
func (s *Server) logs(w http.ResponseWriter, r *http.Request, q url.Values, now time.Time) {
	var e expr
	if f := q.Get("filter"); f != "" {
		var err error
		if e, err = parseExpr(f, logAttrs); err != nil {
			badQuery(w, err)
			return
		}
	}
	since := now.Add(-7 * 24 * time.Hour)
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "E0000001", "Api validation failed: since")
			return
		}
		if t.Before(now.Add(-90 * 24 * time.Hour)) {
			writeError(w, http.StatusBadRequest, "E0000001", "Api validation failed: since must be within the last 90 days")
			return
		}
		since = t
	}
	var until time.Time
	polling := true
	if v := q.Get("until"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "E0000001", "Api validation failed: until")
			return
		}
		until, polling = t, false
	}
	limit := 100
	if l, err := strconv.Atoi(q.Get("limit")); err == nil && l > 0 {
		limit = min(l, 1000)
	}
	start := 0
	if after := q.Get("after"); after != "" {
		p, ok := s.st.evPos[after]
		if !ok {
			writeError(w, http.StatusBadRequest, "E0000001", "Api validation failed: after")
			return
		}
		start = p + 1
	} else {
		start = sort.Search(len(s.st.events), func(i int) bool { return !s.st.events[i].Published.Before(since) })
	}
	var out []any
	last := q.Get("after")
	i := start
	for ; i < len(s.st.events) && len(out) < limit; i++ {
		ev := s.st.events[i]
		last = ev.UUID
		if !until.IsZero() && !ev.Published.Before(until) {
			break
		}
		if e != nil && !e.eval(eventGetter(ev)) {
			continue
		}
		out = append(out, eventJSON(ev))
	}
	if out == nil {
		out = []any{}
	}
	next := ""
	if polling || (i < len(s.st.events) && len(out) == limit) {
		next = last
	}
	if next == "" && polling {
		// Nothing at all yet: come back with the same query.
		s.writeLogPage(w, r, out, "", true)
		return
	}
	s.writeLogPage(w, r, out, next, false)
}

func (s *Server) writeLogPage(w http.ResponseWriter, r *http.Request, items []any, after string, same bool) {
	self := *r.URL
	self.Scheme, self.Host = "https", r.Host
	w.Header().Add("Link", "<"+self.String()+`>; rel="self"`)
	switch {
	case same:
		w.Header().Add("Link", "<"+self.String()+`>; rel="next"`)
	case after != "":
		q := r.URL.Query()
		q.Set("after", after)
		q.Del("since")
		next := self
		next.RawQuery = q.Encode()
		w.Header().Add("Link", "<"+next.String()+`>; rel="next"`)
	}
	writeJSON(w, items)
}

func eventGetter(ev *event) func(string) (string, bool) {
	return func(attr string) (string, bool) {
		switch attr {
		case "eventType":
			return ev.Type, true
		case "uuid":
			return ev.UUID, true
		case "published":
			return ev.Published.Format(stamp), true
		case "severity":
			return "INFO", true
		case "outcome.result":
			return "SUCCESS", true
		case "actor.id":
			return "00uoktatestadmin", true
		case "target.id", "target.type":
			// Okta matches a filter on target against every target of the
			// event; cmpExpr splits on NUL to do the same.
			var vals []string
			for _, t := range ev.Targets {
				if attr == "target.id" {
					vals = append(vals, t.ID)
				} else {
					vals = append(vals, t.Type)
				}
			}
			return strings.Join(vals, "\x00"), len(vals) > 0
		}
		return "", false
	}
}

func eventJSON(ev *event) map[string]any {
	targets := make([]any, len(ev.Targets))
	for i, t := range ev.Targets {
		targets[i] = map[string]any{"id": t.ID, "type": t.Type, "alternateId": t.AlternateID, "displayName": t.DisplayName, "detailEntry": nil}
	}
	return map[string]any{
		"uuid": ev.UUID, "published": ts(ev.Published), "eventType": ev.Type, "version": "0",
		"severity": "INFO", "displayMessage": ev.Message, "legacyEventType": nil,
		"actor": map[string]any{"id": "00uoktatestadmin", "type": "User", "alternateId": "admin@oktatest.example", "displayName": "Okta Admin"},
		"client": map[string]any{"userAgent": map[string]any{"rawUserAgent": "oktatest"}, "zone": "null",
			"device": "Computer", "ipAddress": "127.0.0.1"},
		"outcome":               map[string]any{"result": "SUCCESS", "reason": nil},
		"target":                targets,
		"transaction":           map[string]any{"type": "WEB", "id": "oktatest", "detail": map[string]any{}},
		"debugContext":          map[string]any{"debugData": map[string]any{}},
		"authenticationContext": map[string]any{"authenticationStep": 0, "externalSessionId": "oktatest"},
		"securityContext":       map[string]any{},
		"request":               map[string]any{"ipChain": []any{}},
	}
}
