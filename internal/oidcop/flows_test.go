package oidcop_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

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
		if err != nil || back.Query().Get("code") == "" || back.Query().Get("state") != "st4te" || back.Query().Get("iss") != e.issuer() {
			t.Fatalf("want a redirect with code, state and iss (RFC 9207), got %d %q: %.300s", a.status, a.location, a.body)
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

// TestConsentTakenBack shows a third-party application's consent on the
// user's Security page; taking it back there ends what the application
// was given (its refresh token fails) and the next sign-in asks again.
func TestConsentTakenBack(t *testing.T) {
	eachOP(t, func(t *testing.T, e *op) {
		c := e.newClient(t, "Partner analytics", redirect, func(c *access.OIDCClient) { c.RequireConsent = true })
		bob := e.newUser(t, "bob", "")
		e.assign(t, c.app.ID, bob)
		ctx := oidc.ClientContext(context.Background(), http.DefaultClient)
		provider, err := oidc.NewProvider(ctx, e.issuer())
		if err != nil {
			t.Fatal(err)
		}
		conf := &oauth2.Config{ClientID: c.cfg.ClientID, ClientSecret: c.secret, Endpoint: provider.Endpoint(),
			RedirectURL: redirect, Scopes: []string{oidc.ScopeOpenID, oidc.ScopeOfflineAccess}}
		b := e.browser(t)
		verifier := oauth2.GenerateVerifier()
		a := b.authorize(conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), "bob")
		back, _ := url.Parse(a.location)
		tok, err := conf.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		page := b.get(e.issuer() + "/security")
		m := csrfField.FindStringSubmatch(page.body)
		if page.status != http.StatusOK || m == nil || !strings.Contains(page.body, "Partner analytics") {
			t.Fatalf("the security page does not list the consent: %d %.500s", page.status, page.body)
		}
		res := b.post(e.issuer()+"/security/consents/"+string(c.app.ID)+"/revoke", url.Values{"csrf": {m[1]}})
		if res.status != http.StatusSeeOther {
			t.Fatalf("take back: %d %.300s", res.status, res.body)
		}
		tok.Expiry = time.Now().Add(-time.Hour)
		if _, err := conf.TokenSource(ctx, tok).Token(); err == nil {
			t.Fatal("the refresh token still works after consent was taken back")
		}
		again := b.get(conf.AuthCodeURL("s2", oauth2.S256ChallengeOption(verifier)))
		for again.status == http.StatusFound || again.status == http.StatusSeeOther {
			again = b.get(again.location)
		}
		if !strings.Contains(again.body, `name="decision"`) {
			t.Fatalf("the next sign-in does not ask for consent again: %d %.300s", again.status, again.body)
		}
	})
}

// TestOwnDomainIssuer signs in through the tenant's own domain: there the
// issuer is on the domain (discovery, ID token, access token), and its
// tokens are good at the public URL's endpoints too, the same provider.
func TestOwnDomainIssuer(t *testing.T) {
	eachOP(t, func(t *testing.T, e *op) {
		const domain = "login.acme.example"
		if _, err := e.srv.Tenants.SetTenantDomain(e.ctx, e.tenant, domain, 0); err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(e.url)
		own := "http://" + domain + ":" + u.Port() + "/t/" + slug
		// Both the relying party and the browser reach the domain at the
		// test server, as DNS would send them.
		dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, u.Host)
		}
		hc := &http.Client{Transport: &http.Transport{DialContext: dial}}
		c := e.newClient(t, "Portal", redirect, nil)
		alice := e.newUser(t, "alice", "")
		e.assign(t, c.app.ID, alice)
		ctx := oidc.ClientContext(context.Background(), hc)
		provider, err := oidc.NewProvider(ctx, own)
		if err != nil {
			t.Fatal(err)
		}
		conf := &oauth2.Config{ClientID: c.cfg.ClientID, ClientSecret: c.secret, Endpoint: provider.Endpoint(),
			RedirectURL: redirect, Scopes: []string{oidc.ScopeOpenID, "email"}}
		if !strings.HasPrefix(conf.Endpoint.TokenURL, own+"/oauth2/") {
			t.Fatalf("token endpoint %s, not on the own domain", conf.Endpoint.TokenURL)
		}
		b := e.browser(t)
		b.c.Transport = hc.Transport
		b.e = &op{url: "http://" + domain + ":" + u.Port(), srv: e.srv, tenant: e.tenant, clk: e.clk, ctx: e.ctx}
		verifier := oauth2.GenerateVerifier()
		a := b.authorize(conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), "alice")
		back, _ := url.Parse(a.location)
		tok, err := conf.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange: %v (authorize ended at %d %q)", err, a.status, a.location)
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := provider.Verifier(&oidc.Config{ClientID: c.cfg.ClientID}).Verify(ctx, raw)
		if err != nil || idt.Issuer != own {
			t.Fatalf("ID token: %v, issuer %v", err, idt)
		}
		// The same provider under the public URL knows the token.
		req, _ := http.NewRequest(http.MethodPost, e.issuer()+"/oauth2/introspect", strings.NewReader(url.Values{"token": {tok.AccessToken}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(c.cfg.ClientID, c.secret)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var in struct {
			Active bool   `json:"active"`
			Iss    string `json:"iss"`
		}
		if err := json.NewDecoder(res.Body).Decode(&in); err != nil || !in.Active {
			t.Fatalf("introspection at the public URL: %+v %v", in, err)
		}
	})
}
