// Package audit owns the audit log: the events that record every change and
// security decision, and who made them, hash-chained per tenant so that an
// edit, deletion, insertion or reordering is detected.
//
// Flow: an adapter puts the Actor (who, from where, which request) into the
// context; a domain service, inside the transaction of its change, builds an
// Event with New and hands it to its store's AppendEvent, so the event commits
// with the change or not at all. The store numbers the event in its tenant's
// log and turns it into a Record with Seal: the previous event's hash plus
// SHA-256 over a canonical, versioned, length-prefixed encoding of the event
// (chain.go). Only the tenant's head row is locked, so tenants never wait for
// each other.
//
// Service reads the log back: the System Log query, the sign-in report,
// export, verification (Verifier walks records in seq order in constant
// memory and names the first bad event) and archiving of events older than
// the tenant's retention into NDJSON files that keep the chain (archive.go).
// The log is domain data, not a log stream.
//
// It must not import other domains, net/http or database/sql.
package audit
