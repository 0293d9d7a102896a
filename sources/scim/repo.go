// Package scim is idsync's SCIM 2.0 push listener (RFC 7643/7644): an
// http.Handler that serves one push connection's Users and Groups to the
// IdP that pushes them (Entra's provisioning service, Okta's SCIM
// provisioning), over a Repo that stores what it accepted.
package scim

import (
	"context"
	"errors"
	"time"
)

// Kind is a resource type the listener serves.
type Kind string

const (
	KindUser  Kind = "User"
	KindGroup Kind = "Group"
)

// Errors a Repo returns; the handler turns them into RFC 7644 error bodies.
var (
	ErrNotFound = errors.New("scim: no such resource")                   // 404
	ErrConflict = errors.New("scim: userName already taken")             // 409 scimType uniqueness
	ErrChanged  = errors.New("scim: resource changed since it was read") // 412 (If-Match / version)
)

// Resource is one stored resource as last accepted.
type Resource struct {
	Kind Kind
	ID   string // assigned by the listener on create, never changes
	// UserName (User) is unique per connection, compared case-insensitively
	// (RFC 7643 userName caseExact=false): two names are the same when
	// their UserNameKey is (index by it, not by SQL lower() or ToLower).
	// For a Group it is empty.
	UserName string
	// ExternalID is the sender's id; NOT unique (RFC 7643; the Microsoft
	// collection reuses one).
	ExternalID string
	// Attrs is the resource's JSON object as served, without "id" and
	// "meta" (which come from the fields here). Groups keep "members" in it.
	Attrs map[string]any
	// Version increases on every write; the ETag is W/"<Version>".
	Version           int64
	Created, Modified time.Time
}

// Repo stores one push connection's resources. Every method is safe for
// concurrent use.
type Repo interface {
	// Get returns the resource, or ErrNotFound.
	Get(ctx context.Context, kind Kind, id string) (*Resource, error)
	// ByUserName returns the user with that userName (case-insensitive), or
	// ErrNotFound: the fast path for `filter=userName eq "…"`.
	ByUserName(ctx context.Context, userName string) (*Resource, error)
	// Scan calls f for every resource of kind in ascending ID order (a
	// stable order for startIndex/count paging) until f returns false.
	Scan(ctx context.Context, kind Kind, f func(*Resource) bool) error
	// Update runs f atomically: every Put and Delete it made lands, or
	// none does (f's error, or any Put's, rolls all back).
	Update(ctx context.Context, f func(tx RepoTx) error) error
}

// RepoTx is a write transaction of a Repo.
type RepoTx interface {
	Get(kind Kind, id string) (*Resource, error)
	ByUserName(userName string) (*Resource, error)
	// Put creates or replaces r (by Kind and ID), sets r.Version to the
	// stored version + 1 and r.Modified (and r.Created on create). The
	// handler passes its clock's time (Options.Now) in r.Modified and
	// r.Created; a store may keep those or use its own. On a replace,
	// Created stays the stored one. A userName held by another user is
	// ErrConflict.
	Put(r *Resource) error
	// Delete removes the resource (ErrNotFound when absent). Deleting a
	// user also removes it from every group's members.
	Delete(kind Kind, id string) error
}
