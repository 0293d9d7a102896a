package scim

import (
	"context"
	"net/http"
	stdsync "sync"
)

// What /ServiceProviderConfig (RFC 7643 §5) says about listing and Bulk,
// read once per Client: it does not change while idsync runs, and a
// workspace that cannot answer is taken as one without Bulk.
type providerConfig struct {
	bulk       bool
	maxOps     int
	maxPayload int
	maxResults int
}

type spcCache struct {
	mu   stdsync.Mutex
	done bool
	cfg  providerConfig
}

// defaultListPage is the count asked for per listing page when the
// workspace does not say its maximum; it answers fewer if it allows fewer.
const defaultListPage = 1000

// maxListEntries caps the entries of one listing page: idsync never asks
// for more than defaultListPage (a larger maxResults is clamped to it), so
// twice that and a margin is a broken or hostile answer.
const maxListEntries = 2*defaultListPage + 48

// providerConfig returns the workspace's capabilities, asking once. A
// failure other than a cancelled ctx is remembered as "no Bulk, default
// page size", so a workspace without the endpoint costs one request.
func (c *Client) providerConfig(ctx context.Context) providerConfig {
	c.spc.mu.Lock()
	defer c.spc.mu.Unlock()
	if c.spc.done {
		return c.spc.cfg
	}
	var body struct {
		Bulk struct {
			Supported      bool `json:"supported"`
			MaxOperations  int  `json:"maxOperations"`
			MaxPayloadSize int  `json:"maxPayloadSize"`
		} `json:"bulk"`
		Filter struct {
			MaxResults int `json:"maxResults"`
		} `json:"filter"`
	}
	err := c.do(ctx, http.MethodGet, "/ServiceProviderConfig", nil, &body)
	if err != nil && ctx.Err() != nil {
		return providerConfig{}
	}
	c.spc.done = true
	if err == nil {
		c.spc.cfg = providerConfig{bulk: body.Bulk.Supported && body.Bulk.MaxOperations > 1,
			maxOps: body.Bulk.MaxOperations, maxPayload: body.Bulk.MaxPayloadSize, maxResults: body.Filter.MaxResults}
	}
	return c.spc.cfg
}

// forgetProviderConfig makes the next providerConfig ask again: the
// workspace refused a Bulk request within what it said it takes.
func (c *Client) forgetProviderConfig() {
	c.spc.mu.Lock()
	defer c.spc.mu.Unlock()
	c.spc.done, c.spc.cfg = false, providerConfig{}
}
