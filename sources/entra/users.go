package entra

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

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
	UserPrincipalName *string      `json:"userPrincipalName"`
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
	// Graph documents that an updated user may come with only the
	// properties that changed. idsync's changes carry whole users, so such
	// an entry (recognisable by its missing userPrincipalName, which every
	// user has and is selected) is re-read whole: one GET /users/{id} each
	// (see rereadUser for one deleted in between).
	complete := func(p deltaResult) ([]idsync.Change, error) {
		for _, i := range p.partial {
			c, err := s.rereadUser(ctx, p.changes[i].User.ID)
			if err != nil {
				return nil, err
			}
			p.changes[i] = c
		}
		return p.changes, nil
	}
	var d usersDecoder
	decode := func(body []byte, asked string, onNext func(string)) (deltaResult, error) {
		return d.decode(s.cfg.GraphURL, asked, body, maxPageEntries, onNext)
	}
	return followDelta(ctx, s, "users", first, withURL, decode, complete, emit)
}

// rereadUser reads the user id whole for a partial delta entry. A user
// Graph answers 404 for was deleted since the page, and the recycle bin
// says how: there, a soft removal. In neither, it is read once more before
// it counts as deleted for good, so that a restore between the two reads
// (or a replica that had not caught up) cannot delete an account.
func (s *Source) rereadUser(ctx context.Context, id string) (idsync.Change, error) {
	c, found, err := s.getUser(ctx, id)
	if err != nil || found {
		return c, err
	}
	binned, err := s.inRecycleBin(ctx, id)
	if err != nil {
		return c, err
	}
	if binned {
		return idsync.UserRemovedChange(id, idsync.RemovalSoft), nil
	}
	if c, found, err = s.getUser(ctx, id); err != nil || found {
		return c, err
	}
	return idsync.UserRemovedChange(id, idsync.RemovalHard), nil
}

// getUser reads one user whole; found=false when Graph answers 404.
func (s *Source) getUser(ctx context.Context, id string) (c idsync.Change, found bool, err error) {
	raw := s.cfg.GraphURL + "/users/" + url.PathEscape(id) + "?$select=" + strings.Join(userSelect, ",")
	info, err := users.NewUserItemRequestBuilder(raw, s.adapter).ToGetRequestInformation(ctx, nil)
	if err != nil {
		return c, false, fmt.Errorf("entra: user %s: %w", id, err)
	}
	body, err := s.adapter.SendPrimitive(ctx, info, "[]byte", errorMapping)
	if err != nil {
		if notFound(err) {
			return c, false, nil
		}
		return c, false, s.graphError("user "+id, err)
	}
	b, _ := body.([]byte)
	var u graphUser
	if err := json.Unmarshal(b, &u); err != nil {
		return c, false, fmt.Errorf("entra: user %s: unreadable answer: %w", id, err)
	}
	if u.ID == "" || u.UserPrincipalName == nil {
		return c, false, fmt.Errorf("entra: user %s: Graph answered without id or userPrincipalName", id)
	}
	return appendUserChange(nil, &u)[0], true, nil
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
		UserName:    str(u.UserPrincipalName),
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
