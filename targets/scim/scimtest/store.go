package scimtest

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Schema URNs (RFC 7643).
const (
	SchemaUser       = "urn:ietf:params:scim:schemas:core:2.0:User"
	SchemaGroup      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	SchemaEnterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	schemaList       = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	schemaPatch      = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	schemaError      = "urn:ietf:params:scim:api:messages:2.0:Error"
)

// User is a snapshot of a workspace user.
type User struct {
	ID          string
	ExternalID  string
	UserName    string
	GivenName   string
	FamilyName  string
	DisplayName string
	Email       string // primary (or first) email
	Title       string
	Active      bool
	Roles       []string // values of the roles attribute
	Groups      []string // group ids in the order the user joined them (OfficeRnD: first = primary team)
	// Raw is the whole resource as the server holds it.
	Raw map[string]any
}

// Role is the primary (or first) value of roles, "" when none.
func (u User) Role() string {
	if len(u.Roles) == 0 {
		return ""
	}
	return u.Roles[0]
}

// Group is a snapshot of a workspace group.
type Group struct {
	ID          string
	ExternalID  string
	DisplayName string
	Description string
	Members     []string // user ids
}

// resource is a stored User or Group.
type resource struct {
	data     map[string]any
	created  time.Time
	modified time.Time
	version  int
}

type store struct {
	next     int
	users    map[string]*resource
	groups   map[string]*resource
	userIDs  []string // creation order, for stable paging
	groupIDs []string
	memberOf map[string][]string // user id -> group ids in join order
	// byName (lower-cased userName) and byExt index users for the lookups
	// every create does, so big workspaces stay fast.
	byName map[string]string
	byExt  map[string]string
}

func newStore() *store {
	return &store{users: map[string]*resource{}, groups: map[string]*resource{}, memberOf: map[string][]string{}, byName: map[string]string{}, byExt: map[string]string{}}
}

func (st *store) newID() string {
	st.next++
	return strconv.Itoa(st.next)
}

// AddUser stores u as an existing workspace account (pre-seeding, for
// adoption tests) and returns it with its ID. A zero ID is assigned.
func (s *Server) AddUser(u User) User {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.store
	data := map[string]any{"schemas": []any{SchemaUser}, "userName": u.UserName, "active": u.Active}
	if u.ExternalID != "" {
		data["externalId"] = u.ExternalID
	}
	if u.GivenName != "" || u.FamilyName != "" {
		name := map[string]any{}
		if u.GivenName != "" {
			name["givenName"] = u.GivenName
		}
		if u.FamilyName != "" {
			name["familyName"] = u.FamilyName
		}
		data["name"] = name
	}
	if u.DisplayName != "" {
		data["displayName"] = u.DisplayName
	}
	if u.Email != "" {
		data["emails"] = []any{map[string]any{"value": u.Email, "type": "work", "primary": true}}
	}
	if u.Title != "" {
		data["title"] = u.Title
	}
	if len(u.Roles) > 0 {
		var roles []any
		for i, r := range u.Roles {
			roles = append(roles, map[string]any{"value": r, "primary": i == 0})
		}
		data["roles"] = roles
	}
	for k, v := range u.Raw {
		data[k] = v
	}
	id := u.ID
	if id == "" {
		id = st.newID()
	}
	st.putUser(id, data)
	return st.userSnapshot(id)
}

// EditUser changes the user with id in place, as a workspace admin would
// (f edits the raw resource), bumping its version; false when there is no
// such user.
func (s *Server) EditUser(id string, f func(raw map[string]any)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.store.users[id]
	if r == nil {
		return false
	}
	data := deepCopy(r.data).(map[string]any)
	f(data)
	s.store.putUser(id, data)
	return true
}

// AddGroup stores g as an existing workspace group and returns it with its ID.
func (s *Server) AddGroup(g Group) Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.store
	data := map[string]any{"schemas": []any{SchemaGroup}, "displayName": g.DisplayName}
	if g.ExternalID != "" {
		data["externalId"] = g.ExternalID
	}
	var members []any
	for _, m := range g.Members {
		members = append(members, map[string]any{"value": m})
	}
	data["members"] = members
	id := g.ID
	if id == "" {
		id = st.newID()
	}
	st.putGroup(id, data)
	return st.groupSnapshot(id)
}

// Users returns every user, in creation order.
func (s *Server) Users() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]User, 0, len(s.store.userIDs))
	for _, id := range s.store.userIDs {
		out = append(out, s.store.userSnapshot(id))
	}
	return out
}

// User returns the user with id.
func (s *Server) User(id string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.store.users[id] == nil {
		return User{}, false
	}
	return s.store.userSnapshot(id), true
}

// UserByName returns the user whose userName matches name case-insensitively.
func (s *Server) UserByName(name string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.store.userIDs {
		if strings.EqualFold(str(s.store.users[id].data["userName"]), name) {
			return s.store.userSnapshot(id), true
		}
	}
	return User{}, false
}

// Groups returns every group, in creation order.
func (s *Server) Groups() []Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Group, 0, len(s.store.groupIDs))
	for _, id := range s.store.groupIDs {
		out = append(out, s.store.groupSnapshot(id))
	}
	return out
}

func (st *store) putUser(id string, data map[string]any) {
	now := time.Now().UTC()
	r := st.users[id]
	if r == nil {
		r = &resource{created: now}
		st.users[id] = r
		st.userIDs = append(st.userIDs, id)
	} else {
		st.unindex(id, r.data)
	}
	data["id"] = id
	delete(data, "meta")
	delete(data, "groups")
	st.byName[strings.ToLower(str(data["userName"]))] = id
	if ext := str(data["externalId"]); ext != "" {
		st.byExt[ext] = id
	}
	r.data, r.modified = data, now
	r.version++
}

func (st *store) putGroup(id string, data map[string]any) {
	now := time.Now().UTC()
	r := st.groups[id]
	if r == nil {
		r = &resource{created: now}
		st.groups[id] = r
		st.groupIDs = append(st.groupIDs, id)
	}
	data["id"] = id
	delete(data, "meta")
	// Members must be users that exist; keep memberOf in join order.
	old := map[string]bool{}
	if r.data != nil {
		for _, m := range memberIDs(r.data) {
			old[m] = true
		}
	}
	var members []any
	now2 := map[string]bool{}
	for _, m := range memberIDs(data) {
		if st.users[m] == nil || now2[m] {
			continue
		}
		now2[m] = true
		members = append(members, map[string]any{"value": m, "display": str(st.users[m].data["userName"]), "type": "User"})
		if !old[m] {
			st.memberOf[m] = append(st.memberOf[m], id)
		}
	}
	for m := range old {
		if !now2[m] {
			st.memberOf[m] = slices.DeleteFunc(st.memberOf[m], func(g string) bool { return g == id })
		}
	}
	if members == nil {
		members = []any{}
	}
	data["members"] = members
	r.data, r.modified = data, now
	r.version++
}

func (st *store) unindex(id string, data map[string]any) {
	if k := strings.ToLower(str(data["userName"])); st.byName[k] == id {
		delete(st.byName, k)
	}
	if k := str(data["externalId"]); st.byExt[k] == id {
		delete(st.byExt, k)
	}
}

func (st *store) deleteUser(id string) {
	if r := st.users[id]; r != nil {
		st.unindex(id, r.data)
	}
	delete(st.users, id)
	st.userIDs = slices.DeleteFunc(st.userIDs, func(x string) bool { return x == id })
	for _, gid := range st.memberOf[id] {
		g := st.groups[gid]
		if g == nil {
			continue
		}
		ms, _ := g.data["members"].([]any)
		g.data["members"] = slices.DeleteFunc(slices.Clone(ms), func(m any) bool { return memberValue(m) == id })
		g.modified = time.Now().UTC()
		g.version++
	}
	delete(st.memberOf, id)
}

func (st *store) deleteGroup(id string) {
	if g := st.groups[id]; g != nil {
		for _, m := range memberIDs(g.data) {
			st.memberOf[m] = slices.DeleteFunc(st.memberOf[m], func(x string) bool { return x == id })
		}
	}
	delete(st.groups, id)
	st.groupIDs = slices.DeleteFunc(st.groupIDs, func(x string) bool { return x == id })
}

func memberIDs(data map[string]any) []string {
	ms, _ := data["members"].([]any)
	var out []string
	for _, m := range ms {
		if v := memberValue(m); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func memberValue(m any) string {
	mm, _ := m.(map[string]any)
	return str(mm["value"])
}

// version is the resource's weak entity tag, as meta.version and ETag.
func version(r *resource) string { return `W/"` + strconv.Itoa(r.version) + `"` }

// render returns the resource as served; with NoETags, without meta.version.
func (s *Server) render(kind, id string, r *resource, base string) map[string]any {
	out := s.store.render(kind, id, r, base)
	if s.opts.NoETags {
		delete(out["meta"].(map[string]any), "version")
	}
	return out
}

// render returns the resource as served, with meta and (users) groups.
func (st *store) render(kind, id string, r *resource, base string) map[string]any {
	out := deepCopy(r.data).(map[string]any)
	typ := "User"
	if kind == "Groups" {
		typ = "Group"
	} else {
		var groups []any
		for i, gid := range st.memberOf[id] {
			g := st.groups[gid]
			if g == nil {
				continue
			}
			groups = append(groups, map[string]any{"value": gid, "display": str(g.data["displayName"]), "type": "direct", "primary": i == 0})
		}
		if groups != nil {
			out["groups"] = groups
		}
	}
	out["meta"] = map[string]any{
		"resourceType": typ,
		"created":      r.created.Format(time.RFC3339),
		"lastModified": r.modified.Format(time.RFC3339),
		"version":      version(r),
		"location":     base + "/" + kind + "/" + id,
	}
	return out
}

func (st *store) userSnapshot(id string) User {
	d := st.users[id].data
	u := User{
		ID:          id,
		ExternalID:  str(d["externalId"]),
		UserName:    str(d["userName"]),
		DisplayName: str(d["displayName"]),
		Title:       str(d["title"]),
		Active:      d["active"] == true,
		Groups:      slices.Clone(st.memberOf[id]),
		Raw:         deepCopy(d).(map[string]any),
	}
	if n, ok := d["name"].(map[string]any); ok {
		u.GivenName, u.FamilyName = str(n["givenName"]), str(n["familyName"])
	}
	u.Email = primaryValue(d["emails"])
	if roles, ok := d["roles"].([]any); ok {
		for _, r := range roles {
			if rm, ok := r.(map[string]any); ok && rm["primary"] == true {
				u.Roles = append([]string{str(rm["value"])}, u.Roles...)
			} else if ok {
				u.Roles = append(u.Roles, str(rm["value"]))
			}
		}
	}
	return u
}

func (st *store) groupSnapshot(id string) Group {
	d := st.groups[id].data
	return Group{ID: id, ExternalID: str(d["externalId"]), DisplayName: str(d["displayName"]), Description: str(d["description"]), Members: memberIDs(d)}
}

// primaryValue is the value of the primary (else first) element of a
// multi-valued attribute.
func primaryValue(v any) string {
	list, _ := v.([]any)
	first := ""
	for i, e := range list {
		m, _ := e.(map[string]any)
		if m == nil {
			continue
		}
		if m["primary"] == true {
			return str(m["value"])
		}
		if i == 0 {
			first = str(m["value"])
		}
	}
	return first
}

func str(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return ""
	case bool:
		return strconv.FormatBool(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case json.Number:
		return v.String()
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		l := make([]any, len(v))
		for i, e := range v {
			l[i] = deepCopy(e)
		}
		return l
	}
	return v
}
