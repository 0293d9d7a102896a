package entratest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Deleted items served here (Graph "List deletedItems" and "Get deleted
// item", directory resource type):
//
//   - GET /directory/deletedItems/microsoft.graph.user lists the users in the
//     recycle bin (soft-deleted, restorable for 30 days). The OData cast is
//     required: /directory/deletedItems alone answers 400. The SDK's short
//     cast graph.user is accepted too, and segment names match in any case.
//   - Pages hold 100 users by default; $top asks for 1 to 999 (anything else
//     answers 400 Request_UnsupportedQuery). Every page but the last carries
//     @odata.nextLink ($skiptoken, which remembers $top and $select).
//   - $select picks properties (id always comes); without it, a user's
//     default properties and deletedDateTime. Each user carries
//     "@odata.type": "#microsoft.graph.user".
//   - GET /directory/deletedItems/{id} (optionally followed by the cast)
//     answers the user if it is in the recycle bin, else 404
//     Request_ResourceNotFound.
//
// Live users and permanently deleted ones (HardDeleteUser, which also
// empties a user from the bin, as Graph's purge after 30 days does) are in
// neither. Like the delta rounds, pages are read from live data.

const (
	binDefaultTop = 100
	binMaxTop     = 999
)

var defaultDeletedSelect = defaultUserSelect + ",deletedDateTime"

type binToken struct {
	P int    `json:"p"`           // next index in userOrder
	N int    `json:"n"`           // page number of the request
	T int    `json:"t"`           // $top
	S string `json:"s,omitempty"` // $select
}

// serveDeleted serves rest (below /v1.0/) when it names the deleted items.
func (s *Server) serveDeleted(w http.ResponseWriter, r *http.Request, rest string) bool {
	seg := strings.Split(rest, "/")
	if len(seg) < 2 || !strings.EqualFold(seg[0], "directory") || !strings.EqualFold(seg[1], "deletedItems") {
		return false
	}
	switch {
	case len(seg) == 3 && isUserCast(seg[2]):
		s.listDeleted(w, r)
	case len(seg) == 3 && seg[2] != "", len(seg) == 4 && isUserCast(seg[3]):
		s.getDeleted(w, r, seg[2])
	case len(seg) == 2:
		graphError(w, http.StatusBadRequest, "Request_BadRequest",
			"The OData cast type is required: /directory/deletedItems/microsoft.graph.{type}.")
	default:
		graphError(w, http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+rest+"'.")
	}
	return true
}

func isUserCast(seg string) bool {
	return strings.EqualFold(seg, "microsoft.graph.user") || strings.EqualFold(seg, "graph.user")
}

func (s *Server) listDeleted(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.count("deletedItems")
	t := binToken{N: 1, T: binDefaultTop, S: q.Get("$select")}
	if st := q.Get("$skiptoken"); st != "" {
		b, err := base64.RawURLEncoding.DecodeString(st)
		if err != nil || json.Unmarshal(b, &t) != nil || t.T < 1 {
			graphError(w, http.StatusBadRequest, "Request_UnsupportedQuery", "The skip token is invalid.")
			return
		}
	} else if top := q.Get("$top"); top != "" {
		n, err := strconv.Atoi(top)
		if err != nil || n < 1 || n > binMaxTop {
			graphError(w, http.StatusBadRequest, "Request_UnsupportedQuery",
				fmt.Sprintf("Invalid page size specified: '%s'. Must be between 1 and %d inclusive.", top, binMaxTop))
			return
		}
		t.T = n
	}
	if st := s.takePageFault("deletedItems", t.N); st != 0 {
		writeFault(w, st, 0)
		return
	}
	sel := selectSet(t.S, defaultDeletedSelect)
	var items [][]byte
	for ; t.P < len(s.userOrder) && len(items) < t.T; t.P++ {
		if u := s.userOrder[t.P]; u.state == stateSoftDeleted {
			items = append(items, deletedJSON(u, sel))
		}
	}
	more := false
	for _, u := range s.userOrder[t.P:] {
		if u.state == stateSoftDeleted {
			more = true
			break
		}
	}
	b := []byte(`{"@odata.context":`)
	b = appendString(b, s.GraphURL+"/$metadata#directory/deletedItems/microsoft.graph.user")
	if more {
		t.N++
		tok, _ := json.Marshal(t)
		b = appendField(b, "@odata.nextLink", s.GraphURL+"/directory/deletedItems/microsoft.graph.user?$skiptoken="+
			url.QueryEscape(base64.RawURLEncoding.EncodeToString(tok)))
	}
	b = append(b, `,"value":[`...)
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, it...)
	}
	writeJSON(w, append(b, "]}"...))
}

func (s *Server) getDeleted(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.count("deletedItems/{id}")
	u, ok := s.users[id]
	if !ok || u.state != stateSoftDeleted {
		graphError(w, http.StatusNotFound, "Request_ResourceNotFound",
			fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id))
		return
	}
	b := []byte(`{"@odata.context":`)
	b = appendString(b, s.GraphURL+"/$metadata#directory/deletedItems/$entity")
	obj := deletedJSON(u, selectSet(r.URL.Query().Get("$select"), defaultDeletedSelect))
	writeJSON(w, append(append(b, ','), obj[1:]...))
}

// deletedJSON writes a user in the recycle bin: its selected properties,
// with its type, and deletedDateTime when selected.
func deletedJSON(u *userRec, sel map[string]bool) []byte {
	obj := userJSON(u, sel, 0)
	b := make([]byte, 0, len(obj)+80)
	b = append(b, `{"@odata.type":"#microsoft.graph.user",`...)
	b = append(b, obj[1:len(obj)-1]...)
	if sel["deletedDateTime"] {
		b = appendField(b, "deletedDateTime", u.deleted.UTC().Format(time.RFC3339))
	}
	return append(b, '}')
}
