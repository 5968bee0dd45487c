package storetest

import (
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/idempotency"
)

func normRecord(r idempotency.Record) idempotency.Record {
	r.Created = r.Created.UTC()
	if len(r.Body) == 0 {
		r.Body = nil
	}
	return r
}

func testIdempotency(t *testing.T, e *env) {
	ctx := t.Context()
	sc, _ := e.newTenant(t)
	other, _ := e.newTenant(t)
	tn := string(sc.Tenant)
	t0 := e.clock.Now()
	reserve := func(r idempotency.Record) *idempotency.Record {
		t.Helper()
		existing, err := e.db.ReserveIdempotencyKey(ctx, &r)
		fatalIf(t, err, "reserve %s", r.Key)
		return existing
	}
	first := idempotency.Record{Tenant: tn, Principal: "tok_a", Key: "key-1", Fingerprint: "fp-1", Created: t0}

	if ex := reserve(first); ex != nil {
		t.Fatalf("first reservation found %+v", ex)
	}
	// A retry while the first request runs sees it in flight (status 0).
	retry := first
	retry.Fingerprint, retry.Created = "fp-other", t0.Add(time.Second)
	ex := reserve(retry)
	if ex == nil {
		t.Fatal("second reservation found nothing")
	}
	deepEqual(t, "in-flight record", normRecord(*ex), normRecord(idempotency.Record{
		Tenant: tn, Principal: "tok_a", Key: "key-1", Fingerprint: "fp-1", Created: t0,
	}))

	// Keys are per tenant and per principal.
	for _, r := range []idempotency.Record{
		{Tenant: tn, Principal: "tok_b", Key: "key-1", Fingerprint: "fp-1", Created: t0},
		{Tenant: string(other.Tenant), Principal: "tok_a", Key: "key-1", Fingerprint: "fp-1", Created: t0},
		{Tenant: tn, Principal: "tok_a", Key: "KEY-1", Fingerprint: "fp-1", Created: t0},
	} {
		if ex := reserve(r); ex != nil {
			t.Errorf("reservation %+v collided with %+v", r, ex)
		}
	}

	// Completed: a retry gets the saved answer.
	done := first
	done.Status, done.Header, done.Body = 201, `{"Location":["/api/v1/users/usr_x"],"Etag":["\"1\""]}`, []byte(`{"id":"usr_x","name":"Zoë"}`)
	fatalIf(t, e.db.CompleteIdempotencyKey(ctx, &done), "complete")
	ex = reserve(retry)
	if ex == nil {
		t.Fatal("reservation after completion found nothing")
	}
	deepEqual(t, "completed record", normRecord(*ex), normRecord(done))

	// Released: the next request runs afresh.
	fatalIf(t, e.db.ReleaseIdempotencyKey(ctx, tn, "tok_a", "key-1"), "release")
	if ex := reserve(retry); ex != nil {
		t.Errorf("reservation after release found %+v", ex)
	}
	// The other principal's record survived the release.
	if ex := reserve(idempotency.Record{Tenant: tn, Principal: "tok_b", Key: "key-1", Created: t0}); ex == nil {
		t.Errorf("releasing one principal's key released another's")
	}

	// Expiry: a record is live for TTL, then a new reservation replaces it.
	k2 := idempotency.Record{Tenant: tn, Principal: "tok_a", Key: "key-2", Fingerprint: "fp-2", Created: t0}
	reserve(k2)
	k2done := k2
	k2done.Status, k2done.Body = 200, []byte(`{}`)
	fatalIf(t, e.db.CompleteIdempotencyKey(ctx, &k2done), "complete")
	atTTL := k2
	atTTL.Fingerprint, atTTL.Created = "fp-late", t0.Add(idempotency.TTL)
	if ex := reserve(atTTL); ex == nil || ex.Status != 200 || ex.Fingerprint != "fp-2" {
		t.Errorf("reservation exactly TTL later found %+v, want the live record", ex)
	}
	later := atTTL
	later.Created = t0.Add(idempotency.TTL + time.Microsecond)
	if ex := reserve(later); ex != nil {
		t.Errorf("reservation after TTL found the expired record %+v", ex)
	}
	ex = reserve(later)
	if ex == nil {
		t.Fatal("the replacing reservation was not kept")
	}
	deepEqual(t, "replacing record", normRecord(*ex), normRecord(idempotency.Record{
		Tenant: tn, Principal: "tok_a", Key: "key-2", Fingerprint: "fp-late", Created: later.Created,
	}))

	// Purge deletes records created before the cut-off, in every tenant.
	// Live now: retry (t0+1s), tok_b/key-1 (t0), other tenant (t0), KEY-1
	// (t0) and key-2 (t0+TTL+1µs).
	n, err := e.db.PurgeIdempotencyKeys(ctx, t0.Add(time.Second))
	fatalIf(t, err, "purge")
	if n != 3 {
		t.Errorf("purge removed %d records, want 3", n)
	}
	for _, r := range []idempotency.Record{
		{Tenant: tn, Principal: "tok_b", Key: "key-1", Created: t0.Add(2 * time.Second)},
		{Tenant: string(other.Tenant), Principal: "tok_a", Key: "key-1", Created: t0.Add(2 * time.Second)},
	} {
		if ex := reserve(r); ex != nil {
			t.Errorf("a purged record is still there: %+v", ex)
		}
	}
	for _, r := range []idempotency.Record{retry, later} {
		r.Created = r.Created.Add(time.Second)
		if ex := reserve(r); ex == nil {
			t.Errorf("purge removed the newer record %s/%s", r.Principal, r.Key)
		}
	}
	n, err = e.db.PurgeIdempotencyKeys(ctx, t0.Add(100*idempotency.TTL))
	fatalIf(t, err, "purge all")
	if n != 4 {
		t.Errorf("final purge removed %d records, want 4", n)
	}
}
