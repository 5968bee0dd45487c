package oidcop_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/tessera-iam/tessera/internal/access"
)

const redirect = "https://app.example.net/callback"

// TestCodeFlowWithPKCE signs in through the whole code flow with an
// independent relying party (go-oidc + x/oauth2): discovery, PKCE, the ID
// token's signature and claims, userinfo, and refresh with rotation; with
// ID tokens signed RS256 (the default) and ES256.
func TestCodeFlowWithPKCE(t *testing.T) {
	for _, alg := range []string{"RS256", "ES256"} {
		t.Run(alg, func(t *testing.T) { testCodeFlow(t, alg) })
	}
}

func testCodeFlow(t *testing.T, alg string) {
	eachOP(t, func(t *testing.T, e *op) {
		c := e.newClient(t, "Portal", redirect, func(c *access.OIDCClient) { c.IDTokenSignedResponseAlg = alg })
		alice := e.newUser(t, "alice", "")
		e.assign(t, c.app.ID, alice, "editor")

		ctx := oidc.ClientContext(context.Background(), http.DefaultClient)
		provider, err := oidc.NewProvider(ctx, e.issuer())
		if err != nil {
			t.Fatal(err)
		}
		conf := &oauth2.Config{ClientID: c.cfg.ClientID, ClientSecret: c.secret, Endpoint: provider.Endpoint(),
			RedirectURL: redirect, Scopes: []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess}}
		verifier := oauth2.GenerateVerifier()
		authURL := conf.AuthCodeURL("st4te", oauth2.S256ChallengeOption(verifier), oidc.Nonce("n0nce"))

		a := e.browser(t).authorize(authURL, "alice")
		back, err := url.Parse(a.location)
		if err != nil || back.Query().Get("code") == "" || back.Query().Get("state") != "st4te" {
			t.Fatalf("want a redirect with code and state, got %d %q: %.300s", a.status, a.location, a.body)
		}
		tok, err := conf.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := provider.Verifier(&oidc.Config{ClientID: c.cfg.ClientID, SupportedSigningAlgs: []string{alg}}).Verify(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		var claims struct {
			Nonce string   `json:"nonce"`
			Email string   `json:"email"`
			Roles []string `json:"roles"`
			SID   string   `json:"sid"`
		}
		if err := idt.Claims(&claims); err != nil {
			t.Fatal(err)
		}
		if idt.Subject != string(alice.ID) || claims.Nonce != "n0nce" || claims.Email != "alice@example.com" || claims.SID == "" ||
			len(claims.Roles) != 1 || claims.Roles[0] != "editor" {
			t.Fatalf("id token: sub %s, claims %+v", idt.Subject, claims)
		}
		ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil || ui.Subject != string(alice.ID) || ui.Email != "alice@example.com" {
			t.Fatalf("userinfo: %+v %v", ui, err)
		}
		if tok.RefreshToken == "" {
			t.Fatal("no refresh token for offline_access")
		}
		old := tok.RefreshToken
		tok.Expiry = tok.Expiry.Add(-24 * 3600e9)
		next, err := conf.TokenSource(ctx, tok).Token()
		if err != nil || next.RefreshToken == "" || next.RefreshToken == old || next.AccessToken == tok.AccessToken {
			t.Fatalf("refresh: %v", err)
		}
	})
}
