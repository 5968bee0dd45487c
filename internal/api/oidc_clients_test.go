package api_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/apitoken"
	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/id"
	"github.com/tessera-iam/tessera/internal/store"
	"github.com/tessera-iam/tessera/internal/testkit"
)

// oidcTestKeys are JWK Sets made once per test binary: "good" holds one
// RSA-2048 public key, "private" the same key with its private exponent,
// "rsa1024" a key too short.
var oidcTestKeys = sync.OnceValue(func() map[string]map[string]any {
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	k2048, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	k1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		panic(err)
	}
	jwk := func(k *rsa.PrivateKey) map[string]any {
		return map[string]any{"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256", "n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
	}
	private := jwk(k2048)
	private["d"] = b64(k2048.D.Bytes())
	set := func(k map[string]any) map[string]any { return map[string]any{"keys": []any{k}} }
	return map[string]map[string]any{"good": set(jwk(k2048)), "private": set(private), "rsa1024": set(jwk(k1024))}
})

// oidcBody is a complete, valid body for a confidential client.
func oidcBody() map[string]any {
	return map[string]any{
		"client_type":                         "confidential",
		"redirect_uris":                       []any{"https://crm.example/oidc/callback", "http://127.0.0.1:8400/callback"},
		"post_logout_redirect_uris":           []any{"https://crm.example/"},
		"grant_types":                         []any{"authorization_code", "refresh_token", "client_credentials"},
		"scopes":                              []any{"openid", "profile", "email", "groups", "offline_access", "crm:read"},
		"token_endpoint_auth_method":          "client_secret_post",
		"require_pkce":                        false,
		"jwks":                                nil,
		"jwks_uri":                            "",
		"access_token_format":                 "opaque",
		"id_token_signed_response_alg":        "ES256",
		"access_token_lifetime_seconds":       600.0,
		"refresh_token_lifetime_seconds":      86400.0,
		"id_token_lifetime_seconds":           120.0,
		"require_consent":                     true,
		"backchannel_logout_uri":              "https://crm.example/oidc/logout",
		"backchannel_logout_session_required": true,
		"profile_claims":                      []any{},
	}
}

// oidcPublicBody is a valid body for a public native client.
func oidcPublicBody() map[string]any {
	return map[string]any{"client_type": "public", "redirect_uris": []any{"com.example.crm:/callback", "http://[::1]/callback"},
		"grant_types": []any{"authorization_code"}, "token_endpoint_auth_method": "none"}
}

func oidcPath(app string) string { return "/api/v1/applications/" + app + "/oidc" }

// oidcRawCells returns every cell of every table of the database as text.
func oidcRawCells(t *testing.T, db *store.DB, raw *sql.DB) []string {
	t.Helper()
	q := `SELECT name FROM sqlite_master WHERE type = 'table'`
	if db.Dialect() == store.Postgres {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	}
	rows, err := raw.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	rows.Close()
	if !slices.Contains(tables, "oidc_clients") {
		t.Fatalf("no oidc_clients table among %v", tables)
	}
	var cells []string
	for _, table := range tables {
		rows, err := raw.Query(`SELECT * FROM "` + table + `"`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				if b, ok := v.([]byte); ok {
					v = string(b)
				}
				cells = append(cells, table+": "+fmt.Sprint(v))
			}
		}
		rows.Close()
	}
	return cells
}

func TestOIDCClientAPIRoundTrip(t *testing.T) {
	testkit.EachRawDB(t, func(t *testing.T, db *store.DB, raw *sql.DB) {
		e := testkit.NewServer(t, db)
		app := samlNewApp(t, e, "CRM", "oidc")
		samlWant(t, e.Do(t, http.MethodGet, oidcPath(app), e.AdminToken, nil), http.StatusNotFound)

		body := oidcBody()
		created := e.Do(t, http.MethodPost, oidcPath(app), e.AdminToken, body)
		samlWant(t, created, http.StatusCreated)
		if created.Header.Get("ETag") != `"1"` || created.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("headers %v", created.Header)
		}
		c := created.JSON(t)
		secret, _ := c["client_secret"].(string)
		clientID, _ := c["client_id"].(string)
		if len(secret) != 43 || !id.Valid("cli", clientID) || c["application_id"] != app || c["version"] != 1.0 ||
			c["previous_secret_expires_at"] != nil {
			t.Fatalf("created: %s", created.Body)
		}

		get := e.Do(t, http.MethodGet, oidcPath(app), e.AdminToken, nil)
		samlWant(t, get, http.StatusOK)
		if strings.Contains(string(get.Body), secret) || strings.Contains(string(get.Body), `"client_secret":`) {
			t.Errorf("GET shows the secret: %s", get.Body)
		}
		got := get.JSON(t)
		delete(c, "client_secret")
		if !reflect.DeepEqual(got, c) {
			t.Errorf("GET\n%s\ndiffers from the created answer\n%s", get.Body, mustMarshal(t, c))
		}
		for _, k := range []string{"application_id", "client_id", "version", "created_at", "updated_at", "previous_secret_expires_at"} {
			delete(got, k)
		}
		if want := samlClone(t, body); !reflect.DeepEqual(got, want) {
			t.Errorf("read back\n%s\nwant\n%s", mustMarshal(t, got), mustMarshal(t, want))
		}
		ctx := context.Background()
		ta := uTenantID(t, e)
		if _, _, err := e.Server.Access.CheckOIDCClientSecret(ctx, ta, clientID, secret); err != nil {
			t.Errorf("the secret shown does not authenticate: %v", err)
		}

		// Only one client per application; retrying the create is refused.
		e.Unchanged(t, func() {
			res := e.Do(t, http.MethodPost, oidcPath(app), e.AdminToken, body)
			samlWant(t, res, http.StatusConflict)
			if strings.Contains(string(res.Body), `"client_secret":`) {
				t.Errorf("the conflict answer: %s", res.Body)
			}
		})

		// PUT replaces the settings; members left out take their defaults.
		minimal := e.Do(t, http.MethodPut, oidcPath(app), e.AdminToken, map[string]any{"redirect_uris": []any{"https://crm.example/cb"}},
			"If-Match", `"1"`)
		samlWant(t, minimal, http.StatusOK)
		m := minimal.JSON(t)
		for k, want := range map[string]any{"version": 2.0, "client_id": clientID, "client_type": "confidential",
			"grant_types": []any{"authorization_code"}, "scopes": []any{"openid", "profile", "email"},
			"token_endpoint_auth_method": "client_secret_basic", "require_pkce": true, "jwks": nil, "jwks_uri": "",
			"access_token_format": "jwt", "id_token_signed_response_alg": "RS256", "access_token_lifetime_seconds": 900.0, "refresh_token_lifetime_seconds": 2592000.0,
			"id_token_lifetime_seconds": 300.0, "require_consent": false, "backchannel_logout_uri": "",
			"backchannel_logout_session_required": false, "profile_claims": []any{}, "post_logout_redirect_uris": []any{}} {
			if !reflect.DeepEqual(m[k], want) {
				t.Errorf("default %s = %v, want %v", k, m[k], want)
			}
		}
		if _, ok := m["client_secret"]; ok {
			t.Errorf("PUT answers a secret: %s", minimal.Body)
		}
		if _, _, err := e.Server.Access.CheckOIDCClientSecret(ctx, ta, clientID, secret); err != nil {
			t.Errorf("the secret after a PUT: %v", err)
		}
		// The same body twice: one version; a stale If-Match is refused.
		v := e.Do(t, http.MethodPut, oidcPath(app), e.AdminToken, body)
		again := e.Do(t, http.MethodPut, oidcPath(app), e.AdminToken, body)
		if v.Header.Get("ETag") != `"3"` || again.Header.Get("ETag") != `"3"` {
			t.Errorf("ETags %s then %s, want \"3\" twice", v.Header.Get("ETag"), again.Header.Get("ETag"))
		}
		e.Unchanged(t, func() {
			samlWant(t, e.Do(t, http.MethodPut, oidcPath(app), e.AdminToken, oidcBody(), "If-Match", `"2"`), http.StatusPreconditionFailed)
		})

		// Rotation with a grace period answers the new secret once; both work.
		rot := e.Do(t, http.MethodPost, oidcPath(app)+"/secret", e.AdminToken, map[string]any{"previous_secret_valid_seconds": 3600})
		samlWant(t, rot, http.StatusOK)
		r := rot.JSON(t)
		secret2, _ := r["client_secret"].(string)
		until, err := time.Parse(time.RFC3339Nano, fmt.Sprint(r["previous_secret_expires_at"]))
		if len(secret2) != 43 || secret2 == secret || r["client_id"] != clientID || r["version"] != 4.0 || err != nil ||
			until.Before(time.Now().Add(59*time.Minute)) || rot.Header.Get("ETag") != `"4"` {
			t.Fatalf("rotated: %s", rot.Body)
		}
		for _, s := range []string{secret, secret2} {
			if _, _, err := e.Server.Access.CheckOIDCClientSecret(ctx, ta, clientID, s); err != nil {
				t.Errorf("during the grace period: %v", err)
			}
		}
		if g := e.Do(t, http.MethodGet, oidcPath(app), e.AdminToken, nil); strings.Contains(string(g.Body), secret2) ||
			g.JSON(t)["previous_secret_expires_at"] != r["previous_secret_expires_at"] {
			t.Errorf("GET after the rotation: %s", g.Body)
		}
		samlWant(t, e.Do(t, http.MethodPost, oidcPath(app)+"/secret", e.AdminToken, map[string]any{}), http.StatusOK)
		for _, s := range []string{secret, secret2} {
			if _, _, err := e.Server.Access.CheckOIDCClientSecret(ctx, ta, clientID, s); !errors.Is(err, access.ErrOIDCClientAuth) {
				t.Errorf("a secret rotated out without grace: %v", err)
			}
		}

		// A public client has no secret.
		mobile := samlNewApp(t, e, "CRM mobile", "oidc")
		pub := e.Do(t, http.MethodPost, oidcPath(mobile), e.AdminToken, oidcPublicBody())
		samlWant(t, pub, http.StatusCreated)
		if p := pub.JSON(t); p["client_secret"] != nil || p["token_endpoint_auth_method"] != "none" || p["require_pkce"] != true {
			t.Errorf("public client: %s", pub.Body)
		}
		e.Unchanged(t, func() {
			res := e.Do(t, http.MethodPost, oidcPath(mobile)+"/secret", e.AdminToken, map[string]any{})
			samlWant(t, res, http.StatusBadRequest)
			if !strings.Contains(string(res.Body), "public client") {
				t.Errorf("rotating a public client: %s", res.Body)
			}
		})

		// No secret is anywhere in the database, in plain text or base64url.
		var digest string
		if err := raw.QueryRow(`SELECT secret_digest FROM oidc_clients WHERE client_id = $1`, clientID).Scan(&digest); err != nil {
			t.Fatal(err)
		}
		if digest == "" {
			t.Fatalf("no digest stored")
		}
		for _, cell := range oidcRawCells(t, db, raw) {
			for _, s := range []string{secret, secret2} {
				if strings.Contains(cell, s) {
					t.Errorf("a secret is stored: %.200s", cell)
				}
			}
		}

		// The audit log records each change, never a secret or a digest.
		ev := e.Do(t, http.MethodGet, "/api/v1/audit/events?action=application.&limit=100", e.AdminToken, nil)
		samlWant(t, ev, http.StatusOK)
		for _, action := range []string{"created", "updated", "secret_rotated"} {
			if !strings.Contains(string(ev.Body), `"application.oidc_client_`+action+`"`) {
				t.Errorf("no application.oidc_client_%s event: %s", action, ev.Body)
			}
		}
		for _, s := range []string{secret, secret2, digest} {
			if strings.Contains(string(ev.Body), s) {
				t.Errorf("the audit log carries a secret or digest")
			}
		}

		samlWant(t, e.Do(t, http.MethodDelete, oidcPath(app), e.AdminToken, nil), http.StatusNoContent)
		samlWant(t, e.Do(t, http.MethodGet, oidcPath(app), e.AdminToken, nil), http.StatusNotFound)
		samlWant(t, e.Do(t, http.MethodDelete, oidcPath(app), e.AdminToken, nil), http.StatusNotFound)
		samlWant(t, e.Do(t, http.MethodPost, oidcPath(app)+"/secret", e.AdminToken, map[string]any{}), http.StatusNotFound)
		ev = e.Do(t, http.MethodGet, "/api/v1/audit/events?action=application.oidc_client_deleted&target_id="+app, e.AdminToken, nil)
		if !strings.Contains(string(ev.Body), clientID) {
			t.Errorf("the delete event does not name the client: %s", ev.Body)
		}
	})
}

// TestOIDCClientAPIRefusals sends each attack on a valid client and expects
// a 400 naming the field, with nothing changed, on create and on replace.
func TestOIDCClientAPIRefusals(t *testing.T) {
	keys := oidcTestKeys()
	set := func(k string, v any) func(m map[string]any) { return func(m map[string]any) { m[k] = v } }
	at := func(k string, i int, v any) func(m map[string]any) {
		return func(m map[string]any) { m[k].([]any)[i] = v }
	}
	both := func(fs ...func(map[string]any)) func(map[string]any) {
		return func(m map[string]any) {
			for _, f := range fs {
				f(m)
			}
		}
	}
	pkj := set("token_endpoint_auth_method", "private_key_jwt")
	cases := []struct {
		name, field string
		public      bool
		edit        func(m map[string]any)
	}{
		{"redirect URI with a fragment", "redirect_uris.0", false, at("redirect_uris", 0, "https://crm.example/oidc/callback#x")},
		{"javascript: redirect URI", "redirect_uris.0", false, at("redirect_uris", 0, "javascript:alert(document.cookie)")},
		{"javascript: redirect URI of a public client", "redirect_uris.1", true, at("redirect_uris", 1, "javascript://x/%0aalert(1)")},
		{"http redirect URI off loopback", "redirect_uris.1", false, at("redirect_uris", 1, "http://crm.example/callback")},
		{"prefix-only redirect URI", "redirect_uris.0", false, at("redirect_uris", 0, "https://crm.example/*")},
		{"redirect URI with user info", "redirect_uris.0", false, at("redirect_uris", 0, "https://crm.example@evil.example/cb")},
		{"no redirect URI", "redirect_uris", false, set("redirect_uris", []any{})},
		{"post-logout URI with a fragment", "post_logout_redirect_uris.0", false, at("post_logout_redirect_uris", 0, "https://crm.example/#bye")},
		{"public client with client_credentials", "grant_types.1", true, set("grant_types", []any{"authorization_code", "client_credentials"})},
		{"public client with client_secret_basic", "token_endpoint_auth_method", true, set("token_endpoint_auth_method", "client_secret_basic")},
		{"public client without PKCE", "require_pkce", true, set("require_pkce", false)},
		{"unknown grant", "grant_types.0", false, at("grant_types", 0, "password")},
		{"refresh_token without authorization_code", "grant_types", false, set("grant_types", []any{"refresh_token", "client_credentials"})},
		{"private_key_jwt without keys", "jwks", false, pkj},
		{"jwks with a private key", "jwks.keys.0", false, both(pkj, set("jwks", keys["private"]))},
		{"jwks with a 1024-bit key", "jwks.keys.0.n", false, both(pkj, set("jwks", keys["rsa1024"]))},
		{"jwks and jwks_uri", "jwks_uri", false, both(pkj, set("jwks", keys["good"]), set("jwks_uri", "https://crm.example/jwks"))},
		{"jwks_uri at the metadata address", "jwks_uri", false, both(pkj, set("jwks_uri", "https://169.254.169.254/keys"))},
		{"jwks as a string", "jwks", false, both(pkj, set("jwks", "{}"))},
		{"unknown token format", "access_token_format", false, set("access_token_format", "jwe")},
		{"signing algorithm none", "id_token_signed_response_alg", false, set("id_token_signed_response_alg", "none")},
		{"symmetric signing algorithm", "id_token_signed_response_alg", false, set("id_token_signed_response_alg", "HS256")},
		{"access token lifetime under 60", "access_token_lifetime_seconds", false, set("access_token_lifetime_seconds", 59)},
		{"refresh token lifetime over 90 days", "refresh_token_lifetime_seconds", false, set("refresh_token_lifetime_seconds", 7776001)},
		{"negative refresh token lifetime", "refresh_token_lifetime_seconds", false, set("refresh_token_lifetime_seconds", -1)},
		{"ID token lifetime over an hour", "id_token_lifetime_seconds", false, set("id_token_lifetime_seconds", 3601)},
		{"http back-channel logout", "backchannel_logout_uri", false, set("backchannel_logout_uri", "http://crm.example/logout")},
		{"offline_access without refresh_token", "scopes.4", false, set("grant_types", []any{"authorization_code"})},
		{"profile claim overriding sub", "profile_claims.0", false, set("profile_claims", []any{"sub"})},
		{"undeclared profile claim", "profile_claims.0", false, set("profile_claims", []any{"badge_number"})},
		{"unknown client type", "client_type", false, set("client_type", "trusted")},
		// The shape of the body itself.
		{"a chosen secret", "client_secret", false, set("client_secret", "hunter2hunter2hunter2hunter2hunter2hunter22")},
		{"a chosen client id", "client_id", false, set("client_id", "cli_01jd0000000000000000000000")},
		{"unknown member", "tenant_id", false, set("tenant_id", "ten_other")},
		{"wrong type", "redirect_uris", false, set("redirect_uris", "https://crm.example/cb")},
		{"lifetime as a string", "id_token_lifetime_seconds", false, set("id_token_lifetime_seconds", "300")},
	}
	testkit.EachServer(t, func(t *testing.T, e *testkit.Env) {
		existing := map[bool]string{false: samlNewApp(t, e, "CRM", "oidc"), true: samlNewApp(t, e, "CRM mobile", "oidc")}
		samlWant(t, e.Do(t, http.MethodPost, oidcPath(existing[false]), e.AdminToken, oidcBody()), http.StatusCreated)
		samlWant(t, e.Do(t, http.MethodPost, oidcPath(existing[true]), e.AdminToken, oidcPublicBody()), http.StatusCreated)
		fresh := samlNewApp(t, e, "Travel", "oidc")
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				for _, method := range []string{http.MethodPost, http.MethodPut} {
					base := oidcBody()
					if c.public {
						base = oidcPublicBody()
					}
					body := samlClone(t, base)
					c.edit(body)
					target := fresh
					if method == http.MethodPut {
						target = existing[c.public]
					}
					e.Unchanged(t, func() {
						res := e.Do(t, method, oidcPath(target), e.AdminToken, body)
						samlWant(t, res, http.StatusBadRequest)
						if fs := samlFields(t, res); !slices.Contains(fs, c.field) {
							t.Errorf("%s: fields %v, want %s: %s", method, fs, c.field, res.Body)
						}
					})
				}
			})
		}
		// The rotation's grace is bounded.
		for _, n := range []int{-1, 604801} {
			e.Unchanged(t, func() {
				res := e.Do(t, http.MethodPost, oidcPath(existing[false])+"/secret", e.AdminToken, map[string]any{"previous_secret_valid_seconds": n})
				samlWant(t, res, http.StatusBadRequest)
				if fs := samlFields(t, res); !slices.Contains(fs, "previous_secret_valid_seconds") {
					t.Errorf("grace %d: fields %v", n, fs)
				}
			})
		}
		// What the refusals guard is otherwise fine: keys, a loopback URI.
		ok := oidcBody()
		ok["token_endpoint_auth_method"], ok["jwks"] = "private_key_jwt", keys["good"]
		ok["redirect_uris"] = []any{"http://localhost:9000/cb"}
		res := e.Do(t, http.MethodPost, oidcPath(fresh), e.AdminToken, ok)
		samlWant(t, res, http.StatusCreated)
		if res.JSON(t)["client_secret"] == nil || !strings.Contains(string(res.Body), `"kid":"k1"`) {
			t.Errorf("private_key_jwt client: %s", res.Body)
		}
	})
}

func TestOIDCClientAPIAccess(t *testing.T) {
	testkit.EachServer(t, func(t *testing.T, e *testkit.Env) {
		ctx := audit.WithActor(context.Background(), audit.Actor{Type: "system", ID: "oidc-test"})
		app := samlNewApp(t, e, "CRM", "oidc")
		samlApp := samlNewApp(t, e, "Expenses", "saml")
		created := e.Do(t, http.MethodPost, oidcPath(app), e.AdminToken, oidcBody())
		samlWant(t, created, http.StatusCreated)
		clientID := created.JSON(t)["client_id"].(string)
		secret := created.JSON(t)["client_secret"].(string)

		org := uCreateOrg(t, e, "Acme")
		scoped := samlToken(t, e, apitoken.Admin, org)
		ro := samlToken(t, e, apitoken.ReadOnly, "")
		um := samlToken(t, e, apitoken.UserManager, "")
		rotate := map[string]any{"previous_secret_valid_seconds": 60}
		e.Unchanged(t, func() {
			for _, m := range []string{http.MethodPost, http.MethodPut} {
				res := e.Do(t, m, oidcPath(samlApp), e.AdminToken, oidcBody())
				samlWant(t, res, http.StatusBadRequest)
				if !strings.Contains(string(res.Body), "kind oidc") {
					t.Errorf("%s on a saml application: %s", m, res.Body)
				}
			}
			samlWant(t, e.Do(t, http.MethodPost, oidcPath(samlApp)+"/secret", e.AdminToken, rotate), http.StatusBadRequest)
			for _, tok := range []string{scoped, ro, um} {
				samlWant(t, e.Do(t, http.MethodPost, oidcPath(app), tok, oidcBody()), http.StatusForbidden)
				samlWant(t, e.Do(t, http.MethodPut, oidcPath(app), tok, oidcBody()), http.StatusForbidden)
				samlWant(t, e.Do(t, http.MethodPost, oidcPath(app)+"/secret", tok, rotate), http.StatusForbidden)
				samlWant(t, e.Do(t, http.MethodDelete, oidcPath(app), tok, nil), http.StatusForbidden)
			}
			samlWant(t, e.Do(t, http.MethodPut, oidcPath(app), "", oidcBody()), http.StatusUnauthorized)
			samlWant(t, e.Do(t, http.MethodGet, oidcPath(app), "", nil), http.StatusUnauthorized)
			missing := "app_01jd0000000000000000000000"
			samlWant(t, e.Do(t, http.MethodPost, oidcPath(missing), e.AdminToken, oidcBody()), http.StatusNotFound)
			samlWant(t, e.Do(t, http.MethodPut, oidcPath(missing), e.AdminToken, oidcBody()), http.StatusNotFound)
			samlWant(t, e.Do(t, http.MethodPost, oidcPath(missing)+"/secret", e.AdminToken, rotate), http.StatusNotFound)
		})
		// Every scope reads it, like the application, and none sees a secret.
		for _, tok := range []string{scoped, ro, um} {
			res := e.Do(t, http.MethodGet, oidcPath(app), tok, nil)
			samlWant(t, res, http.StatusOK)
			if strings.Contains(string(res.Body), secret) {
				t.Errorf("a read shows the secret")
			}
		}
		samlWant(t, e.Do(t, http.MethodGet, oidcPath(samlApp), ro, nil), http.StatusNotFound)

		// Another tenant: the application is not found, the client id unknown.
		tb, err := e.Server.Tenants.CreateTenant(ctx, "bravo", "Bravo")
		if err != nil {
			t.Fatal(err)
		}
		_, bTok, err := e.Server.CreateToken(ctx, "bravo", apitoken.NewToken{Name: "b admin", Role: apitoken.Admin})
		if err != nil {
			t.Fatal(err)
		}
		e.Unchanged(t, func() {
			samlWant(t, e.Do(t, http.MethodGet, oidcPath(app), bTok, nil), http.StatusNotFound)
			samlWant(t, e.Do(t, http.MethodPost, oidcPath(app), bTok, oidcBody()), http.StatusNotFound)
			samlWant(t, e.Do(t, http.MethodPut, oidcPath(app), bTok, oidcBody()), http.StatusNotFound)
			samlWant(t, e.Do(t, http.MethodPost, oidcPath(app)+"/secret", bTok, rotate), http.StatusNotFound)
			samlWant(t, e.Do(t, http.MethodDelete, oidcPath(app), bTok, nil), http.StatusNotFound)
		})
		if _, _, err := e.Server.Access.OIDCClientByID(ctx, tb.ID, clientID); !errors.Is(err, access.ErrUnknownOIDCClient) {
			t.Errorf("tenant B's lookup of tenant A's client: %v", err)
		}
		if _, _, err := e.Server.Access.CheckOIDCClientSecret(ctx, tb.ID, clientID, secret); !errors.Is(err, access.ErrOIDCClientAuth) {
			t.Errorf("tenant A's client authenticated in tenant B: %v", err)
		}

		// Deleting the application deletes its client.
		ta := uTenantID(t, e)
		samlWant(t, e.Do(t, http.MethodDelete, "/api/v1/applications/"+app, e.AdminToken, nil), http.StatusNoContent)
		samlWant(t, e.Do(t, http.MethodGet, oidcPath(app), e.AdminToken, nil), http.StatusNotFound)
		if _, err := e.DB.OIDCClient(ctx, ta, access.AppID(app)); !errors.Is(err, access.ErrOIDCNotConfigured) {
			t.Errorf("the client outlived its application: %v", err)
		}
		if _, _, err := e.Server.Access.CheckOIDCClientSecret(ctx, ta, clientID, secret); !errors.Is(err, access.ErrOIDCClientAuth) {
			t.Errorf("the client of a deleted application authenticated: %v", err)
		}
	})
}

// TestOIDCClientOpenAPIValues keeps the document's OIDC enums, defaults and
// bounds equal to the domain's.
func TestOIDCClientOpenAPIValues(t *testing.T) {
	d := oasLoad(t)
	prop := func(schema, name string) map[string]any {
		s := d.mustDeref(t, map[string]any{"$ref": "#/components/schemas/" + schema})
		return d.mustDeref(t, oasObj(s["properties"])[name])
	}
	strs := func(v any) []string {
		var out []string
		for _, x := range v.([]any) {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	def := access.DefaultOIDCClient()
	for _, s := range []string{"OIDCClient", "OIDCClientWithSecret", "OIDCClientInput"} {
		if got := strs(prop(s, "client_type")["enum"]); !slices.Equal(got, access.OIDCClientTypes) {
			t.Errorf("%s.client_type: %v, the code %v", s, got, access.OIDCClientTypes)
		}
		if got := strs(oasObj(prop(s, "grant_types")["items"])["enum"]); !slices.Equal(got, access.OIDCGrantTypes) {
			t.Errorf("%s.grant_types: %v, the code %v", s, got, access.OIDCGrantTypes)
		}
		if got := strs(prop(s, "token_endpoint_auth_method")["enum"]); !slices.Equal(got, access.OIDCAuthMethods) {
			t.Errorf("%s.token_endpoint_auth_method: %v, the code %v", s, got, access.OIDCAuthMethods)
		}
		if got := strs(prop(s, "access_token_format")["enum"]); !slices.Equal(got, access.AccessTokenFormats) {
			t.Errorf("%s.access_token_format: %v, the code %v", s, got, access.AccessTokenFormats)
		}
		for name, want := range map[string][3]int{
			"access_token_lifetime_seconds":  {access.MinAccessTokenLifetime, access.MaxAccessTokenLifetime, def.AccessTokenLifetimeSeconds},
			"refresh_token_lifetime_seconds": {0, access.MaxRefreshTokenLifetime, def.RefreshTokenLifetimeSeconds},
			"id_token_lifetime_seconds":      {access.MinIDTokenLifetime, access.MaxIDTokenLifetime, def.IDTokenLifetimeSeconds},
		} {
			p := prop(s, name)
			if p["minimum"] != float64(want[0]) || p["maximum"] != float64(want[1]) || p["default"] != float64(want[2]) {
				t.Errorf("%s.%s: %v..%v default %v, the code %v", s, name, p["minimum"], p["maximum"], p["default"], want)
			}
		}
		for _, name := range []string{"redirect_uris", "post_logout_redirect_uris"} {
			if p := prop(s, name); p["maxItems"] != float64(access.MaxRedirectURIs) {
				t.Errorf("%s.%s maxItems %v", s, name, p["maxItems"])
			}
		}
	}
	if p := prop("OIDCSecretRotate", "previous_secret_valid_seconds"); p["maximum"] != float64(access.MaxSecretOverlapSeconds) {
		t.Errorf("OIDCSecretRotate maximum %v, the code %d", p["maximum"], access.MaxSecretOverlapSeconds)
	}
	for _, scope := range access.OIDCStandardScopes {
		if !strings.Contains(fmt.Sprint(prop("OIDCClient", "scopes")["description"]), "`"+scope+"`") {
			t.Errorf("the scopes description does not name %s", scope)
		}
	}
	if !slices.Equal(def.Scopes, []string{"openid", "profile", "email"}) ||
		!strings.Contains(fmt.Sprint(prop("OIDCClientInput", "scopes")["description"]), `["openid", "profile", "email"]`) {
		t.Errorf("default scopes: the code %v, the document says otherwise", def.Scopes)
	}
}

// freshOIDCApp makes an application of kind oidc where target's lives, with
// a client or not (for the isolation matrix).
func (f *isoFixture) freshOIDCApp(t *testing.T, target string, configured bool) string {
	t.Helper()
	return f.isoFresh(fmt.Sprintf("oidcapp/%s/%v", target, configured), func() string {
		s := f.scope[target]
		if s.tenant == "" {
			return id.New("app", time.Now())
		}
		a, err := f.env.Server.Access.CreateApplication(f.ctx, f.tscope(s), access.NewApplication{Name: f.next("oidc"), Kind: access.KindOIDC})
		isoCheck(t, err)
		f.objects[string(a.ID)] = isoScope{s.tenant, isoConfig}
		if configured {
			cfg := access.DefaultOIDCClient()
			cfg.RedirectURIs = []string{"https://rp.example/" + string(a.ID)}
			_, _, err := f.env.Server.Access.CreateOIDCClient(f.ctx, f.tscope(s), a.ID, cfg)
			isoCheck(t, err)
		}
		return string(a.ID)
	})
}
