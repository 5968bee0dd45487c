package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/page"
)

// pageParams is the list parameters every list shares.
var pageParams = []string{"limit", "cursor", "sort", "order"}

// pageRequest reads limit, cursor, sort and order.
func pageRequest(r *http.Request) (page.Request, error) {
	q := r.URL.Query()
	var p page.Request
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > page.MaxLimit {
			return p, errkind.Field("limit", "must be a whole number from 1 to 500")
		}
		p.Limit = n
	}
	p.Cursor = q.Get("cursor")
	p.Sort = q.Get("sort")
	switch q.Get("order") {
	case "", "asc":
	case "desc":
		p.Desc = true
	default:
		return p, errkind.Field("order", "must be asc or desc")
	}
	return p, nil
}

// timeParam reads an RFC 3339 time parameter.
func timeParam(r *http.Request, name string) (time.Time, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errkind.Field(name, "must be an RFC 3339 time such as 2026-11-24T08:00:00Z")
	}
	return t, nil
}
