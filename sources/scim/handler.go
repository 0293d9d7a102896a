package scim

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Options configure a handler. Zero values get the defaults.
type Options struct {
	BaseURL  string                     // absolute URL of this connection's root, for meta.location (default: from the request)
	MaxBody  int64                      // default 1 MiB; larger → 413 with a SCIM error
	OnChange func(kind Kind, id string) // called after every committed write (the daemon triggers a run)
	Log      *slog.Logger
	Now      func() time.Time
}

// DefaultMaxBody is the request body limit when Options.MaxBody is 0.
const DefaultMaxBody = 1 << 20

const (
	defaultCount = 100  // items per page when the client gives no count
	maxCount     = 1000 // the most one page holds (ServiceProviderConfig filter.maxResults)
)

type handler struct {
	repo     Repo
	base     string
	maxBody  int64
	onChange func(Kind, string)
	log      *slog.Logger
	now      func() time.Time
}

// NewHandler serves one push connection's SCIM 2.0 API (RFC 7644) over
// repo. It expects to be mounted with the connection's prefix stripped
// (requests arrive as /Users, /Groups/{id}, /Schemas, …) and behind the
// daemon's authentication.
func NewHandler(repo Repo, opt Options) http.Handler {
	h := &handler{
		repo:     repo,
		base:     strings.TrimRight(opt.BaseURL, "/"),
		maxBody:  opt.MaxBody,
		onChange: opt.OnChange,
		log:      opt.Log,
		now:      opt.Now,
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBody
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.onChange == nil {
		h.onChange = func(Kind, string) {}
	}
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		// A bug must not take the daemon down nor leak a stack to the
		// sender; the write transaction it was in has rolled back.
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			h.log.Error("scim: handler panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p))
			h.writeError(w, r, &apiError{Status: http.StatusInternalServerError, Detail: "internal error; the listener's log has the cause"})
		}
	}()
	if h.base == "" {
		// No configured root: derive it from the request, so that
		// meta.location is still absolute.
		hh := *h
		hh.base = requestBase(r)
		h = &hh
	}
	segs := splitPath(r.URL.Path)
	if len(segs) == 0 {
		h.writeError(w, r, &apiError{Status: http.StatusNotFound, Detail: "no endpoint here; use /Users, /Groups, /ServiceProviderConfig, /ResourceTypes or /Schemas"})
		return
	}
	var rt *resourceType
	switch strings.ToLower(segs[0]) {
	case "users":
		rt = userType
	case "groups":
		rt = groupType
	case "serviceproviderconfig":
		h.discovery(w, r, len(segs) == 1, func() any { return h.serviceProviderConfig() })
		return
	case "resourcetypes":
		h.resourceTypes(w, r, segs[1:])
		return
	case "schemas":
		h.schemas(w, r, segs[1:])
		return
	case "bulk", "me", ".search":
		h.writeError(w, r, &apiError{Status: http.StatusNotImplemented, Detail: "/" + segs[0] + " is not supported (ServiceProviderConfig says so)"})
		return
	default:
		h.writeError(w, r, &apiError{Status: http.StatusNotFound, Detail: fmt.Sprintf("unknown endpoint /%s; use /Users or /Groups", segs[0])})
		return
	}
	switch {
	case len(segs) == 1:
		switch r.Method {
		case http.MethodGet:
			h.list(w, r, rt)
		case http.MethodPost:
			h.create(w, r, rt)
		default:
			h.notAllowed(w, r, "GET, POST")
		}
	case len(segs) == 2 && segs[1] == ".search":
		h.writeError(w, r, &apiError{Status: http.StatusNotImplemented, Detail: "POST .search is not supported; use GET with filter"})
	case len(segs) == 2:
		id := segs[1]
		switch r.Method {
		case http.MethodGet:
			h.get(w, r, rt, id)
		case http.MethodPut:
			h.replace(w, r, rt, id)
		case http.MethodPatch:
			h.patch(w, r, rt, id)
		case http.MethodDelete:
			h.delete(w, r, rt, id)
		default:
			h.notAllowed(w, r, "GET, PUT, PATCH, DELETE")
		}
	default:
		h.writeError(w, r, &apiError{Status: http.StatusNotFound, Detail: "no such endpoint: " + r.URL.Path})
	}
}

// requestBase is the connection's root URL as the client addressed it:
// the request URI's path without what is left after http.StripPrefix.
func requestBase(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	prefix := r.URL.Path
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil {
		prefix = strings.TrimSuffix(u.Path, r.URL.Path)
	}
	return scheme + "://" + r.Host + strings.TrimRight(prefix, "/")
}

// splitPath splits the path below the connection's root; an empty
// trailing segment ("/Users/") is dropped.
func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func (h *handler) notAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	h.writeError(w, r, &apiError{Status: http.StatusMethodNotAllowed, Detail: r.Method + " is not allowed here; allowed: " + allow})
}

// readBody reads and decodes a JSON object body: at most maxBody bytes,
// valid UTF-8 (Go's decoder would silently replace invalid bytes), one
// value and nothing after it, numbers kept exact.
func (h *handler) readBody(w http.ResponseWriter, r *http.Request) (map[string]any, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &apiError{Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("request body is larger than %d bytes", h.maxBody)}
		}
		return nil, badRequest(typeInvalidSyntax, "reading the request body: %v", err)
	}
	return decodeObject(body)
}

func decodeObject(body []byte) (map[string]any, error) {
	if !utf8.Valid(body) {
		return nil, badRequest(typeInvalidSyntax, "request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, badRequest(typeInvalidSyntax, "request body is not valid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badRequest(typeInvalidSyntax, "request body has data after the JSON value")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, badRequest(typeInvalidSyntax, "request body must be a JSON object, got %s", describe(v))
	}
	keys, err := checkDecoded(obj)
	if err != nil {
		return nil, err
	}
	// encoding/json keeps the last of two equal keys; a proxy or log that
	// keeps the first would see another request. Every member of an
	// object has one colon outside strings, so fewer decoded keys than
	// colons means a key was given twice.
	if keys != memberColons(body) {
		return nil, badRequest(typeInvalidSyntax, "an object in the request body has the same key twice")
	}
	return obj, nil
}

// checkDecoded counts the object keys in v and refuses a number no
// float64 holds (1e400): kept verbatim under an extension it would be
// served back in every answer, which JSON clients (Go, .NET) then fail
// to decode.
func checkDecoded(v any) (int, error) {
	n := 0
	switch x := v.(type) {
	case json.Number:
		if _, err := strconv.ParseFloat(string(x), 64); err != nil {
			return 0, badRequest(typeInvalidValue, "the number %s is out of range", clip(string(x)))
		}
	case map[string]any:
		n = len(x)
		for _, e := range x {
			k, err := checkDecoded(e)
			if err != nil {
				return 0, err
			}
			n += k
		}
	case []any:
		for _, e := range x {
			k, err := checkDecoded(e)
			if err != nil {
				return 0, err
			}
			n += k
		}
	}
	return n, nil
}

// memberColons counts the colons outside string literals of valid JSON.
func memberColons(b []byte) int {
	n, inStr := 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inStr && c == '\\':
			i++
		case c == '"':
			inStr = !inStr
		case !inStr && c == ':':
			n++
		}
	}
	return n
}

// newID returns a random UUID (version 4): ids are opaque and never reused.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func etag(r *Resource) string { return `W/"` + strconv.FormatInt(r.Version, 10) + `"` }

// ifMatch reports whether the If-Match header (if any) names cur's version.
func ifMatch(req *http.Request, cur *Resource) bool {
	v := req.Header.Get("If-Match")
	if v == "" {
		return true
	}
	want := etag(cur)
	for _, t := range strings.Split(v, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || t == want || "W/"+t == want {
			return true
		}
	}
	return false
}

// fromAttrs builds a Resource from normalized attributes, stamped with
// the handler's clock (the Repo keeps Created from the stored version).
func (h *handler) fromAttrs(rt *resourceType, id string, attrs map[string]any) *Resource {
	now := h.now().UTC()
	res := &Resource{Kind: rt.Kind, ID: id, Attrs: attrs, Created: now, Modified: now}
	if rt.Kind == KindUser {
		res.UserName, _ = attrs["userName"].(string)
	}
	res.ExternalID, _ = attrs["externalId"].(string)
	return res
}

func (h *handler) commit(ctx context.Context, f func(tx RepoTx) error) error {
	return h.repo.Update(ctx, f)
}

func (h *handler) create(w http.ResponseWriter, r *http.Request, rt *resourceType) {
	body, err := h.readBody(w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	attrs, err := normalizeBody(rt, body)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := checkRequired(rt, attrs); err != nil {
		h.writeError(w, r, err)
		return
	}
	res := h.fromAttrs(rt, newID(), attrs)
	err = h.commit(r.Context(), func(tx RepoTx) error {
		if err := checkMembers(tx, rt, nil, attrs); err != nil {
			return err
		}
		if rt.Kind == KindUser {
			if _, err := tx.ByUserName(res.UserName); err == nil {
				return ErrConflict
			} else if !errors.Is(err, ErrNotFound) {
				return err
			}
		}
		return tx.Put(res)
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.onChange(rt.Kind, res.ID)
	h.log.Debug("scim: created", "kind", rt.Kind, "id", res.ID)
	w.Header().Set("Location", h.location(rt, res.ID))
	h.writeResource(w, r, rt, res, http.StatusCreated)
}

func (h *handler) get(w http.ResponseWriter, r *http.Request, rt *resourceType, id string) {
	proj, err := parseProjection(rt, r.URL.Query())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	res, err := h.repo.Get(r.Context(), rt.Kind, id)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && (inm == etag(res) || "W/"+inm == etag(res)) {
		w.Header().Set("ETag", etag(res))
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("ETag", etag(res))
	writeJSON(w, http.StatusOK, proj.apply(h.render(rt, res)))
}

func (h *handler) replace(w http.ResponseWriter, r *http.Request, rt *resourceType, id string) {
	body, err := h.readBody(w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	bid, ok, err := lookupFold(body, "id")
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if ok {
		if s, _ := bid.(string); s != id {
			h.writeError(w, r, &apiError{Status: http.StatusBadRequest, ScimType: typeMutability, Detail: fmt.Sprintf("id is read-only: the body's id %s differs from the URL's %q", describe(bid), id)})
			return
		}
	}
	attrs, err := normalizeBody(rt, body)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := checkRequired(rt, attrs); err != nil {
		h.writeError(w, r, err)
		return
	}
	res := h.fromAttrs(rt, id, attrs)
	err = h.commit(r.Context(), func(tx RepoTx) error {
		cur, err := tx.Get(rt.Kind, id)
		if err != nil {
			return err
		}
		if !ifMatch(r, cur) {
			return ErrChanged
		}
		if err := checkMembers(tx, rt, cur.Attrs, attrs); err != nil {
			return err
		}
		return tx.Put(res)
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.onChange(rt.Kind, id)
	h.log.Debug("scim: replaced", "kind", rt.Kind, "id", id)
	h.writeResource(w, r, rt, res, http.StatusOK)
}

func (h *handler) delete(w http.ResponseWriter, r *http.Request, rt *resourceType, id string) {
	err := h.commit(r.Context(), func(tx RepoTx) error {
		cur, err := tx.Get(rt.Kind, id)
		if err != nil {
			return err
		}
		if !ifMatch(r, cur) {
			return ErrChanged
		}
		return tx.Delete(rt.Kind, id)
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.onChange(rt.Kind, id)
	h.log.Debug("scim: deleted", "kind", rt.Kind, "id", id)
	w.WriteHeader(http.StatusNoContent)
}

// writeResource answers a write with the stored resource, honouring the
// attributes/excludedAttributes parameters as RFC 7644 §3.9 allows.
func (h *handler) writeResource(w http.ResponseWriter, r *http.Request, rt *resourceType, res *Resource, status int) {
	proj, err := parseProjection(rt, r.URL.Query())
	if err != nil {
		proj = projection{} // the write is done; answer it in full
	}
	w.Header().Set("ETag", etag(res))
	writeJSON(w, status, proj.apply(h.render(rt, res)))
}

func (h *handler) location(rt *resourceType, id string) string {
	return h.base + rt.Endpoint + "/" + id
}

// render is a resource as served: its attributes plus id, schemas and meta.
func (h *handler) render(rt *resourceType, res *Resource) map[string]any {
	m := make(map[string]any, len(res.Attrs)+3)
	schemas := []any{rt.Core.ID}
	for k, v := range res.Attrs {
		m[k] = v
		if strings.HasPrefix(k, "urn:") {
			schemas = append(schemas, k)
		}
	}
	m["schemas"] = schemas
	m["id"] = res.ID
	m["meta"] = map[string]any{
		"resourceType": string(rt.Kind),
		"created":      res.Created.UTC().Format(time.RFC3339Nano),
		"lastModified": res.Modified.UTC().Format(time.RFC3339Nano),
		"location":     h.location(rt, res.ID),
		"version":      etag(res),
	}
	return m
}

// lookupFold returns m's value for key spelt in any case (RFC 7643 §2.1:
// attribute names are case-insensitive). A key given twice in different
// case is refused: which one a map loop met first would decide.
func lookupFold(m map[string]any, key string) (any, bool, error) {
	var (
		v     any
		found string
	)
	for k, e := range m {
		if !strings.EqualFold(k, key) {
			continue
		}
		if found != "" {
			return nil, false, badRequest(typeInvalidSyntax, "%q given twice (as %q and %q)", key, found, k)
		}
		v, found = e, k
	}
	return v, found != "", nil
}

// checkMembers refuses group members that are not resources of this
// connection, and a member "type" that is not what the member is (only
// for members added or retyped: a member deleted meanwhile was already
// taken out of the group by the store).
func checkMembers(tx RepoTx, rt *resourceType, old, attrs map[string]any) error {
	if rt.Kind != KindGroup {
		return nil
	}
	had := map[string]any{} // value → its type as stored
	for _, m := range values(old["members"]) {
		if mm, ok := m.(map[string]any); ok {
			if v, ok := mm["value"].(string); ok {
				had[v] = mm["type"]
			}
		}
	}
	seen := map[string]bool{}
	var members []any
	for i, m := range values(attrs["members"]) {
		mm, _ := m.(map[string]any)
		v, ok := mm["value"].(string)
		if !ok || v == "" {
			return badRequest(typeInvalidValue, "members[%d]: value (the member's id) is required", i)
		}
		if seen[v] { // listed twice: once is enough
			continue
		}
		seen[v] = true
		members = append(members, m)
		if t, ok := had[v]; ok && t == mm["type"] {
			continue
		}
		kind := KindUser
		if _, err := tx.Get(KindUser, v); errors.Is(err, ErrNotFound) {
			kind = KindGroup
			if _, err := tx.Get(KindGroup, v); errors.Is(err, ErrNotFound) {
				return badRequest(typeInvalidValue, "members[%d]: no user or group with id %q here; create it first", i, v)
			} else if err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		if t, ok := mm["type"].(string); ok && !strings.EqualFold(t, string(kind)) {
			return badRequest(typeInvalidValue, "members[%d]: type is %q but %s is a %s", i, t, v, kind)
		}
	}
	setOrDelete(attrs, "members", emptyToNil(members))
	return nil
}
