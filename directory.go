package idsync

// Status is the account state an identity provider reports for a user.
type Status string

const (
	// StatusActive: the user can sign in (Entra accountEnabled=true; Okta
	// ACTIVE, PROVISIONED, RECOVERY, PASSWORD_EXPIRED, LOCKED_OUT).
	StatusActive Status = "active"
	// StatusDisabled: the IdP blocks sign-in (Entra accountEnabled=false;
	// Okta SUSPENDED, DEPROVISIONED). The deprovision.disabled policy applies.
	StatusDisabled Status = "disabled"
	// StatusStaged: created in the IdP but not yet provisioned (Okta STAGED).
	// Staged users get no workspace account.
	StatusStaged Status = "staged"
)

// Removal says how a directory object left the IdP.
type Removal string

const (
	RemovalNone Removal = ""
	// RemovalSoft: in Entra's recycle bin (@removed reason "changed"), restorable for 30 days.
	RemovalSoft Removal = "soft"
	// RemovalHard: permanently deleted, or mentioned neither live nor
	// restorable by a completed full read (see sources.Source).
	RemovalHard Removal = "hard"
)

// User is a directory user as the IdP reports it. ID is the IdP's immutable
// object id and is what idsync keys everything on; UserName may change.
type User struct {
	ID          string  `json:"id"`
	UserName    string  `json:"userName"`
	Email       string  `json:"email,omitempty"`
	GivenName   string  `json:"givenName,omitempty"`
	FamilyName  string  `json:"familyName,omitempty"`
	DisplayName string  `json:"displayName,omitempty"`
	EmployeeID  string  `json:"employeeId,omitempty"`
	Title       string  `json:"title,omitempty"`
	Department  string  `json:"department,omitempty"`
	Status      Status  `json:"status"`
	Removed     Removal `json:"removed,omitempty"`
}

// Group is a directory group. Members are carried separately as Member changes
// because IdPs report them incrementally.
type Group struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Description string  `json:"description,omitempty"`
	Removed     Removal `json:"removed,omitempty"`
}

// MemberKind tells whether a group member is a user or a nested group.
type MemberKind string

const (
	MemberUser  MemberKind = "user"
	MemberGroup MemberKind = "group"
)

// Assignment grants a principal (a user, or a group whose direct members are
// covered) access to the scoped application, optionally with a role value
// (Entra app role value, Okta app user profile attribute). Role "" is plain
// access without a role.
type Assignment struct {
	PrincipalID   string     `json:"principalId"`
	PrincipalKind MemberKind `json:"principalKind"`
	Role          string     `json:"role,omitempty"`
}
