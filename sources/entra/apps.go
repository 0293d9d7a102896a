package entra

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/microsoftgraph/msgraph-sdk-go/serviceprincipals"

	"github.com/idsync/idsync"
)

// defaultAccess is the appRoleId of an assignment without a role.
const defaultAccess = "00000000-0000-0000-0000-000000000000"

type graphAssignment struct {
	AppRoleID     string `json:"appRoleId"`
	PrincipalID   string `json:"principalId"`
	PrincipalType string `json:"principalType"`
}

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
			roles[strings.ToLower(r.GetId().String())] = str(r.GetValue())
		}
	}
	link := s.cfg.GraphURL + "/servicePrincipals/" + url.PathEscape(spID) + "/appRoleAssignedTo?$top=999"
	for page := 1; link != ""; page++ {
		info, err := serviceprincipals.NewItemAppRoleAssignedToRequestBuilder(link, s.adapter).ToGetRequestInformation(ctx, nil)
		if err != nil {
			return fmt.Errorf("entra: scope.app_id %s: %w", appID, err)
		}
		// Decoded like the delta pages (see delta.go): apps assigned to
		// every user one by one have as many entries as the tenant has users.
		raw, err := s.adapter.SendPrimitive(ctx, info, "[]byte", errorMapping)
		if err != nil {
			return s.graphError(fmt.Sprintf("scope.app_id %s: appRoleAssignedTo page %d", appID, page), err)
		}
		body, _ := raw.([]byte)
		p, err := decodePage[graphAssignment](s.cfg.GraphURL, link, body)
		if err != nil {
			return fmt.Errorf("entra: scope.app_id %s: appRoleAssignedTo page %d: %w", appID, page, err)
		}
		changes := make([]idsync.Change, 0, len(p.Value))
		for _, a := range p.Value {
			var kind idsync.MemberKind
			switch a.PrincipalType {
			case "User":
				kind = idsync.MemberUser
			case "Group":
				kind = idsync.MemberGroup
			default: // service principals are not people
				continue
			}
			if a.PrincipalID == "" {
				continue
			}
			// A role deleted from the app after it was assigned is not in
			// roles: still access, with no role value for rules to match.
			changes = append(changes, idsync.AssignedChange(idsync.Assignment{
				PrincipalID: a.PrincipalID, PrincipalKind: kind, Role: roles[strings.ToLower(a.AppRoleID)],
			}))
		}
		if len(changes) > 0 {
			if err := emit(changes); err != nil {
				return err
			}
		}
		link = p.NextLink
	}
	return emit([]idsync.Change{idsync.SweepChange(idsync.SweepAssignments, "")})
}
