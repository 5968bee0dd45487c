// Package idempotency owns the records that make a retried create safe: the
// first request with an Idempotency-Key is executed and its answer saved; a
// retry with the same key and body gets that answer again, and the same key
// with another body is refused (draft-ietf-httpapi-idempotency-key-header).
//
// It must not import net/http, database/sql, the store or any adapter.
package idempotency

import (
	"context"
	"time"
)

// TTL is how long a key is remembered.
const TTL = 24 * time.Hour

// Record is one remembered request and, once done, its answer.
type Record struct {
	Tenant      string
	Principal   string // the API token id: keys are per client
	Key         string
	Fingerprint string // digest of method, path and body
	Status      int    // 0 while the first request is still running
	Header      string // JSON of the response headers worth replaying
	Body        []byte
	Created     time.Time
}

// Store keeps records.
type Store interface {
	// ReserveIdempotencyKey inserts r unless a live record (newer than
	// r.Created-TTL) has its key, which it then returns instead.
	ReserveIdempotencyKey(ctx context.Context, r *Record) (existing *Record, err error)
	CompleteIdempotencyKey(ctx context.Context, r *Record) error
	// ReleaseIdempotencyKey forgets a key whose request failed without an
	// answer worth replaying, so that a retry runs again.
	ReleaseIdempotencyKey(ctx context.Context, tenant, principal, key string) error
	PurgeIdempotencyKeys(ctx context.Context, before time.Time) (int64, error)
}
