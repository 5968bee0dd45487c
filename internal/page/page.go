// Package page holds the shape of a cursor-paginated list request and answer,
// shared by every domain's List methods.
//
// Cursors are opaque to everyone but the store that made them: they carry the
// keyset position (sort value and id) of the last item returned, so pages stay
// stable while rows are inserted, and deep pages cost the same as the first.
package page

import (
	"slices"
	"strings"

	"github.com/tessera-iam/tessera/internal/errkind"
)

// Limits on page size.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// Request asks for one page.
type Request struct {
	Limit  int    // 1..MaxLimit; 0 means DefaultLimit
	Cursor string // from the previous page's Next; empty for the first page
	Sort   string // a field the list allows; empty means its default
	Desc   bool
}

// Normalize applies defaults and checks the request against the sort fields a
// list allows; the first of sorts is the default.
func (r *Request) Normalize(sorts ...string) error {
	if r.Limit == 0 {
		r.Limit = DefaultLimit
	}
	if r.Limit < 1 || r.Limit > MaxLimit {
		return errkind.Field("limit", "must be between 1 and 500")
	}
	if r.Sort == "" {
		r.Sort = sorts[0]
	}
	if !slices.Contains(sorts, r.Sort) {
		return errkind.Field("sort", "must be one of "+strings.Join(sorts, ", "))
	}
	return nil
}

// Of is one page of items; Next is empty on the last page.
type Of[T any] struct {
	Items []T
	Next  string
}
