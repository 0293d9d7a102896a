package idsync

// ChangeKind names what a Change reports.
type ChangeKind string

const (
	// ChangeUser: User was created or changed (a restored user comes back as one).
	ChangeUser ChangeKind = "user"
	// ChangeUserRemoved: the user with ID left the IdP; Removal says how.
	ChangeUserRemoved ChangeKind = "user-removed"
	// ChangeGroup: Group was created or renamed.
	ChangeGroup ChangeKind = "group"
	// ChangeGroupRemoved: the group with ID was deleted (its memberships go with it).
	ChangeGroupRemoved ChangeKind = "group-removed"
	// ChangeMemberAdded / ChangeMemberRemoved: MemberID (of MemberKind) joined or left GroupID.
	ChangeMemberAdded   ChangeKind = "member-added"
	ChangeMemberRemoved ChangeKind = "member-removed"
	// ChangeAssigned: Assignment was granted (idempotent; a principal may hold several roles).
	ChangeAssigned ChangeKind = "assigned"
	// ChangeUnassigned: every assignment of the principal ID was withdrawn.
	ChangeUnassigned ChangeKind = "unassigned"
	// ChangeSweep: the source has just re-read a whole collection in this pull
	// (Sweep says which); entries of it not seen in this pull are stale and are
	// dropped. Used for data an IdP offers no delta for (Entra app role
	// assignments, an Okta group's member list). Must come after the entries.
	ChangeSweep ChangeKind = "sweep"
	// ChangeMembersUnread: a full read listed group GroupID but did not read
	// its members (the policy does not reference it, so they decide nothing).
	// What the snapshot holds for them stays as it is: absence from this read
	// is not proof that anyone left. A source that starts needing them reads
	// them in full (members, then a SweepMembers) before they are used.
	ChangeMembersUnread ChangeKind = "members-unread"
)

// SweepScope names a collection a ChangeSweep covers.
type SweepScope string

const (
	SweepAssignments SweepScope = "assignments" // all app assignments of the connection
	SweepMembers     SweepScope = "members"     // the members of group GroupID
)

// Change is one fact a source reports about the directory. Sources emit them
// page by page; the engine applies them to the snapshot in order, so a later
// change to the same object wins and replaying a change is harmless.
type Change struct {
	Kind ChangeKind `json:"kind"`

	User  *User  `json:"user,omitempty"`  // ChangeUser
	Group *Group `json:"group,omitempty"` // ChangeGroup

	// ID is the removed object (ChangeUserRemoved, ChangeGroupRemoved) or the
	// unassigned principal (ChangeUnassigned).
	ID      string  `json:"id,omitempty"`
	Removal Removal `json:"removal,omitempty"`

	GroupID    string     `json:"groupId,omitempty"` // member changes, SweepMembers
	MemberID   string     `json:"memberId,omitempty"`
	MemberKind MemberKind `json:"memberKind,omitempty"`

	Assignment *Assignment `json:"assignment,omitempty"` // ChangeAssigned

	Sweep SweepScope `json:"sweep,omitempty"` // ChangeSweep
}

// UserChange reports u as created or changed.
func UserChange(u User) Change { return Change{Kind: ChangeUser, User: &u} }

// UserRemovedChange reports the user id as removed.
func UserRemovedChange(id string, r Removal) Change {
	return Change{Kind: ChangeUserRemoved, ID: id, Removal: r}
}

// GroupChange reports g as created or changed.
func GroupChange(g Group) Change { return Change{Kind: ChangeGroup, Group: &g} }

// GroupRemovedChange reports the group id as deleted.
func GroupRemovedChange(id string) Change {
	return Change{Kind: ChangeGroupRemoved, ID: id, Removal: RemovalHard}
}

// MemberAddedChange reports member (a user or group) as a direct member of group.
func MemberAddedChange(group, member string, kind MemberKind) Change {
	return Change{Kind: ChangeMemberAdded, GroupID: group, MemberID: member, MemberKind: kind}
}

// MemberRemovedChange reports member as no longer a direct member of group.
func MemberRemovedChange(group, member string) Change {
	return Change{Kind: ChangeMemberRemoved, GroupID: group, MemberID: member}
}

// AssignedChange reports a.
func AssignedChange(a Assignment) Change { return Change{Kind: ChangeAssigned, Assignment: &a} }

// UnassignedChange withdraws every assignment of principal.
func UnassignedChange(principal string) Change { return Change{Kind: ChangeUnassigned, ID: principal} }

// MembersUnreadChange reports that a full read did not read group's members.
func MembersUnreadChange(group string) Change {
	return Change{Kind: ChangeMembersUnread, GroupID: group}
}

// SweepChange closes a re-read of scope (group is the group for SweepMembers).
func SweepChange(scope SweepScope, group string) Change {
	return Change{Kind: ChangeSweep, Sweep: scope, GroupID: group}
}
