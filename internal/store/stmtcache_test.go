package store

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
)

func openStmtTest(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "stmts.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.write.Exec(`CREATE TABLE nums (n INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= 3; n++ {
		if _, err := db.write.Exec(`INSERT INTO nums (n) VALUES ($1)`, n); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// A statement run again while its own rows are still open, as a loop over
// them may do within a transaction, gets its own rows rather than resetting
// the open ones.
func TestCachedStatementRunsAgainWhileItsRowsAreOpen(t *testing.T) {
	db := openStmtTest(t)
	const q = `SELECT n FROM nums WHERE n >= $1 ORDER BY n`
	var pairs []string
	list := func(ctx context.Context, from int) ([]int, error) {
		rows, err := db.r(ctx).QueryContext(ctx, q, from)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []int
		for rows.Next() {
			var n int
			if err := rows.Scan(&n); err != nil {
				return nil, err
			}
			out = append(out, n)
		}
		return out, rows.Err()
	}
	err := db.InTx(context.Background(), func(ctx context.Context) error {
		rows, err := db.r(ctx).QueryContext(ctx, q, 1)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var n int
			if err := rows.Scan(&n); err != nil {
				return err
			}
			inner, err := list(ctx, n)
			if err != nil {
				return err
			}
			for _, m := range inner {
				pairs = append(pairs, fmt.Sprint(n, m))
			}
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"1 1", "1 2", "1 3", "2 2", "2 3", "3 3"}; !slices.Equal(pairs, want) {
		t.Errorf("pairs %v, want %v", pairs, want)
	}
	// The statement is free again once its rows are closed.
	if got, err := list(context.Background(), 2); err != nil || !slices.Equal(got, []int{2, 3}) {
		t.Errorf("after the transaction: %v, %v", got, err)
	}
}

// The cache stays within its bound however many texts run, and a statement
// that does not prepare fails as it would unprepared.
func TestStatementCacheIsBounded(t *testing.T) {
	db := openStmtTest(t)
	ctx := context.Background()
	for i := range 2 * maxCachedStmts {
		var n int
		if err := db.write.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(*) + %d FROM nums`, i)).Scan(&n); err != nil || n != 3+i {
			t.Fatalf("statement %d: %d, %v", i, n, err)
		}
	}
	if _, err := db.write.ExecContext(ctx, `INSERT INTO missing (n) VALUES (1)`); err == nil {
		t.Error("insert into a missing table succeeded")
	}
	conn, err := db.write.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		if n := len(dc.(*stmtConn).stmts); n == 0 || n > maxCachedStmts {
			t.Errorf("%d statements cached, bound %d", n, maxCachedStmts)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
