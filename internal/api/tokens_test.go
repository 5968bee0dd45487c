package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/apitoken"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/testkit"
)

type isoToken struct {
	ID             string  `json:"id"`
	Name           string  `json:"name"`
	Role           string  `json:"role"`
	OrganizationID *string `json:"organization_id"`
	CreatedAt      *string `json:"created_at"`
	ExpiresAt      *string `json:"expires_at"`
	RevokedAt      *string `json:"revoked_at"`
	LastUsedAt     *string `json:"last_used_at"`
	Secret         *string `json:"secret"`
}

// isoTokens lists the tenant's tokens by id, checking no secret is shown.
func isoTokens(t *testing.T, env *testkit.Env, tok string) map[string]isoToken {
	t.Helper()
	res := env.Do(t, http.MethodGet, "/api/v1/tokens", tok, nil)
	isoExpect(t, res, http.StatusOK)
	if strings.Contains(string(res.Body), `"secret"`) || strings.Contains(string(res.Body), apitoken.SecretPrefix) {
		t.Errorf("token list shows secrets: %s", res.Body)
	}
	var l struct {
		Items []isoToken `json:"items"`
	}
	res.Decode(t, &l)
	out := map[string]isoToken{}
	for _, it := range l.Items {
		out[it.ID] = it
	}
	return out
}

func isoNewToken(t *testing.T, env *testkit.Env, body map[string]any) (isoToken, string) {
	t.Helper()
	res := env.Do(t, http.MethodPost, "/api/v1/tokens", env.AdminToken, body)
	isoExpect(t, res, http.StatusCreated)
	var tk isoToken
	res.Decode(t, &tk)
	if tk.Secret == nil || !strings.HasPrefix(*tk.Secret, apitoken.SecretPrefix) {
		t.Fatalf("create answered no secret: %s", res.Body)
	}
	return tk, *tk.Secret
}

func TestIsoTokens(t *testing.T) {
	testkit.EachServer(t, func(t *testing.T, env *testkit.Env) {
		admin := env.AdminToken

		t.Run("secret shown once and works", func(t *testing.T) {
			exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
			tk, secret := isoNewToken(t, env, map[string]any{"name": "ci", "role": "read-only", "expires_at": exp.Format(time.RFC3339)})
			if tk.Role != "read-only" || tk.Name != "ci" || tk.RevokedAt != nil || tk.LastUsedAt != nil || tk.OrganizationID != nil {
				t.Errorf("created %+v", tk)
			}
			if tk.ExpiresAt == nil {
				t.Fatalf("expires_at missing")
			}
			if got, err := time.Parse(time.RFC3339Nano, *tk.ExpiresAt); err != nil || !got.Equal(exp) {
				t.Errorf("expires_at %q, want %v", *tk.ExpiresAt, exp)
			}
			listed, ok := isoTokens(t, env, admin)[tk.ID]
			if !ok || listed.Secret != nil || listed.Name != "ci" {
				t.Fatalf("listed %+v (present %v)", listed, ok)
			}
			isoExpect(t, env.Do(t, http.MethodGet, "/api/v1/tenant", secret, nil), http.StatusOK)
			// Two tokens never share a secret.
			_, other := isoNewToken(t, env, map[string]any{"name": "ci", "role": "read-only"})
			if other == secret {
				t.Errorf("two tokens got the same secret")
			}
		})

		t.Run("roles", func(t *testing.T) {
			_, ro := isoNewToken(t, env, map[string]any{"name": "reader", "role": "read-only"})
			_, um := isoNewToken(t, env, map[string]any{"name": "manager", "role": "user-manager"})
			_, ad := isoNewToken(t, env, map[string]any{"name": "second admin", "role": "admin"})
			user := map[string]any{"username": "role-test"}
			isoExpect(t, env.Do(t, http.MethodGet, "/api/v1/users", ro, nil), http.StatusOK)
			isoRefused(t, env, http.StatusForbidden, http.MethodPost, "/api/v1/users", ro, user)
			isoRefused(t, env, http.StatusForbidden, http.MethodPost, "/api/v1/groups", ro, map[string]any{"name": "G"})
			isoRefused(t, env, http.StatusForbidden, http.MethodGet, "/api/v1/tokens", ro, nil)
			uid := isoCreate(t, env, um, "/api/v1/users", user)
			isoExpect(t, env.Do(t, http.MethodPut, "/api/v1/users/"+uid+"/password", um, map[string]any{"password": "a long enough secret"}), http.StatusOK)
			isoRefused(t, env, http.StatusForbidden, http.MethodPost, "/api/v1/organizations", um, map[string]any{"name": "O"})
			isoRefused(t, env, http.StatusForbidden, http.MethodGet, "/api/v1/tokens", um, nil)
			isoRefused(t, env, http.StatusForbidden, http.MethodPost, "/api/v1/tokens", um, map[string]any{"name": "escalate", "role": "admin"})
			isoRefused(t, env, http.StatusForbidden, http.MethodPatch, "/api/v1/tenant", um, map[string]any{"name": "Mine"})
			// A second admin can do what the first can, including issuing tokens.
			isoExpect(t, env.Do(t, http.MethodPost, "/api/v1/tokens", ad, map[string]any{"name": "third", "role": "admin"}), http.StatusCreated)
		})

		t.Run("organization scoped", func(t *testing.T) {
			org := isoCreate(t, env, admin, "/api/v1/organizations", map[string]any{"name": "Scoped Org"})
			tk, secret := isoNewToken(t, env, map[string]any{"name": "org admin", "role": "admin", "organization_id": org})
			if tk.OrganizationID == nil || *tk.OrganizationID != org {
				t.Fatalf("organization_id %v", tk.OrganizationID)
			}
			// Created users land in the token's organization.
			res := env.Do(t, http.MethodPost, "/api/v1/users", secret, map[string]any{"username": "scoped-user"})
			if got, _ := isoExpect(t, res, http.StatusCreated)["organization_id"].(string); got != org {
				t.Errorf("user created by an organization token landed in %q", got)
			}
			isoRefused(t, env, http.StatusForbidden, http.MethodPost, "/api/v1/tokens", secret, map[string]any{"name": "x", "role": "read-only", "organization_id": org})
			isoRefused(t, env, http.StatusBadRequest, http.MethodPost, "/api/v1/tokens", admin, map[string]any{"name": "x", "role": "read-only", "organization_id": "org_nope"})
			// The organization cannot go while a token is scoped to it.
			isoRefused(t, env, http.StatusConflict, http.MethodDelete, "/api/v1/organizations/"+org, admin, nil)
		})

		t.Run("last_used_at", func(t *testing.T) {
			tk, secret := isoNewToken(t, env, map[string]any{"name": "usage", "role": "read-only"})
			if got := isoTokens(t, env, admin)[tk.ID].LastUsedAt; got != nil {
				t.Fatalf("last_used_at %q before any use", *got)
			}
			before := time.Now().Add(-time.Second)
			isoExpect(t, env.Do(t, http.MethodGet, "/api/v1/users", secret, nil), http.StatusOK)
			got := isoTokens(t, env, admin)[tk.ID].LastUsedAt
			if got == nil {
				t.Fatalf("last_used_at still empty after a use")
			}
			at, err := time.Parse(time.RFC3339Nano, *got)
			if err != nil || at.Before(before) || at.After(time.Now().Add(time.Second)) {
				t.Errorf("last_used_at %q, want about now", *got)
			}
			// Within the minute, further uses do not write it again.
			isoExpect(t, env.Do(t, http.MethodGet, "/api/v1/tenant", secret, nil), http.StatusOK)
			if again := isoTokens(t, env, admin)[tk.ID].LastUsedAt; again == nil || *again != *got {
				t.Errorf("last_used_at moved from %s to %v within the minute", *got, again)
			}
		})

		t.Run("revoke", func(t *testing.T) {
			tk, secret := isoNewToken(t, env, map[string]any{"name": "short-lived", "role": "user-manager"})
			isoExpect(t, env.Do(t, http.MethodGet, "/api/v1/tenant", secret, nil), http.StatusOK)
			res := env.Do(t, http.MethodDelete, "/api/v1/tokens/"+tk.ID, admin, nil)
			isoExpect(t, res, http.StatusOK)
			var first isoToken
			res.Decode(t, &first)
			if first.RevokedAt == nil || first.ID != tk.ID || first.Secret != nil {
				t.Fatalf("revoke answered %s", res.Body)
			}
			isoRefused(t, env, http.StatusUnauthorized, http.MethodGet, "/api/v1/tenant", secret, nil)
			// Revoking again answers the same and records nothing: the token
			// was revoked once, and the audit log must say so once.
			ten, err := env.Server.Tenants.TenantBySlug(context.Background(), "default")
			isoCheck(t, err)
			events := func() int {
				evs, err := env.DB.Events(context.Background(), ten.ID, 0, 100000)
				isoCheck(t, err)
				return len(evs)
			}
			n := events()
			res = env.Do(t, http.MethodDelete, "/api/v1/tokens/"+tk.ID, admin, nil)
			if added := events() - n; added != 0 {
				t.Errorf("revoking an already revoked token appended %d audit event(s): the log claims a revocation that did not happen", added)
			}
			isoExpect(t, res, http.StatusOK)
			var second isoToken
			res.Decode(t, &second)
			if second.RevokedAt == nil || *second.RevokedAt != *first.RevokedAt {
				t.Errorf("second revoke moved revoked_at from %v to %v", *first.RevokedAt, second.RevokedAt)
			}
			if listed := isoTokens(t, env, admin)[tk.ID]; listed.RevokedAt == nil || *listed.RevokedAt != *first.RevokedAt {
				t.Errorf("listed revoked_at %v", listed.RevokedAt)
			}
			isoRefused(t, env, http.StatusNotFound, http.MethodDelete, "/api/v1/tokens/tok_missing", admin, nil)
		})

		t.Run("invalid input", func(t *testing.T) {
			for _, c := range []struct {
				body  any
				field string
			}{
				{map[string]any{"name": "x", "role": "superuser"}, "role"},
				{map[string]any{"name": "x"}, "role"},
				{map[string]any{"name": "", "role": "admin"}, "name"},
				{map[string]any{"name": strings.Repeat("n", 201), "role": "admin"}, "name"},
				{map[string]any{"name": "x", "role": "admin", "expires_at": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)}, "expires_at"},
				{map[string]any{"name": "x", "role": "admin", "expires_at": "tomorrow"}, ""}, // named "body" today
				{map[string]any{"name": "x", "role": "admin", "secret": "tsk_mine"}, "secret"},
			} {
				var res testkit.Response
				env.Unchanged(t, func() { res = env.Do(t, http.MethodPost, "/api/v1/tokens", admin, c.body) })
				if res.Status != http.StatusBadRequest || c.field != "" && !isoHasField(t, res, c.field) {
					t.Errorf("POST %v: %d %s, want 400 naming %s", c.body, res.Status, res.Body, c.field)
				}
			}
			isoRefused(t, env, http.StatusUnsupportedMediaType, http.MethodPost, "/api/v1/tokens", admin, "name=x",
				"Content-Type", "application/x-www-form-urlencoded")
		})
	})
}

// Every way of failing to authenticate answers 401 with a challenge, in
// problem+json, writes nothing, and does not say which way it failed.
func TestIsoAuthentication(t *testing.T) {
	testkit.EachServer(t, func(t *testing.T, env *testkit.Env) {
		ctx := context.Background()
		admin := env.AdminToken
		_, revoked := isoNewToken(t, env, map[string]any{"name": "to revoke", "role": "admin"})
		var revokedID string
		for id, tk := range isoTokens(t, env, admin) {
			if tk.Name == "to revoke" {
				revokedID = id
			}
		}
		isoExpect(t, env.Do(t, http.MethodDelete, "/api/v1/tokens/"+revokedID, admin, nil), http.StatusOK)

		// An expired token: issued by the real service code on a clock an
		// hour behind, so it is already past its expiry for the server.
		ten, err := env.Server.Tenants.TenantBySlug(ctx, "default")
		isoCheck(t, err)
		past := &apitoken.Service{Store: env.DB, Digest: env.Server.Tokens.Digest,
			Now: func() time.Time { return time.Now().UTC().Add(-time.Hour).Truncate(time.Microsecond) }}
		_, expired, err := past.Create(ctx, tenant.Scope{Tenant: ten.ID}, apitoken.NewToken{Name: "expired", Role: apitoken.Admin,
			Expires: time.Now().UTC().Add(-time.Minute).Truncate(time.Microsecond)})
		isoCheck(t, err)

		unknown := apitoken.SecretPrefix + strings.Repeat("A", 43)
		cases := []struct {
			name, header string
			presented    bool // a credential was presented (the answers must not differ among these)
		}{
			{"no header", "", false},
			{"basic scheme", "Basic YWRtaW46YWRtaW4=", false},
			{"bearer without token", "Bearer", false},
			{"token without scheme", admin, false},
			{"malformed token", "Bearer not-a-token", true},
			{"truncated token", "Bearer " + admin[:len(admin)-1], true},
			{"unknown token", "Bearer " + unknown, true},
			{"revoked token", "Bearer " + revoked, true},
			{"expired token", "Bearer " + expired, true},
		}
		var firstPresented *isoProblem
		var first isoProblem
		for i, c := range cases {
			for _, path := range []string{"/api/v1/tenant", "/api/v1/users"} {
				var res testkit.Response
				env.Unchanged(t, func() {
					if c.header == "" {
						res = env.Do(t, http.MethodGet, path, "", nil)
					} else {
						res = env.Do(t, http.MethodGet, path, "", nil, "Authorization", c.header)
					}
				})
				if res.Status != http.StatusUnauthorized {
					t.Errorf("%s: status %d, want 401: %s", c.name, res.Status, res.Body)
					continue
				}
				if got := res.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
					t.Errorf("%s: WWW-Authenticate %q", c.name, got)
				}
				if res.Header.Get("Cache-Control") != "no-store" {
					t.Errorf("%s: Cache-Control %q", c.name, res.Header.Get("Cache-Control"))
				}
				p := isoProblemOf(t, res)
				if i == 0 {
					first = p
				}
				if p.Type != first.Type || p.Title != first.Title {
					t.Errorf("%s: problem %+v differs from %+v", c.name, p, first)
				}
				if c.presented {
					if firstPresented == nil {
						firstPresented = &p
					} else if p != *firstPresented {
						t.Errorf("LEAK: %s answers %+v, other bad tokens %+v", c.name, p, *firstPresented)
					}
				}
				if strings.Contains(strings.ToLower(p.Detail), "revoked token") || strings.Contains(p.Detail, "expired at") {
					t.Errorf("%s: detail tells the case: %q", c.name, p.Detail)
				}
			}
		}
		// The same writes are refused the same way, and write nothing.
		for _, c := range cases {
			h := []string{}
			if c.header != "" {
				h = []string{"Authorization", c.header}
			}
			isoRefused(t, env, http.StatusUnauthorized, http.MethodPost, "/api/v1/users", "", map[string]any{"username": "intruder"}, h...)
		}

		// Controls: the scheme is case-insensitive and spaces around the
		// token are tolerated, so the 401s above are about the credential.
		isoExpect(t, env.Do(t, http.MethodGet, "/api/v1/tenant", "", nil, "Authorization", "bearer "+admin), http.StatusOK)
		isoExpect(t, env.Do(t, http.MethodGet, "/api/v1/tenant", "", nil, "Authorization", "Bearer  "+admin+" "), http.StatusOK)
		// The public document needs no token.
		isoExpect(t, env.Do(t, http.MethodGet, "/api/v1/openapi.json", "", nil), http.StatusOK)
	})
}
