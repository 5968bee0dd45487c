package keys_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/keys"
	"github.com/tessera-iam/tessera/internal/store"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/testkit"
)

type sgkEnv struct {
	db     *store.DB
	clock  *testkit.Clock
	master *keys.MasterKey
	keys   *keys.Service
}

func newSgkEnv(t *testing.T, db *store.DB) *sgkEnv {
	t.Helper()
	m, err := keys.ParseMasterKey(keys.GenerateMasterKey())
	if err != nil {
		t.Fatal(err)
	}
	c := testkit.NewClock(time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC))
	return &sgkEnv{db: db, clock: c, master: m, keys: &keys.Service{Store: db, Now: c.Now, Master: m}}
}

// tenant makes a tenant to own keys.
func (e *sgkEnv) tenant(t *testing.T, slug string) tenant.ID {
	t.Helper()
	ts := &tenant.Service{Store: e.db, Now: e.clock.Now}
	tn, err := ts.CreateTenant(context.Background(), slug, slug)
	if err != nil {
		t.Fatal(err)
	}
	return tn.ID
}

func sgkIDs(ks []keys.SigningKey) []keys.SigningKeyID {
	var out []keys.SigningKeyID
	for _, k := range ks {
		out = append(out, k.ID)
	}
	return out
}

func sgkStates(ks []keys.SigningKey) []string {
	var out []string
	for _, k := range ks {
		out = append(out, k.State)
	}
	return out
}

func TestPublishedCreatesActiveAndNextOnce(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newSgkEnv(t, db)
		tn := e.tenant(t, "acme")
		first, err := e.keys.Published(ctx, tn, keys.PurposeSAML, keys.RS256)
		if err != nil {
			t.Fatal(err)
		}
		if got := sgkStates(first); !slices.Equal(got, []string{keys.StateActive, keys.StateNext}) {
			t.Fatalf("states = %v, want active then next", got)
		}
		active, next := first[0], first[1]
		if active.Activated.IsZero() || !next.Activated.IsZero() || !active.Retired.IsZero() || !next.Retired.IsZero() {
			t.Errorf("times: active activated %v retired %v, next activated %v retired %v", active.Activated, active.Retired,
				next.Activated, next.Retired)
		}
		for _, k := range first {
			if k.Tenant != tn || k.Purpose != keys.PurposeSAML || k.Algorithm != keys.RS256 || !strings.HasPrefix(string(k.ID), "sgk_") {
				t.Errorf("key %+v", k)
			}
			cert, err := k.ParseCertificate()
			if err != nil {
				t.Fatal(err)
			}
			if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
				t.Errorf("certificate is not self-signed: %v", err)
			}
			if pub, ok := cert.PublicKey.(*rsa.PublicKey); !ok || pub.N.BitLen() != 2048 {
				t.Errorf("RS256 key is %T", cert.PublicKey)
			}
			if cn := cert.Subject.CommonName; !strings.Contains(cn, string(tn)) || !strings.Contains(cn, "saml") {
				t.Errorf("subject CN %q names neither the tenant nor the purpose", cn)
			}
			if years := cert.NotAfter.Sub(e.clock.Now()).Hours() / 24 / 365; years < 9.9 || years > 10.1 {
				t.Errorf("certificate valid for %.1f years, want 10", years)
			}
			if cert.SerialNumber.Sign() <= 0 || cert.SerialNumber.BitLen() < 64 {
				t.Errorf("serial %v is not a large random positive number", cert.SerialNumber)
			}
			sum := sha256.Sum256(k.Certificate)
			if fp := k.Fingerprint(); len(fp) != 95 || strings.ToUpper(fp) != fp || !strings.HasPrefix(strings.ReplaceAll(fp, ":", ""),
				strings.ToUpper(hexOf(sum[:2]))) {
				t.Errorf("fingerprint %q", fp)
			}
		}
		if first[0].Fingerprint() == first[1].Fingerprint() {
			t.Error("active and next share a certificate")
		}
		again, err := e.keys.Published(ctx, tn, keys.PurposeSAML, keys.RS256)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(sgkIDs(again), sgkIDs(first)) {
			t.Errorf("second call published %v, the first %v: keys were made twice", sgkIDs(again), sgkIDs(first))
		}
		// Each purpose and algorithm, and each tenant, has its own keys.
		oidc, err := e.keys.Published(ctx, tn, keys.PurposeOIDC, keys.ES256)
		if err != nil {
			t.Fatal(err)
		}
		other, err := e.keys.Published(ctx, e.tenant(t, "bravo"), keys.PurposeSAML, keys.RS256)
		if err != nil {
			t.Fatal(err)
		}
		for _, ks := range [][]keys.SigningKey{oidc, other} {
			if len(ks) != 2 || slices.ContainsFunc(ks, func(k keys.SigningKey) bool { return slices.Contains(sgkIDs(first), k.ID) }) {
				t.Errorf("keys %v overlap %v", sgkIDs(ks), sgkIDs(first))
			}
		}
		if _, ok := mustCert(t, oidc[0]).PublicKey.(*ecdsa.PublicKey); !ok {
			t.Errorf("ES256 key is %T", mustCert(t, oidc[0]).PublicKey)
		}
	})
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	var s strings.Builder
	for _, c := range b {
		s.WriteByte(digits[c>>4])
		s.WriteByte(digits[c&15])
	}
	return s.String()
}

func mustCert(t *testing.T, k keys.SigningKey) *x509.Certificate {
	t.Helper()
	c, err := k.ParseCertificate()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The next key is published before it signs; rotation promotes it,
// publishes a new next key, and keeps the retired key published for the
// grace period only.
func TestRotatePromotesNextAndKeepsRetiredForGrace(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newSgkEnv(t, db)
		tn := e.tenant(t, "acme")
		before, err := e.keys.Published(ctx, tn, keys.PurposeOIDC, keys.ES256)
		if err != nil {
			t.Fatal(err)
		}
		oldActive, oldNext := before[0], before[1]
		s, err := e.keys.Active(ctx, tn, keys.PurposeOIDC, keys.ES256)
		if err != nil {
			t.Fatal(err)
		}
		if s.ID != oldActive.ID {
			t.Fatalf("signing with %s, want the active key %s (not the next %s)", s.ID, oldActive.ID, oldNext.ID)
		}

		e.clock.Advance(time.Hour)
		rotatedAt := e.clock.Now()
		rot, err := e.keys.Rotate(ctx, tenant.Scope{Tenant: tn}, keys.PurposeOIDC, keys.ES256)
		if err != nil {
			t.Fatal(err)
		}
		if rot.Retired.ID != oldActive.ID || rot.Active.ID != oldNext.ID || rot.Next.ID == oldActive.ID || rot.Next.ID == oldNext.ID {
			t.Fatalf("rotation %s→retired %s→active new next %s; before: active %s next %s", rot.Retired.ID, rot.Active.ID,
				rot.Next.ID, oldActive.ID, oldNext.ID)
		}
		if !rot.Retired.Retired.Equal(rotatedAt) || !rot.Active.Activated.Equal(rotatedAt) || rot.Next.State != keys.StateNext {
			t.Errorf("rotation times: retired %v activated %v next %s", rot.Retired.Retired, rot.Active.Activated, rot.Next.State)
		}
		after, err := e.keys.Published(ctx, tn, keys.PurposeOIDC, keys.ES256)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := sgkIDs(after), []keys.SigningKeyID{oldNext.ID, rot.Next.ID, oldActive.ID}; !slices.Equal(got, want) {
			t.Errorf("published %v (%v), want %v", got, sgkStates(after), want)
		}
		if got := sgkStates(after); !slices.Equal(got, []string{keys.StateActive, keys.StateNext, keys.StateRetired}) {
			t.Errorf("states %v", got)
		}
		if s, err := e.keys.Active(ctx, tn, keys.PurposeOIDC, keys.ES256); err != nil || s.ID != oldNext.ID {
			t.Errorf("after rotation signing with %v (%v), want %s", s, err, oldNext.ID)
		}

		e.clock.Advance(keys.RetiredGrace - time.Minute)
		if ks, _ := e.keys.Published(ctx, tn, keys.PurposeOIDC, keys.ES256); len(ks) != 3 {
			t.Errorf("inside the grace period %d keys are published, want the retired one too", len(ks))
		}
		e.clock.Advance(2 * time.Minute)
		ks, err := e.keys.Published(ctx, tn, keys.PurposeOIDC, keys.ES256)
		if err != nil {
			t.Fatal(err)
		}
		if got := sgkIDs(ks); !slices.Equal(got, []keys.SigningKeyID{oldNext.ID, rot.Next.ID}) {
			t.Errorf("after the grace period published %v, want only active and next", got)
		}

		// The rotation is in the audit log, in the tenant's own chain.
		var rec *audit.Record
		err = db.WalkAudit(ctx, string(tn), func(audit.Head) error { return nil }, func(r *audit.Record) error {
			if r.Action == "signing_key.rotated" {
				c := *r
				rec = &c
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if rec == nil {
			t.Fatal("no signing_key.rotated event")
		}
		var d map[string]string
		if err := json.Unmarshal(rec.Details, &d); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"purpose": "oidc", "algorithm": "ES256", "activated_key_id": string(oldNext.ID),
			"retired_key_id": string(oldActive.ID), "next_key_id": string(rot.Next.ID)}
		if rec.TargetType != "tenant" || rec.TargetID != string(tn) || !equalMaps(d, want) {
			t.Errorf("event %s %s %v, want tenant %s %v", rec.TargetType, rec.TargetID, d, tn, want)
		}
	})
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// A signature by the active key verifies with the published certificate.
func TestActiveSignsWhatTheCertificateVerifies(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newSgkEnv(t, db)
		tn := e.tenant(t, "acme")
		digest := sha256.Sum256([]byte("<samlp:Response ID=\"_1\"/>"))
		for _, alg := range keys.Algorithms {
			s, err := e.keys.Active(ctx, tn, keys.PurposeSAML, alg)
			if err != nil {
				t.Fatal(err)
			}
			sig, err := s.Key.Sign(nil, digest[:], crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			ks, err := e.keys.Published(ctx, tn, keys.PurposeSAML, alg)
			if err != nil {
				t.Fatal(err)
			}
			if ks[0].ID != s.ID || s.SigningKey.ID != s.ID || !bytes.Equal(s.Certificate.Raw, ks[0].Certificate) {
				t.Fatalf("%s: signer %s is not the published active key %s", alg, s.ID, ks[0].ID)
			}
			verifies := func(pub crypto.PublicKey) bool {
				switch pub := pub.(type) {
				case *rsa.PublicKey:
					return alg == keys.RS256 && rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) == nil
				case *ecdsa.PublicKey:
					return alg == keys.ES256 && pub.Curve.Params().Name == "P-256" && ecdsa.VerifyASN1(pub, digest[:], sig)
				}
				t.Errorf("%s: public key %T", alg, pub)
				return false
			}
			if !verifies(mustCert(t, ks[0]).PublicKey) {
				t.Errorf("%s: the signature does not verify with the active key's published certificate", alg)
			}
			if verifies(mustCert(t, ks[1]).PublicKey) {
				t.Errorf("%s: the next key's certificate verifies the active key's signature", alg)
			}
			// Opened once, then served from memory.
			again, err := e.keys.Active(ctx, tn, keys.PurposeSAML, alg)
			if err != nil {
				t.Fatal(err)
			}
			if again.Key != s.Key {
				t.Errorf("%s: private key parsed again, not cached", alg)
			}
		}
	})
}

// Active reuses what it read for a few seconds: a rotation through the same
// service shows at once, one through another (another node) once that time
// has passed.
func TestActiveFollowsRotations(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newSgkEnv(t, db)
		tn := e.tenant(t, "acme")
		active := func(svc *keys.Service) keys.SigningKeyID {
			t.Helper()
			s, err := svc.Active(ctx, tn, keys.PurposeSAML, keys.ES256)
			if err != nil {
				t.Fatal(err)
			}
			return s.ID
		}
		first := active(e.keys)
		rot, err := e.keys.Rotate(ctx, tenant.Scope{Tenant: tn}, keys.PurposeSAML, keys.ES256)
		if err != nil {
			t.Fatal(err)
		}
		if got := active(e.keys); got != rot.Active.ID || got == first {
			t.Fatalf("after its own rotation the service signs with %s, want %s", got, rot.Active.ID)
		}
		other := &keys.Service{Store: db, Now: e.clock.Now, Master: e.master}
		rot, err = other.Rotate(ctx, tenant.Scope{Tenant: tn}, keys.PurposeSAML, keys.ES256)
		if err != nil {
			t.Fatal(err)
		}
		if got := active(e.keys); got != rot.Retired.ID {
			t.Errorf("right after another node's rotation the service signs with %s, want the cached %s", got, rot.Retired.ID)
		}
		e.clock.Advance(5 * time.Second)
		if got := active(e.keys); got != rot.Active.ID {
			t.Errorf("seconds after another node's rotation the service signs with %s, want %s", got, rot.Active.ID)
		}
	})
}

// Callers racing on a fresh tenant end with exactly one active and one next
// key, and all see the same ones.
func TestPublishedIsConcurrencySafe(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newSgkEnv(t, db)
		for _, alg := range keys.Algorithms {
			tn := e.tenant(t, "race-"+strings.ToLower(alg))
			const n = 8
			results := make([][]keys.SigningKeyID, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				// Each its own service: like separate nodes, no shared memory.
				svc := &keys.Service{Store: db, Now: e.clock.Now, Master: e.master}
				wg.Go(func() {
					<-start
					ks, err := svc.Published(ctx, tn, keys.PurposeSAML, alg)
					results[i], errs[i] = sgkIDs(ks), err
				})
			}
			close(start)
			wg.Wait()
			for i := range n {
				if errs[i] != nil {
					t.Fatalf("%s caller %d: %v", alg, i, errs[i])
				}
				if !slices.Equal(results[i], results[0]) {
					t.Errorf("%s caller %d saw %v, caller 0 %v", alg, i, results[i], results[0])
				}
			}
			all, err := db.SigningKeys(ctx, tn, keys.PurposeSAML, alg, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if got := slices.Sorted(slices.Values(sgkStates(all))); !slices.Equal(got, []string{keys.StateActive, keys.StateNext}) {
				t.Errorf("%s: stored states %v, want exactly one active and one next", alg, got)
			}
		}
	})
}

// Concurrent rotations run one after the other: each retires a different
// key, and one active and one next key remain.
func TestRotateIsConcurrencySafe(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newSgkEnv(t, db)
		tn := e.tenant(t, "acme")
		if _, err := e.keys.Published(ctx, tn, keys.PurposeOIDC, keys.ES256); err != nil {
			t.Fatal(err)
		}
		const n = 8
		rots := make([]*keys.Rotation, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			svc := &keys.Service{Store: db, Now: e.clock.Now, Master: e.master}
			wg.Go(func() { rots[i], errs[i] = svc.Rotate(ctx, tenant.Scope{Tenant: tn}, keys.PurposeOIDC, keys.ES256) })
		}
		wg.Wait()
		retired := map[keys.SigningKeyID]bool{}
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("rotation %d: %v", i, errs[i])
			}
			if retired[rots[i].Retired.ID] {
				t.Errorf("key %s retired twice", rots[i].Retired.ID)
			}
			retired[rots[i].Retired.ID] = true
		}
		// The rotations ran on other services (nodes): this one sees them
		// once what it read before has aged out.
		e.clock.Advance(6 * time.Second)
		ks, err := e.keys.Published(ctx, tn, keys.PurposeOIDC, keys.ES256)
		if err != nil {
			t.Fatal(err)
		}
		states := sgkStates(ks)
		if len(ks) != n+2 || states[0] != keys.StateActive || states[1] != keys.StateNext {
			t.Errorf("after %d rotations: %v", n, states)
		}
	})
}

// The private key is stored sealed, bound to its tenant and id.
func TestSigningKeyIsSealedAndBound(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newSgkEnv(t, db)
		tn, other := e.tenant(t, "acme"), e.tenant(t, "bravo")
		if _, err := e.keys.Published(ctx, tn, keys.PurposeSAML, keys.ES256); err != nil {
			t.Fatal(err)
		}
		stored, err := db.SigningKeys(ctx, tn, keys.PurposeSAML, keys.ES256, time.Time{})
		if err != nil || len(stored) != 2 {
			t.Fatalf("stored keys %v, %v", len(stored), err)
		}
		k := stored[0]
		der, err := e.master.Open(k.Sealed, keys.SealContext(tn, k.ID))
		if err != nil {
			t.Fatal(err)
		}
		priv, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			t.Fatalf("sealed value is not PKCS #8: %v", err)
		}
		scalar, err := priv.(*ecdsa.PrivateKey).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(k.Sealed, der) || bytes.Contains(k.Sealed, scalar) {
			t.Error("the stored value holds the private key in clear")
		}
		if !priv.(crypto.Signer).Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(mustCert(t, k).PublicKey) {
			t.Error("sealed key does not match the certificate")
		}
		for name, ctxt := range map[string]string{
			"other tenant": keys.SealContext(other, k.ID),
			"other key":    keys.SealContext(tn, stored[1].ID),
		} {
			if _, err := e.master.Open(k.Sealed, ctxt); !errors.Is(err, keys.ErrUnseal) {
				t.Errorf("opened under the %s's context: %v", name, err)
			}
		}
		// A service with another master key cannot use the stored keys.
		m2, _ := keys.ParseMasterKey(keys.GenerateMasterKey())
		wrong := &keys.Service{Store: db, Now: e.clock.Now, Master: m2}
		if _, err := wrong.Active(ctx, tn, keys.PurposeSAML, keys.ES256); !errors.Is(err, keys.ErrUnseal) {
			t.Errorf("Active under another master key: %v", err)
		}
	})
}

func TestRotateRefusesOrganizationScopeAndBadInput(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newSgkEnv(t, db)
		tn := e.tenant(t, "acme")
		before, err := e.keys.Published(ctx, tn, keys.PurposeSAML, keys.ES256)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.keys.Rotate(ctx, tenant.Scope{Tenant: tn, Org: "org_01jd0000000000000000000000"}, keys.PurposeSAML, keys.ES256); !errors.Is(err, errkind.Denied) {
			t.Errorf("organization-scoped rotation: %v, want Denied", err)
		}
		after, _ := e.keys.Published(ctx, tn, keys.PurposeSAML, keys.ES256)
		if !slices.Equal(sgkIDs(after), sgkIDs(before)) {
			t.Errorf("a refused rotation changed the keys: %v → %v", sgkIDs(before), sgkIDs(after))
		}
		for _, c := range []struct {
			purpose, alg string
			fields       []string
		}{
			{"ldap", keys.RS256, []string{"purpose"}},
			{keys.PurposeOIDC, "HS256", []string{"algorithm"}},
			{"", "", []string{"purpose", "algorithm"}},
			{"SAML", "rs256", []string{"purpose", "algorithm"}},
		} {
			_, err1 := e.keys.Published(ctx, tn, c.purpose, c.alg)
			_, err2 := e.keys.Rotate(ctx, tenant.Scope{Tenant: tn}, c.purpose, c.alg)
			_, err3 := e.keys.Active(ctx, tn, c.purpose, c.alg)
			for _, err := range []error{err1, err2, err3} {
				var got []string
				for _, f := range errkind.Fields(err) {
					got = append(got, f.Field)
				}
				if !errors.Is(err, errkind.Invalid) || !slices.Equal(got, c.fields) {
					t.Errorf("%q %q: %v (fields %v), want fields %v", c.purpose, c.alg, err, got, c.fields)
				}
			}
		}
		all, _ := db.SigningKeys(ctx, tn, keys.PurposeSAML, keys.ES256, time.Time{})
		if len(all) != 2 {
			t.Errorf("%d keys stored, want 2", len(all))
		}
		var n int
		_ = db.WalkAudit(ctx, string(tn), func(audit.Head) error { return nil }, func(r *audit.Record) error {
			if strings.HasPrefix(r.Action, "signing_key.") {
				n++
			}
			return nil
		})
		if n != 0 {
			t.Errorf("%d signing key events after refused rotations", n)
		}
	})
}
