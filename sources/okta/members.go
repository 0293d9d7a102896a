package okta

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/idsync/idsync"
)

// Which groups' members a pull reads.
//
// Okta has no membership delta: a group's members cost one call per 1,000
// on every full read and whenever the group's membership changes. Most
// groups of an org decide nothing for a connection, so with MemberGroups
// set (cmd always sets it, to the groups its role rules and groups.include
// name) members are read only for the groups that matter: those named by
// scope.groups and MemberGroups, and the groups assigned to scope.app_id.
// BUILT_IN Everyone only when named: its membership changes with every new
// user, and who it assigns to the app is already in the app's user list.
//
// The other groups are listed as groups only. Their members, where the
// snapshot holds some from an older read, are left as they are
// (MembersUnreadChange): absence from a read that did not look is not proof
// that anyone left. The cursor remembers which groups' members are current
// (Read) and the selection they were made for (Refs), so a config edit or
// an app assignment that starts naming a group makes the next pull,
// incremental or not, read that group's members in full before the engine
// evaluates anyone against them.

// groupInfo is what a pull keeps of a listed group.
type groupInfo struct {
	ID, Name, Type        string
	LastMembershipUpdated *time.Time
}

// LimitMemberReads sets MemberGroups (see Config): the groups beyond
// scope.groups whose members the policy needs. Call it before the first Pull.
func (s *Source) LimitMemberReads(groups []string) {
	s.cfg.MemberGroups = append([]string{}, groups...)
}

// memberRefs is the member-read selection in a comparable form: the names
// and ids that select groups, lower-cased and sorted, with "*" for "every
// group" (MemberGroups nil).
func (s *Source) memberRefs() []string {
	var refs []string
	if s.cfg.MemberGroups == nil {
		refs = append(refs, "*")
	}
	for _, g := range append(slices.Clone(s.cfg.Scope.Groups), s.cfg.MemberGroups...) {
		refs = append(refs, strings.ToLower(strings.TrimSpace(g)))
	}
	slices.Sort(refs)
	return slices.Compact(refs)
}

// wants says whether g's members are to be read, given the groups assigned
// to the scoped app.
func (s *Source) wants(g groupInfo, appGroups map[string]bool) bool {
	if named(s.cfg.Scope.Groups, g) || named(s.cfg.MemberGroups, g) {
		return true
	}
	if g.Type == "BUILT_IN" {
		return false
	}
	return s.cfg.MemberGroups == nil || appGroups[g.ID]
}

func named(names []string, g groupInfo) bool {
	for _, want := range names {
		if want == g.ID || strings.EqualFold(want, g.Name) {
			return true
		}
	}
	return false
}

func set(ids []string) map[string]bool {
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for id, ok := range m {
		if ok {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// readGroupMembers reads g's members in full and records it in the
// cursor: Read, and Members when its membership changed within the overlap
// window of since (so the next incremental pull does not read it again).
func (s *Source) readGroupMembers(ctx context.Context, c *cursor, read map[string]bool, g groupInfo, since time.Time, emit emitFunc) error {
	if err := s.members(ctx, g.ID, emit); err != nil {
		return err
	}
	read[g.ID] = true
	if t := g.LastMembershipUpdated; t != nil && !t.Before(since) {
		c.Members[g.ID] = *t
	}
	return nil
}

// catchUp reads, on an incremental pull, the members of groups the
// selection now wants but the snapshot does not hold current: after a
// config edit changed the selection (refs) or the app's group assignments
// changed. It lists every group (one call per 1,000) to resolve names, and
// forgets groups no longer wanted (their members are no longer kept
// current).
func (s *Source) catchUp(ctx context.Context, c *cursor, read map[string]bool, emit emitFunc) error {
	appGroups := set(c.AppGroups)
	_, all, err := s.groups(ctx, "", emit)
	if err != nil {
		return err
	}
	wanted := map[string]bool{}
	for _, g := range all {
		if !s.wants(g, appGroups) {
			continue
		}
		wanted[g.ID] = true
		if read[g.ID] {
			continue
		}
		if err := s.readGroupMembers(ctx, c, read, g, c.Groups.Add(-s.cfg.Lag), emit); err != nil {
			return err
		}
	}
	for id := range read {
		if !wanted[id] {
			delete(read, id)
		}
	}
	return nil
}

// unread reports the listed groups whose members a full read skipped.
func unread(groups []groupInfo, read map[string]bool) []idsync.Change {
	var page []idsync.Change
	for _, g := range groups {
		if !read[g.ID] {
			page = append(page, idsync.MembersUnreadChange(g.ID))
		}
	}
	return page
}
