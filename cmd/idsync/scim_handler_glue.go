package main

import (
	"log/slog"
	"net/http"

	pushscim "github.com/idsync/idsync/sources/scim"
)

// pushHandlerOptions are what the listener gives a push connection's SCIM
// handler.
type pushHandlerOptions struct {
	BaseURL  string
	MaxBody  int64
	OnChange func(kind pushscim.Kind, id string)
	Log      *slog.Logger
}

// newSCIMHandler is a push connection's SCIM handler over repo.
func newSCIMHandler(repo pushscim.Repo, o pushHandlerOptions) http.Handler {
	return pushscim.NewHandler(repo, pushscim.Options{BaseURL: o.BaseURL, MaxBody: o.MaxBody, OnChange: o.OnChange, Log: o.Log})
}
