// Package store is the SQL behind every domain's Store interface, on SQLite
// (the embedded default) and PostgreSQL, with one set of hand-written queries
// in the subset both speak ($n placeholders, RETURNING, ON CONFLICT).
//
// Flow: DB.InTx starts a transaction and carries it in the context; every
// method below uses the context's transaction when there is one, so a domain
// service can put its change, the audit event and outbox rows into one commit
// by calling several methods inside one InTx. On SQLite all writes go through
// one connection (SQLite has one writer) and reads through a pool; each
// SQLite connection keeps the statements it prepared (stmtcache.go), as pgx
// does on PostgreSQL.
//
// Dialect differences live here and only here (row locks, driver errors).
// Only server and testkit import this package; it imports only domains.
package store
