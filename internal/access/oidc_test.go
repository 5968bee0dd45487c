package access_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/store"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/testkit"
	"github.com/tessera-iam/tessera/internal/user"
)

// oidcJWKs are JSON Web Keys made once per test binary: "rsa" and "ec" are
// good public keys; the others each break one rule.
var oidcJWKs = sync.OnceValue(func() map[string]map[string]any {
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	rsaJWK := func(k *rsa.PrivateKey, private bool) map[string]any {
		m := map[string]any{"kty": "RSA", "kid": "rsa-1", "use": "sig", "alg": "RS256", "n": b64(k.N.Bytes()),
			"e": b64(big.NewInt(int64(k.E)).Bytes())}
		if private {
			m["d"], m["p"], m["q"] = b64(k.D.Bytes()), b64(k.Primes[0].Bytes()), b64(k.Primes[1].Bytes())
		}
		return m
	}
	ecJWK := func(k *ecdsa.PrivateKey, crv string, size int) map[string]any {
		raw, err := k.PublicKey.Bytes() // 04 || X || Y
		if err != nil {
			panic(err)
		}
		return map[string]any{"kty": "EC", "kid": "ec-1", "crv": crv, "x": b64(raw[1 : 1+size]), "y": b64(raw[1+size:])}
	}
	r2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	r1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	offCurve := ecJWK(p256, "P-256", 32)
	y, _ := base64.RawURLEncoding.DecodeString(offCurve["y"].(string))
	y[31] ^= 1
	offCurve["y"] = b64(y)
	exp1 := rsaJWK(r2048, false)
	exp1["e"] = b64([]byte{1})
	return map[string]map[string]any{
		"rsa":         rsaJWK(r2048, false),
		"rsa-private": rsaJWK(r2048, true),
		"rsa1024":     rsaJWK(r1024, false),
		"rsa-e1":      exp1,
		"ec":          ecJWK(p256, "P-256", 32),
		"p384":        ecJWK(p384, "P-384", 48),
		"off-curve":   offCurve,
		"oct":         {"kty": "oct", "k": b64([]byte("0123456789abcdef0123456789abcdef"))},
	}
})

// jwksOf is a JWK Set of keys, each copied and changed by edit when given.
func jwksOf(edit func(i int, k map[string]any), keys ...string) string {
	var set []map[string]any
	for i, name := range keys {
		k := map[string]any{}
		for n, v := range oidcJWKs()[name] {
			k[n] = v
		}
		if edit != nil {
			edit(i, k)
		}
		set = append(set, k)
	}
	b, _ := json.Marshal(map[string]any{"keys": set})
	return string(b)
}

// goodConfidential is a valid confidential client using most members.
func goodConfidential() access.OIDCClient {
	c := access.DefaultOIDCClient()
	c.Type = access.ClientConfidential
	c.RedirectURIs = []string{"https://app.example/callback", "https://app.example/callback?tenant=eu", "http://127.0.0.1:8400/cb"}
	c.PostLogoutRedirectURIs = []string{"https://app.example/"}
	c.GrantTypes = []string{access.GrantAuthorizationCode, access.GrantRefreshToken, access.GrantClientCredentials}
	c.Scopes = []string{"openid", "profile", "email", "groups", "organization", "offline_access", "api:read", "https://api.example/orders.write"}
	c.TokenEndpointAuthMethod = access.AuthClientSecretBasic
	c.AccessTokenFormat, c.AccessTokenLifetimeSeconds = access.TokenFormatOpaque, 600
	c.RefreshTokenLifetimeSeconds, c.IDTokenLifetimeSeconds = 0, 3600
	c.RequireConsent = true
	c.BackChannelLogoutURI, c.BackChannelLogoutSessionRequired = "https://app.example/oidc/backchannel", true
	return c
}

// goodPublic is a valid public native client.
func goodPublic() access.OIDCClient {
	c := access.DefaultOIDCClient()
	c.Type = access.ClientPublic
	c.RedirectURIs = []string{"com.example.app:/oauth2redirect", "http://[::1]/cb", "http://localhost:3000/cb"}
	c.PostLogoutRedirectURIs = []string{"com.example.app:/signed-out"}
	c.GrantTypes = []string{access.GrantAuthorizationCode, access.GrantRefreshToken}
	c.Scopes = []string{"openid", "offline_access"}
	c.TokenEndpointAuthMethod = access.AuthNone
	return c
}

// oidcEvents returns tenant t's audit events whose action starts with
// "application.oidc_", as JSON lines.
func oidcEvents(t *testing.T, db *store.DB, ten tenant.ID) []string {
	t.Helper()
	evs, err := db.Events(context.Background(), ten, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		if strings.HasPrefix(ev.Action, "application.oidc_") {
			b, _ := json.Marshal(ev.Details)
			out = append(out, ev.Action+" "+string(b))
		}
	}
	return out
}

func TestOIDCClientRoundTrip(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newSAMLEnv(t, db)
		acc := e.srv.Access
		app := e.app(t, e.ta, access.KindOIDC)
		if _, err := acc.OIDCClient(e.ctx, e.ta, app); !errors.Is(err, access.ErrOIDCNotConfigured) || !errors.Is(err, errkind.NotFound) {
			t.Fatalf("before any: %v, want ErrOIDCNotConfigured", err)
		}
		got, secret, err := acc.CreateOIDCClient(e.ctx, e.ta, app, goodConfidential())
		if err != nil {
			t.Fatal(err)
		}
		if len(secret) != 43 || strings.ContainsAny(secret, "+/=") {
			t.Errorf("secret %q is not 256 bits of base64url", secret)
		}
		if !strings.HasPrefix(got.ClientID, "cli_") || got.Version != 1 || got.App != app || got.Tenant != e.ta.Tenant ||
			got.SecretDigest != "" || got.PreviousSecretDigest != "" {
			t.Errorf("created: %+v", got)
		}
		stored, err := db.OIDCClient(e.ctx, e.ta.Tenant, app)
		if err != nil {
			t.Fatal(err)
		}
		if stored.SecretDigest == "" || strings.Contains(stored.SecretDigest, secret) || stored.ClientID != got.ClientID {
			t.Errorf("stored digest %q for secret %q", stored.SecretDigest, secret)
		}

		read, err := acc.OIDCClient(e.ctx, tenant.Scope{Tenant: e.ta.Tenant, Org: "org_any"}, app) // any scope reads it
		if err != nil {
			t.Fatal(err)
		}
		want := goodConfidential()
		want.Tenant, want.App, want.ClientID, want.Version, want.Created, want.Updated = e.ta.Tenant, app, got.ClientID, 1, read.Created, read.Updated
		want.ProfileClaims, want.PostLogoutRedirectURIs = []string{}, []string{"https://app.example/"}
		if a, b := mustJSON(t, read), mustJSON(t, want); a != b {
			t.Errorf("read back\n%s\nwant\n%s", a, b)
		}
		if !read.PKCERequired() || !read.HasGrant(access.GrantClientCredentials) || !read.HasScope("api:read") {
			t.Errorf("helpers: pkce %v", read.PKCERequired())
		}

		// The same settings again change nothing, not even the version.
		before := e.fingerprint(t)
		same, err := acc.UpdateOIDCClient(e.ctx, e.ta, app, goodConfidential(), 1)
		if err != nil || same.Version != 1 || same.SecretDigest != "" {
			t.Fatalf("same again: %+v %v", same, err)
		}
		if e.fingerprint(t) != before {
			t.Errorf("updating with the same settings changed the database")
		}
		// Leaving the type and the method out keeps the type and takes its default method.
		e.clk.Advance(time.Minute)
		next := goodConfidential()
		next.Type, next.TokenEndpointAuthMethod, next.RequireConsent = "", "", false
		changed, err := acc.UpdateOIDCClient(e.ctx, e.ta, app, next, 1)
		if err != nil || changed.Version != 2 || changed.Type != access.ClientConfidential || changed.TokenEndpointAuthMethod != access.AuthClientSecretBasic ||
			changed.RequireConsent || changed.ClientID != got.ClientID || !changed.Updated.After(read.Updated) || !changed.Created.Equal(read.Created) {
			t.Fatalf("change: %+v %v", changed, err)
		}
		if after, _ := db.OIDCClient(e.ctx, e.ta.Tenant, app); after.SecretDigest != stored.SecretDigest {
			t.Errorf("an update changed the secret")
		}
		if _, _, err := acc.CheckOIDCClientSecret(e.ctx, e.ta.Tenant, got.ClientID, secret); err != nil {
			t.Errorf("the secret after an update: %v", err)
		}
		if _, err := acc.UpdateOIDCClient(e.ctx, e.ta, app, goodConfidential(), 1); !errors.Is(err, errkind.Precondition) {
			t.Errorf("stale If-Match: %v", err)
		}

		// A public client: no secret, PKCE always.
		pub := e.app(t, e.ta, access.KindOIDC)
		pc, psecret, err := acc.CreateOIDCClient(e.ctx, e.ta, pub, goodPublic())
		if err != nil || psecret != "" || pc.TokenEndpointAuthMethod != access.AuthNone || !pc.PKCERequired() || pc.ClientID == got.ClientID {
			t.Fatalf("public client: %+v %q %v", pc, psecret, err)
		}
		if s, _ := db.OIDCClient(e.ctx, e.ta.Tenant, pub); s.SecretDigest != "" {
			t.Errorf("a public client has a secret digest")
		}
		if _, _, err := acc.RotateOIDCClientSecret(e.ctx, e.ta, pub, 0); !errors.Is(err, access.ErrOIDCPublicClient) || !errors.Is(err, errkind.Invalid) {
			t.Errorf("rotating a public client's secret: %v", err)
		}
		// Defaults: a public client that names no method gets none.
		pub2 := e.app(t, e.ta, access.KindOIDC)
		dp := goodPublic()
		dp.TokenEndpointAuthMethod = ""
		if c, _, err := acc.CreateOIDCClient(e.ctx, e.ta, pub2, dp); err != nil || c.TokenEndpointAuthMethod != access.AuthNone {
			t.Errorf("public default method: %+v %v", c, err)
		}

		// The audit log has every change, never the secret or its digest.
		evs := oidcEvents(t, db, e.ta.Tenant)
		for _, ev := range evs {
			if strings.Contains(ev, secret) || strings.Contains(ev, stored.SecretDigest) || strings.Contains(ev, "digest") {
				t.Errorf("the audit event carries a secret or digest: %s", ev)
			}
		}
		var actions []string
		for _, ev := range evs {
			actions = append(actions, strings.Fields(ev)[0])
		}
		if want := []string{"application.oidc_client_created", "application.oidc_client_updated", "application.oidc_client_created",
			"application.oidc_client_created"}; !slices.Equal(actions, want) {
			t.Errorf("events %v, want %v", actions, want)
		}

		if err := acc.DeleteOIDCClient(e.ctx, e.ta, app); err != nil {
			t.Fatal(err)
		}
		if err := acc.DeleteOIDCClient(e.ctx, e.ta, app); !errors.Is(err, access.ErrOIDCNotConfigured) {
			t.Errorf("second delete: %v", err)
		}
		if _, _, err := acc.CheckOIDCClientSecret(e.ctx, e.ta.Tenant, got.ClientID, secret); !errors.Is(err, access.ErrOIDCClientAuth) {
			t.Errorf("the secret of a deleted client: %v", err)
		}
		// A new client of the same application has a new id.
		again, secret2, err := acc.CreateOIDCClient(e.ctx, e.ta, app, goodConfidential())
		if err != nil || again.ClientID == got.ClientID || secret2 == secret {
			t.Errorf("recreated: %+v %v (old id %s)", again, err, got.ClientID)
		}
		if evs := oidcEvents(t, db, e.ta.Tenant); !strings.Contains(evs[4], "application.oidc_client_deleted") || !strings.Contains(evs[4], got.ClientID) {
			t.Errorf("delete event: %v", evs[4])
		}
	})
}

func TestOIDCClientSecrets(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newSAMLEnv(t, db)
		acc := e.srv.Access
		app := e.app(t, e.ta, access.KindOIDC)
		c, secret, err := acc.CreateOIDCClient(e.ctx, e.ta, app, goodConfidential())
		if err != nil {
			t.Fatal(err)
		}
		pub := e.app(t, e.ta, access.KindOIDC)
		pc, _, err := acc.CreateOIDCClient(e.ctx, e.ta, pub, goodPublic())
		if err != nil {
			t.Fatal(err)
		}
		check := func(ten tenant.ID, id, s string) error {
			t.Helper()
			a, got, err := acc.CheckOIDCClientSecret(e.ctx, ten, id, s)
			if err == nil && (a.ID != app || got.ClientID != c.ClientID || got.SecretDigest != "" || got.PreviousSecretDigest != "") {
				t.Errorf("accepted %s as %+v / %+v", id, a, got)
			}
			return err
		}
		if err := check(e.ta.Tenant, c.ClientID, secret); err != nil {
			t.Fatalf("the right secret: %v", err)
		}
		wrong := []struct{ name, ten, id, secret string }{
			{"wrong secret", "a", c.ClientID, secret[:42] + "x"},
			{"empty secret", "a", c.ClientID, ""},
			{"secret of another case", "a", c.ClientID, strings.ToUpper(secret)},
			{"secret with a suffix", "a", c.ClientID, secret + "x"},
			{"huge secret", "a", c.ClientID, secret + strings.Repeat("x", 1<<16)},
			{"unknown client", "a", "cli_01jd0000000000000000000000", secret},
			{"malformed client id", "a", "'; DROP TABLE oidc_clients; --", secret},
			{"empty client id", "a", "", secret},
			{"the client in another tenant", "b", c.ClientID, secret},
			{"public client without a secret", "a", pc.ClientID, ""},
			{"public client with the other's secret", "a", pc.ClientID, secret},
		}
		for _, w := range wrong {
			ten := e.ta.Tenant
			if w.ten == "b" {
				ten = e.tb.Tenant
			}
			err := check(ten, w.id, w.secret)
			if !errors.Is(err, access.ErrOIDCClientAuth) || !errors.Is(err, errkind.Unauthenticated) || err.Error() != access.ErrOIDCClientAuth.Error() {
				t.Errorf("%s: %v, want exactly ErrOIDCClientAuth", w.name, err)
			}
		}

		// Rotation with a grace period: both work until it ends, then the old is refused.
		start := e.clk.Now()
		rot, secret2, err := acc.RotateOIDCClientSecret(e.ctx, e.ta, app, 3600)
		if err != nil {
			t.Fatal(err)
		}
		if secret2 == secret || len(secret2) != 43 || rot.ClientID != c.ClientID || rot.Version != 2 ||
			!rot.PreviousSecretExpires.Equal(start.Add(time.Hour)) || rot.SecretDigest != "" || rot.PreviousSecretDigest != "" {
			t.Fatalf("rotated: %+v", rot)
		}
		for _, s := range []string{secret, secret2} {
			if err := check(e.ta.Tenant, c.ClientID, s); err != nil {
				t.Errorf("during the grace period: %v", err)
			}
		}
		e.clk.Advance(time.Hour - time.Microsecond)
		if err := check(e.ta.Tenant, c.ClientID, secret); err != nil {
			t.Errorf("just before the end of the grace period: %v", err)
		}
		e.clk.Advance(time.Microsecond)
		if err := check(e.ta.Tenant, c.ClientID, secret); !errors.Is(err, access.ErrOIDCClientAuth) {
			t.Errorf("the old secret after its grace period: %v", err)
		}
		if err := check(e.ta.Tenant, c.ClientID, secret2); err != nil {
			t.Errorf("the new secret after the grace period: %v", err)
		}

		// Rotation without a grace period refuses the old secret at once; a
		// second rotation drops the secret rotated out before.
		_, secret3, err := acc.RotateOIDCClientSecret(e.ctx, e.ta, app, 600)
		if err != nil {
			t.Fatal(err)
		}
		rot4, secret4, err := acc.RotateOIDCClientSecret(e.ctx, e.ta, app, 0)
		if err != nil || !rot4.PreviousSecretExpires.IsZero() {
			t.Fatalf("rotation without grace: %+v %v", rot4, err)
		}
		for _, s := range []string{secret, secret2, secret3} {
			if err := check(e.ta.Tenant, c.ClientID, s); !errors.Is(err, access.ErrOIDCClientAuth) {
				t.Errorf("a rotated-out secret: %v", err)
			}
		}
		if err := check(e.ta.Tenant, c.ClientID, secret4); err != nil {
			t.Errorf("the newest secret: %v", err)
		}

		before := e.fingerprint(t)
		for _, n := range []int{-1, access.MaxSecretOverlapSeconds + 1} {
			if _, _, err := acc.RotateOIDCClientSecret(e.ctx, e.ta, app, n); !hasField(err, "previous_secret_valid_seconds") {
				t.Errorf("grace of %d s: %v", n, err)
			}
		}
		if _, _, err := acc.RotateOIDCClientSecret(e.ctx, tenant.Scope{Tenant: e.ta.Tenant, Org: "org_x"}, app, 0); !errors.Is(err, errkind.Denied) {
			t.Errorf("organization scope: %v", err)
		}
		if _, _, err := acc.RotateOIDCClientSecret(e.ctx, e.tb, app, 0); !errors.Is(err, access.ErrAppNotFound) {
			t.Errorf("another tenant: %v", err)
		}
		if e.fingerprint(t) != before {
			t.Errorf("refused rotations changed the database")
		}
		if _, _, err := acc.RotateOIDCClientSecret(e.ctx, e.ta, app, access.MaxSecretOverlapSeconds); err != nil {
			t.Errorf("a 7-day grace period: %v", err)
		}

		// A client that authenticates with private_key_jwt has no use for a
		// secret: the one it was given is refused.
		pkj := goodConfidential()
		pkj.TokenEndpointAuthMethod, pkj.JWKS = access.AuthPrivateKeyJWT, jwksOf(nil, "rsa")
		other := e.app(t, e.ta, access.KindOIDC)
		oc, osecret, err := acc.CreateOIDCClient(e.ctx, e.ta, other, pkj)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := acc.CheckOIDCClientSecret(e.ctx, e.ta.Tenant, oc.ClientID, osecret); !errors.Is(err, access.ErrOIDCClientAuth) {
			t.Errorf("the secret of a private_key_jwt client: %v", err)
		}

		// The audit log says what happened, never which secret.
		for _, ev := range oidcEvents(t, db, e.ta.Tenant) {
			for _, s := range []string{secret, secret2, secret3, secret4, osecret} {
				if strings.Contains(ev, s) {
					t.Errorf("an audit event carries a secret: %s", ev)
				}
			}
			if strings.HasPrefix(ev, "application.oidc_client_secret_rotated") && !strings.Contains(ev, `"previous_secret_valid_seconds"`) {
				t.Errorf("rotation event: %s", ev)
			}
		}
	})
}

func TestOIDCClientRefusals(t *testing.T) {
	keys := func(edit func(i int, k map[string]any), names ...string) func(c *access.OIDCClient) {
		return func(c *access.OIDCClient) {
			c.TokenEndpointAuthMethod, c.JWKS = access.AuthPrivateKeyJWT, jwksOf(edit, names...)
		}
	}
	cases := []struct {
		name   string
		public bool
		field  string
		edit   func(c *access.OIDCClient)
	}{
		{"unknown client type", false, "client_type", func(c *access.OIDCClient) { c.Type = "hybrid" }},
		// Redirect URIs.
		{"redirect URI with a fragment", false, "redirect_uris.0", func(c *access.OIDCClient) { c.RedirectURIs[0] = "https://app.example/callback#x" }},
		{"javascript: redirect URI", false, "redirect_uris.1", func(c *access.OIDCClient) { c.RedirectURIs[1] = "javascript:alert(document.domain)" }},
		{"JavaScript: redirect URI, mixed case", false, "redirect_uris.0", func(c *access.OIDCClient) { c.RedirectURIs[0] = "JaVaScRiPt://app.example/%0aalert(1)" }},
		{"javascript: redirect URI of a public client", true, "redirect_uris.0", func(c *access.OIDCClient) { c.RedirectURIs[0] = "javascript:alert(1)" }},
		{"data: redirect URI", true, "redirect_uris.0", func(c *access.OIDCClient) { c.RedirectURIs[0] = "data:text/html,<script>alert(1)</script>" }},
		{"http redirect URI off loopback", false, "redirect_uris.0", func(c *access.OIDCClient) { c.RedirectURIs[0] = "http://app.example/callback" }},
		{"http 127.0.0.2", true, "redirect_uris.1", func(c *access.OIDCClient) { c.RedirectURIs[1] = "http://127.0.0.2:8080/cb" }},
		{"http localhost as a subdomain", false, "redirect_uris.0", func(c *access.OIDCClient) { c.RedirectURIs[0] = "http://localhost.evil.example/cb" }},
		{"http loopback as user info", false, "redirect_uris.0", func(c *access.OIDCClient) { c.RedirectURIs[0] = "http://127.0.0.1@evil.example/cb" }},
		{"wildcard path (prefix only)", false, "redirect_uris.0", func(c *access.OIDCClient) { c.RedirectURIs[0] = "https://app.example/*" }},
		{"wildcard host", false, "redirect_uris.0", func(c *access.OIDCClient) { c.RedirectURIs[0] = "https://*.app.example/callback" }},
		{"user info", false, "redirect_uris.0", func(c *access.OIDCClient) { c.RedirectURIs[0] = "https://app.example@evil.example/callback" }},
		{"relative redirect URI", false, "redirect_uris.0", func(c *access.OIDCClient) { c.RedirectURIs[0] = "/callback" }},
		{"scheme-relative redirect URI", false, "redirect_uris.0", func(c *access.OIDCClient) { c.RedirectURIs[0] = "//evil.example/callback" }},
		{"backslash", false, "redirect_uris.0", func(c *access.OIDCClient) { c.RedirectURIs[0] = `https://app.example\@evil.example/` }},
		{"newline", false, "redirect_uris.0", func(c *access.OIDCClient) { c.RedirectURIs[0] = "https://app.example/callback\n" }},
		{"no host", false, "redirect_uris.0", func(c *access.OIDCClient) { c.RedirectURIs[0] = "https:///callback" }},
		{"private-use scheme of a confidential client", false, "redirect_uris.0", func(c *access.OIDCClient) { c.RedirectURIs[0] = "com.example.app:/cb" }},
		{"private-use scheme without a dot", true, "redirect_uris.0", func(c *access.OIDCClient) { c.RedirectURIs[0] = "myapp:/callback" }},
		{"private-use scheme, opaque", true, "redirect_uris.0", func(c *access.OIDCClient) { c.RedirectURIs[0] = "com.example.app:callback" }},
		{"too long", false, "redirect_uris.0", func(c *access.OIDCClient) { c.RedirectURIs[0] = "https://app.example/" + strings.Repeat("a", 2048) }},
		{"duplicate redirect URI", false, "redirect_uris.1", func(c *access.OIDCClient) { c.RedirectURIs[1] = c.RedirectURIs[0] }},
		{"21 redirect URIs", false, "redirect_uris", func(c *access.OIDCClient) {
			c.RedirectURIs = nil
			for i := range 21 {
				c.RedirectURIs = append(c.RedirectURIs, fmt.Sprintf("https://app.example/cb%d", i))
			}
		}},
		{"code grant without redirect URIs", false, "redirect_uris", func(c *access.OIDCClient) { c.RedirectURIs = nil }},
		{"post-logout URI with a fragment", false, "post_logout_redirect_uris.0", func(c *access.OIDCClient) { c.PostLogoutRedirectURIs[0] = "https://app.example/#bye" }},
		{"javascript: post-logout URI", true, "post_logout_redirect_uris.0", func(c *access.OIDCClient) { c.PostLogoutRedirectURIs[0] = "javascript:alert(1)" }},
		// Grants, scopes, authentication.
		{"public client with client_credentials", true, "grant_types.2", func(c *access.OIDCClient) {
			c.GrantTypes = append(c.GrantTypes, access.GrantClientCredentials)
		}},
		{"unknown grant", false, "grant_types.1", func(c *access.OIDCClient) { c.GrantTypes[1] = "password" }},
		{"implicit grant", false, "grant_types.0", func(c *access.OIDCClient) { c.GrantTypes[0] = "implicit" }},
		{"duplicate grant", false, "grant_types.1", func(c *access.OIDCClient) { c.GrantTypes[1] = access.GrantAuthorizationCode }},
		{"no grant", false, "grant_types", func(c *access.OIDCClient) { c.GrantTypes = nil }},
		{"refresh_token without authorization_code", false, "grant_types", func(c *access.OIDCClient) {
			c.GrantTypes = []string{access.GrantRefreshToken, access.GrantClientCredentials}
		}},
		{"offline_access without refresh_token", false, "scopes.5", func(c *access.OIDCClient) {
			c.GrantTypes = []string{access.GrantAuthorizationCode}
		}},
		{"scope with a space", false, "scopes.6", func(c *access.OIDCClient) { c.Scopes[6] = "api read" }},
		{"scope with a quote", false, "scopes.6", func(c *access.OIDCClient) { c.Scopes[6] = `api"read` }},
		{"duplicate scope", false, "scopes.1", func(c *access.OIDCClient) { c.Scopes[1] = "openid" }},
		{"public client with client_secret_basic", true, "token_endpoint_auth_method", func(c *access.OIDCClient) {
			c.TokenEndpointAuthMethod = access.AuthClientSecretBasic
		}},
		{"public client with private_key_jwt", true, "token_endpoint_auth_method", func(c *access.OIDCClient) {
			c.TokenEndpointAuthMethod = access.AuthPrivateKeyJWT
		}},
		{"confidential client with none", false, "token_endpoint_auth_method", func(c *access.OIDCClient) { c.TokenEndpointAuthMethod = access.AuthNone }},
		{"unknown method", false, "token_endpoint_auth_method", func(c *access.OIDCClient) { c.TokenEndpointAuthMethod = "client_secret_jwt" }},
		{"public client without PKCE", true, "require_pkce", func(c *access.OIDCClient) { c.RequirePKCE = false }},
		// Keys.
		{"private_key_jwt without keys", false, "jwks", func(c *access.OIDCClient) { c.TokenEndpointAuthMethod = access.AuthPrivateKeyJWT }},
		{"jwks and jwks_uri", false, "jwks_uri", func(c *access.OIDCClient) {
			keys(nil, "rsa")(c)
			c.JWKSURI = "https://app.example/jwks.json"
		}},
		{"jwks with a private key", false, "jwks.keys.0", keys(nil, "rsa-private")},
		{"jwks with a private key second", false, "jwks.keys.1", keys(func(i int, k map[string]any) { k["kid"] = fmt.Sprint(i) }, "ec", "rsa-private")},
		{"jwks with a 1024-bit RSA key", false, "jwks.keys.0.n", keys(nil, "rsa1024")},
		{"jwks with exponent 1", false, "jwks.keys.0.e", keys(nil, "rsa-e1")},
		{"jwks with a P-384 key", false, "jwks.keys.0.crv", keys(nil, "p384")},
		{"jwks with a point off the curve", false, "jwks.keys.0", keys(nil, "off-curve")},
		{"jwks with a symmetric key", false, "jwks.keys.0", keys(nil, "oct")},
		{"jwks with an encryption key", false, "jwks.keys.0.use", keys(func(_ int, k map[string]any) { k["use"] = "enc" }, "rsa")},
		{"jwks declaring HS256", false, "jwks.keys.0.alg", keys(func(_ int, k map[string]any) { k["alg"] = "HS256" }, "rsa")},
		{"jwks declaring none", false, "jwks.keys.0.alg", keys(func(_ int, k map[string]any) { k["alg"] = "none" }, "ec")},
		{"jwks with a duplicate kid", false, "jwks.keys.1.kid", keys(func(_ int, k map[string]any) { k["kid"] = "same" }, "rsa", "ec")},
		{"jwks with no kty", false, "jwks.keys.0.kty", keys(func(_ int, k map[string]any) { delete(k, "kty") }, "rsa")},
		{"a bare JWK, not a set", false, "jwks.keys", func(c *access.OIDCClient) {
			b, _ := json.Marshal(oidcJWKs()["rsa"])
			c.TokenEndpointAuthMethod, c.JWKS = access.AuthPrivateKeyJWT, string(b)
		}},
		{"jwks that is not JSON", false, "jwks", func(c *access.OIDCClient) { c.TokenEndpointAuthMethod, c.JWKS = access.AuthPrivateKeyJWT, "{keys:" }},
		{"jwks with an empty set", false, "jwks.keys", func(c *access.OIDCClient) {
			c.TokenEndpointAuthMethod, c.JWKS = access.AuthPrivateKeyJWT, `{"keys":[]}`
		}},
		{"jwks for a secret client", false, "jwks", func(c *access.OIDCClient) { c.JWKS = jwksOf(nil, "rsa") }},
		{"http jwks_uri", false, "jwks_uri", func(c *access.OIDCClient) {
			c.TokenEndpointAuthMethod, c.JWKSURI = access.AuthPrivateKeyJWT, "http://app.example/jwks.json"
		}},
		{"jwks_uri at the metadata address", false, "jwks_uri", func(c *access.OIDCClient) {
			c.TokenEndpointAuthMethod, c.JWKSURI = access.AuthPrivateKeyJWT, "https://169.254.169.254/latest/meta-data"
		}},
		{"jwks_uri on localhost", false, "jwks_uri", func(c *access.OIDCClient) {
			c.TokenEndpointAuthMethod, c.JWKSURI = access.AuthPrivateKeyJWT, "https://localhost:8443/jwks"
		}},
		// Tokens.
		{"unknown token format", false, "access_token_format", func(c *access.OIDCClient) { c.AccessTokenFormat = "jwe" }},
		{"access token under 60 s", false, "access_token_lifetime_seconds", func(c *access.OIDCClient) { c.AccessTokenLifetimeSeconds = 59 }},
		{"access token over a day", false, "access_token_lifetime_seconds", func(c *access.OIDCClient) { c.AccessTokenLifetimeSeconds = 86401 }},
		{"negative refresh token lifetime", false, "refresh_token_lifetime_seconds", func(c *access.OIDCClient) { c.RefreshTokenLifetimeSeconds = -1 }},
		{"refresh token over 90 days", false, "refresh_token_lifetime_seconds", func(c *access.OIDCClient) { c.RefreshTokenLifetimeSeconds = 90*86400 + 1 }},
		{"ID token under 60 s", false, "id_token_lifetime_seconds", func(c *access.OIDCClient) { c.IDTokenLifetimeSeconds = 59 }},
		{"ID token over an hour", false, "id_token_lifetime_seconds", func(c *access.OIDCClient) { c.IDTokenLifetimeSeconds = 3601 }},
		{"http back-channel logout", false, "backchannel_logout_uri", func(c *access.OIDCClient) { c.BackChannelLogoutURI = "http://app.example/bcl" }},
		{"back-channel logout to a private address", false, "backchannel_logout_uri", func(c *access.OIDCClient) { c.BackChannelLogoutURI = "https://10.0.0.8/bcl" }},
		{"back-channel logout with a fragment", false, "backchannel_logout_uri", func(c *access.OIDCClient) { c.BackChannelLogoutURI = "https://app.example/bcl#x" }},
		{"session required without a back-channel URI", false, "backchannel_logout_session_required", func(c *access.OIDCClient) {
			c.BackChannelLogoutURI = ""
		}},
		// Profile claims.
		{"profile claim overriding sub", false, "profile_claims.0", func(c *access.OIDCClient) { c.ProfileClaims = []string{"sub"} }},
		{"profile claim overriding email", false, "profile_claims.1", func(c *access.OIDCClient) { c.ProfileClaims = []string{"employee_number", "email"} }},
		{"profile claim not an attribute name", false, "profile_claims.0", func(c *access.OIDCClient) { c.ProfileClaims = []string{"Employee-Number"} }},
		{"undeclared profile claim", false, "profile_claims.0", func(c *access.OIDCClient) { c.ProfileClaims = []string{"badge"} }},
		{"duplicate profile claim", false, "profile_claims.1", func(c *access.OIDCClient) { c.ProfileClaims = []string{"employee_number", "employee_number"} }},
		{"profile claims without the profile scope", true, "profile_claims", func(c *access.OIDCClient) { c.ProfileClaims = []string{"employee_number"} }},
	}
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newSAMLEnv(t, db)
		acc := e.srv.Access
		if err := e.srv.Users.SetProfileSchema(e.ctx, e.ta, user.Schema{Attributes: []user.AttributeDef{
			{Name: "employee_number", Type: user.TypeString}, {Name: "email", Type: user.TypeString}}}); err != nil {
			t.Fatal(err)
		}
		existing := map[bool]access.AppID{false: e.app(t, e.ta, access.KindOIDC), true: e.app(t, e.ta, access.KindOIDC)}
		for public, app := range existing {
			cfg := goodConfidential()
			if public {
				cfg = goodPublic()
			}
			if _, _, err := acc.CreateOIDCClient(e.ctx, e.ta, app, cfg); err != nil {
				t.Fatal(err)
			}
		}
		fresh := e.app(t, e.ta, access.KindOIDC)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				for _, update := range []bool{false, true} {
					cfg := goodConfidential()
					if c.public {
						cfg = goodPublic()
					}
					c.edit(&cfg)
					before := e.fingerprint(t)
					var err error
					if update {
						_, err = acc.UpdateOIDCClient(e.ctx, e.ta, existing[c.public], cfg, 0)
					} else {
						_, _, err = acc.CreateOIDCClient(e.ctx, e.ta, fresh, cfg)
					}
					if !errors.Is(err, errkind.Invalid) || !hasField(err, c.field) {
						t.Errorf("update %v: err = %v, want a field error on %s", update, err, c.field)
					}
					if e.fingerprint(t) != before {
						t.Errorf("update %v: a refused configuration changed the database", update)
					}
				}
			})
		}
		// What the refusals guard is otherwise fine.
		ok := goodConfidential()
		ok.TokenEndpointAuthMethod = access.AuthPrivateKeyJWT
		ok.JWKS = jwksOf(func(i int, k map[string]any) { k["kid"] = fmt.Sprint("k", i) }, "rsa", "ec")
		ok.ProfileClaims = []string{"employee_number"}
		ok.RefreshTokenLifetimeSeconds, ok.AccessTokenLifetimeSeconds, ok.IDTokenLifetimeSeconds = 90*86400, 86400, 60
		ok.RedirectURIs = append(ok.RedirectURIs, "http://localhost/cb", "http://[::1]:1/cb", "https://app.example:8443/x?y=z")
		if _, _, err := acc.CreateOIDCClient(e.ctx, e.ta, fresh, ok); err != nil {
			t.Errorf("allowed configuration refused: %v", err)
		}
		ok2 := goodConfidential()
		ok2.TokenEndpointAuthMethod, ok2.JWKSURI = access.AuthPrivateKeyJWT, "https://app.example/.well-known/jwks.json"
		if _, err := acc.UpdateOIDCClient(e.ctx, e.ta, existing[false], ok2, 0); err != nil {
			t.Errorf("jwks_uri refused: %v", err)
		}
	})
}

func TestOIDCClientRules(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newSAMLEnv(t, db)
		acc := e.srv.Access
		a1 := e.app(t, e.ta, access.KindOIDC)
		samlApp := e.app(t, e.ta, access.KindSAML)
		b1 := e.app(t, e.tb, access.KindOIDC)
		org := tenant.Scope{Tenant: e.ta.Tenant, Org: "org_x"}

		before := e.fingerprint(t)
		if _, _, err := acc.CreateOIDCClient(e.ctx, e.ta, samlApp, goodConfidential()); !errors.Is(err, access.ErrNotOIDCApp) || !errors.Is(err, errkind.Invalid) {
			t.Errorf("saml application: %v", err)
		}
		if _, _, err := acc.CreateOIDCClient(e.ctx, e.ta, "app_missing", goodConfidential()); !errors.Is(err, access.ErrAppNotFound) {
			t.Errorf("missing application: %v", err)
		}
		if _, _, err := acc.CreateOIDCClient(e.ctx, e.ta, b1, goodConfidential()); !errors.Is(err, access.ErrAppNotFound) {
			t.Errorf("another tenant's application: %v", err)
		}
		if _, _, err := acc.CreateOIDCClient(e.ctx, org, a1, goodConfidential()); !errors.Is(err, errkind.Denied) {
			t.Errorf("organization scope: %v", err)
		}
		if _, err := acc.UpdateOIDCClient(e.ctx, e.ta, a1, goodConfidential(), 0); !errors.Is(err, access.ErrOIDCNotConfigured) {
			t.Errorf("update before create: %v", err)
		}
		if e.fingerprint(t) != before {
			t.Errorf("refused creations changed the database")
		}

		c, secret, err := acc.CreateOIDCClient(e.ctx, e.ta, a1, goodConfidential())
		if err != nil {
			t.Fatal(err)
		}
		before = e.fingerprint(t)
		if _, _, err := acc.CreateOIDCClient(e.ctx, e.ta, a1, goodPublic()); !errors.Is(err, access.ErrOIDCClientExists) || !errors.Is(err, errkind.Conflict) {
			t.Errorf("a second client: %v", err)
		}
		if _, err := acc.UpdateOIDCClient(e.ctx, e.ta, a1, goodPublic(), 0); !hasField(err, "client_type") {
			t.Errorf("a type change: %v", err)
		}
		if _, err := acc.UpdateOIDCClient(e.ctx, org, a1, goodConfidential(), 0); !errors.Is(err, errkind.Denied) {
			t.Errorf("organization scope update: %v", err)
		}
		if err := acc.DeleteOIDCClient(e.ctx, org, a1); !errors.Is(err, errkind.Denied) {
			t.Errorf("organization scope delete: %v", err)
		}
		if err := acc.DeleteOIDCClient(e.ctx, e.tb, a1); !errors.Is(err, access.ErrAppNotFound) {
			t.Errorf("another tenant's delete: %v", err)
		}
		if _, err := acc.OIDCClient(e.ctx, e.tb, a1); !errors.Is(err, access.ErrAppNotFound) {
			t.Errorf("another tenant's read: %v", err)
		}
		if e.fingerprint(t) != before {
			t.Errorf("refused changes changed the database")
		}

		app, got, err := acc.OIDCClientByID(e.ctx, e.ta.Tenant, c.ClientID)
		if err != nil || app.ID != a1 || got.ClientID != c.ClientID || got.SecretDigest != "" {
			t.Fatalf("lookup: %v %+v %v", app, got, err)
		}
		for _, miss := range []struct {
			ten tenant.ID
			id  string
		}{{e.tb.Tenant, c.ClientID}, {e.ta.Tenant, strings.ToUpper(c.ClientID)}, {e.ta.Tenant, c.ClientID + "x"},
			{e.ta.Tenant, ""}, {e.ta.Tenant, "cli_01jd0000000000000000000000"}, {e.ta.Tenant, string(a1)}} {
			if _, _, err := acc.OIDCClientByID(e.ctx, miss.ten, miss.id); !errors.Is(err, access.ErrUnknownOIDCClient) {
				t.Errorf("lookup of %q in %s: %v", miss.id, miss.ten, err)
			}
		}

		// Deleting the application deletes its client.
		if err := acc.DeleteApplication(e.ctx, e.ta, a1); err != nil {
			t.Fatal(err)
		}
		if _, err := db.OIDCClient(e.ctx, e.ta.Tenant, a1); !errors.Is(err, access.ErrOIDCNotConfigured) {
			t.Errorf("the client outlived its application: %v", err)
		}
		if _, _, err := acc.OIDCClientByID(e.ctx, e.ta.Tenant, c.ClientID); !errors.Is(err, access.ErrUnknownOIDCClient) {
			t.Errorf("lookup after the application was deleted: %v", err)
		}
		if _, _, err := acc.CheckOIDCClientSecret(e.ctx, e.ta.Tenant, c.ClientID, secret); !errors.Is(err, access.ErrOIDCClientAuth) {
			t.Errorf("secret after the application was deleted: %v", err)
		}
	})
}

func TestOIDCRedirectURIMatching(t *testing.T) {
	c := goodPublic()
	c.RedirectURIs = []string{"https://app.example/callback", "com.example.app:/oauth2redirect", "http://127.0.0.1:8400/cb?x=1",
		"http://[::1]/cb", "http://localhost:3000/cb"}
	c.PostLogoutRedirectURIs = []string{"https://app.example/"}
	for uri, want := range map[string]bool{
		"https://app.example/callback":          true,
		"https://app.example/callback/":         false, // trailing slash
		"https://app.example/callbackx":         false, // the registered URI as a prefix
		"https://app.example/callback/../evil":  false,
		"https://app.example/callback?x=1":      false, // extra query
		"https://app.example/callback#frag":     false,
		"https://APP.example/callback":          false, // case
		"https://app.example:443/callback":      false, // port spelled out
		"https://app.example/%63allback":        false,
		"https://app.example.evil/callback":     false,
		"https://app.example@evil.example/cb":   false,
		"com.example.app:/oauth2redirect":       true,
		"com.example.app:/oauth2redirect/x":     false,
		"http://127.0.0.1:8400/cb?x=1":          true,
		"http://127.0.0.1:51234/cb?x=1":         true, // any loopback port (RFC 8252 §7.3)
		"http://127.0.0.1/cb?x=1":               true,
		"http://127.0.0.1:51234/cb":             false, // the query differs
		"http://127.0.0.1:51234/cb?x=1#f":       false,
		"http://127.0.0.1:51234/cb/?x=1":        false,
		"http://127.0.0.1:5x/cb?x=1":            false,
		"http://user@127.0.0.1:51234/cb?x=1":    false,
		"http://[::1]:9000/cb":                  true,
		"http://127.0.0.1:9000/cb":              false, // another loopback host
		"http://localhost:4000/cb":              true,
		"http://localhost.evil.example:3000/cb": false,
		"https://127.0.0.1:8400/cb?x=1":         false,
		"":                                      false,
	} {
		if got := c.RedirectURIAllowed(uri); got != want {
			t.Errorf("RedirectURIAllowed(%q) = %v, want %v", uri, got, want)
		}
	}
	if !c.PostLogoutRedirectURIAllowed("https://app.example/") || c.PostLogoutRedirectURIAllowed("https://app.example/callback") ||
		c.PostLogoutRedirectURIAllowed("https://app.example") {
		t.Errorf("post-logout matching")
	}
}

// TestOIDCClientJWKSNormalised: a JWK Set is kept re-encoded, so what is
// stored is what every JSON reader sees.
func TestOIDCClientJWKSNormalised(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newSAMLEnv(t, db)
		app := e.app(t, e.ta, access.KindOIDC)
		rsaKey := oidcJWKs()["rsa"]
		raw := fmt.Sprintf(`{ "keys" : [ {"kty":"RSA", "n":%q, "e":%q, "kid":"a", "kid":"b", "x5t#S256":"abc"} ] }`, rsaKey["n"], rsaKey["e"])
		cfg := goodConfidential()
		cfg.TokenEndpointAuthMethod, cfg.JWKS = access.AuthPrivateKeyJWT, raw
		c, _, err := e.srv.Access.CreateOIDCClient(e.ctx, e.ta, app, cfg)
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf(`{"keys":[{"e":%q,"kid":"b","kty":"RSA","n":%q,"x5t#S256":"abc"}]}`, rsaKey["e"], rsaKey["n"])
		if c.JWKS != want {
			t.Errorf("stored\n%s\nwant\n%s", c.JWKS, want)
		}
		read, err := e.srv.Access.OIDCClient(e.ctx, e.ta, app)
		if err != nil || read.JWKS != want {
			t.Errorf("read back %q %v", read.JWKS, err)
		}
		// Sending the normalised set again is no change.
		cfg.JWKS = want
		if again, err := e.srv.Access.UpdateOIDCClient(e.ctx, e.ta, app, cfg, 0); err != nil || again.Version != 1 {
			t.Errorf("same keys again: %+v %v", again, err)
		}
	})
}
