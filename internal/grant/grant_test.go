package grant_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/grant"
	"github.com/tessera-iam/tessera/internal/server"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/store"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/testkit"
	"github.com/tessera-iam/tessera/internal/user"
)

// env is a server's grant service with one user assigned to one OIDC
// application.
type env struct {
	srv  *server.Server
	svc  *grant.Service
	t    tenant.ID
	app  access.AppID
	cid  string
	user user.ID
	ses  *session.Session
}

func newEnv(t *testing.T, db *store.DB) *env {
	t.Helper()
	ctx := context.Background()
	s := testkit.NewServer(t, db).Server
	ten, err := s.Tenants.TenantBySlug(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	sc := tenant.Scope{Tenant: ten.ID}
	app, err := s.Access.CreateApplication(ctx, sc, access.NewApplication{Name: "Portal", Kind: access.KindOIDC})
	if err != nil {
		t.Fatal(err)
	}
	cfg := access.DefaultOIDCClient()
	cfg.RedirectURIs = []string{"https://app.example.net/cb"}
	c, _, err := s.Access.CreateOIDCClient(ctx, sc, app.ID, cfg)
	if err != nil {
		t.Fatal(err)
	}
	const password = "violet-pumpkin-orbit-73"
	u, err := s.Users.Create(ctx, sc, user.NewUser{Username: "ada", Emails: []user.Email{{Value: "ada@example.com", Primary: true}},
		Password: password})
	if err != nil {
		t.Fatal(err)
	}
	in, err := s.Sessions.SignIn(ctx, ten.ID, session.Attempt{Login: "ada", Password: password})
	if err != nil || in.Session == nil {
		t.Fatalf("sign-in: %+v %v", in, err)
	}
	if _, err := s.Access.Assign(ctx, sc, app.ID, access.NewAssignment{
		Principal: access.Principal{Type: access.PrincipalUser, ID: string(u.ID)}}); err != nil {
		t.Fatal(err)
	}
	return &env{srv: s, svc: s.Grants, t: ten.ID, app: app.ID, cid: c.ClientID, user: u.ID, ses: in.Session}
}

// code records a completed request and its code.
func (e *env) code(t *testing.T) (*grant.Request, string) {
	t.Helper()
	ctx := context.Background()
	r, err := e.svc.NewRequest(ctx, e.t, e.app, grant.Hash("browser"), grant.Params{ClientID: e.cid, Scopes: []string{"openid", "offline_access"}})
	if err != nil {
		t.Fatal(err)
	}
	if r, err = e.svc.Complete(ctx, e.t, r.ID, e.ses); err != nil {
		t.Fatal(err)
	}
	code := grant.NewSecret("tac")
	if err := e.svc.SaveCode(ctx, e.t, r.ID, code); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SaveCode(ctx, e.t, r.ID, grant.NewSecret("tac")); !errors.Is(err, grant.ErrCodeIssued) {
		t.Fatalf("a second code for one request: %v", err)
	}
	// Settled: another sign-in in this browser cannot change whom the code
	// stands for.
	if _, err := e.svc.Complete(ctx, e.t, r.ID, &session.Session{ID: "ses_other", User: "usr_other", Created: time.Now()}); !errors.Is(err, grant.ErrRequestNotFound) {
		t.Fatalf("completing a request whose code was issued: %v", err)
	}
	return r, code
}

func (e *env) issue(r *grant.Request, code string) grant.Issue {
	return grant.Issue{Tenant: e.t, App: e.app, ClientID: e.cid, GrantType: access.GrantAuthorizationCode, User: e.user,
		Session: r.Params.Session, Request: r.ID, Code: code, Scopes: r.Params.Scopes, AccessLifetime: time.Minute,
		Refresh: true, RefreshLifetime: time.Hour}
}

// Of concurrent redemptions of one code, exactly one issues; the others
// are replays, which revoke what the winner was given (RFC 6749 §4.1.2).
func TestConcurrentCodeRedemption(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		r, code := e.code(t)
		const n = 6
		outs, errs := make([]*grant.Issued, n), make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { outs[i], errs[i] = e.svc.Issue(context.Background(), e.issue(r, code)) })
		}
		wg.Wait()
		var won *grant.Issued
		for i := range n {
			switch {
			case errs[i] == nil && won == nil:
				won = outs[i]
			case errs[i] == nil:
				t.Fatal("two redemptions of one code issued tokens")
			case !errors.Is(errs[i], grant.ErrCodeInvalid):
				t.Fatalf("redemption %d: %v", i, errs[i])
			}
		}
		if won == nil {
			t.Fatal("no redemption issued")
		}
		if _, err := e.svc.Refresh(context.Background(), e.t, won.RefreshToken); !errors.Is(err, grant.ErrTokenInvalid) {
			t.Fatalf("the winner's refresh token after replays: %v", err)
		}
		if _, _, err := e.svc.AccessToken(context.Background(), e.t, won.AccessID); !errors.Is(err, grant.ErrTokenInvalid) {
			t.Fatalf("the winner's access token after replays: %v", err)
		}
	})
}

// Of concurrent rotations of one refresh token, one gets the successor;
// the others are reuse, which ends the whole family (RFC 9700 §4.14.2).
func TestConcurrentRefreshRotation(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		r, code := e.code(t)
		first, err := e.svc.Issue(ctx, e.issue(r, code))
		if err != nil {
			t.Fatal(err)
		}
		g, err := e.svc.Refresh(ctx, e.t, first.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		const n = 6
		outs, errs := make([]*grant.Issued, n), make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				outs[i], errs[i] = e.svc.Rotate(ctx, g, first.RefreshToken, grant.Issue{Scopes: g.Scopes, AccessLifetime: time.Minute})
			})
		}
		wg.Wait()
		wins := 0
		var next string
		for i := range n {
			if errs[i] == nil {
				wins, next = wins+1, outs[i].RefreshToken
			} else if !errors.Is(errs[i], grant.ErrTokenInvalid) {
				t.Fatalf("rotation %d: %v", i, errs[i])
			}
		}
		if wins != 1 {
			t.Fatalf("%d rotations of one refresh token succeeded, want 1", wins)
		}
		if _, err := e.svc.Refresh(ctx, e.t, next); !errors.Is(err, grant.ErrTokenInvalid) {
			t.Fatalf("the family's newest token after reuse: %v", err)
		}
	})
}

// A code redeemed after its session ended (here an admin's revocation)
// gives nothing: no logout would reach the grant. The code stays unused.
func TestNoGrantFromAnEndedSession(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		r, code := e.code(t)
		if _, err := e.srv.Sessions.RevokeAll(ctx, tenant.Scope{Tenant: e.t}, e.user, "", "admin"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Issue(ctx, e.issue(r, code)); !errors.Is(err, grant.ErrSessionEnded) {
			t.Fatalf("issue from an ended session: %v", err)
		}
		if _, err := e.svc.CodeRequest(ctx, e.t, code); err != nil {
			t.Fatalf("the code was used up by the refused issue: %v", err)
		}
	})
}
