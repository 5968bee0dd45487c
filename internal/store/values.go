package store

import (
	"bytes"
	"database/sql"
	"database/sql/driver"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tessera-iam/tessera/internal/errkind"
)

// timeLayout is fixed-width UTC with microseconds (Postgres' precision), so
// that on SQLite, where times are text, text order is time order.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// ts encodes a time for either database; the zero time is NULL.
func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(timeLayout)
}

// timeCol scans a time column from either driver: time.Time from Postgres,
// text from SQLite, NULL as the zero time.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.t = time.Time{}
	case time.Time:
		*c.t = v.UTC()
	case string:
		return c.parse(v)
	case []byte:
		return c.parse(string(v))
	default:
		return fmt.Errorf("scan time from %T", src)
	}
	return nil
}

func (c timeCol) parse(s string) error {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("scan time %q: %w", s, err)
	}
	*c.t = t.UTC()
	return nil
}

// jsonCol scans a JSON text column into a Go value.
type jsonCol struct{ v any }

func (c jsonCol) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("scan json from %T", src)
	}
	// UseNumber keeps numbers as written (1000000, not 1e+06 as a float64
	// would print) and exact beyond 2^53.
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(c.v)
}

// jsonText encodes v as JSON text for a column.
func jsonText(v any) (driver.Value, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// nullString stores "" as NULL, for optional columns under a unique index.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// cursor is the keyset position a page ended at: the sort it belongs to, the
// sort key of the last row, and its id to break ties.
type cursor struct {
	Sort string `json:"s"`
	Key  string `json:"k,omitempty"`
	ID   string `json:"i"`
}

var errBadCursor = errkind.Field("cursor", "is not a cursor of this list and sort order")

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s, sort string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &c) != nil || c.Sort != sort || c.ID == "" {
		return cursor{}, errBadCursor
	}
	return c, nil
}

// query builds a SELECT with numbered placeholders; the same text runs on
// both databases.
type query struct {
	where []string
	args  []any
}

// arg adds a value and returns its placeholder.
func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	return fmt.Sprintf("$%d", len(q.args))
}

// and adds a condition; format's %s verbs take placeholders for args.
func (q *query) and(format string, args ...any) {
	ph := make([]any, len(args))
	for i, a := range args {
		ph[i] = q.arg(a)
	}
	q.where = append(q.where, fmt.Sprintf(format, ph...))
}

// keyset adds the "after the cursor" condition and returns the ORDER BY for a
// (key column, id column) sort; key "" sorts by id alone.
func (q *query) keyset(keyCol, idCol string, c *cursor, desc bool) string {
	op, dir := ">", ""
	if desc {
		op, dir = "<", " DESC"
	}
	if c != nil {
		if keyCol == "" {
			q.and(idCol+" "+op+" %s", c.ID)
		} else {
			q.and("("+keyCol+", "+idCol+") "+op+" (%s, %s)", c.Key, c.ID)
		}
	}
	if keyCol == "" {
		return " ORDER BY " + idCol + dir
	}
	return " ORDER BY " + keyCol + dir + ", " + idCol + dir
}

func (q *query) whereClause() string {
	if len(q.where) == 0 {
		return ""
	}
	s := " WHERE " + q.where[0]
	for _, w := range q.where[1:] {
		s += " AND " + w
	}
	return s
}

// notFound maps sql.ErrNoRows to the domain's sentinel.
func notFound(err, sentinel error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return sentinel
	}
	return err
}
