package entratest

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// DefaultAccessRoleID is the appRoleId Graph reports for an assignment
// without a role ("Default Access").
const DefaultAccessRoleID = "00000000-0000-0000-0000-000000000000"

// AppRole is one role an application defines.
type AppRole struct {
	ID          string
	Value       string
	DisplayName string
}

type appRec struct {
	appID, spID, name string
	roles             []AppRole
	assignments       []*assignment
}

type assignment struct {
	id, principal, principalType, principalName, roleID string
}

// AddApp registers an enterprise application (app registration plus
// service principal) with the given app role values and returns its appId
// (the client id users put in scope.app_id).
func (s *Server) AddApp(displayName string, roleValues ...string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addAppLocked(displayName, roleValues...)
}

func (s *Server) addAppLocked(displayName string, roleValues ...string) string {
	s.nextID++
	a := &appRec{appID: guid(appIDPrefix, s.nextID), spID: guid(spIDPrefix, s.nextID), name: displayName}
	for _, v := range roleValues {
		s.nextID++
		a.roles = append(a.roles, AppRole{ID: guid(roleIDPrefix, s.nextID), Value: v, DisplayName: v})
	}
	s.apps[a.appID] = a
	return a.appID
}

// AssignApp assigns principal (a user or group id) to the app, with the role
// of that value ("" for default access). Assigning twice is a no-op.
func (s *Server) AssignApp(appID, principal, role string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.assignAppLocked(appID, principal, role)
}

func (s *Server) assignAppLocked(appID, principal, role string) error {
	a, ok := s.apps[appID]
	if !ok {
		return fmt.Errorf("entratest: no app %s", appID)
	}
	roleID, err := a.roleID(role)
	if err != nil {
		return err
	}
	typ, name := "", ""
	if u, ok := s.users[principal]; ok && u.state != stateHardDeleted {
		typ, name = "User", u.DisplayName
	} else if g, ok := s.groups[principal]; ok && g.state == stateLive {
		typ, name = "Group", g.name
	} else {
		return fmt.Errorf("entratest: no principal %s", principal)
	}
	for _, as := range a.assignments {
		if as.principal == principal && as.roleID == roleID {
			return nil
		}
	}
	s.nextID++
	a.assignments = append(a.assignments, &assignment{id: guid(asgIDPrefix, s.nextID), principal: principal,
		principalType: typ, principalName: name, roleID: roleID})
	return nil
}

// UnassignApp removes principal's assignment with role ("" = default access).
func (s *Server) UnassignApp(appID, principal, role string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.apps[appID]
	if !ok {
		return fmt.Errorf("entratest: no app %s", appID)
	}
	roleID, err := a.roleID(role)
	if err != nil {
		return err
	}
	for i, as := range a.assignments {
		if as.principal == principal && as.roleID == roleID {
			a.assignments = append(a.assignments[:i:i], a.assignments[i+1:]...)
			return nil
		}
	}
	return fmt.Errorf("entratest: %s has no %q assignment", principal, role)
}

// dropAssignments forgets the assignments of a permanently deleted principal.
func (s *Server) dropAssignments(principal string) {
	for _, a := range s.apps {
		kept := a.assignments[:0:0]
		for _, as := range a.assignments {
			if as.principal != principal {
				kept = append(kept, as)
			}
		}
		a.assignments = kept
	}
}

func (a *appRec) roleID(value string) (string, error) {
	if value == "" {
		return DefaultAccessRoleID, nil
	}
	for _, r := range a.roles {
		if r.Value == value {
			return r.ID, nil
		}
	}
	return "", fmt.Errorf("entratest: app %s has no role %q", a.appID, value)
}

// servicePrincipal serves /servicePrincipals(appId='…'), /servicePrincipals/{id}
// and their /appRoleAssignedTo.
func (s *Server) servicePrincipal(w http.ResponseWriter, r *http.Request, rest string) {
	key, sub, _ := strings.Cut(strings.TrimPrefix(rest, "/"), "/")
	s.mu.Lock()
	defer s.mu.Unlock()
	var app *appRec
	if v, ok := strings.CutPrefix(key, "(appId="); ok {
		v = strings.TrimSuffix(v, ")")
		v = strings.Trim(v, "'")
		app = s.apps[v]
	} else {
		for _, a := range s.apps {
			if a.spID == key {
				app = a
			}
		}
	}
	if app == nil {
		graphError(w, http.StatusNotFound, "Request_ResourceNotFound",
			fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", key))
		return
	}
	switch sub {
	case "":
		s.count("servicePrincipals")
		b := []byte(`{"@odata.context":` + jsonString(s.GraphURL+"/$metadata#servicePrincipals/$entity"))
		b = appendField(b, "id", app.spID)
		b = appendField(b, "appId", app.appID)
		b = appendField(b, "displayName", app.name)
		b = append(b, `,"appRoles":[`...)
		for i, role := range app.roles {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"allowedMemberTypes":["User"],"isEnabled":true,"origin":"Application"`...)
			b = appendField(b, "id", role.ID)
			b = appendField(b, "value", role.Value)
			b = appendField(b, "displayName", role.DisplayName)
			b = appendField(b, "description", role.DisplayName)
			b = append(b, '}')
		}
		b = append(b, "]}"...)
		writeJSON(w, b)
	case "appRoleAssignedTo":
		s.count("appRoleAssignedTo")
		top := 100
		if t, err := strconv.Atoi(r.URL.Query().Get("$top")); err == nil && t > 0 {
			top = min(t, 999)
		}
		off, _ := strconv.Atoi(r.URL.Query().Get("$skiptoken"))
		end := min(off+top, len(app.assignments))
		b := []byte(`{"@odata.context":` + jsonString(s.GraphURL+"/$metadata#servicePrincipals('"+app.spID+"')/appRoleAssignedTo"))
		if end < len(app.assignments) {
			next := s.GraphURL + "/servicePrincipals/" + app.spID + "/appRoleAssignedTo?$top=" + strconv.Itoa(top) +
				"&$skiptoken=" + url.QueryEscape(strconv.Itoa(end))
			b = appendField(b, "@odata.nextLink", next)
		}
		b = append(b, `,"value":[`...)
		for i, as := range app.assignments[min(off, end):end] {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"createdDateTime":"2026-01-05T09:00:00Z","deletedDateTime":null`...)
			b = appendField(b, "id", as.id)
			b = appendField(b, "appRoleId", as.roleID)
			b = appendField(b, "principalId", as.principal)
			b = appendField(b, "principalType", as.principalType)
			b = appendField(b, "principalDisplayName", as.principalName)
			b = appendField(b, "resourceId", app.spID)
			b = appendField(b, "resourceDisplayName", app.name)
			b = append(b, '}')
		}
		b = append(b, "]}"...)
		writeJSON(w, b)
	default:
		graphError(w, http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+sub+"'.")
	}
}
