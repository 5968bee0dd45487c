package e2e

import (
	"context"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/tenant"
)

// relyingParty is a small web application that signs its users in with
// OpenID Connect through go-oidc and x/oauth2 (an independent relying
// party): /login starts the code flow with PKCE, /callback finishes it and
// greets the user the ID token names.
type relyingParty struct {
	url      string
	mu       sync.Mutex
	state    string
	verifier string
}

func startRelyingParty(t *testing.T, f *fixture, name string, requireConsent bool) *relyingParty {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rp := &relyingParty{url: "http://" + ln.Addr().String()}
	sc := tenant.Scope{Tenant: f.tenant}
	s := f.env.Server
	app, err := s.Access.CreateApplication(f.ctx, sc, access.NewApplication{Name: name, Kind: access.KindOIDC})
	if err != nil {
		t.Fatal(err)
	}
	cfg := access.DefaultOIDCClient()
	cfg.RedirectURIs, cfg.RequireConsent = []string{rp.url + "/callback"}, requireConsent
	client, secret, err := s.Access.CreateOIDCClient(f.ctx, sc, app.ID, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Access.Assign(f.ctx, sc, app.ID, access.NewAssignment{
		Principal: access.Principal{Type: access.PrincipalUser, ID: string(f.userID)}}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, f.env.URL+"/t/default")
	if err != nil {
		t.Fatal(err)
	}
	conf := &oauth2.Config{ClientID: client.ClientID, ClientSecret: secret, Endpoint: provider.Endpoint(),
		RedirectURL: rp.url + "/callback", Scopes: []string{oidc.ScopeOpenID, "profile", "email"}}
	verifier := provider.Verifier(&oidc.Config{ClientID: client.ClientID})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		rp.mu.Lock()
		rp.state, rp.verifier = oauth2.GenerateVerifier(), oauth2.GenerateVerifier()
		u := conf.AuthCodeURL(rp.state, oauth2.S256ChallengeOption(rp.verifier))
		rp.mu.Unlock()
		http.Redirect(w, r, u, http.StatusFound)
	})
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		rp.mu.Lock()
		state, pkce := rp.state, rp.verifier
		rp.mu.Unlock()
		if e := r.URL.Query().Get("error"); e != "" || r.URL.Query().Get("state") != state {
			http.Error(w, "sign-in failed: "+e, http.StatusBadRequest)
			return
		}
		tok, err := conf.Exchange(r.Context(), r.URL.Query().Get("code"), oauth2.VerifierOption(pkce))
		if err != nil {
			http.Error(w, "exchange: "+err.Error(), http.StatusBadGateway)
			return
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := verifier.Verify(r.Context(), raw)
		if err != nil {
			http.Error(w, "id token: "+err.Error(), http.StatusBadGateway)
			return
		}
		var c struct {
			Username string `json:"preferred_username"`
		}
		_ = idt.Claims(&c)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="en"><head><meta name="viewport" content="width=device-width"><title>%s</title></head>`+
			`<body><main><h1>Hello %s</h1><p id="sub">%s</p></main></body></html>`, name, html.EscapeString(c.Username), html.EscapeString(idt.Subject))
	})
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux}}
	srv.Start()
	t.Cleanup(srv.Close)
	return rp
}

// A third-party web application signs Ada in with OpenID Connect in a real
// browser without JavaScript: its login sends the browser to Tessera's
// sign-in, then to the consent page, and back to the application, which
// verified the ID token; the second sign-in needs neither password nor
// consent.
func TestOIDCSignInWithConsent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	rp := startRelyingParty(t, f, "Partner analytics", true)
	b := f.browser(t, "oidc")
	b.withoutJavaScript()

	b.open(rp.url+"/login", "rp-login")
	if p := b.path(); !strings.HasPrefix(p, "/t/default/login?return=") {
		t.Fatalf("the application's login led to %s, not Tessera's sign-in", p)
	}
	b.signInHere(f.username, f.password, "/t/default/oauth2/login")
	b.expectPage("/t/default/oauth2/login", "Allow Partner analytics?")
	b.audit("consent")
	b.submit(`button[value="allow"]`, "allowed")
	if h := b.heading(); h != "Hello "+f.username || b.text("#sub") != string(f.userID) {
		t.Fatalf("back at the application: %q at %s", h, b.location())
	}

	b.open(rp.url+"/login", "rp-login-again")
	if h := b.heading(); h != "Hello "+f.username {
		t.Fatalf("the second sign-in did not come straight back: %q at %s", h, b.location())
	}
}
