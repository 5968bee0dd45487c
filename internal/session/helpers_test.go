package session_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/config"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/page"
	"github.com/tessera-iam/tessera/internal/server"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/store"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/testkit"
	"github.com/tessera-iam/tessera/internal/user"
)

// t0 is where every fixture's clock starts: on a TOTP step boundary, so the
// steps a test walks through are predictable.
var t0 = time.Date(2031, 3, 4, 10, 0, 0, 0, time.UTC)

// Passwords that meet the default policy and contain no fixture user's name.
const (
	goodPassword  = "violet-pumpkin-orbit-73"
	otherPassword = "amber-glacier-tundra-19"
	thirdPassword = "copper-meadow-lantern-58"
	wrongPassword = "not-the-password-at-all"
)

// fixture is a full server (services and hooks wired as in production) on
// a database, with a controlled clock and a tenant of its own.
type fixture struct {
	ctx    context.Context
	clk    *testkit.Clock
	srv    *server.Server
	db     *store.DB
	raw    *sql.DB // the same database behind the store's back; nil outside scenarios
	ses    *session.Service
	tenant tenant.ID
	slug   string
	sc     tenant.Scope
	start  time.Time // the clock when the fixture was made, on a TOTP step boundary
}

// newFixture builds a server on db, clock at t0, with tenant "acme".
func newFixture(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	ctx := context.Background()
	clk := testkit.NewClock(t0)
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	testkit.FastArgon2(&cfg)
	cfg.PublicURL = "http://localhost:8080" // never served: the tests call the services
	srv, err := server.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), db, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() }) // its background workers; the database closes twice harmlessly
	f := &fixture{ctx: ctx, clk: clk, srv: srv, db: db, ses: srv.Sessions}
	f.useTenant(t, "acme")
	return f
}

func (f *fixture) useTenant(t *testing.T, slug string) {
	t.Helper()
	ten, err := f.srv.Tenants.CreateTenant(f.ctx, slug, "Tenant "+slug)
	if err != nil {
		t.Fatal(err)
	}
	f.tenant, f.slug, f.sc, f.start = ten.ID, slug, tenant.Scope{Tenant: ten.ID}, f.clk.Now()
}

// scenario is one test of the package, given a fresh tenant.
type scenario struct {
	name string
	run  func(t *testing.T, f *fixture)
}

// runScenarios runs each scenario on both databases, one after another on
// one server per database, each in a tenant of its own and a week of fake
// time after the one before. (A fresh PostgreSQL database per scenario
// would cost more than the scenarios.) Scenarios must not count what other
// tenants may hold: PurgeExpired, for one, works across tenants.
func runScenarios(t *testing.T, list ...scenario) {
	testkit.EachRawDB(t, func(t *testing.T, db *store.DB, raw *sql.DB) {
		base := newFixture(t, db)
		for i, sc := range list {
			t.Run(sc.name, func(t *testing.T) {
				f := *base
				f.raw = raw
				f.clk.Set(t0.Add(time.Duration(i+1) * 7 * 24 * time.Hour))
				f.useTenant(t, fmt.Sprintf("s%d", i))
				sc.run(t, &f)
			})
		}
	})
}

// otherTenant creates a second tenant on the same server.
func (f *fixture) otherTenant(t *testing.T, name string) tenant.ID {
	t.Helper()
	ten, err := f.srv.Tenants.CreateTenant(f.ctx, f.slug+"-"+name, "Other "+name)
	if err != nil {
		t.Fatal(err)
	}
	return ten.ID
}

// newUser creates an active user name (primary email name@example.com,
// unverified) with goodPassword in the fixture's tenant.
func (f *fixture) newUser(t *testing.T, name string) *user.User {
	t.Helper()
	return f.newUserIn(t, f.sc, name)
}

func (f *fixture) newUserIn(t *testing.T, sc tenant.Scope, name string) *user.User {
	t.Helper()
	u, err := f.srv.Users.Create(f.ctx, sc, user.NewUser{Username: name,
		Emails: []user.Email{{Value: name + "@example.com", Primary: true}}, GivenName: "Test", FamilyName: "User"})
	if err != nil {
		t.Fatal(err)
	}
	if u, err = f.srv.Users.SetPassword(f.ctx, sc, u.ID, goodPassword); err != nil {
		t.Fatal(err)
	}
	if u.Status != user.Active {
		t.Fatalf("new user is %s", u.Status)
	}
	return u
}

func (f *fixture) user(t *testing.T, id user.ID) *user.User {
	t.Helper()
	u, err := f.srv.Users.User(f.ctx, f.sc, id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (f *fixture) transition(t *testing.T, id user.ID, op user.Op) *user.User {
	t.Helper()
	u, err := f.srv.Users.Transition(f.ctx, f.sc, id, op, 0)
	if err != nil {
		t.Fatalf("%s %s: %v", op, id, err)
	}
	return u
}

var client = session.Client{IP: "192.0.2.10", UserAgent: "session-test/1.0"}

func (f *fixture) signIn(login, pw string) (*session.Outcome, error) {
	return f.ses.SignIn(f.ctx, f.tenant, session.Attempt{Login: login, Password: pw, Client: client})
}

// mustSignIn signs in and expects a session at once (no second factor).
func (f *fixture) mustSignIn(t *testing.T, login, pw string) *session.Outcome {
	t.Helper()
	out, err := f.signIn(login, pw)
	if err != nil {
		t.Fatalf("sign in %s: %v", login, err)
	}
	if out.Session == nil || out.Token == "" || out.Pending != "" {
		t.Fatalf("sign in %s: want a session, got %+v", login, out)
	}
	return out
}

// mustPending signs in and expects a second-factor step.
func (f *fixture) mustPending(t *testing.T, login, pw string) *session.Outcome {
	t.Helper()
	out, err := f.signIn(login, pw)
	if err != nil {
		t.Fatalf("sign in %s: %v", login, err)
	}
	if out.Session != nil || out.Token != "" || out.Pending == "" {
		t.Fatalf("sign in %s: want a pending second factor, got %+v", login, out)
	}
	return out
}

// live reports whether token opens a session in the fixture's tenant,
// failing the test on any error but ErrNoSession.
func (f *fixture) live(t *testing.T, token string) bool {
	t.Helper()
	_, err := f.ses.Validate(f.ctx, f.tenant, token)
	if errors.Is(err, session.ErrNoSession) {
		return false
	}
	if err != nil {
		t.Fatalf("validate: %v", err)
	}
	return true
}

func (f *fixture) wantLive(t *testing.T, what, token string, want bool) {
	t.Helper()
	if got := f.live(t, token); got != want {
		t.Errorf("%s: session live = %v, want %v", what, got, want)
	}
}

func (f *fixture) fingerprint(t *testing.T) string {
	t.Helper()
	fp, err := f.db.Fingerprint(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

// event is an audit record with its details decoded.
type event struct {
	audit.Record
	details map[string]any
}

// events lists the tenant's audit events of action (exact, or a prefix
// ending in a dot), oldest first.
func (f *fixture) events(t *testing.T, action string) []event {
	t.Helper()
	var out []event
	q := audit.Query{Action: action, Request: page.Request{Limit: page.MaxLimit}}
	for {
		pg, err := f.srv.Audit.List(f.ctx, string(f.tenant), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range pg.Items {
			e := event{Record: r}
			if err := json.Unmarshal(r.Details, &e.details); err != nil {
				t.Fatalf("details of %s: %v", r.Action, err)
			}
			out = append(out, e)
		}
		if pg.Next == "" {
			return out
		}
		q.Cursor = pg.Next
	}
}

// reasons lists details.reason of the failed sign-in events, oldest first.
func (f *fixture) reasons(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, e := range f.events(t, audit.ActionSignIn) {
		if e.Outcome == audit.Failure {
			out = append(out, fmt.Sprint(e.details["reason"]))
		}
	}
	return out
}

// code is the TOTP code of secret at time at.
func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wrongCode is a six-digit code that is not valid for secret around at (in
// any step the server accepts), so a test never passes by luck.
func wrongCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	valid := []string{code(t, secret, at.Add(-30*time.Second)), code(t, secret, at), code(t, secret, at.Add(30*time.Second))}
	for i := 0; ; i++ {
		if c := fmt.Sprintf("%06d", i*7919%1000000); !slices.Contains(valid, c) {
			return c
		}
	}
}

// enrolTOTP gives u a TOTP factor, confirmed with the current code, and
// returns its secret and the recovery codes.
func (f *fixture) enrolTOTP(t *testing.T, u *user.User) (string, []string) {
	t.Helper()
	enr, err := f.ses.BeginTOTP(f.ctx, f.tenant, u, "Tessera")
	if err != nil {
		t.Fatal(err)
	}
	codes, err := f.ses.ConfirmTOTP(f.ctx, f.tenant, u.ID, enr.Token, code(t, enr.Secret, f.clk.Now()), "phone")
	if err != nil {
		t.Fatal(err)
	}
	return enr.Secret, codes
}

func (f *fixture) setPolicy(t *testing.T, change func(p *session.Policy)) {
	t.Helper()
	p, err := f.ses.Policy(f.ctx, f.tenant)
	if err != nil {
		t.Fatal(err)
	}
	change(&p)
	if err := f.ses.SetPolicy(f.ctx, f.sc, p); err != nil {
		t.Fatal(err)
	}
}

// fieldNames lists the fields an error names.
func fieldNames(err error) []string {
	var out []string
	for _, fe := range errkind.Fields(err) {
		out = append(out, fe.Field)
	}
	return out
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: err = %v, want %v", what, err, target)
	}
}

func throttled(err error) (*session.ThrottledError, bool) {
	var te *session.ThrottledError
	ok := errors.As(err, &te)
	return te, ok
}
