package oktatest

import (
	"crypto/rand"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"
)

// User is an Okta user as the emulator holds it. Status is one of ACTIVE,
// STAGED, PROVISIONED, RECOVERY, PASSWORD_EXPIRED, LOCKED_OUT, SUSPENDED,
// DEPROVISIONED.
type User struct {
	ID             string
	Status         string
	Login          string
	Email          string
	FirstName      string
	LastName       string
	DisplayName    string
	EmployeeNumber string
	Title          string
	Department     string

	Created, Activated, StatusChanged, LastUpdated time.Time
}

// Group is an Okta group: Type OKTA_GROUP (the default), APP_GROUP
// (imported from a directory) or BUILT_IN (Everyone).
type Group struct {
	ID          string
	Type        string
	Name        string
	Description string

	Created, LastUpdated, LastMembershipUpdated time.Time
}

// App is an Okta app instance whose users and groups can be assigned with a
// role in the app user profile.
type App struct {
	ID    string
	Label string
}

type assignment struct {
	role             string
	created, updated time.Time
	priority         int
}

type appState struct {
	App
	users  map[string]*assignment // direct (scope USER)
	groups map[string]*assignment
	nextPr int
	// cache of the effective app users, sorted by id; nil when stale.
	sorted []string
	eff    map[string]effective
}

// effective is one app user as Okta lists it: direct, or through a group.
type effective struct {
	scope string // USER | GROUP
	role  string
	group string // GROUP: the group it came through
	a     *assignment
}

type store struct {
	users   map[string]*User
	ids     []string // every user id ever created, sorted (deleted ones are skipped)
	idsDirt bool

	// index is what search sees: each user as of lag ago.
	index   map[string]*User
	pending []pendingIndex

	groups    map[string]*Group
	groupIDs  []string
	members   map[string]map[string]struct{}
	memSorted map[string][]string

	apps map[string]*appState

	events []*event
	evPos  map[string]int
	// onEvent sees every event logged (event hooks).
	onEvent func(*event)
}

type pendingIndex struct {
	at   time.Time
	id   string
	user *User // nil: removed
}

func newStore() *store {
	return &store{
		users:     map[string]*User{},
		index:     map[string]*User{},
		groups:    map[string]*Group{},
		members:   map[string]map[string]struct{}{},
		memSorted: map[string][]string{},
		apps:      map[string]*appState{},
		evPos:     map[string]int{},
	}
}

const idChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// newID makes an Okta-shaped id: a 3-character type prefix (00u user, 00g
// group, 0oa app) and 17 random characters.
func newID(prefix string) string {
	var b [17]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = idChars[int(b[i])%len(idChars)]
	}
	return prefix + string(b[:])
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func (s *store) sortedIDs() []string {
	if s.idsDirt {
		sort.Strings(s.ids)
		s.ids = slices.Compact(s.ids)
		s.idsDirt = false
	}
	return s.ids
}

func (s *store) sortedGroupIDs() []string {
	if !sort.StringsAreSorted(s.groupIDs) {
		sort.Strings(s.groupIDs)
	}
	return s.groupIDs
}

func (s *store) sortedMembers(gid string) []string {
	if m, ok := s.memSorted[gid]; ok {
		return m
	}
	m := slices.Sorted(maps.Keys(s.members[gid]))
	s.memSorted[gid] = m
	return m
}

// indexUser records u (nil: gone) for search, visible after lag.
func (s *store) indexUser(now time.Time, lag time.Duration, id string, u *User) {
	var c *User
	if u != nil {
		cp := *u
		c = &cp
	}
	if lag <= 0 {
		s.setIndex(id, c)
		return
	}
	s.pending = append(s.pending, pendingIndex{at: now.Add(lag), id: id, user: c})
}

func (s *store) setIndex(id string, u *User) {
	if u == nil {
		delete(s.index, id)
	} else {
		s.index[id] = u
	}
}

// catchUp applies the index updates whose lag has passed.
func (s *store) catchUp(now time.Time) {
	n := 0
	for _, p := range s.pending {
		if p.at.After(now) {
			break
		}
		s.setIndex(p.id, p.user)
		n++
	}
	s.pending = s.pending[n:]
}

// effective lists the app's users as Okta computes them: direct assignments
// win; otherwise the group assignment with the lowest priority gives the
// profile.
func (s *store) effective(a *appState) map[string]effective {
	if a.eff != nil {
		return a.eff
	}
	eff := map[string]effective{}
	gids := slices.SortedFunc(maps.Keys(a.groups), func(x, y string) int { return a.groups[x].priority - a.groups[y].priority })
	for _, gid := range gids {
		for uid := range s.members[gid] {
			if _, ok := eff[uid]; !ok {
				eff[uid] = effective{scope: "GROUP", role: a.groups[gid].role, group: gid, a: a.groups[gid]}
			}
		}
	}
	for uid, as := range a.users {
		eff[uid] = effective{scope: "USER", role: as.role, a: as}
	}
	a.eff = eff
	a.sorted = slices.Sorted(maps.Keys(eff))
	return eff
}

func (a *appState) invalidate() { a.eff, a.sorted = nil, nil }

func (s *store) invalidateApps() {
	for _, a := range s.apps {
		a.invalidate()
	}
}

// event is one System Log entry.
type event struct {
	UUID      string
	Published time.Time
	Type      string
	Message   string
	Targets   []target
}

type target struct {
	ID, Type, AlternateID, DisplayName string
}

func (s *store) log(now time.Time, typ, msg string, targets ...target) {
	e := &event{UUID: newUUID(), Published: now, Type: typ, Message: msg, Targets: targets}
	s.evPos[e.UUID] = len(s.events)
	s.events = append(s.events, e)
	if s.onEvent != nil {
		s.onEvent(e)
	}
}

func userTarget(u *User) target {
	return target{ID: u.ID, Type: "User", AlternateID: u.Login, DisplayName: u.FirstName + " " + u.LastName}
}

func groupTarget(g *Group) target {
	return target{ID: g.ID, Type: "UserGroup", AlternateID: "unknown", DisplayName: g.Name}
}

func appTarget(a *appState) target {
	return target{ID: a.ID, Type: "AppInstance", AlternateID: a.Label, DisplayName: a.Label}
}
