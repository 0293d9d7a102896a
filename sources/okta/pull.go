package okta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/okta/okta-sdk-golang/v2/okta"
	"github.com/okta/okta-sdk-golang/v2/okta/query"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/internal/httppolicy"
	"github.com/idsync/idsync/sources"
)

// Page sizes: the most each endpoint accepts.
const (
	usersPage     = 200
	groupsPage    = 1000
	membersPage   = 1000
	appUsersPage  = 500
	appGroupsPage = 200
	logPage       = 1000
	refreshInFull = 100 // affected app principals above which the app is re-read in full
	okTimeFormat  = "2006-01-02T15:04:05.000Z"
)

type emitFunc = func(page []idsync.Change) error

// Pull implements sources.Source. cursor "" reads everything; otherwise it
// reads users and groups changed since the cursor's watermarks (minus Lag)
// and the System Log since its next link for hard deletes, group deletes and
// app assignment changes.
func (s *Source) Pull(ctx context.Context, cur string, emit func(page []idsync.Change) error) (_ string, _ bool, err error) {
	defer recoverPull(&err)
	if cur == "" {
		c, err := s.full(ctx, emit)
		if err != nil {
			return "", false, err
		}
		next, err := c.encode()
		return next, true, err
	}
	c, err := decodeCursor(cur)
	if err != nil {
		return "", false, err
	}
	if c.App != s.cfg.Scope.AppID || (c.App != "" && c.Role != s.cfg.RoleAttribute) {
		// assignments read under the old settings would stay until the next full read
		return "", false, fmt.Errorf("okta: scope.app_id or role_attribute changed since the last pull: %w", sources.ErrCursorExpired)
	}
	if s.cfg.Now().Sub(c.Users) > logRetention-24*time.Hour {
		return "", false, fmt.Errorf("okta: last pull %s is beyond the System Log's retention: %w", c.Users.Format(time.RFC3339), sources.ErrCursorExpired)
	}
	if err := s.incremental(ctx, c, emit); err != nil {
		return "", false, err
	}
	next, err := c.encode()
	return next, false, err
}

func (s *Source) full(ctx context.Context, emit emitFunc) (*cursor, error) {
	c := &cursor{V: cursorVersion, App: s.cfg.Scope.AppID, Members: map[string]time.Time{}}
	if c.App != "" {
		c.Role = s.cfg.RoleAttribute
	}
	// What absence means in Okta. Okta deletes a user in two steps: it must
	// be deactivated (DEPROVISIONED) first, and a deleted user is gone from
	// every listing; Okta has no recycle bin. So the full read must list
	// every user that still exists, deactivated ones included (a plain list
	// leaves DEPROVISIONED users out; a search, unlike it, includes them):
	// a deactivated user is then reported with status disabled (the
	// deprovision.disabled policy), and a user a completed full read does not
	// list has been deleted, which the engine's sweep records as a
	// permanent delete (sources.Source). The search index is eventually
	// consistent: a user deleted moments ago may still be listed, as
	// deactivated (the safe side; a later read catches up), and one created
	// moments ago may be missing, but then the snapshot, filled by the same
	// searches, does not hold it either.
	start, err := s.users(ctx, `status pr`, nil, emit)
	if err != nil {
		return nil, err
	}
	c.Users, c.Full, c.LogSince = start, start, start.Add(-s.cfg.Lag)
	// The app's assignments first: the groups assigned to it are among those
	// whose members are read.
	appGroups := map[string]bool{}
	if s.cfg.Scope.AppID != "" {
		ids, err := s.appFull(ctx, emit)
		if err != nil {
			return nil, err
		}
		c.AppGroups, appGroups = ids, set(ids)
	}
	gstart, groups, err := s.groups(ctx, "", emit)
	if err != nil {
		return nil, err
	}
	c.Groups = gstart
	read := map[string]bool{}
	for _, g := range groups {
		if !s.wants(g, appGroups) {
			continue
		}
		if err := s.readGroupMembers(ctx, c, read, g, gstart.Add(-s.cfg.Lag), emit); err != nil {
			return nil, err
		}
	}
	if page := unread(groups, read); len(page) > 0 {
		if err := emit(page); err != nil {
			return nil, err
		}
	}
	c.Refs, c.Read = s.memberRefs(), sortedKeys(read)
	return c, nil
}

func (s *Source) incremental(ctx context.Context, c *cursor, emit emitFunc) error {
	since := c.Users.Add(-s.cfg.Lag).UTC().Format(okTimeFormat)
	start, err := s.users(ctx, `lastUpdated ge "`+since+`"`, c.Gone, emit)
	if err != nil {
		return err
	}
	gsince := c.Groups.Add(-s.cfg.Lag).UTC().Format(okTimeFormat)
	gstart, groups, err := s.groups(ctx, `lastUpdated gt "`+gsince+`" or lastMembershipUpdated gt "`+gsince+`"`, emit)
	if err != nil {
		return err
	}
	if c.Members == nil {
		c.Members = map[string]time.Time{}
	}
	read, appGroups := set(c.Read), set(c.AppGroups)
	for _, g := range groups {
		if !s.wants(g, appGroups) {
			continue
		}
		t := g.LastMembershipUpdated
		if t != nil && c.Members[g.ID].Equal(*t) && read[g.ID] {
			continue // members already read at this version during the overlap
		}
		if err := s.readGroupMembers(ctx, c, read, g, time.Time{}, emit); err != nil {
			return err
		}
	}
	before := c.AppGroups
	if err := s.log(ctx, c, read, emit); err != nil {
		return err
	}
	if refs := s.memberRefs(); !slices.Equal(refs, c.Refs) || !slices.Equal(before, c.AppGroups) {
		// The selection changed since the last pull (a config edit, the
		// app's group assignments): read what it now wants before anyone is
		// evaluated against it.
		if err := s.catchUp(ctx, c, read, emit); err != nil {
			return err
		}
		c.Refs = refs
	}
	c.Read = sortedKeys(read)
	c.Users, c.Groups = start, gstart
	c.prune(s.cfg.Lag)
	return nil
}

// users runs one user search and emits each page. It returns Okta's clock at
// the first answer (the next watermark).
//
// Pages are fetched on their own goroutine, one ahead: the SDK hands over
// each answer's bytes (json.RawMessage) and the Link header, the next
// request goes out at once, and this page is decoded meanwhile. A full read
// of 100,000 users is 500 of them.
func (s *Source) users(ctx context.Context, search string, skip map[string]time.Time, emit emitFunc) (time.Time, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type page struct {
		raw  json.RawMessage
		resp *okta.Response
		err  error
	}
	pages := make(chan page, 1)
	go func() {
		defer close(pages)
		rctx := context.WithValue(ctx, rawBody{}, true)
		resp, err := s.get(rctx, "/api/v1/users", query.NewQueryParams(query.WithSearch(search), query.WithLimit(usersPage)), nil)
		for {
			raw, rerr := bodyOf(resp, err)
			select {
			case pages <- page{raw, resp, rerr}:
			case <-ctx.Done():
				return
			}
			if rerr != nil || !resp.HasNextPage() {
				return
			}
			resp, err = resp.Next(rctx, nil)
		}
	}()
	var start time.Time
	first, last := true, false
	for p := range pages {
		if p.err != nil {
			return time.Time{}, s.fail(ctx, "list users", p.resp, p.err)
		}
		if first {
			start, first = s.serverTime(p.resp), false
		}
		if err := httppolicy.CheckArray(p.raw, usersPage); err != nil {
			return time.Time{}, fmt.Errorf("okta: list users: %w", err)
		}
		var users []userDoc
		if err := json.Unmarshal(p.raw, &users); err != nil {
			return time.Time{}, fmt.Errorf("okta: list users: decode: %w", err)
		}
		out := make([]idsync.Change, 0, len(users))
		for i := range users {
			if _, gone := skip[users[i].ID]; gone {
				continue
			}
			out = append(out, idsync.UserChange(users[i].user()))
		}
		if len(out) > 0 {
			if err := emit(out); err != nil {
				return time.Time{}, err
			}
		}
		last = !p.resp.HasNextPage()
	}
	if !last { // the fetcher stopped before the last page: cancelled
		return time.Time{}, fmt.Errorf("okta: list users: %w", errors.Join(ctx.Err(), errors.New("stopped before the last page")))
	}
	return start, nil
}

// bodyOf is the bytes of a raw answer (rawBody): the SDK leaves them in
// the response's Body, already read and capped by the transport.
func bodyOf(resp *okta.Response, err error) (json.RawMessage, error) {
	if err != nil {
		return nil, err
	}
	if resp == nil || resp.Response == nil || resp.Body == nil {
		return nil, errors.New("no answer body")
	}
	b, err := io.ReadAll(resp.Body)
	return b, err
}

// get is what the SDK's typed list methods do, decoding into v: pages of
// 100,000 users decode several times faster into the few fields idsync
// reads than into okta.User's maps and timestamps.
func (s *Source) get(ctx context.Context, path string, qp *query.Params, v any) (*okta.Response, error) {
	re := s.client.CloneRequestExecutor()
	req, err := re.WithAccept("application/json").NewRequest(http.MethodGet, path+qp.String(), nil)
	if err != nil {
		return nil, err
	}
	return re.Do(ctx, req, v)
}

// groups lists groups (all, or those filter selects) and emits them; it
// returns Okta's clock at the first answer and what it listed.
func (s *Source) groups(ctx context.Context, filter string, emit emitFunc) (time.Time, []groupInfo, error) {
	opts := []query.ParamOptions{query.WithLimit(groupsPage)}
	if filter != "" {
		opts = append(opts, query.WithFilter(filter))
	}
	groups, resp, err := s.client.Group.ListGroups(ctx, query.NewQueryParams(opts...))
	if err != nil {
		return time.Time{}, nil, s.fail(ctx, "list groups", resp, err)
	}
	start := s.serverTime(resp)
	var all []groupInfo
	for {
		page := make([]idsync.Change, 0, len(groups))
		for _, g := range groups {
			if g == nil {
				continue
			}
			ig := toGroup(g)
			page = append(page, idsync.GroupChange(ig))
			all = append(all, groupInfo{ID: g.Id, Name: ig.Name, Type: g.Type, LastMembershipUpdated: g.LastMembershipUpdated})
		}
		if len(page) > 0 {
			if err := emit(page); err != nil {
				return time.Time{}, nil, err
			}
		}
		if !resp.HasNextPage() {
			return start, all, nil
		}
		var next []*okta.Group
		if resp, err = resp.Next(ctx, &next); err != nil {
			return time.Time{}, nil, s.fail(ctx, "list groups", resp, err)
		}
		groups = next
	}
}

// members re-reads a group's members and closes the read with a sweep, so
// the engine drops members that left (Okta has no membership delta).
func (s *Source) members(ctx context.Context, gid string, emit emitFunc) error {
	what := "list members of group " + gid
	var users []idDoc
	resp, err := s.get(ctx, "/api/v1/groups/"+url.PathEscape(gid)+"/users", query.NewQueryParams(query.WithLimit(membersPage)), &users)
	if err != nil {
		if status(resp) == http.StatusNotFound {
			return emit([]idsync.Change{idsync.GroupRemovedChange(gid)}) // deleted since listed
		}
		return s.fail(ctx, what, resp, err)
	}
	for {
		page := make([]idsync.Change, 0, len(users)+1)
		for _, u := range users {
			page = append(page, idsync.MemberAddedChange(gid, u.ID, idsync.MemberUser))
		}
		last := !resp.HasNextPage()
		if last {
			page = append(page, idsync.SweepChange(idsync.SweepMembers, gid))
		}
		if err := emit(page); err != nil {
			return err
		}
		if last {
			return nil
		}
		var next []idDoc
		if resp, err = resp.Next(ctx, &next); err != nil {
			return s.fail(ctx, what, resp, err)
		}
		users = next
	}
}

// appFull reads every assignment of the scoped app (it has no incremental
// filter) and sweeps the rest. It returns the groups assigned to the app,
// sorted.
func (s *Source) appFull(ctx context.Context, emit emitFunc) ([]string, error) {
	app := s.cfg.Scope.AppID
	appUsers, resp, err := s.client.Application.ListApplicationUsers(ctx, app, query.NewQueryParams(query.WithLimit(appUsersPage)))
	if err != nil {
		return nil, s.fail(ctx, "list users of app "+app, resp, err)
	}
	for {
		var page []idsync.Change
		for _, au := range appUsers {
			if au == nil {
				continue
			}
			page = append(page, assigned(au.Id, idsync.MemberUser, au.Profile, s.cfg.RoleAttribute)...)
		}
		if len(page) > 0 {
			if err := emit(page); err != nil {
				return nil, err
			}
		}
		if !resp.HasNextPage() {
			break
		}
		var next []*okta.AppUser
		if resp, err = resp.Next(ctx, &next); err != nil {
			return nil, s.fail(ctx, "list users of app "+app, resp, err)
		}
		appUsers = next
	}
	groups, resp, err := s.client.Application.ListApplicationGroupAssignments(ctx, app, query.NewQueryParams(query.WithLimit(appGroupsPage)))
	if err != nil {
		return nil, s.fail(ctx, "list groups of app "+app, resp, err)
	}
	var ids []string
	for {
		var page []idsync.Change
		for _, ga := range groups {
			if ga == nil {
				continue
			}
			// For scope only: the role a group grants is already in each
			// member's app user profile, where Okta settles direct versus
			// group assignments and group priority.
			page = append(page, idsync.AssignedChange(idsync.Assignment{PrincipalID: ga.Id, PrincipalKind: idsync.MemberGroup}))
			ids = append(ids, ga.Id)
		}
		last := !resp.HasNextPage()
		if last {
			page = append(page, idsync.SweepChange(idsync.SweepAssignments, ""))
		}
		if err := emit(page); err != nil {
			return nil, err
		}
		if last {
			slices.Sort(ids)
			return slices.Compact(ids), nil
		}
		var next []*okta.ApplicationGroupAssignment
		if resp, err = resp.Next(ctx, &next); err != nil {
			return nil, s.fail(ctx, "list groups of app "+app, resp, err)
		}
		groups = next
	}
}

// Event types the log read asks for.
var (
	deleteEvents = []string{"user.lifecycle.delete.completed", "group.lifecycle.delete"}
	appEvents    = []string{
		"application.user_membership.add", "application.user_membership.remove", "application.user_membership.update",
		"group.application_assignment.add", "group.application_assignment.remove", "group.application_assignment.update",
	}
)

// logFilter asks for deletes, and for assignment changes of the scoped app
// only (an org logs them for every app).
func (s *Source) logFilter() string {
	or := func(types []string) string {
		parts := make([]string, len(types))
		for i, t := range types {
			parts[i] = `eventType eq "` + t + `"`
		}
		return strings.Join(parts, " or ")
	}
	f := or(deleteEvents)
	if app := s.cfg.Scope.AppID; app != "" {
		f += ` or ((` + or(appEvents) + `) and target.id eq "` + app + `")`
	}
	return f
}

// log polls the System Log from the cursor's next link. A polling query
// always answers a next link; a page shorter than the limit means caught up,
// and the link is kept for the next pull.
func (s *Source) log(ctx context.Context, c *cursor, read map[string]bool, emit emitFunc) error {
	var (
		events []*okta.LogEvent
		resp   *okta.Response
		err    error
		link   = c.Log
	)
	if link == "" {
		events, resp, err = s.client.LogEvent.GetLogs(ctx, query.NewQueryParams(
			query.WithSince(c.LogSince.UTC().Format(okTimeFormat)), query.WithFilter(s.logFilter()),
			query.WithSortOrder("ASCENDING"), query.WithLimit(logPage)))
	} else {
		if link, err = s.links.checkStored(link, "/api/v1/logs"); err != nil {
			return fmt.Errorf("okta: system log: refused the stored System Log link: %w; it is not one Okta gave, so the state database may have been edited: check it, then run a full read (idsync sync <connection> --full)", err)
		}
		events, resp, err = s.getLogs(ctx, link)
	}
	if err != nil {
		if status(resp) == http.StatusBadRequest {
			// since/after out of the log's retention or no longer valid
			return fmt.Errorf("okta: system log: %v: %w", httppolicy.Clean(err), sources.ErrCursorExpired)
		}
		return s.fail(ctx, "system log", resp, err)
	}
	if c.Gone == nil {
		c.Gone = map[string]time.Time{}
	}
	app := s.cfg.Scope.AppID
	var affected []principal
	seen := map[string]bool{}
	for {
		var page []idsync.Change
		for _, ev := range events {
			if ev == nil {
				continue
			}
			switch {
			case ev.EventType == "user.lifecycle.delete.completed":
				if id := targetOf(ev, "User"); id != "" {
					page = append(page, idsync.UserRemovedChange(id, idsync.RemovalHard))
					if ev.Published != nil {
						c.Gone[id] = *ev.Published
					} else {
						c.Gone[id] = s.cfg.Now()
					}
				}
			case ev.EventType == "group.lifecycle.delete":
				if id := targetOf(ev, "UserGroup"); id != "" {
					page = append(page, idsync.GroupRemovedChange(id))
					delete(c.Members, id)
					delete(read, id)
				}
			case app != "" && targetOf(ev, "AppInstance") == app && (ev.Published == nil || !ev.Published.Before(c.Full)):
				// (an assignment change from before the last full read is in
				// what that read listed: the log overlap need not re-read it)
				kind, typ := idsync.MemberUser, "User"
				if strings.HasPrefix(ev.EventType, "group.") {
					kind, typ = idsync.MemberGroup, "UserGroup"
				}
				if id := targetOf(ev, typ); id != "" && !seen[id] {
					seen[id] = true
					affected = append(affected, principal{id, kind})
				}
			}
		}
		if len(page) > 0 {
			if err := emit(page); err != nil {
				return err
			}
		}
		if resp.HasNextPage() {
			link = resp.NextPage
		}
		if len(events) < logPage || !resp.HasNextPage() {
			break
		}
		if events, resp, err = s.getLogs(ctx, link); err != nil {
			return s.fail(ctx, "system log", resp, err)
		}
	}
	if len(affected) > 0 {
		if err := s.appRefresh(ctx, c, affected, emit); err != nil {
			return err
		}
	}
	c.Log = link
	return nil
}

func (s *Source) getLogs(ctx context.Context, link string) ([]*okta.LogEvent, *okta.Response, error) {
	re := s.client.CloneRequestExecutor()
	req, err := re.NewRequest(http.MethodGet, link, nil)
	if err != nil {
		return nil, nil, err
	}
	var events []*okta.LogEvent
	resp, err := re.Do(ctx, req, &events)
	return events, resp, err
}

type principal struct {
	id   string
	kind idsync.MemberKind
}

// appRefresh re-reads the app assignment of each principal the log named:
// withdraw what idsync knew, then report what Okta holds now. Many at once
// (a bulk change) are cheaper as one full app read.
//
// A group assignment change re-reads the whole app: it changes the app user
// profile (and so the role) of every member, which only the app's user list
// reports.
func (s *Source) appRefresh(ctx context.Context, c *cursor, ps []principal, emit emitFunc) error {
	if len(ps) > refreshInFull || slices.ContainsFunc(ps, func(p principal) bool { return p.kind == idsync.MemberGroup }) {
		ids, err := s.appFull(ctx, emit)
		if err == nil {
			c.AppGroups = ids
		}
		return err
	}
	gone := c.Gone
	app := s.cfg.Scope.AppID
	var page []idsync.Change
	for _, p := range ps {
		page = append(page, idsync.UnassignedChange(p.id))
		if _, ok := gone[p.id]; ok {
			continue
		}
		var (
			profile any
			resp    *okta.Response
			err     error
		)
		var au *okta.AppUser
		au, resp, err = s.client.Application.GetApplicationUser(ctx, app, p.id, nil)
		if au != nil {
			profile = au.Profile
		}
		switch {
		case err != nil && status(resp) == http.StatusNotFound:
			continue // unassigned
		case err != nil:
			return s.fail(ctx, fmt.Sprintf("get app %s assignment of %s", app, p.id), resp, err)
		}
		page = append(page, assigned(p.id, p.kind, profile, s.cfg.RoleAttribute)...)
	}
	return emit(page)
}

func targetOf(ev *okta.LogEvent, typ string) string {
	for _, t := range ev.Target {
		if t != nil && t.Type == typ {
			return t.Id
		}
	}
	return ""
}

func status(resp *okta.Response) int {
	if resp == nil || resp.Response == nil {
		return 0
	}
	return resp.StatusCode
}

// serverTime is Okta's clock from the answer's Date header (second
// precision, truncated, so the watermark errs early), or ours.
func (s *Source) serverTime(resp *okta.Response) time.Time {
	if resp != nil && resp.Response != nil {
		if t, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
			return t.UTC()
		}
	}
	return s.cfg.Now().UTC()
}

// fail turns an SDK failure into idsync's error: credentials problems wrap
// sources.ErrUnauthorized and say what to check (never the secret). Okta's
// words pass through httppolicy.Text, other errors through httppolicy.Clean
// (URLs without query or userinfo).
func (s *Source) fail(ctx context.Context, what string, resp *okta.Response, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("okta: %s: %w", what, ctx.Err())
	}
	var le *linkError
	if errors.As(err, &le) {
		// (without the *url.Error around it, which quotes the URL)
		return fmt.Errorf("okta: %s: %w", what, le)
	}
	var oe *okta.Error
	errors.As(err, &oe)
	code := ""
	if oe != nil {
		code = httppolicy.Text(oe.ErrorCode)
	}
	st := status(resp)
	switch {
	case st == http.StatusUnauthorized || code == "E0000011" || (oe != nil && (oe.ErrorMessage == "invalid_client" || oe.ErrorMessage == "invalid_grant")):
		check := "the API token (token) belongs to " + s.cfg.OrgURL + " and is not revoked or expired"
		if s.cfg.OAuth != nil {
			check = "oauth.client_id, the key registered with that service app (oauth.private_key_file, oauth.key_id) and its granted scopes on " + s.cfg.OrgURL
		}
		return fmt.Errorf("okta: %s: %w: check %s", what, sources.ErrUnauthorized, check)
	case st == http.StatusForbidden || code == "E0000006":
		return fmt.Errorf("okta: %s: %w: permission denied; the token's admin (or the service app's scopes: %s) must allow reading users, groups, apps and the System Log",
			what, sources.ErrUnauthorized, strings.Join(DefaultScopes, ", "))
	case oe != nil:
		return fmt.Errorf("okta: %s: %s (%s, HTTP %d)", what, httppolicy.Text(oe.ErrorSummary), code, st)
	case errors.As(err, new(*rateLimitError)):
		return fmt.Errorf("okta: %s: %w", what, err)
	case resp == nil:
		// The SDK returns no response when its transport or its retries
		// gave up (e.g. still throttled after the pacer's waits).
		return fmt.Errorf("okta: %s: no answer: %w", what, httppolicy.Clean(err))
	}
	return fmt.Errorf("okta: %s: %w", what, httppolicy.Clean(err))
}
