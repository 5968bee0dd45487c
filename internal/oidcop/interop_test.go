package oidcop_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/tessera-iam/tessera/internal/access"
)

// Interoperability with an independent relying party (go-oidc + x/oauth2)
// over real HTTP: what a conforming client expects to work, works.

// TestInterop runs the interoperability tests against one provider per database.
func TestInterop(t *testing.T) {
	eachOP(t, func(t *testing.T, e *op) {
		for _, tc := range []struct {
			name string
			fn   func(*testing.T, *op)
		}{
			{"RefreshRotation", testRefreshRotation},
			{"UserinfoWithGoOIDC", testUserinfoWithGoOIDC},
			{"Introspection", testIntrospection},
			{"Revocation", testRevocation},
			{"RPInitiatedLogoutAndBackChannel", testRPInitiatedLogoutAndBackChannel},
			{"ClientCredentials", testClientCredentials},
			{"BackChannelOnSessionRevocation", testBackChannelOnSessionRevocation},
			{"PublicClientPKCE", testPublicClientPKCE},
			{"ConsentOnce", testConsentOnce},
			{"Discovery", testDiscovery},
			{"PrivateKeyJWTCodeFlow", testPrivateKeyJWTCodeFlow},
		} {
			t.Run(tc.name, func(t *testing.T) { tc.fn(t, e) })
		}
	})
}

// testRefreshRotation proves a refresh rotates the refresh token and the
// rotated-out one no longer works (RFC 9700 §4.14.2).
func testRefreshRotation(t *testing.T, e *op) {
	c := e.app(t, "Portal", redirect, nil)
	alice := e.person(t, "alice", "")
	e.assign(t, c.app.ID, alice, "viewer")
	r := e.rp(t, c)
	tok := r.login(e.browser(t), alice.Username)
	next, err := r.refresh(tok.RefreshToken)
	if err != nil || next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken || next.AccessToken == tok.AccessToken {
		t.Fatalf("refresh: %v", err)
	}
	if _, err := r.refresh(tok.RefreshToken); oauthError(err) != "invalid_grant" {
		t.Fatalf("rotated-out refresh token: want invalid_grant, got %v", err)
	}
	// An ID token in the refresh response keeps iss, sub and aud (OIDC
	// Core §12.2); the first one's at_hash matches its access token.
	first := r.verifyID(tok)
	if first.AccessTokenHash != "" {
		if err := first.VerifyAccessToken(tok.AccessToken); err != nil {
			t.Fatalf("at_hash: %v", err)
		}
	}
	if _, ok := next.Extra("id_token").(string); ok {
		if idt := r.verifyID(next); idt.Subject != first.Subject || idt.Issuer != first.Issuer {
			t.Fatalf("refreshed ID token: sub %s iss %s", idt.Subject, idt.Issuer)
		}
	}
}

// testUserinfoWithGoOIDC proves go-oidc's UserInfo call gets the claims the
// scopes release, for JWT and opaque access tokens alike.
func testUserinfoWithGoOIDC(t *testing.T, e *op) {
	alice := e.person(t, "alice", "")
	for _, format := range []string{access.TokenFormatJWT, access.TokenFormatOpaque} {
		c := e.app(t, "Portal "+format, redirect, func(c *access.OIDCClient) { c.AccessTokenFormat = format })
		e.assign(t, c.app.ID, alice, "editor")
		r := e.rp(t, c)
		tok := r.login(e.browser(t), alice.Username)
		ui, err := r.provider.UserInfo(r.ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			t.Fatalf("%s: userinfo: %v", format, err)
		}
		var claims struct {
			Name  string   `json:"name"`
			Roles []string `json:"roles"`
		}
		if err := ui.Claims(&claims); err != nil {
			t.Fatal(err)
		}
		if ui.Subject != string(alice.ID) || ui.Email != alice.PrimaryEmail().Value || claims.Name != alice.GivenName+" Tester" ||
			!slices.Equal(claims.Roles, []string{"editor"}) {
			t.Fatalf("%s: userinfo %+v %+v", format, ui, claims)
		}
	}
}

// testIntrospection proves RFC 7662 introspection by a confidential client:
// active with sub, client_id, scope and exp for a live JWT or opaque access
// token, inactive once it is revoked.
func testIntrospection(t *testing.T, e *op) {
	alice := e.person(t, "alice", "")
	rs := e.app(t, "Resource server", "https://rs.example.net/cb", nil)
	for _, format := range []string{access.TokenFormatJWT, access.TokenFormatOpaque} {
		c := e.app(t, "Portal "+format, redirect, func(c *access.OIDCClient) { c.AccessTokenFormat = format })
		e.assign(t, c.app.ID, alice, "viewer")
		tok := e.rp(t, c).login(e.browser(t), alice.Username)
		if format == access.TokenFormatOpaque && strings.Count(tok.AccessToken, ".") == 2 {
			t.Fatalf("opaque client got a JWT access token")
		}
		for _, who := range []*client{c, rs} {
			m := e.introspect(t, who, tok.AccessToken)
			exp, _ := m["exp"].(float64)
			if !active(m) || m["sub"] != string(alice.ID) || m["client_id"] != c.cfg.ClientID ||
				!slices.Contains(scopesOf(m["scope"]), "openid") || time.Unix(int64(exp), 0).Before(time.Now()) {
				t.Fatalf("%s: introspection by %s: %v", format, who.app.Name, m)
			}
		}
		if status, m := e.revoke(t, c, tok.AccessToken, "access_token"); status != http.StatusOK {
			t.Fatalf("%s: revoke: %d %v", format, status, m)
		}
		if m := e.introspect(t, rs, tok.AccessToken); active(m) || len(m) != 1 {
			t.Fatalf("%s: revoked token: want only active false, got %v", format, m)
		}
	}
}

// testRevocation proves RFC 7009: revoking a refresh token ends its grant
// (refresh fails, its access token is inactive), revoking an access token
// ends that token, and an unknown token is answered 200.
func testRevocation(t *testing.T, e *op) {
	c := e.app(t, "Portal", redirect, nil)
	alice := e.person(t, "alice", "")
	e.assign(t, c.app.ID, alice, "viewer")
	r := e.rp(t, c)

	tok := r.login(e.browser(t), alice.Username)
	if status, m := e.revoke(t, c, tok.RefreshToken, "refresh_token"); status != http.StatusOK {
		t.Fatalf("revoke refresh token: %d %v", status, m)
	}
	if _, err := r.refresh(tok.RefreshToken); oauthError(err) != "invalid_grant" {
		t.Fatalf("revoked refresh token: want invalid_grant, got %v", err)
	}
	if active(e.introspect(t, c, tok.AccessToken)) {
		t.Fatal("the access token of a revoked grant is still active")
	}

	tok = r.login(e.browser(t), alice.Username)
	if status, _ := e.revoke(t, c, tok.AccessToken, ""); status != http.StatusOK {
		t.Fatalf("revoke access token without hint: %d", status)
	}
	if active(e.introspect(t, c, tok.AccessToken)) {
		t.Fatal("revoked access token still active")
	}
	if _, err := r.refresh(tok.RefreshToken); err != nil {
		t.Fatalf("revoking an access token must leave its grant's refresh token alone: %v", err)
	}

	// The hint is only a hint (RFC 7009 §2.1): a refresh token hinted as an
	// access token is still found, and its grant ends.
	tok = r.login(e.browser(t), alice.Username)
	if status, _ := e.revoke(t, c, tok.RefreshToken, "access_token"); status != http.StatusOK {
		t.Fatalf("revoke refresh token hinted as access_token: %d", status)
	}
	if _, err := r.refresh(tok.RefreshToken); oauthError(err) != "invalid_grant" {
		t.Fatalf("refresh token revoked under a wrong hint: want invalid_grant, got %v", err)
	}

	for _, unknown := range []string{"trt_nosuchtoken", "tat_nosuchtoken", "not-a-token", "a.b.c"} {
		if status, m := e.revoke(t, c, unknown, ""); status != http.StatusOK {
			t.Fatalf("unknown token %q: want 200, got %d %v", unknown, status, m)
		}
	}
}

// testRPInitiatedLogoutAndBackChannel proves RP-initiated logout: the
// browser goes to the registered post_logout_redirect_uri with its state,
// its Tessera session is gone, the session's grant without offline access
// ends (its access token is inactive) while an offline_access refresh
// token outlives it (OIDC Core §11, Back-Channel Logout §2.7), and the
// client's back-channel endpoint receives a valid logout token.
func testRPInitiatedLogoutAndBackChannel(t *testing.T, e *op) {
	bcURI, logoutTokens := logoutReceiver(t)
	const bye = "https://app.example.net/bye"
	c := e.app(t, "Portal", redirect, func(c *access.OIDCClient) {
		c.PostLogoutRedirectURIs = []string{bye}
		c.BackChannelLogoutURI, c.BackChannelLogoutSessionRequired = bcURI, true
	})
	alice := e.person(t, "alice", "")
	e.assign(t, c.app.ID, alice, "viewer")
	r := e.rp(t, c, "openid", "profile")
	b := e.browser(t)
	tok := r.login(b, alice.Username)
	offline := e.rp(t, c).login(b, alice.Username) // same session, with offline_access
	idt := r.verifyID(tok)
	var idc struct {
		SID string `json:"sid"`
	}
	_ = idt.Claims(&idc)

	q := url.Values{"id_token_hint": {tok.Extra("id_token").(string)}, "post_logout_redirect_uri": {bye}, "state": {"s1"}}
	a := b.get(endpoint(e.issuer(), "end_session") + "?" + q.Encode())
	if back := redirectQuery(t, a, bye); back.Get("state") != "s1" {
		t.Fatalf("post-logout redirect without state: %q", a.location)
	}
	if a := b.follow(r.authURL(oauth2.GenerateVerifier())); !b.isSignInPage(a) {
		t.Fatalf("after logout a new authorization must ask to sign in, got %d %q", a.status, a.location)
	}
	if active(e.introspect(t, c, tok.AccessToken)) {
		t.Fatal("the access token of the logged-out session is still active")
	}
	if _, err := r.refresh(offline.RefreshToken); err != nil {
		t.Fatalf("an offline_access refresh token should outlive the session (Back-Channel Logout §2.7): %v", err)
	}

	var lt string
	select {
	case lt = <-logoutTokens:
	case <-time.After(5 * time.Second):
		t.Fatal("no logout token reached the back-channel endpoint")
	}
	typ, claims := verifyJWT(t, e.issuer(), lt)
	events, _ := claims["events"].(map[string]any)
	_, isLogout := events["http://schemas.openid.net/event/backchannel-logout"]
	aud := claims["aud"]
	if l, ok := aud.([]any); ok && len(l) == 1 {
		aud = l[0]
	}
	if typ != "logout+jwt" || claims["iss"] != e.issuer() || aud != c.cfg.ClientID || claims["sub"] != string(alice.ID) ||
		claims["sid"] != idc.SID || idc.SID == "" || !isLogout || claims["iat"] == nil || claims["jti"] == nil || claims["nonce"] != nil {
		t.Fatalf("logout token: typ %q claims %v (id token sid %q)", typ, claims, idc.SID)
	}
}

// testClientCredentials proves the client-credentials grant for machine
// clients authenticating by client_secret_basic, client_secret_post and
// private_key_jwt, with an RFC 9068 access token (typ at+jwt, client_id,
// scope) that verifies against the JWKS.
func testClientCredentials(t *testing.T, e *op) {
	key := newKeyPair(t, "k1")
	basic := e.app(t, "Batch basic", "", machine(access.AuthClientSecretBasic))
	post := e.app(t, "Batch post", "", machine(access.AuthClientSecretPost))
	pkj := e.app(t, "Batch jwt", "", func(c *access.OIDCClient) {
		machine(access.AuthPrivateKeyJWT)(c)
		c.JWKS = jwks(t, key)
	})
	tokenURL := endpoint(e.issuer(), "token")
	ctx := oidc.ClientContext(t.Context(), &http.Client{Timeout: 30 * time.Second})
	cases := []struct {
		c   *client
		cfg clientcredentials.Config
	}{
		{basic, clientcredentials.Config{ClientID: basic.cfg.ClientID, ClientSecret: basic.secret, TokenURL: tokenURL,
			Scopes: []string{"orders:read"}, AuthStyle: oauth2.AuthStyleInHeader}},
		{post, clientcredentials.Config{ClientID: post.cfg.ClientID, ClientSecret: post.secret, TokenURL: tokenURL,
			Scopes: []string{"orders:read"}, AuthStyle: oauth2.AuthStyleInParams}},
		{pkj, clientcredentials.Config{ClientID: pkj.cfg.ClientID, TokenURL: tokenURL, Scopes: []string{"orders:read"},
			AuthStyle: oauth2.AuthStyleInParams, EndpointParams: url.Values{
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
				"client_assertion":      {sign(t, "RS256", key.priv, key.kid, assertionClaims(pkj.cfg.ClientID, e.issuer()))}}}},
	}
	for _, tc := range cases {
		tok, err := tc.cfg.Token(ctx)
		if err != nil {
			t.Fatalf("%s: %v", tc.c.cfg.TokenEndpointAuthMethod, err)
		}
		if tok.RefreshToken != "" {
			t.Fatalf("%s: client credentials must not issue a refresh token", tc.c.cfg.TokenEndpointAuthMethod)
		}
		typ, claims := verifyJWT(t, e.issuer(), tok.AccessToken)
		if typ != "at+jwt" || claims["iss"] != e.issuer() || claims["client_id"] != tc.c.cfg.ClientID ||
			claims["sub"] != tc.c.cfg.ClientID || !slices.Equal(scopesOf(claims["scope"]), []string{"orders:read"}) ||
			claims["exp"] == nil || claims["iat"] == nil || claims["jti"] == nil {
			t.Fatalf("%s: access token typ %q claims %v", tc.c.cfg.TokenEndpointAuthMethod, typ, claims)
		}
		if m := e.introspect(t, basic, tok.AccessToken); !active(m) || m["client_id"] != tc.c.cfg.ClientID {
			t.Fatalf("%s: introspection %v", tc.c.cfg.TokenEndpointAuthMethod, m)
		}
	}
}

// testBackChannelOnSessionRevocation proves an administrator ending a
// user's sessions has the same effect as a logout: the session's grant
// without offline access ends and the client receives a logout token.
func testBackChannelOnSessionRevocation(t *testing.T, e *op) {
	bcURI, logoutTokens := logoutReceiver(t)
	c := e.app(t, "Portal", redirect, func(c *access.OIDCClient) { c.BackChannelLogoutURI = bcURI })
	alice := e.person(t, "alice", "")
	e.assign(t, c.app.ID, alice, "viewer")
	r := e.rp(t, c, "openid")
	tok := r.login(e.browser(t), alice.Username)
	if n, err := e.srv.Sessions.RevokeAll(e.ctx, e.sc(), alice.ID, "", "admin"); err != nil || n != 1 {
		t.Fatalf("revoke sessions: %d %v", n, err)
	}
	if active(e.introspect(t, c, tok.AccessToken)) {
		t.Fatal("the revoked session's access token is still active")
	}
	select {
	case lt := <-logoutTokens:
		if _, claims := verifyJWT(t, e.issuer(), lt); claims["sub"] != string(alice.ID) {
			t.Fatalf("logout token claims %v", claims)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no logout token after the session was revoked")
	}
}

// testPublicClientPKCE proves a public client (auth method none) runs the
// code flow with PKCE and no secret, and refreshes without one.
func testPublicClientPKCE(t *testing.T, e *op) {
	c := e.app(t, "Mobile", "com.example.app:/callback", func(c *access.OIDCClient) {
		c.Type, c.TokenEndpointAuthMethod, c.RequirePKCE = access.ClientPublic, access.AuthNone, true
	})
	if c.secret != "" {
		t.Fatal("a public client got a secret")
	}
	alice := e.person(t, "alice", "")
	e.assign(t, c.app.ID, alice, "viewer")
	r := e.rp(t, c)
	code, _ := r.code(e.browser(t), alice.Username)
	if _, err := r.conf.Exchange(r.ctx, code); oauthError(err) == "" {
		t.Fatal("a public client redeemed a code without its code_verifier")
	}
	code, verifier := r.code(e.browser(t), alice.Username)
	tok, err := r.exchange(code, verifier)
	if err != nil {
		t.Fatal(err)
	}
	if idt := r.verifyID(tok); idt.Subject != string(alice.ID) {
		t.Fatalf("sub %s", idt.Subject)
	}
	next, err := r.refresh(tok.RefreshToken)
	if err != nil {
		t.Fatalf("public client refresh: %v", err)
	}
	// A public client revokes with its client_id alone (RFC 7009 §2.1).
	status, m := call(t, endpoint(e.issuer(), "revoke"), url.Values{"token": {next.RefreshToken}, "client_id": {c.cfg.ClientID}}, "", "")
	if status != http.StatusOK {
		t.Fatalf("public client revocation: %d %v", status, m)
	}
	if _, err := r.refresh(next.RefreshToken); oauthError(err) != "invalid_grant" {
		t.Fatalf("refresh after the public client revoked: want invalid_grant, got %v", err)
	}
}

// testConsentOnce proves a client that requires consent shows the consent
// page at the first sign-in only; the next sign-in skips it.
func testConsentOnce(t *testing.T, e *op) {
	c := e.app(t, "Third party", redirect, func(c *access.OIDCClient) { c.RequireConsent = true })
	alice := e.person(t, "alice", "")
	e.assign(t, c.app.ID, alice, "viewer")
	r := e.rp(t, c)
	for i, want := range []int{1, 0} {
		a, consents := e.browser(t).authorizeCounting(r.authURL(oauth2.GenerateVerifier()), alice.Username)
		if q := redirectQuery(t, a, redirect); q.Get("code") == "" {
			t.Fatalf("sign-in %d: no code: %q", i+1, a.location)
		}
		if consents != want {
			t.Fatalf("sign-in %d: consent page shown %d times, want %d", i+1, consents, want)
		}
	}
	// prompt=none before consent to new scopes: consent_required; asking
	// for more scopes than consented shows the page again.
	wider := e.rp(t, c, "openid", "profile", "email", "groups")
	b0 := e.browser(t)
	r.code(b0, alice.Username)
	a0 := b0.follow(wider.authURL(oauth2.GenerateVerifier(), oauth2.SetAuthURLParam("prompt", "none")))
	if q := redirectQuery(t, a0, redirect); q.Get("error") != "consent_required" || q.Get("code") != "" {
		t.Fatalf("prompt=none without consent to new scopes: want consent_required, got %q", a0.location)
	}
	if _, consents := b0.authorizeCounting(wider.authURL(oauth2.GenerateVerifier()), alice.Username); consents != 1 {
		t.Fatalf("new scopes: consent page shown %d times, want 1", consents)
	}

	// Another user who declines: error=access_denied, no code.
	bob := e.person(t, "bob", "")
	e.assign(t, c.app.ID, bob, "viewer")
	b := e.browser(t)
	page := b.signIn(b.follow(r.authURL(oauth2.GenerateVerifier())), bob.Username)
	m, id := csrfField.FindStringSubmatch(page.body), idField.FindStringSubmatch(page.body)
	if m == nil || id == nil || !strings.Contains(page.body, `name="decision"`) {
		t.Fatalf("want the consent page, got %d %q", page.status, page.location)
	}
	a := b.post(e.url+"/t/"+slug+"/oauth2/consent", url.Values{"csrf": {m[1]}, "id": {id[1]}, "decision": {"deny"}})
	if q := redirectQuery(t, a, redirect); q.Get("error") != "access_denied" || q.Get("code") != "" {
		t.Fatalf("declined consent: want error=access_denied, got %q", a.location)
	}
}

// testDiscovery proves the discovery document announces what a relying
// party needs and nothing RFC 9700 rules out: S256 only, the code flow
// only, the endpoints and auth methods in use, back-channel logout.
func testDiscovery(t *testing.T, e *op) {
	var d struct {
		Issuer             string   `json:"issuer"`
		Introspection      string   `json:"introspection_endpoint"`
		Revocation         string   `json:"revocation_endpoint"`
		EndSession         string   `json:"end_session_endpoint"`
		JWKS               string   `json:"jwks_uri"`
		ResponseTypes      []string `json:"response_types_supported"`
		GrantTypes         []string `json:"grant_types_supported"`
		PKCE               []string `json:"code_challenge_methods_supported"`
		AuthMethods        []string `json:"token_endpoint_auth_methods_supported"`
		BackChannel        bool     `json:"backchannel_logout_supported"`
		BackChannelSession bool     `json:"backchannel_logout_session_supported"`
	}
	r := e.rp(t, e.app(t, "Portal", redirect, nil))
	if err := r.provider.Claims(&d); err != nil {
		t.Fatal(err)
	}
	base := e.issuer() + "/oauth2/"
	if d.Issuer != e.issuer() || d.Introspection != base+"introspect" || d.Revocation != base+"revoke" ||
		d.EndSession != base+"end_session" || d.JWKS != base+"keys" {
		t.Fatalf("endpoints: %+v", d)
	}
	if !slices.Equal(d.PKCE, []string{"S256"}) || slices.Contains(d.ResponseTypes, "token") ||
		slices.Contains(d.ResponseTypes, "id_token token") || slices.Contains(d.GrantTypes, "implicit") ||
		slices.Contains(d.GrantTypes, "password") {
		t.Fatalf("announces what it must not: %+v", d)
	}
	for _, m := range []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"} {
		if !slices.Contains(d.AuthMethods, m) {
			t.Fatalf("token_endpoint_auth_methods_supported lacks %s: %v", m, d.AuthMethods)
		}
	}
	for _, g := range []string{"authorization_code", "refresh_token", "client_credentials"} {
		if !slices.Contains(d.GrantTypes, g) {
			t.Fatalf("grant_types_supported lacks %s: %v", g, d.GrantTypes)
		}
	}
	if !d.BackChannel || !d.BackChannelSession {
		t.Fatalf("back-channel logout not announced: %+v", d)
	}
}

// testPrivateKeyJWTCodeFlow proves a confidential client authenticating by
// private_key_jwt runs the code flow and refreshes with assertions.
func testPrivateKeyJWTCodeFlow(t *testing.T, e *op) {
	key := newKeyPair(t, "k1")
	c := e.app(t, "Portal jwt", redirect, func(c *access.OIDCClient) {
		c.TokenEndpointAuthMethod, c.JWKS = access.AuthPrivateKeyJWT, jwks(t, key)
	})
	alice := e.person(t, "alice", "")
	e.assign(t, c.app.ID, alice, "viewer")
	r := e.rp(t, c)
	assertion := func() string {
		return sign(t, "RS256", key.priv, key.kid, assertionClaims(c.cfg.ClientID, e.issuer()))
	}
	code, verifier := r.code(e.browser(t), alice.Username)
	tok, err := r.conf.Exchange(r.ctx, code, oauth2.VerifierOption(verifier),
		oauth2.SetAuthURLParam("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
		oauth2.SetAuthURLParam("client_assertion", assertion()))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if idt := r.verifyID(tok); idt.Subject != string(alice.ID) {
		t.Fatalf("sub %s", idt.Subject)
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion()}}
	if status, m := e.token(t, form, "", ""); status != http.StatusOK || m["refresh_token"] == nil {
		t.Fatalf("refresh: %d %v", status, m)
	}
	if status, m := e.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken},
		"client_id": {c.cfg.ClientID}}, "", ""); status != http.StatusUnauthorized {
		t.Fatalf("refresh without an assertion: want 401, got %d %v", status, m)
	}
}
