package idsync

import (
	"cmp"
	"slices"
)

// OpKind names what an Op does to the workspace.
type OpKind string

const (
	OpCreate       OpKind = "create"
	OpUpdate       OpKind = "update"
	OpSetRole      OpKind = "role"
	OpEnable       OpKind = "enable"
	OpDisable      OpKind = "disable"
	OpDelete       OpKind = "delete"
	OpGroupCreate  OpKind = "group-create"
	OpGroupUpdate  OpKind = "group-update"
	OpGroupDelete  OpKind = "group-delete"
	OpMemberAdd    OpKind = "member-add"
	OpMemberRemove OpKind = "member-remove"
)

// order is the position of each kind in a plan: accounts exist before they
// join groups, profile and role changes before activity changes, and
// destructive ops come last.
var order = map[OpKind]int{
	OpCreate: 0, OpGroupCreate: 1, OpGroupUpdate: 2, OpMemberAdd: 3, OpUpdate: 4, OpSetRole: 5,
	OpEnable: 6, OpMemberRemove: 7, OpDisable: 8, OpGroupDelete: 9, OpDelete: 10,
}

// Destructive reports whether the op takes access away (counted by safety limits).
func (k OpKind) Destructive() bool { return k == OpDisable || k == OpDelete }

// TakesAway reports whether the op takes something away from people: a
// user disable or delete, or a group delete (its members lose what the
// group grants). These are what approving a held plan approves (Plan.ID).
func (k OpKind) TakesAway() bool { return k.Destructive() || k == OpGroupDelete }

// IsGroup reports whether the op acts on a group rather than a user.
func (k OpKind) IsGroup() bool {
	return k == OpGroupCreate || k == OpGroupUpdate || k == OpGroupDelete || k == OpMemberAdd || k == OpMemberRemove
}

// Member names a user in a member op: by its IdP id and, once it exists in
// the workspace, by the workspace's id.
type Member struct {
	ExternalID string `json:"externalId"`
	TargetID   string `json:"targetId,omitempty"`
}

// Op is one change to the workspace. Ops are idempotent: applying one twice
// leaves the workspace as applying it once does.
type Op struct {
	// ID is stable for the life of the op (through retries and restarts), so a
	// receiver can drop repeats. The engine sets it when the op enters the outbox.
	ID         string `json:"id,omitempty"`
	Connection string `json:"connection"`
	Kind       OpKind `json:"kind"`
	// ObjectID is the IdP id of the user or group; TargetID is the
	// workspace's id for it, "" when idsync has not applied it yet.
	ObjectID string `json:"objectId"`
	TargetID string `json:"targetId,omitempty"`

	// Account is the user as it should be after the op (nil for delete);
	// Prev is the user as last applied (nil for create).
	Account *Account      `json:"account,omitempty"`
	Prev    *Account      `json:"prev,omitempty"`
	Changes []FieldChange `json:"changes,omitempty"` // update: what differs

	Group     *GroupAccount `json:"group,omitempty"` // group ops: the group after the op
	PrevGroup *GroupAccount `json:"prevGroup,omitempty"`
	Members   []Member      `json:"members,omitempty"` // member-add / member-remove
	// Round orders member-adds where the order a user joins groups means
	// something (OfficeRnD's primary team): each user is in at most one
	// member-add of a round, and a round is applied only after the one
	// before it. 0 for every other op.
	Round int `json:"round,omitempty"`

	Reason string `json:"reason,omitempty"` // why, for people: "account disabled in Entra"

	// Unmanaged is the workspace id of an account idsync does not manage,
	// for the disable that config unmanaged: disable plans; "" for every
	// other op. The applied state never records such an op's account.
	Unmanaged string `json:"unmanaged,omitempty"`
}

// Name is how people know the op's object: the userName, or the group's name.
func (o Op) Name() string {
	switch {
	case o.Account != nil:
		return o.Account.UserName
	case o.Prev != nil:
		return o.Prev.UserName
	case o.Group != nil:
		return o.Group.DisplayName
	case o.PrevGroup != nil:
		return o.PrevGroup.DisplayName
	}
	return o.ObjectID
}

// Applied is what a target reports after an op, or lists from the workspace.
type Applied struct {
	TargetID string        `json:"targetId"`
	Account  *Account      `json:"account,omitempty"`
	Group    *GroupAccount `json:"group,omitempty"`
}

// Plan is the ordered list of ops one run will apply to one connection.
type Plan struct {
	Connection string `json:"connection"`
	Source     string `json:"source"` // source type, for display ("entra")
	Ops        []Op   `json:"ops"`
}

// Sort puts the ops in apply order: by kind (see order), round, then by name
// and id, so the same state always gives the same plan. A plan holds one op
// per kind, round and object, so the order is total. Keys are computed once and indices
// sorted: a first sync's plan has an op per user, and Op is large to move.
func (p *Plan) Sort() {
	type key struct {
		rank, round int
		name, id    string
	}
	keys := make([]key, len(p.Ops))
	idx := make([]int, len(p.Ops))
	for i, o := range p.Ops {
		keys[i], idx[i] = key{order[o.Kind], o.Round, o.Name(), o.ObjectID}, i
	}
	slices.SortFunc(idx, func(a, b int) int {
		ka, kb := &keys[a], &keys[b]
		if c := cmp.Compare(ka.rank, kb.rank); c != 0 {
			return c
		}
		if c := cmp.Compare(ka.round, kb.round); c != 0 {
			return c
		}
		if c := cmp.Compare(ka.name, kb.name); c != 0 {
			return c
		}
		return cmp.Compare(ka.id, kb.id)
	})
	if slices.IsSorted(idx) {
		return // already in order (a first sync's creates, planned by name)
	}
	sorted := make([]Op, len(p.Ops))
	for i, j := range idx {
		sorted[i] = p.Ops[j]
	}
	p.Ops = sorted
}

// Counts tallies a plan by kind.
type Counts map[OpKind]int

// Counts returns how many ops of each kind the plan holds.
func (p Plan) Counts() Counts {
	c := Counts{}
	for _, o := range p.Ops {
		c[o.Kind]++
	}
	return c
}

// Destructive counts the ops that take access away.
func (p Plan) Destructive() int {
	n := 0
	for _, o := range p.Ops {
		if o.Kind.Destructive() {
			n++
		}
	}
	return n
}
