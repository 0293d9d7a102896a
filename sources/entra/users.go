package entra

import (
	"context"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/idsync/idsync"
)

// userSelect is explicit because users/delta's default property set lacks
// accountEnabled, employeeId and department.
var userSelect = []string{"id", "userPrincipalName", "mail", "givenName", "surname", "displayName",
	"accountEnabled", "employeeId", "jobTitle", "department"}

// graphUser is a users/delta entry: a user with the selected properties,
// or {id, @removed}.
type graphUser struct {
	ID                string       `json:"id"`
	UserPrincipalName string       `json:"userPrincipalName"`
	Mail              string       `json:"mail"`
	GivenName         string       `json:"givenName"`
	Surname           string       `json:"surname"`
	DisplayName       string       `json:"displayName"`
	AccountEnabled    *bool        `json:"accountEnabled"`
	EmployeeID        string       `json:"employeeId"`
	JobTitle          string       `json:"jobTitle"`
	Department        string       `json:"department"`
	Removed           *removedMark `json:"@removed"`
}

// pullUsers follows users/delta from link ("" = a new full round) to the
// round's deltaLink, which it returns.
func (s *Source) pullUsers(ctx context.Context, link string, emit func([]idsync.Change) error) (string, error) {
	rb := users.NewDeltaRequestBuilderInternal(map[string]string{}, s.adapter)
	withURL := func(u string) (*abs.RequestInformation, error) {
		// nextLink and deltaLink carry $select in their tokens.
		return rb.WithUrl(u).ToGetRequestInformation(ctx, nil)
	}
	var first *abs.RequestInformation
	var err error
	if link == "" {
		first, err = rb.ToGetRequestInformation(ctx, &users.DeltaRequestBuilderGetRequestConfiguration{
			QueryParameters: &users.DeltaRequestBuilderGetQueryParameters{Select: userSelect},
		})
	} else {
		first, err = withURL(link)
	}
	if err != nil {
		return "", err
	}
	return followDelta(ctx, s, "users", first, withURL, appendUserChange, emit)
}

func appendUserChange(changes []idsync.Change, u *graphUser) []idsync.Change {
	if u.ID == "" {
		return changes
	}
	if u.Removed != nil {
		return append(changes, idsync.UserRemovedChange(u.ID, removal(u.Removed.Reason)))
	}
	status := idsync.StatusActive
	// accountEnabled is selected, so it is always there; absent it would
	// mean Graph's default (enabled).
	if u.AccountEnabled != nil && !*u.AccountEnabled {
		status = idsync.StatusDisabled
	}
	return append(changes, idsync.UserChange(idsync.User{
		ID:          u.ID,
		UserName:    u.UserPrincipalName,
		Email:       u.Mail,
		GivenName:   u.GivenName,
		FamilyName:  u.Surname,
		DisplayName: u.DisplayName,
		EmployeeID:  u.EmployeeID,
		Title:       u.JobTitle,
		Department:  u.Department,
		Status:      status,
	}))
}

// removal maps an @removed reason: "changed" is Entra's recycle bin
// (restorable for 30 days), "deleted" is permanent. An unknown reason is
// taken as the reversible kind, so it never deletes on its own.
func removal(reason string) idsync.Removal {
	if reason == "deleted" {
		return idsync.RemovalHard
	}
	return idsync.RemovalSoft
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
