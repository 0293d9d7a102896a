package entra

import (
	"context"
	"fmt"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/idsync/idsync"
)

// Delta pages go through the SDK's request builders and adapter (URL and
// $select building, the token, the retry handler, Graph errors as
// ODataError) but their bodies are decoded here (deltapages.go): the
// SDK's model decoding builds a map of ~150 field deserializers for every
// user object, which made a full read of a 100k-user tenant take 4.8× as
// long as reading the same pages bare (BenchmarkPullFull100k against
// BenchmarkBarePagedRead100k: 6.1 s vs 1.3 s; decoded here: about 1.0×).

// deltaPage is a Graph collection page as encoding/json decodes it
// (decodePage): the recycle bin's and an app's assignments, a single user,
// and the reference the users and groups page decoders are tested against.
type deltaPage[T any] struct {
	NextLink  string `json:"@odata.nextLink"`
	DeltaLink string `json:"@odata.deltaLink"`
	Value     []T    `json:"value"`
}

type removedMark struct {
	Reason string `json:"reason"`
}

var errorMapping = abs.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue}

// followDelta sends first, then follows nextLinks, decoding each page
// with decode and emitting its changes (after complete, if set, has
// completed them), until the deltaLink, which it returns. what names the
// collection in errors.
//
// The next page is requested as soon as this one's nextLink has been read
// (Graph sends it before value) and checked as decodePage checks it, so
// Graph prepares page k+1 while page k is decoded and emitted. A read of a
// large tenant then costs about the slower of the two sides instead of
// their sum. Requests stay sequential: one page is prefetched at a time.
func followDelta(ctx context.Context, s *Source, what string, first *abs.RequestInformation,
	withURL func(string) (*abs.RequestInformation, error),
	decode func(body []byte, asked string, onNext func(string)) (deltaResult, error),
	complete func(deltaResult) ([]idsync.Change, error),
	emit func([]idsync.Change) error) (string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // a prefetch still running when the read fails
	type answer struct {
		body []byte
		err  error
	}
	send := func(info *abs.RequestInformation) <-chan answer {
		ch := make(chan answer, 1)
		go func() {
			raw, err := s.adapter.SendPrimitive(ctx, info, "[]byte", errorMapping)
			body, _ := raw.([]byte)
			ch <- answer{body, err}
		}()
		return ch
	}
	var pending <-chan answer
	asked, prefetched := "", ""
	prefetch := func(next string) {
		if pending == nil && next != "" && next != asked && underGraph(s.cfg.GraphURL, next) {
			if info, err := withURL(next); err == nil {
				pending, prefetched = send(info), next
			}
		}
	}
	pending = send(first)
	for page := 1; ; page++ {
		a := <-pending
		if a.err != nil {
			return "", s.graphError(fmt.Sprintf("%s delta page %d", what, page), a.err)
		}
		pending, prefetched = nil, ""
		p, err := decode(a.body, asked, prefetch)
		if err != nil {
			return "", fmt.Errorf("entra: %s delta page %d: %w", what, page, err)
		}
		changes := p.changes
		if complete != nil {
			if changes, err = complete(p); err != nil {
				return "", err
			}
		}
		if len(changes) > 0 {
			if err := emit(changes); err != nil {
				return "", err
			}
		}
		switch {
		case p.next != "":
			asked = p.next
			if p.next != prefetched { // (read again, or not prefetched: the decoded link wins)
				info, err := withURL(p.next)
				if err != nil {
					return "", fmt.Errorf("entra: %s delta page %d: nextLink: %w", what, page, err)
				}
				pending = send(info)
			}
		case p.delta != "":
			return p.delta, nil
		default:
			return "", fmt.Errorf("entra: %s delta page %d: neither nextLink nor deltaLink", what, page)
		}
	}
}
