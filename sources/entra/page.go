package entra

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/idsync/idsync/internal/httppolicy"
)

// decodePage decodes one Graph collection page (a delta round's, the
// recycle bin's, an app's assignments) and checks its links. Graph answers
// nextLink and deltaLink under the graph_url it was asked on; idsync
// follows the one and keeps the other as its cursor, so a link anywhere
// else (another origin, another API version, a path climbing out with
// "..") fails the pull instead of being followed or stored; so does a
// nextLink naming the page it came from (asked, "" for a first page),
// which would loop for ever.
//
// The body is already capped by the transport (maxPage); its entries are
// counted before it is decoded (maxPageEntries), as the byte cap alone lets
// a page of empty objects decode to tens of times its size.
func decodePage[T any](graphURL, asked string, body []byte) (deltaPage[T], error) {
	if err := httppolicy.CheckElements(body, "value", maxPageEntries); err != nil {
		return deltaPage[T]{}, fmt.Errorf("decode: %w", err)
	}
	var p deltaPage[T]
	if err := json.Unmarshal(body, &p); err != nil {
		return deltaPage[T]{}, fmt.Errorf("decode: %w", err)
	}
	if err := checkLinks(graphURL, asked, p.NextLink, p.DeltaLink); err != nil {
		return deltaPage[T]{}, err
	}
	return p, nil
}

// checkLinks checks a page's links (see decodePage).
func checkLinks(graphURL, asked, next, delta string) error {
	if next != "" && next == asked {
		return fmt.Errorf("nextLink names the page it is on: not followed (the pull would never end)")
	}
	for _, l := range [...]struct{ name, link string }{{"nextLink", next}, {"deltaLink", delta}} {
		if l.link != "" && !underGraph(graphURL, l.link) {
			return fmt.Errorf("%s %q is not under graph_url %s: not followed",
				l.name, httppolicy.Text(httppolicy.RedactURLs(l.link)), graphURL)
		}
	}
	return nil
}

// underGraph reports whether link is an absolute URL on graphURL's origin,
// below its path, without userinfo or dot segments.
func underGraph(graphURL, link string) bool {
	g, err := url.Parse(graphURL)
	if err != nil {
		return false
	}
	u, err := url.Parse(link)
	if err != nil || u.User != nil || u.Host == "" || u.Opaque != "" || httppolicy.Origin(u) != httppolicy.Origin(g) {
		return false
	}
	if !strings.HasPrefix(u.EscapedPath(), strings.TrimRight(g.EscapedPath(), "/")+"/") {
		return false
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return strings.HasPrefix(link, graphURL+"/")
}
