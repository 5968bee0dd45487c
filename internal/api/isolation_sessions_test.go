package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/id"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/testkit"
	"github.com/tessera-iam/tessera/internal/user"
)

// Isolation rows for a user's sessions and factors and for the sign-in
// policy; isoRows appends them.

const isoSignInPassword = "correct horse battery staple 9"

// isoSigned makes a user of target's scope with a password, signs them in
// once and returns the user and the session ("missing": ids that exist
// nowhere). stable hands out one per target whatever the mode, for reads.
func (f *isoFixture) isoSigned(t *testing.T, target string, stable bool) (string, string) {
	t.Helper()
	key := "signed-in/" + target
	dry := f.dry
	if stable {
		key, f.dry = "signed-in-stable/"+target, true
	}
	v := f.isoFresh(key, func() string {
		s := f.scope[target]
		if s.tenant == "" {
			return id.New("usr", time.Now()) + "|" + id.New("ses", time.Now())
		}
		u := f.isoSignInUser(t, target)
		out, err := f.env.Server.Sessions.SignIn(f.ctx, f.tenantID[s.tenant], session.Attempt{Login: u.Username, Password: isoSignInPassword,
			Client: session.Client{IP: "192.0.2.7", UserAgent: "isolation"}})
		isoCheck(t, err)
		if out.Session == nil {
			t.Fatalf("sign-in of %s opened no session: %+v", u.ID, out)
		}
		f.objects[string(out.Session.ID)] = s
		return string(u.ID) + "|" + string(out.Session.ID)
	})
	f.dry = dry
	uid, sid, _ := strings.Cut(v, "|")
	return uid, sid
}

func (f *isoFixture) isoSignInUser(t *testing.T, target string) *user.User {
	t.Helper()
	s := f.scope[target]
	u, err := f.env.Server.Users.Create(f.ctx, f.tscope(s), user.NewUser{Username: f.next("signer"), Org: tenant.OrgID(s.org)})
	isoCheck(t, err)
	f.objects[string(u.ID)] = s
	_, err = f.env.Server.Users.SetPassword(f.ctx, f.tscope(s), u.ID, isoSignInPassword)
	isoCheck(t, err)
	return u
}

// isoEnrolled makes a user of target's scope with one confirmed TOTP
// factor and returns the user and the factor.
func (f *isoFixture) isoEnrolled(t *testing.T, target string, stable bool) (string, string) {
	t.Helper()
	key := "enrolled/" + target
	dry := f.dry
	if stable {
		key, f.dry = "enrolled-stable/"+target, true
	}
	v := f.isoFresh(key, func() string {
		s := f.scope[target]
		if s.tenant == "" {
			return id.New("usr", time.Now()) + "|" + id.New("mfa", time.Now())
		}
		u, err := f.env.Server.Users.Create(f.ctx, f.tscope(s), user.NewUser{Username: f.next("enrolled"), Org: tenant.OrgID(s.org)})
		isoCheck(t, err)
		f.objects[string(u.ID)] = s
		fid := sesEnrolTOTP(t, f.env, f.tenantID[s.tenant], u)
		f.objects[fid] = s
		return string(u.ID) + "|" + fid
	})
	f.dry = dry
	uid, fid, _ := strings.Cut(v, "|")
	return uid, fid
}

// isoUserAnd addresses a user's sub-resource: target "x" is x's own user and
// object; "x/y" is x's fixture user with y's object (never theirs).
func isoUserAnd(t *testing.T, f *isoFixture, target, sub string, mk func(*testing.T, string, bool) (string, string)) isoCall {
	u, other, pair := strings.Cut(target, "/")
	uid, oid := mk(t, u, false)
	if pair {
		uid = f.user[u]
		if other == "missing" {
			oid = id.New(map[string]string{"sessions": "ses", "factors": "mfa"}[sub], time.Now())
		} else {
			_, oid = mk(t, other, false)
		}
	}
	return isoCall{path: "/api/v1/users/" + uid + "/" + sub + "/" + oid, at: f.scope[u]}
}

// isoOwnOnly answers ok for a user's own object in reach, 404 for anything
// else: an object of another user is not found under this one.
func isoOwnOnly(ok int) func(isoPrincipal, string, isoCall) int {
	return func(p isoPrincipal, target string, c isoCall) int {
		if strings.Contains(target, "/") || !p.sees(c.at) {
			return http.StatusNotFound
		}
		return ok
	}
}

var isoOwnTargets = append(append([]string{}, isoIDTargets...), "o1/o2", "o1/missing")

// isoConsented makes a user of target's scope who has consented to the
// fixture application of that tenant and returns both ("missing": ids that
// exist nowhere). stable hands out one per target whatever the mode.
func (f *isoFixture) isoConsented(t *testing.T, target string, stable bool) (string, string) {
	t.Helper()
	key := "consented/" + target
	dry := f.dry
	if stable {
		key, f.dry = "consented-stable/"+target, true
	}
	v := f.isoFresh(key, func() string {
		s := f.scope[target]
		if s.tenant == "" {
			return id.New("usr", time.Now()) + "|" + id.New("app", time.Now())
		}
		u := f.isoSignInUser(t, target)
		app := map[string]string{"A": f.app["cfg"], "B": f.app["b"]}[s.tenant]
		isoCheck(t, f.env.Server.Grants.GiveConsent(f.ctx, f.tenantID[s.tenant], u.ID, access.AppID(app), []string{"openid"}))
		return string(u.ID) + "|" + app
	})
	f.dry = dry
	uid, app, _ := strings.Cut(v, "|")
	return uid, app
}

func isoSessionRows() []isoRow {
	const v1 = "/api/v1"
	orgPolicy := map[string]any{"mfa": "optional", "branding": map[string]any{"name": "Acme", "logo_url": "https://acme.example/logo.svg",
		"primary_color": "#1a4d8f", "background_color": "#ffffff"}}
	return []isoRow{
		{pattern: "GET /api/v1/users/{id}/consents", need: isoRead, targets: isoIDTargets,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				uid, _ := f.isoConsented(t, target, true)
				return isoCall{path: v1 + "/users/" + uid + "/consents", at: f.scope[target]}
			},
			expect: isoReach(http.StatusOK),
			check: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string, _ isoCall, res testkit.Response) {
				_, app := f.isoConsented(t, target, true)
				if !strings.Contains(string(res.Body), `"application_id":"`+app+`"`) || len(isoItems(t, res)) != 1 {
					t.Errorf("consents of a user who consented once: %s", res.Body)
				}
			}},
		{pattern: "DELETE /api/v1/users/{id}/consents/{application_id}", need: isoManage, targets: isoIDTargets,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				uid, app := f.isoConsented(t, target, false)
				return isoCall{path: v1 + "/users/" + uid + "/consents/" + app, at: f.scope[target]}
			},
			expect: isoReach(http.StatusNoContent)},
		{pattern: "GET /api/v1/users/{id}/sessions", need: isoRead, targets: isoIDTargets,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				uid, _ := f.isoSigned(t, target, true)
				return isoCall{path: v1 + "/users/" + uid + "/sessions", at: f.scope[target]}
			},
			expect: isoReach(http.StatusOK),
			check: func(t *testing.T, f *isoFixture, p isoPrincipal, target string, _ isoCall, res testkit.Response) {
				_, sid := f.isoSigned(t, target, true)
				isoListCheck(t, f, p, res, f.known(), []string{sid})
				if len(isoItems(t, res)) != 1 || strings.Contains(string(res.Body), "token") {
					t.Errorf("sessions of a user signed in once: %s", res.Body)
				}
			}},
		{pattern: "DELETE /api/v1/users/{id}/sessions", need: isoManage, targets: isoIDTargets,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				uid, _ := f.isoSigned(t, target, false)
				return isoCall{path: v1 + "/users/" + uid + "/sessions", at: f.scope[target]}
			},
			expect: isoReach(http.StatusOK),
			check: func(t *testing.T, _ *isoFixture, _ isoPrincipal, _ string, _ isoCall, res testkit.Response) {
				if n, _ := res.JSON(t)["revoked"].(float64); n != 1 {
					t.Errorf("revoked %v sessions, want 1: %s", n, res.Body)
				}
			}},
		{pattern: "DELETE /api/v1/users/{id}/sessions/{session_id}", need: isoManage, targets: isoOwnTargets,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoUserAnd(t, f, target, "sessions", f.isoSigned)
			},
			expect: isoOwnOnly(http.StatusNoContent)},
		{pattern: "GET /api/v1/users/{id}/factors", need: isoRead, targets: isoIDTargets,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				uid, _ := f.isoEnrolled(t, target, true)
				return isoCall{path: v1 + "/users/" + uid + "/factors", at: f.scope[target]}
			},
			expect: isoReach(http.StatusOK),
			check: func(t *testing.T, f *isoFixture, p isoPrincipal, target string, _ isoCall, res testkit.Response) {
				_, fid := f.isoEnrolled(t, target, true)
				isoListCheck(t, f, p, res, f.known(), []string{fid})
				if left, _ := res.JSON(t)["recovery_codes_left"].(float64); left != 10 {
					t.Errorf("recovery_codes_left = %v, want 10", left)
				}
				if strings.Contains(string(res.Body), "secret") || strings.Contains(string(res.Body), "credential") {
					t.Errorf("factor list shows secrets: %s", res.Body)
				}
			}},
		{pattern: "DELETE /api/v1/users/{id}/factors", need: isoManage, targets: isoIDTargets,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				uid, _ := f.isoEnrolled(t, target, false)
				return isoCall{path: v1 + "/users/" + uid + "/factors", at: f.scope[target]}
			},
			expect: isoReach(http.StatusOK),
			check: func(t *testing.T, _ *isoFixture, _ isoPrincipal, _ string, _ isoCall, res testkit.Response) {
				if n, _ := res.JSON(t)["removed"].(float64); n != 1 {
					t.Errorf("removed %v factors, want 1: %s", n, res.Body)
				}
			}},
		{pattern: "DELETE /api/v1/users/{id}/factors/{factor_id}", need: isoManage, targets: isoOwnTargets,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoUserAnd(t, f, target, "factors", f.isoEnrolled)
			},
			expect: isoOwnOnly(http.StatusNoContent)},

		// The sign-in policy: the tenant's is tenant-wide; an organization's
		// is its own admins' too; an application's is tenant configuration.
		{pattern: "GET /api/v1/sign-in-policy", need: isoRead,
			request: func(*testing.T, *isoFixture, isoPrincipal, string) isoCall {
				return isoCall{path: v1 + "/sign-in-policy"}
			},
			expect: isoConst(http.StatusOK)},
		{pattern: "PUT /api/v1/sign-in-policy", need: isoAdmin,
			request: func(*testing.T, *isoFixture, isoPrincipal, string) isoCall {
				p := session.DefaultPolicy()
				p.LockoutThreshold = 20
				return isoCall{path: v1 + "/sign-in-policy", body: p}
			},
			expect: isoWide(isoConst(http.StatusOK))},
		{pattern: "GET /api/v1/organizations/{id}/sign-in-policy", need: isoRead, targets: isoOrgTargets,
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/organizations/" + f.org[target] + "/sign-in-policy", at: f.scope[target]}
			},
			expect: isoReach(http.StatusOK)},
		{pattern: "PUT /api/v1/organizations/{id}/sign-in-policy", need: isoAdmin, targets: isoOrgTargets,
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/organizations/" + f.org[target] + "/sign-in-policy", body: orgPolicy, at: f.scope[target]}
			},
			expect: isoReach(http.StatusOK)},
		{pattern: "GET /api/v1/applications/{id}/sign-in-policy", need: isoRead, targets: isoCfgTargets,
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/applications/" + f.app[target] + "/sign-in-policy", at: f.scope[target]}
			},
			expect: isoReach(http.StatusOK)},
		{pattern: "PUT /api/v1/applications/{id}/sign-in-policy", need: isoAdmin, targets: isoCfgTargets,
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/applications/" + f.app[target] + "/sign-in-policy", body: map[string]any{"mfa": "optional"},
					at: f.scope[target]}
			},
			expect: isoWide(isoReach(http.StatusOK))},
	}
}

// sesEnrolTOTP gives u a confirmed TOTP factor, as the login pages would,
// and returns its id.
func sesEnrolTOTP(t testing.TB, env *testkit.Env, ten tenant.ID, u *user.User) string {
	t.Helper()
	ctx := t.Context()
	s := env.Server.Sessions
	ids := func() map[session.FactorID]bool {
		fs, err := s.Factors(ctx, tenant.Scope{Tenant: ten}, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		out := map[session.FactorID]bool{}
		for _, f := range fs {
			out[f.ID] = true
		}
		return out
	}
	before := ids()
	enrol, err := s.BeginTOTP(ctx, ten, u, "Tessera test")
	if err != nil {
		t.Fatal(err)
	}
	code, err := totp.GenerateCode(enrol.Secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConfirmTOTP(ctx, ten, u.ID, enrol.Token, code, "Phone"); err != nil {
		t.Fatal(err)
	}
	for fid := range ids() {
		if !before[fid] {
			return string(fid)
		}
	}
	t.Fatalf("enrolment made no factor")
	return ""
}
