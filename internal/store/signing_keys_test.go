package store_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/keys"
	"github.com/tessera-iam/tessera/internal/store"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/testkit"
)

// The partial unique index allows one active and one next key per tenant,
// purpose and algorithm, any number of retired ones; a refused insert does
// not abort the transaction around it (PostgreSQL aborts on a violation).
func TestSigningKeySlots(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		t0 := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
		for _, id := range []tenant.ID{"ten_a", "ten_b"} {
			if err := db.CreateTenant(ctx, &tenant.Tenant{ID: id, Slug: string(id[4:]), Name: "T", Version: 1, Created: t0, Updated: t0}); err != nil {
				t.Fatal(err)
			}
		}
		n := 0
		key := func(tn tenant.ID, state string, retired time.Time) *keys.SigningKey {
			n++
			return &keys.SigningKey{Tenant: tn, ID: keys.SigningKeyID("sgk_" + string(rune('a'+n))), Purpose: keys.PurposeSAML,
				Algorithm: keys.RS256, State: state, Certificate: []byte{0x30, byte(n)}, Sealed: []byte{1, 0, byte(n)},
				Created: t0, Retired: retired}
		}
		for _, k := range []*keys.SigningKey{key("ten_a", keys.StateActive, time.Time{}), key("ten_a", keys.StateNext, time.Time{}),
			key("ten_a", keys.StateRetired, t0), key("ten_a", keys.StateRetired, t0.Add(time.Hour)),
			key("ten_b", keys.StateActive, time.Time{})} {
			if err := db.CreateSigningKey(ctx, k); err != nil {
				t.Fatalf("create %s %s: %v", k.Tenant, k.State, err)
			}
		}
		err := db.InTx(ctx, func(ctx context.Context) error {
			for _, state := range []string{keys.StateActive, keys.StateNext} {
				if err := db.CreateSigningKey(ctx, key("ten_a", state, time.Time{})); !errors.Is(err, keys.ErrSigningKeyTaken) {
					t.Errorf("a second %s key: %v, want ErrSigningKeyTaken", state, err)
				}
			}
			// The transaction is still usable.
			return db.CreateSigningKey(ctx, key("ten_b", keys.StateNext, time.Time{}))
		})
		if err != nil {
			t.Fatalf("transaction after a refused insert: %v", err)
		}
		got, err := db.SigningKeys(ctx, "ten_a", keys.PurposeSAML, keys.RS256, t0.Add(30*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		var states []string
		for _, k := range got {
			states = append(states, k.State)
			if k.Tenant != "ten_a" {
				t.Errorf("key of tenant %s listed for ten_a", k.Tenant)
			}
		}
		if len(got) != 3 {
			t.Errorf("states %v, want active, next and the key retired after the cut-off", states)
		}
		if other, _ := db.SigningKeys(ctx, "ten_b", keys.PurposeSAML, keys.RS256, time.Time{}); len(other) != 2 {
			t.Errorf("tenant b has %d keys, want 2", len(other))
		}
		if none, _ := db.SigningKeys(ctx, "ten_a", keys.PurposeOIDC, keys.RS256, time.Time{}); len(none) != 0 {
			t.Errorf("oidc keys %v, want none", none)
		}

		// Round trip of bytes and times, and UpdateSigningKey.
		var active keys.SigningKey
		for _, k := range got {
			if k.State == keys.StateActive {
				active = k
			}
		}
		up, err := db.UpdateSigningKey(ctx, "ten_a", active.ID, func(k *keys.SigningKey) error {
			k.State, k.Retired = keys.StateRetired, t0.Add(2*time.Hour)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if up.State != keys.StateRetired || !up.Retired.Equal(t0.Add(2*time.Hour)) || !up.Created.Equal(t0) ||
			!bytes.Equal(up.Certificate, active.Certificate) || !bytes.Equal(up.Sealed, active.Sealed) {
			t.Errorf("updated key %+v", up)
		}
		if _, err := db.UpdateSigningKey(ctx, "ten_b", active.ID, func(*keys.SigningKey) error { return nil }); !errors.Is(err, keys.ErrSigningKeyNotFound) {
			t.Errorf("another tenant's key: %v, want ErrSigningKeyNotFound", err)
		}
		// The slot is free again.
		if err := db.CreateSigningKey(ctx, key("ten_a", keys.StateActive, time.Time{})); err != nil {
			t.Errorf("active key after retiring the old one: %v", err)
		}
	})
}
