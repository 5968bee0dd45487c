package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/store"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/testkit"
)

// OIDC clients: every member survives the round trip, one client per
// application, client ids looked up within their tenant only, and a
// client goes with its application.
func TestOIDCClientRows(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		t0 := time.Date(2026, 11, 24, 8, 0, 0, 123456000, time.UTC)
		for _, id := range []tenant.ID{"ten_a", "ten_b"} {
			if err := db.CreateTenant(ctx, &tenant.Tenant{ID: id, Slug: string(id[4:]), Name: "T", Version: 1, Created: t0, Updated: t0}); err != nil {
				t.Fatal(err)
			}
		}
		for _, a := range []struct {
			ten tenant.ID
			id  access.AppID
		}{{"ten_a", "app_1"}, {"ten_a", "app_2"}, {"ten_b", "app_1"}} {
			if err := db.CreateApplication(ctx, &access.Application{Tenant: a.ten, ID: a.id, Name: string(a.id), Kind: access.KindOIDC,
				Status: access.AppActive, Version: 1, Created: t0, Updated: t0}); err != nil {
				t.Fatal(err)
			}
		}
		c := &access.OIDCClient{Tenant: "ten_a", App: "app_1", ClientID: "cli_1", Type: access.ClientConfidential,
			RedirectURIs: []string{"https://a.example/cb"}, PostLogoutRedirectURIs: []string{},
			GrantTypes: []string{access.GrantAuthorizationCode}, Scopes: []string{"openid"},
			TokenEndpointAuthMethod: access.AuthPrivateKeyJWT, RequirePKCE: true, JWKS: `{"keys":[{"kty":"EC","x":"a","y":"b"}]}`,
			AccessTokenFormat: access.TokenFormatJWT, IDTokenSignedResponseAlg: "ES256", AccessTokenLifetimeSeconds: 900, RefreshTokenLifetimeSeconds: 0,
			IDTokenLifetimeSeconds: 300, RequireConsent: true, BackChannelLogoutURI: "https://a.example/bcl",
			BackChannelLogoutSessionRequired: true, ProfileClaims: []string{"employee_number"},
			SecretDigest: "digest-1", PreviousSecretDigest: "digest-0", PreviousSecretExpires: t0.Add(time.Hour),
			Version: 3, Created: t0, Updated: t0.Add(time.Minute)}
		if err := db.CreateOIDCClient(ctx, c); err != nil {
			t.Fatal(err)
		}
		got, err := db.OIDCClient(ctx, "ten_a", "app_1")
		if err != nil {
			t.Fatal(err)
		}
		if a, b := oidcRowJSON(t, got), oidcRowJSON(t, c); a != b {
			t.Errorf("read back\n%s\nwant\n%s", a, b)
		}
		if byID, err := db.OIDCClientByClientID(ctx, "ten_a", "cli_1"); err != nil || byID.App != "app_1" {
			t.Errorf("by client id: %+v %v", byID, err)
		}
		if _, err := db.OIDCClientByClientID(ctx, "ten_b", "cli_1"); !errors.Is(err, access.ErrOIDCNotConfigured) {
			t.Errorf("another tenant's client id: %v", err)
		}

		// A public client: no digests, stored as NULL.
		pub := &access.OIDCClient{Tenant: "ten_b", App: "app_1", ClientID: "cli_2", Type: access.ClientPublic,
			TokenEndpointAuthMethod: access.AuthNone, Version: 1, Created: t0, Updated: t0}
		if err := db.CreateOIDCClient(ctx, pub); err != nil {
			t.Fatal(err)
		}
		if got, err := db.OIDCClient(ctx, "ten_b", "app_1"); err != nil || got.SecretDigest != "" || !got.PreviousSecretExpires.IsZero() ||
			got.RedirectURIs == nil || got.ProfileClaims == nil || got.JWKS != "" {
			t.Errorf("public client: %+v %v", got, err)
		}

		dup := *c
		dup.ClientID = "cli_3"
		if err := db.CreateOIDCClient(ctx, &dup); !errors.Is(err, access.ErrOIDCClientExists) {
			t.Errorf("a second client of an application: %v", err)
		}
		dup.App = "app_2"
		dup.ClientID = "cli_2" // tenant B's
		if err := db.CreateOIDCClient(ctx, &dup); err == nil || errors.Is(err, access.ErrOIDCClientExists) {
			t.Errorf("a client id taken in another tenant: %v, want a plain failure", err)
		}
		dup.App = "app_missing"
		dup.ClientID = "cli_4"
		if err := db.CreateOIDCClient(ctx, &dup); !errors.Is(err, access.ErrAppNotFound) {
			t.Errorf("a missing application: %v", err)
		}

		// Updates rewrite settings and digests, never the client id.
		up := *c
		up.ClientID, up.SecretDigest, up.PreviousSecretDigest, up.PreviousSecretExpires = "cli_changed", "digest-2", "", time.Time{}
		up.Scopes, up.Version = []string{"openid", "email"}, 4
		if err := db.UpdateOIDCClient(ctx, &up); err != nil {
			t.Fatal(err)
		}
		got, _ = db.OIDCClient(ctx, "ten_a", "app_1")
		if got.ClientID != "cli_1" || got.SecretDigest != "digest-2" || got.PreviousSecretDigest != "" || !got.PreviousSecretExpires.IsZero() ||
			len(got.Scopes) != 2 || got.Version != 4 {
			t.Errorf("after update: %+v", got)
		}
		up.App = "app_2"
		if err := db.UpdateOIDCClient(ctx, &up); !errors.Is(err, access.ErrOIDCNotConfigured) {
			t.Errorf("updating no client: %v", err)
		}

		// The client goes with its application.
		if err := db.DeleteApplication(ctx, "ten_a", "app_1"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.OIDCClientByClientID(ctx, "ten_a", "cli_1"); !errors.Is(err, access.ErrOIDCNotConfigured) {
			t.Errorf("after the application's deletion: %v", err)
		}
		if err := db.DeleteOIDCClient(ctx, "ten_b", "app_1"); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteOIDCClient(ctx, "ten_b", "app_1"); !errors.Is(err, access.ErrOIDCNotConfigured) {
			t.Errorf("second delete: %v", err)
		}
	})
}

func oidcRowJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
