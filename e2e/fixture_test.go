package e2e

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/config"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/testkit"
	"github.com/tessera-iam/tessera/internal/user"
)

// fixture is a server with one active user of the default tenant, who has
// a password, a verified email and one bookmark application.
type fixture struct {
	env       *testkit.Env
	ctx       context.Context // the test's deadline, as the fixtures' actor
	tenant    tenant.ID
	userID    user.ID
	username  string
	email     string
	password  string
	appID     string
	appName   string
	launchURL string
}

// newFixture starts the server (SQLite) with options applied to its
// configuration, and creates the user and application.
func newFixture(t *testing.T, options ...func(*config.Config)) *fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	ctx = audit.WithActor(ctx, audit.Actor{Type: "system", ID: "e2e-test"})
	env := testkit.NewServer(t, testkit.OpenSQLite(t), options...)
	s := env.Server
	ten, err := s.Tenants.TenantBySlug(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{env: env, ctx: ctx, tenant: ten.ID, username: "ada", email: "ada@example.com",
		password: "Analytical-Engine-1843", appName: "Ledger", launchURL: "https://example.com/app"}
	sc := tenant.Scope{Tenant: ten.ID}
	u, err := s.Users.Create(ctx, sc, user.NewUser{Username: f.username, GivenName: "Ada", FamilyName: "Lovelace",
		Emails: []user.Email{{Value: f.email, Primary: true, Verified: true}}, Status: user.Active})
	if err != nil {
		t.Fatal(err)
	}
	f.userID = u.ID
	if _, err := s.Users.SetPassword(ctx, sc, u.ID, f.password); err != nil {
		t.Fatal(err)
	}
	app, err := s.Access.CreateApplication(ctx, sc, access.NewApplication{Name: f.appName, Kind: access.KindBookmark, LaunchURL: f.launchURL})
	if err != nil {
		t.Fatal(err)
	}
	f.appID = string(app.ID)
	if _, err := s.Access.Assign(ctx, sc, app.ID, access.NewAssignment{
		Principal: access.Principal{Type: access.PrincipalUser, ID: string(u.ID)}}); err != nil {
		t.Fatal(err)
	}
	return f
}

// browser starts a browser for this fixture's server; its screenshots are
// named name-NN-step.png.
func (f *fixture) browser(t *testing.T, name string) *browser {
	t.Helper()
	return newBrowser(t, f.ctx, f.env.URL, name)
}

// setPolicy changes the tenant's sign-in policy from the default.
func (f *fixture) setPolicy(t *testing.T, change func(p *session.Policy)) {
	t.Helper()
	p := session.DefaultPolicy()
	change(&p)
	if err := f.env.Server.Sessions.SetPolicy(f.ctx, tenant.Scope{Tenant: f.tenant}, p); err != nil {
		t.Fatal(err)
	}
}

// user reads the user back.
func (f *fixture) user(t *testing.T) *user.User {
	t.Helper()
	u, err := f.env.Server.Users.User(f.ctx, tenant.Scope{Tenant: f.tenant}, f.userID)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// authenticator is the user's authenticator app: it computes TOTP codes
// from the secret the set-up page shows. The server accepts a code for one
// step either side of its own and each step only once per factor, so each
// code is for the step after the previous one: the second code is for the
// next step, still within the accepted window as long as a test takes less
// than 30 s between the two.
type authenticator struct {
	t      *testing.T
	secret string
	next   time.Time // the time of the next code's step; zero: now
}

func (a *authenticator) code() string {
	a.t.Helper()
	at := a.next
	if at.IsZero() {
		at = time.Now()
	}
	c, err := totp.GenerateCode(a.secret, at)
	if err != nil {
		a.t.Fatal(err)
	}
	a.next = at.Add(30 * time.Second)
	return c
}

// addAuthenticator goes through the authenticator app set-up page the
// browser is on: reads the key, types the first code and confirms. It
// returns the recovery codes the next page shows.
func (b *browser) addAuthenticator(confirmAction, step string) (*authenticator, []string) {
	b.t.Helper()
	secret := strings.ReplaceAll(b.text("#totp-secret"), " ", "")
	if !regexp.MustCompile(`^[A-Z2-7]{16,}$`).MatchString(secret) {
		b.t.Fatalf("the set-up page shows the key %q", secret)
	}
	if src := eval[string](b, `document.querySelector('img.qr').getAttribute('src')`); !strings.HasPrefix(src, "data:image/png;base64,") {
		b.t.Fatalf("the set-up page's QR code is %.40q", src)
	}
	a := &authenticator{t: b.t, secret: secret}
	b.fill("#code", a.code())
	b.submit(`form[action$="`+confirmAction+`"] button[type=submit]`, step)
	b.expectPage("/t/default"+confirmAction, "Save your recovery codes")
	return a, b.recoveryCodes()
}

// recoveryCodes reads the recovery codes the page shows.
func (b *browser) recoveryCodes() []string {
	b.t.Helper()
	codes := eval[[]string](b, `[...document.querySelectorAll('#recovery-codes code')].map(c => c.textContent.trim())`)
	if len(codes) < 5 {
		b.t.Fatalf("%d recovery codes shown: %q", len(codes), codes)
	}
	return codes
}
