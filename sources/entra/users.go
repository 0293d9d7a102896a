package entra

import (
	"context"
	"fmt"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/idsync/idsync"
)

// userSelect is explicit because users/delta's default property set lacks
// accountEnabled, employeeId and department.
var userSelect = []string{"id", "userPrincipalName", "mail", "givenName", "surname", "displayName",
	"accountEnabled", "employeeId", "jobTitle", "department"}

// pullUsers follows users/delta from link ("" = a new full round) to the
// round's deltaLink, which it returns.
func (s *Source) pullUsers(ctx context.Context, link string, emit func([]idsync.Change) error) (string, error) {
	rb := users.NewDeltaRequestBuilderInternal(map[string]string{}, s.adapter)
	for page := 1; ; page++ {
		var resp users.DeltaGetResponseable
		var err error
		if link == "" {
			resp, err = rb.GetAsDeltaGetResponse(ctx, &users.DeltaRequestBuilderGetRequestConfiguration{
				QueryParameters: &users.DeltaRequestBuilderGetQueryParameters{Select: userSelect},
			})
		} else {
			// nextLink and deltaLink already carry $select in their tokens.
			resp, err = rb.WithUrl(link).GetAsDeltaGetResponse(ctx, nil)
		}
		if err != nil {
			return "", s.graphError(fmt.Sprintf("users delta page %d", page), err)
		}
		values := resp.GetValue()
		changes := make([]idsync.Change, 0, len(values))
		for _, u := range values {
			if c, ok := userChange(u); ok {
				changes = append(changes, c)
			}
		}
		if len(changes) > 0 {
			if err := emit(changes); err != nil {
				return "", err
			}
		}
		if next := str(resp.GetOdataNextLink()); next != "" {
			link = next
			continue
		}
		if delta := str(resp.GetOdataDeltaLink()); delta != "" {
			return delta, nil
		}
		return "", fmt.Errorf("entra: users delta page %d: neither nextLink nor deltaLink", page)
	}
}

func userChange(u models.Userable) (idsync.Change, bool) {
	id := str(u.GetId())
	if id == "" {
		return idsync.Change{}, false
	}
	if reason, ok := removedReason(u.GetAdditionalData()); ok {
		return idsync.UserRemovedChange(id, removal(reason)), true
	}
	status := idsync.StatusActive
	// accountEnabled is selected, so it is always present; absent it would
	// mean Graph's default (enabled).
	if e := u.GetAccountEnabled(); e != nil && !*e {
		status = idsync.StatusDisabled
	}
	return idsync.UserChange(idsync.User{
		ID:          id,
		UserName:    str(u.GetUserPrincipalName()),
		Email:       str(u.GetMail()),
		GivenName:   str(u.GetGivenName()),
		FamilyName:  str(u.GetSurname()),
		DisplayName: str(u.GetDisplayName()),
		EmployeeID:  str(u.GetEmployeeId()),
		Title:       str(u.GetJobTitle()),
		Department:  str(u.GetDepartment()),
		Status:      status,
	}), true
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

// removedReason finds the @removed annotation the SDK leaves in
// AdditionalData (a JSON object decoded as map[string]any of *string).
func removedReason(extra map[string]any) (string, bool) {
	v, ok := extra["@removed"]
	if !ok {
		return "", false
	}
	if m, ok := v.(map[string]any); ok {
		return anyStr(m["reason"]), true
	}
	return "", true
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func anyStr(v any) string {
	switch s := v.(type) {
	case *string:
		return str(s)
	case string:
		return s
	}
	return ""
}
