package storetest

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/page"
)

// row is an item as a keyset sort sees it: its sort key, then its id to break
// ties. Every sort of every list reduces to this: "created" sorts by id alone
// (key ""), names and usernames by their key, times by fixed-width text.
type row struct {
	id  string
	key string
}

func (a row) less(b row) bool {
	if a.key != b.key {
		return a.key < b.key // byte order, as the "C" collation and SQLite's BINARY compare
	}
	return a.id < b.id
}

// timeKey orders times as text does.
func timeKey(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

// bruteForce sorts rows as a list must return them.
func bruteForce(rows []row, desc bool) []string {
	rows = slices.Clone(rows)
	slices.SortFunc(rows, func(a, b row) int {
		switch {
		case a.less(b):
			return -1
		case b.less(a):
			return 1
		}
		return 0
	})
	if desc {
		slices.Reverse(rows)
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.id
	}
	return ids
}

// walk follows a list's cursors from the first page to the last and returns
// the ids in the order served. It checks the page contract on the way: pages
// are at most limit long, a page with a next cursor is full, and no id is
// served twice. between, if set, runs after each page with its last item.
func walk[T any](t *testing.T, limit int, id func(T) string, list func(cursor string) (page.Of[T], error), between func(pageNo int, last T)) []string {
	t.Helper()
	var ids []string
	seen := map[string]bool{}
	cursor := ""
	for n := 0; ; n++ {
		if n > 10000 {
			t.Fatalf("walk: more than 10000 pages; cursors loop")
		}
		p, err := list(cursor)
		if err != nil {
			t.Fatalf("walk: page %d: %v", n, err)
		}
		if len(p.Items) > limit {
			t.Fatalf("walk: page %d has %d items, limit %d", n, len(p.Items), limit)
		}
		if p.Next != "" && len(p.Items) != limit {
			t.Errorf("walk: page %d has %d items and a next cursor; want a full page of %d", n, len(p.Items), limit)
		}
		if p.Next == "" && len(p.Items) == 0 && n > 0 {
			t.Errorf("walk: page %d is empty: the previous page should not have had a cursor", n)
		}
		for _, it := range p.Items {
			k := id(it)
			if seen[k] {
				t.Fatalf("walk: %s served twice (page %d)", k, n)
			}
			seen[k] = true
			ids = append(ids, k)
		}
		if between != nil && len(p.Items) > 0 {
			between(n, p.Items[len(p.Items)-1])
		}
		if p.Next == "" {
			return ids
		}
		cursor = p.Next
	}
}

// sameOrder fails with a readable difference when got is not want.
func sameOrder(t *testing.T, what string, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	var missing, extra []string
	for _, w := range want {
		if !slices.Contains(got, w) {
			missing = append(missing, w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			extra = append(extra, g)
		}
	}
	t.Errorf("%s: got %d ids, want %d; missing %q, unexpected %q\n got  %q\n want %q",
		what, len(got), len(want), missing, extra, got, want)
}

// badCursors are cursors every list must refuse as invalid input: garbage,
// well-formed base64 of garbage, a cursor without an id, and (built by the
// caller) a cursor of another sort order.
func badCursors(otherSort string) map[string]string {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	cs := map[string]string{
		"not base64":   "!!not-a-cursor!!",
		"not json":     enc("hello"),
		"without id":   enc(`{"s":"created"}`),
		"json array":   enc(`[1,2]`),
		"wrong sort":   otherSort,
		"empty object": enc(`{}`),
	}
	return cs
}

// checkBadCursors asks list for each bad cursor and wants errkind.Invalid.
func checkBadCursors[T any](t *testing.T, what string, otherSort string, list func(cursor string) (page.Of[T], error)) {
	t.Helper()
	for name, c := range badCursors(otherSort) {
		if c == "" {
			t.Fatalf("%s: the %s cursor is empty; the list had a single page", what, name)
		}
		_, err := list(c)
		if !errors.Is(err, errkind.Invalid) {
			t.Errorf("%s with a cursor %s: error = %v, want errkind.Invalid", what, name, err)
		}
	}
}

// describe names a list request in failure messages.
func describe(filter string, sort string, desc bool, limit int) string {
	dir := "asc"
	if desc {
		dir = "desc"
	}
	return strings.TrimSpace(fmt.Sprintf("%s sort=%s %s limit=%d", filter, sort, dir, limit))
}
