package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/apitoken"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/tenant"
)

func normToken(tk apitoken.Token) apitoken.Token {
	tk.Created, tk.Expires, tk.Revoked, tk.LastUsed = tk.Created.UTC(), tk.Expires.UTC(), tk.Revoked.UTC(), tk.LastUsed.UTC()
	return tk
}

// storedToken reads a token back through the tenant's list.
func storedToken(t *testing.T, e *env, sc tenant.Scope, id apitoken.ID) apitoken.Token {
	t.Helper()
	ts, err := e.tokens.List(t.Context(), sc)
	fatalIf(t, err, "list tokens")
	for _, tk := range ts {
		if tk.ID == id {
			return tk
		}
	}
	t.Fatalf("token %s not listed", id)
	return apitoken.Token{}
}

func testTokens(t *testing.T, e *env) {
	ctx := t.Context()
	sc, log := e.newTenant(t)
	o := e.org(t, sc, "Partner")
	log.next(t)

	tok, secret, err := e.tokens.Create(ctx, sc, apitoken.NewToken{Name: " ci ", Role: apitoken.Admin})
	fatalIf(t, err, "create token")
	log.expect(t, "api_token.created")
	if !strings.HasPrefix(secret, apitoken.SecretPrefix) || len(secret) != len(apitoken.SecretPrefix)+43 {
		t.Errorf("secret %q has the wrong shape", secret)
	}
	if tok.Name != "ci" || tok.Digest == "" || strings.Contains(tok.Digest, secret[len(apitoken.SecretPrefix):]) {
		t.Errorf("created token = %+v", tok)
	}
	deepEqual(t, "token read back", normToken(storedToken(t, e, sc, tok.ID)), normToken(*tok))

	// Authenticate, and touch last-used at most once a minute.
	got, err := e.tokens.Authenticate(ctx, secret)
	fatalIf(t, err, "authenticate")
	if got.ID != tok.ID || got.Tenant != sc.Tenant || got.Role != apitoken.Admin || got.Scope() != sc {
		t.Errorf("authenticated token = %+v", got)
	}
	first := got.LastUsed
	sameTime(t, "stored last use", storedToken(t, e, sc, tok.ID).LastUsed, first)
	for _, wait := range []time.Duration{0, 30 * time.Second, 29 * time.Second} {
		e.clock.Advance(wait)
		if _, err := e.tokens.Authenticate(ctx, secret); err != nil {
			t.Fatalf("authenticate again: %v", err)
		}
		sameTime(t, "last use within the minute", storedToken(t, e, sc, tok.ID).LastUsed, first)
	}
	e.clock.Advance(2 * time.Second)
	got, err = e.tokens.Authenticate(ctx, secret)
	fatalIf(t, err, "authenticate a minute later")
	if !got.LastUsed.After(first) {
		t.Errorf("last use not advanced after a minute: %s", got.LastUsed)
	}
	sameTime(t, "stored last use a minute later", storedToken(t, e, sc, tok.ID).LastUsed, got.LastUsed)
	log.expect(t) // authentication is not an audited change

	// Malformed and unknown secrets.
	unchanged(t, e.db, func() {
		flipped := []byte(secret)
		flipped[len(flipped)-1] ^= 1
		if flipped[len(flipped)-1] == secret[len(secret)-1] {
			t.Fatal("flip failed")
		}
		for name, s := range map[string]string{
			"empty":           "",
			"prefix only":     apitoken.SecretPrefix,
			"too long":        secret + "A",
			"too short":       secret[:len(secret)-1],
			"another prefix":  "tsx_" + secret[len(apitoken.SecretPrefix):],
			"unknown":         apitoken.SecretPrefix + strings.Repeat("A", 43),
			"one bit off":     string(flipped),
			"the digest":      tok.Digest,
			"space around it": " " + secret,
		} {
			_, err := e.tokens.Authenticate(ctx, s)
			wantErr(t, err, apitoken.ErrInvalid, "authenticate with a %s secret", name)
		}
	})

	// Organization-scoped tokens carry their scope.
	otok, osecret, err := e.tokens.Create(ctx, sc, apitoken.NewToken{Name: "partner", Role: apitoken.ReadOnly, Org: o.ID})
	fatalIf(t, err, "create org token")
	log.expect(t, "api_token.created")
	want := tenant.Scope{Tenant: sc.Tenant, Org: o.ID}
	if otok.Scope() != want {
		t.Errorf("org token scope = %+v, want %+v", otok.Scope(), want)
	}
	got, err = e.tokens.Authenticate(ctx, osecret)
	fatalIf(t, err, "authenticate org token")
	if got.Scope() != want || got.Role != apitoken.ReadOnly {
		t.Errorf("authenticated org token = %+v", got)
	}
	unchanged(t, e.db, func() {
		_, _, err := e.tokens.Create(ctx, sc, apitoken.NewToken{Name: "lost", Role: apitoken.Admin, Org: "org_nosuchorg"})
		wantErr(t, err, errkind.Invalid, "token for an unknown organization")
		_, _, err = e.tokens.Create(ctx, sc, apitoken.NewToken{Name: "root", Role: "root"})
		wantErr(t, err, errkind.Invalid, "unknown role")
		_, _, err = e.tokens.Create(ctx, sc, apitoken.NewToken{Name: "past", Role: apitoken.Admin, Expires: e.clock.Peek().Add(-time.Minute)})
		wantErr(t, err, errkind.Invalid, "expiry in the past")
		_, _, err = e.tokens.Create(ctx, sc, apitoken.NewToken{Name: " ", Role: apitoken.Admin})
		wantErr(t, err, errkind.Invalid, "no name")
	})
	log.expect(t)

	// Expiry.
	expires := e.clock.Peek().Add(time.Hour)
	etok, esecret, err := e.tokens.Create(ctx, sc, apitoken.NewToken{Name: "short-lived", Role: apitoken.UserManager, Expires: expires})
	fatalIf(t, err, "create expiring token")
	log.expect(t, "api_token.created")
	sameTime(t, "stored expiry", storedToken(t, e, sc, etok.ID).Expires, expires)
	_, err = e.tokens.Authenticate(ctx, esecret)
	fatalIf(t, err, "authenticate before expiry")
	e.clock.Advance(2 * time.Hour)
	_, err = e.tokens.Authenticate(ctx, esecret)
	wantErr(t, err, apitoken.ErrInvalid, "authenticate after expiry")
	if _, err := e.tokens.Authenticate(ctx, secret); err != nil {
		t.Errorf("a token without expiry stopped working: %v", err)
	}

	// Revocation is immediate and keeps its first time.
	rev, err := e.tokens.Revoke(ctx, sc, tok.ID)
	fatalIf(t, err, "revoke")
	log.expect(t, "api_token.revoked")
	if rev.Revoked.IsZero() {
		t.Errorf("revoked token has no revocation time")
	}
	_, err = e.tokens.Authenticate(ctx, secret)
	wantErr(t, err, apitoken.ErrInvalid, "authenticate a revoked token")
	again, err := e.tokens.Revoke(ctx, sc, tok.ID)
	fatalIf(t, err, "revoke twice")
	log.expect(t) // nothing changed, nothing to record
	sameTime(t, "revocation time after revoking twice", again.Revoked, rev.Revoked)
	sameTime(t, "stored revocation time", storedToken(t, e, sc, tok.ID).Revoked, rev.Revoked)
	unchanged(t, e.db, func() {
		_, err := e.tokens.Revoke(ctx, sc, "tok_nosuchtoken")
		wantErr(t, err, apitoken.ErrNotFound, "revoke an unknown token")
	})
	log.expect(t)

	// Newest first.
	ts, err := e.tokens.List(ctx, sc)
	fatalIf(t, err, "list")
	var ids []string
	for _, tk := range ts {
		ids = append(ids, string(tk.ID))
	}
	sameOrder(t, "tokens, newest first", ids, []string{string(etok.ID), string(otok.ID), string(tok.ID)})
}
