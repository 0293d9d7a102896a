package entra

import (
	"context"
	"fmt"
	"net/url"

	"github.com/microsoftgraph/msgraph-sdk-go/serviceprincipals"

	"github.com/idsync/idsync"
)

// defaultAccess is the appRoleId of an assignment without a role.
const defaultAccess = "00000000-0000-0000-0000-000000000000"

// pullAssignments re-reads who is assigned to the scope app. Graph has no
// delta for appRoleAssignedTo, so every pull reads it whole — one request
// for the service principal (its appRoles, to turn appRoleId into the
// role's value) plus one per 999 assignments — and ends with a sweep so
// assignments that disappeared are dropped.
//
// A group's assignment covers the group's direct members only (Entra's
// rule: nested groups' members are not assigned); the engine applies it.
func (s *Source) pullAssignments(ctx context.Context, emit func([]idsync.Change) error) error {
	appID := s.cfg.Scope.AppID
	spURL := s.cfg.GraphURL + "/servicePrincipals(appId='" + url.PathEscape(appID) + "')?$select=id,appId,appRoles"
	sp, err := serviceprincipals.NewServicePrincipalItemRequestBuilder(spURL, s.adapter).Get(ctx, nil)
	if err != nil {
		return s.graphError(fmt.Sprintf("scope.app_id %s: service principal", appID), err)
	}
	spID := str(sp.GetId())
	if spID == "" {
		return fmt.Errorf("entra: scope.app_id %s: service principal without id", appID)
	}
	roles := map[string]string{defaultAccess: ""}
	for _, r := range sp.GetAppRoles() {
		if r.GetId() != nil {
			roles[r.GetId().String()] = str(r.GetValue())
		}
	}
	link := s.cfg.GraphURL + "/servicePrincipals/" + url.PathEscape(spID) + "/appRoleAssignedTo?$top=999"
	for page := 1; link != ""; page++ {
		resp, err := serviceprincipals.NewItemAppRoleAssignedToRequestBuilder(link, s.adapter).Get(ctx, nil)
		if err != nil {
			return s.graphError(fmt.Sprintf("scope.app_id %s: appRoleAssignedTo page %d", appID, page), err)
		}
		var changes []idsync.Change
		for _, a := range resp.GetValue() {
			if a.GetPrincipalId() == nil {
				continue
			}
			var kind idsync.MemberKind
			switch str(a.GetPrincipalType()) {
			case "User":
				kind = idsync.MemberUser
			case "Group":
				kind = idsync.MemberGroup
			default: // service principals are not people
				continue
			}
			role := ""
			if a.GetAppRoleId() != nil {
				var ok bool
				if role, ok = roles[a.GetAppRoleId().String()]; !ok {
					// A role deleted from the app after it was assigned:
					// still access, no role value to match rules on.
					role = ""
				}
			}
			changes = append(changes, idsync.AssignedChange(idsync.Assignment{
				PrincipalID: a.GetPrincipalId().String(), PrincipalKind: kind, Role: role,
			}))
		}
		if len(changes) > 0 {
			if err := emit(changes); err != nil {
				return err
			}
		}
		link = str(resp.GetOdataNextLink())
	}
	return emit([]idsync.Change{idsync.SweepChange(idsync.SweepAssignments, "")})
}
