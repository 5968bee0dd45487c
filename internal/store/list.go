package store

import (
	"context"
	"fmt"

	"github.com/tessera-iam/tessera/internal/page"
)

type rowScanner interface{ Scan(...any) error }

// keyset describes how one list pages: the column each sort name orders by
// ("" orders by id alone) and a row's value in that column.
type keyset[T any] struct {
	idCol string
	cols  map[string]string
	key   func(sort string, row *T) (key, id string)
}

// page runs sel (SELECT ... FROM ..., no WHERE) with q's conditions, after
// r's cursor, in r's order, and returns at most r.Limit rows and the cursor
// of the next page.
func (k keyset[T]) page(ctx context.Context, db *DB, sel string, q *query, r page.Request, scan func(rowScanner) (*T, error)) ([]*T, string, error) {
	c, err := optCursor(r.Cursor, r.Sort)
	if err != nil {
		return nil, "", err
	}
	order := q.keyset(k.cols[r.Sort], k.idCol, c, r.Desc)
	rows, err := db.r(ctx).QueryContext(ctx, sel+q.whereClause()+order+` LIMIT `+q.arg(r.Limit+1), q.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list: %w", err)
	}
	defer rows.Close()
	var out []*T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > r.Limit {
		out = out[:r.Limit]
		key, id := k.key(r.Sort, out[len(out)-1])
		if k.cols[r.Sort] == "" {
			key = ""
		}
		next = cursor{Sort: r.Sort, Key: key, ID: id}.encode()
	}
	return out, next, nil
}

// values copies a page of pointers into a page of values.
func values[T any](ptrs []*T, next string) page.Of[T] {
	out := page.Of[T]{Items: make([]T, len(ptrs)), Next: next}
	for i, p := range ptrs {
		out.Items[i] = *p
	}
	return out
}
