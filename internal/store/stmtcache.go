package store

import (
	"context"
	"database/sql/driver"
	"fmt"
)

// maxCachedStmts bounds the statements one SQLite connection keeps
// prepared. The store's statements are fixed texts, but IN lists of varying
// length multiply them; past the bound the idle ones are dropped and the
// cache fills again.
const maxCachedStmts = 256

// stmtConnector opens SQLite connections that keep their prepared
// statements. modernc's SQLite otherwise parses and plans every statement
// at every call, which costs more than running most of them. PostgreSQL
// needs nothing of the kind: pgx caches prepared statements per connection.
type stmtConnector struct{ driver.Connector }

func (c stmtConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	sc, ok := conn.(sqliteConn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("sqlite connection %T lacks the context interfaces", conn)
	}
	return &stmtConn{sqliteConn: sc, stmts: map[string]*cachedStmt{}}, nil
}

// sqliteConn is what every connection modernc opens implements; embedding
// it forwards them all (a bare driver.Conn would hide them from
// database/sql).
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// stmtConn runs statements through the ones it prepared before, by their
// text. database/sql uses a connection from one goroutine at a time, rows
// included, so the map needs no lock.
type stmtConn struct {
	sqliteConn
	stmts map[string]*cachedStmt
}

type cachedStmt struct {
	stmt sqliteStmt
	// busy: rows of this statement are open. SQLite steps a statement
	// through one result at a time, so a query run again meanwhile (in a
	// transaction, inside the loop over its rows) runs unprepared.
	busy bool
}

// Unwrap returns modernc's connection (sqlite.Limit looks for it).
func (c *stmtConn) Unwrap() driver.Conn { return c.sqliteConn }

func (c *stmtConn) prepared(ctx context.Context, query string) (*cachedStmt, error) {
	if s, ok := c.stmts[query]; ok {
		return s, nil
	}
	ds, err := c.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	st, ok := ds.(sqliteStmt)
	if !ok {
		ds.Close()
		return nil, fmt.Errorf("sqlite statement %T lacks the context interfaces", ds)
	}
	if len(c.stmts) >= maxCachedStmts {
		for q, s := range c.stmts {
			if !s.busy {
				s.stmt.Close()
				delete(c.stmts, q)
			}
		}
	}
	s := &cachedStmt{stmt: st}
	c.stmts[query] = s
	return s, nil
}

// sqliteStmt is what modernc's statements implement.
type sqliteStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

func (c *stmtConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	s, err := c.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	if s.busy {
		return c.sqliteConn.ExecContext(ctx, query, args)
	}
	return s.stmt.ExecContext(ctx, args)
}

func (c *stmtConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	s, err := c.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	if s.busy {
		return c.sqliteConn.QueryContext(ctx, query, args)
	}
	rows, err := s.stmt.QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	sr, ok := rows.(sqliteRows)
	if !ok {
		rows.Close()
		return nil, fmt.Errorf("sqlite rows %T lack the column type interfaces", rows)
	}
	s.busy = true
	return &stmtRows{sqliteRows: sr, stmt: s}, nil
}

// Close finalizes the statements, then closes the connection.
func (c *stmtConn) Close() error {
	for _, s := range c.stmts {
		s.stmt.Close()
	}
	clear(c.stmts)
	return c.sqliteConn.Close()
}

// sqliteRows is what modernc's rows implement.
type sqliteRows interface {
	driver.Rows
	driver.RowsColumnTypeDatabaseTypeName
	driver.RowsColumnTypeLength
	driver.RowsColumnTypeNullable
	driver.RowsColumnTypePrecisionScale
	driver.RowsColumnTypeScanType
}

// stmtRows frees its statement for the next query when closed.
type stmtRows struct {
	sqliteRows
	stmt *cachedStmt
}

func (r *stmtRows) Close() error {
	r.stmt.busy = false
	return r.sqliteRows.Close()
}
