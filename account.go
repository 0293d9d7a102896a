package idsync

// Account is a user as idsync wants the workspace to hold it: the IdP user
// normalised, with the decided activity and role. ExternalID is the IdP
// object id and is how the workspace account is tied to the directory user.
type Account struct {
	ExternalID  string `json:"externalId"`
	UserName    string `json:"userName"`
	Email       string `json:"email,omitempty"`
	GivenName   string `json:"givenName,omitempty"`
	FamilyName  string `json:"familyName,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
	EmployeeID  string `json:"employeeNumber,omitempty"`
	Title       string `json:"title,omitempty"`
	Department  string `json:"department,omitempty"`
	Active      bool   `json:"active"`
	Role        string `json:"role,omitempty"`
}

// Attribute names used in FieldChange, in the order plans list them. They are
// SCIM paths (RFC 7643) so a plan reads the way a workspace admin thinks.
const (
	AttrUserName    = "userName"
	AttrEmail       = "emails[primary]"
	AttrGivenName   = "name.givenName"
	AttrFamilyName  = "name.familyName"
	AttrDisplayName = "displayName"
	AttrEmployeeID  = "employeeNumber"
	AttrTitle       = "title"
	AttrDepartment  = "department"
)

// Attributes returns the account's profile attributes (everything but
// activity and role, which have their own ops) in plan order.
func (a Account) Attributes() []Attribute {
	return []Attribute{
		{AttrUserName, a.UserName},
		{AttrEmail, a.Email},
		{AttrGivenName, a.GivenName},
		{AttrFamilyName, a.FamilyName},
		{AttrDisplayName, a.DisplayName},
		{AttrEmployeeID, a.EmployeeID},
		{AttrTitle, a.Title},
		{AttrDepartment, a.Department},
	}
}

// Attribute is one named profile value.
type Attribute struct {
	Name  string
	Value string
}

// FieldChange is one attribute an update changes.
type FieldChange struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// DiffAttributes lists the profile attributes that differ from old to new.
func DiffAttributes(old, new Account) []FieldChange {
	var out []FieldChange
	oa, na := old.Attributes(), new.Attributes()
	for i := range na {
		if oa[i].Value != na[i].Value {
			out = append(out, FieldChange{Field: na[i].Name, Old: oa[i].Value, New: na[i].Value})
		}
	}
	return out
}

// GroupAccount is a group as idsync wants the workspace to hold it (when
// group sync is on). Members are the ExternalIDs of member accounts.
// Description is set only for workspaces that take it (OfficeRnD teams).
type GroupAccount struct {
	ExternalID  string   `json:"externalId"`
	DisplayName string   `json:"displayName"`
	Description string   `json:"description,omitempty"`
	Members     []string `json:"members,omitempty"`
}
