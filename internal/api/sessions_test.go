package api_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/testkit"
	"github.com/tessera-iam/tessera/internal/user"
)

// sesWorld is a tenant with two organizations, a user in each with a
// password, and tokens of every kind.
type sesWorld struct {
	env                *testkit.Env
	ten                tenant.ID
	orgA, orgB         string
	ada, bob           string // ada in orgA, bob in orgB
	admin, manager, ro string
	scopedA, scopedARO string // organization-scoped to orgA: admin, read-only
}

const sesPassword = "a long enough passphrase 7"

func sesSetup(t *testing.T, env *testkit.Env) *sesWorld {
	t.Helper()
	w := &sesWorld{env: env, admin: env.AdminToken}
	ten, err := env.Server.Tenants.TenantBySlug(t.Context(), "default")
	if err != nil {
		t.Fatal(err)
	}
	w.ten = ten.ID
	w.orgA = isoCreate(t, env, w.admin, "/api/v1/organizations", map[string]any{"name": "Acme"})
	w.orgB = isoCreate(t, env, w.admin, "/api/v1/organizations", map[string]any{"name": "Bravo"})
	w.ada = isoCreate(t, env, w.admin, "/api/v1/users", map[string]any{"username": "ada", "organization_id": w.orgA, "password": sesPassword})
	w.bob = isoCreate(t, env, w.admin, "/api/v1/users", map[string]any{"username": "bob", "organization_id": w.orgB})
	// A password set through the service, the other way in.
	if _, err := env.Server.Users.SetPassword(t.Context(), tenant.Scope{Tenant: w.ten}, user.ID(w.bob), sesPassword); err != nil {
		t.Fatal(err)
	}
	_, w.manager = isoNewToken(t, env, map[string]any{"name": "manager", "role": "user-manager"})
	_, w.ro = isoNewToken(t, env, map[string]any{"name": "reader", "role": "read-only"})
	_, w.scopedA = isoNewToken(t, env, map[string]any{"name": "acme admin", "role": "admin", "organization_id": w.orgA})
	_, w.scopedARO = isoNewToken(t, env, map[string]any{"name": "acme reader", "role": "read-only", "organization_id": w.orgA})
	return w
}

// signIn opens a session for login and returns it with its browser token.
func (w *sesWorld) signIn(t *testing.T, login, agent string) (*session.Session, string) {
	t.Helper()
	out, err := w.env.Server.Sessions.SignIn(t.Context(), w.ten, session.Attempt{Login: login, Password: sesPassword,
		Client: session.Client{IP: "198.51.100.4", UserAgent: agent}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Session == nil || out.Token == "" {
		t.Fatalf("sign-in of %s opened no session (pending %v, enrol %v)", login, out.Pending != "", out.Enrol)
	}
	return out.Session, out.Token
}

// valid reports whether a browser token still opens a session.
func (w *sesWorld) valid(t *testing.T, token string) bool {
	t.Helper()
	_, err := w.env.Server.Sessions.Validate(t.Context(), w.ten, token)
	if err != nil && !errors.Is(err, session.ErrNoSession) {
		t.Fatal(err)
	}
	return err == nil
}

type sesSession struct {
	ID         string   `json:"id"`
	CreatedAt  string   `json:"created_at"`
	LastSeenAt string   `json:"last_seen_at"`
	IdleUntil  string   `json:"idle_until"`
	ExpiresAt  string   `json:"expires_at"`
	AMR        []string `json:"amr"`
	MFA        bool     `json:"mfa"`
	ClientIP   string   `json:"client_ip"`
	UserAgent  string   `json:"user_agent"`
}

func (w *sesWorld) sessions(t *testing.T, uid, token string) []sesSession {
	t.Helper()
	res := w.env.Do(t, http.MethodGet, "/api/v1/users/"+uid+"/sessions", token, nil)
	isoExpect(t, res, http.StatusOK)
	var l struct {
		Items []sesSession `json:"items"`
	}
	res.Decode(t, &l)
	return l.Items
}

func TestUserSessions(t *testing.T) {
	testkit.EachServer(t, func(t *testing.T, env *testkit.Env) {
		w := sesSetup(t, env)
		laptop, laptopTok := w.signIn(t, "ada", "Firefox on the laptop")
		_, phoneTok := w.signIn(t, "ada", "Safari on the phone")
		bobSes, bobTok := w.signIn(t, "bob", "Edge")

		t.Run("list", func(t *testing.T) {
			ss := w.sessions(t, w.ada, w.ro)
			if len(ss) != 2 {
				t.Fatalf("ada has %d sessions listed, want 2: %+v", len(ss), ss)
			}
			var got *sesSession
			for i := range ss {
				if ss[i].ID == string(laptop.ID) {
					got = &ss[i]
				}
			}
			if got == nil {
				t.Fatalf("the laptop's session %s is not listed: %+v", laptop.ID, ss)
			}
			if got.UserAgent != "Firefox on the laptop" || got.ClientIP != "198.51.100.4" || got.MFA ||
				len(got.AMR) != 1 || got.AMR[0] != "pwd" {
				t.Errorf("listed %+v", got)
			}
			created, _ := time.Parse(time.RFC3339Nano, got.CreatedAt)
			idle, _ := time.Parse(time.RFC3339Nano, got.IdleUntil)
			expires, _ := time.Parse(time.RFC3339Nano, got.ExpiresAt)
			def := session.DefaultPolicy()
			if idle.Sub(created) != def.IdleTimeout.Duration() || expires.Sub(created) != def.AbsoluteTimeout.Duration() {
				t.Errorf("timeouts %v and %v, want the default policy's", idle.Sub(created), expires.Sub(created))
			}
			res := env.Do(t, http.MethodGet, "/api/v1/users/"+w.ada+"/sessions", w.ro, nil)
			for _, secret := range []string{laptopTok, phoneTok} {
				if strings.Contains(string(res.Body), secret) {
					t.Errorf("the session list shows a browser token")
				}
			}
			// Lists take no parameters; an unknown user is 404.
			isoExpect(t, env.Do(t, http.MethodGet, "/api/v1/users/"+w.ada+"/sessions?limit=1", w.ro, nil), http.StatusBadRequest)
			isoExpect(t, env.Do(t, http.MethodGet, "/api/v1/users/usr_missing/sessions", w.ro, nil), http.StatusNotFound)
		})

		t.Run("organization scope", func(t *testing.T) {
			if got := w.sessions(t, w.ada, w.scopedARO); len(got) != 2 {
				t.Errorf("acme's reader lists %d of ada's sessions, want 2", len(got))
			}
			// Bob is Bravo's: an Acme token cannot see, end or even find his sessions.
			isoRefused(t, env, http.StatusNotFound, http.MethodGet, "/api/v1/users/"+w.bob+"/sessions", w.scopedARO, nil)
			isoRefused(t, env, http.StatusNotFound, http.MethodDelete, "/api/v1/users/"+w.bob+"/sessions", w.scopedA, nil)
			isoRefused(t, env, http.StatusNotFound, http.MethodDelete, "/api/v1/users/"+w.bob+"/sessions/"+string(bobSes.ID), w.scopedA, nil)
			// Nor through one of its own users' paths.
			isoRefused(t, env, http.StatusNotFound, http.MethodDelete, "/api/v1/users/"+w.ada+"/sessions/"+string(bobSes.ID), w.scopedA, nil)
			if !w.valid(t, bobTok) {
				t.Fatalf("bob was signed out by a refused request")
			}
		})

		t.Run("roles", func(t *testing.T) {
			isoRefused(t, env, http.StatusForbidden, http.MethodDelete, "/api/v1/users/"+w.ada+"/sessions", w.ro, nil)
			isoRefused(t, env, http.StatusForbidden, http.MethodDelete, "/api/v1/users/"+w.ada+"/sessions/"+string(laptop.ID), w.scopedARO, nil)
			isoRefused(t, env, http.StatusUnauthorized, http.MethodGet, "/api/v1/users/"+w.ada+"/sessions", "", nil)
		})

		t.Run("sign out one device", func(t *testing.T) {
			// Another user's session under ada's path is not found, and stays.
			isoRefused(t, env, http.StatusNotFound, http.MethodDelete, "/api/v1/users/"+w.ada+"/sessions/"+string(bobSes.ID), w.admin, nil)
			if !w.valid(t, bobTok) {
				t.Fatalf("bob's session ended through ada's path")
			}
			isoExpect(t, env.Do(t, http.MethodDelete, "/api/v1/users/"+w.ada+"/sessions/"+string(laptop.ID), w.manager, nil), http.StatusNoContent)
			if w.valid(t, laptopTok) {
				t.Errorf("the revoked laptop session still validates")
			}
			if !w.valid(t, phoneTok) {
				t.Errorf("revoking the laptop ended the phone's session too")
			}
			isoRefused(t, env, http.StatusNotFound, http.MethodDelete, "/api/v1/users/"+w.ada+"/sessions/"+string(laptop.ID), w.manager, nil)
			if ss := w.sessions(t, w.ada, w.ro); len(ss) != 1 || ss[0].UserAgent != "Safari on the phone" {
				t.Errorf("after revoking the laptop: %+v", ss)
			}
		})

		t.Run("sign out everywhere", func(t *testing.T) {
			_, tabletTok := w.signIn(t, "ada", "Chrome on the tablet")
			res := env.Do(t, http.MethodDelete, "/api/v1/users/"+w.ada+"/sessions", w.scopedA, nil)
			if got := isoExpect(t, res, http.StatusOK)["revoked"]; got != 2.0 {
				t.Errorf("revoked = %v, want 2", got)
			}
			for _, tok := range []string{phoneTok, tabletTok} {
				if w.valid(t, tok) {
					t.Errorf("a session validates after signing out everywhere")
				}
			}
			if ss := w.sessions(t, w.ada, w.ro); len(ss) != 0 {
				t.Errorf("sessions left: %+v", ss)
			}
			if !w.valid(t, bobTok) {
				t.Errorf("signing ada out everywhere ended bob's session")
			}
			if got := isoExpect(t, env.Do(t, http.MethodDelete, "/api/v1/users/"+w.ada+"/sessions", w.admin, nil), http.StatusOK)["revoked"]; got != 0.0 {
				t.Errorf("second sign-out revoked %v, want 0", got)
			}
			// The audit log says who did it and why.
			for _, action := range []string{"session.revoked", "session.revoked_all"} { // one device, then everywhere
				ev := isoExpect(t, env.Do(t, http.MethodGet, "/api/v1/audit/events?action="+action+"&target_id="+w.ada, w.admin, nil), http.StatusOK)
				items, _ := ev["items"].([]any)
				if len(items) != 1 {
					t.Fatalf("%s events about ada: %v", action, ev)
				}
				e := items[0].(map[string]any)
				if d, _ := e["details"].(map[string]any); d["reason"] != "admin" || e["actor_type"] != "api_token" {
					t.Errorf("%s event: %v", action, e)
				}
			}
		})
	})
}

type sesFactors struct {
	Items []struct {
		ID         string  `json:"id"`
		Kind       string  `json:"kind"`
		Name       string  `json:"name"`
		CreatedAt  *string `json:"created_at"`
		LastUsedAt *string `json:"last_used_at"`
	} `json:"items"`
	RecoveryCodesLeft int `json:"recovery_codes_left"`
}

func (w *sesWorld) factors(t *testing.T, uid, token string) sesFactors {
	t.Helper()
	res := w.env.Do(t, http.MethodGet, "/api/v1/users/"+uid+"/factors", token, nil)
	isoExpect(t, res, http.StatusOK)
	for _, s := range []string{"secret", "credential", "otpauth"} {
		if strings.Contains(strings.ToLower(string(res.Body)), s) {
			t.Errorf("the factor list shows %s: %s", s, res.Body)
		}
	}
	var f sesFactors
	res.Decode(t, &f)
	return f
}

func TestUserFactors(t *testing.T) {
	testkit.EachServer(t, func(t *testing.T, env *testkit.Env) {
		w := sesSetup(t, env)
		u := func(id string) *user.User {
			t.Helper()
			x, err := env.Server.Users.User(t.Context(), tenant.Scope{Tenant: w.ten}, user.ID(id))
			if err != nil {
				t.Fatal(err)
			}
			return x
		}
		phone := sesEnrolTOTP(t, env, w.ten, u(w.ada))
		spare := sesEnrolTOTP(t, env, w.ten, u(w.ada))
		bobs := sesEnrolTOTP(t, env, w.ten, u(w.bob))

		f := w.factors(t, w.ada, w.ro)
		if len(f.Items) != 2 || f.RecoveryCodesLeft != 10 {
			t.Fatalf("ada's factors: %+v", f)
		}
		for _, it := range f.Items {
			if it.Kind != session.KindTOTP || it.Name != "Phone" || it.CreatedAt == nil || it.LastUsedAt != nil {
				t.Errorf("factor %+v", it)
			}
		}
		// A user with a factor is asked for it at sign-in.
		out, err := env.Server.Sessions.SignIn(t.Context(), w.ten, session.Attempt{Login: "ada", Password: sesPassword})
		if err != nil || out.Session != nil || out.Pending == "" {
			t.Fatalf("sign-in with a factor: %+v %v", out, err)
		}

		// Scope and roles.
		isoRefused(t, env, http.StatusNotFound, http.MethodGet, "/api/v1/users/"+w.bob+"/factors", w.scopedARO, nil)
		isoRefused(t, env, http.StatusNotFound, http.MethodDelete, "/api/v1/users/"+w.bob+"/factors", w.scopedA, nil)
		isoRefused(t, env, http.StatusNotFound, http.MethodDelete, "/api/v1/users/"+w.bob+"/factors/"+bobs, w.scopedA, nil)
		isoRefused(t, env, http.StatusNotFound, http.MethodDelete, "/api/v1/users/"+w.ada+"/factors/"+bobs, w.admin, nil) // not ada's
		isoRefused(t, env, http.StatusForbidden, http.MethodDelete, "/api/v1/users/"+w.ada+"/factors", w.ro, nil)
		isoRefused(t, env, http.StatusForbidden, http.MethodDelete, "/api/v1/users/"+w.ada+"/factors/"+phone, w.scopedARO, nil)
		isoExpect(t, env.Do(t, http.MethodGet, "/api/v1/users/"+w.ada+"/factors?kind=totp", w.ro, nil), http.StatusBadRequest)
		if got := w.factors(t, w.bob, w.admin); len(got.Items) != 1 {
			t.Errorf("bob's factor went: %+v", got)
		}

		// One factor, then the rest.
		isoExpect(t, env.Do(t, http.MethodDelete, "/api/v1/users/"+w.ada+"/factors/"+spare, w.manager, nil), http.StatusNoContent)
		isoRefused(t, env, http.StatusNotFound, http.MethodDelete, "/api/v1/users/"+w.ada+"/factors/"+spare, w.manager, nil)
		if f := w.factors(t, w.ada, w.scopedARO); len(f.Items) != 1 || f.Items[0].ID != phone || f.RecoveryCodesLeft != 10 {
			t.Errorf("after removing one factor: %+v", f)
		}
		res := env.Do(t, http.MethodDelete, "/api/v1/users/"+w.ada+"/factors", w.scopedA, nil)
		if got := isoExpect(t, res, http.StatusOK)["removed"]; got != 1.0 {
			t.Errorf("removed = %v, want 1", got)
		}
		if f := w.factors(t, w.ada, w.ro); len(f.Items) != 0 || f.RecoveryCodesLeft != 0 {
			t.Errorf("after the reset: %+v", f)
		}
		if got := isoExpect(t, env.Do(t, http.MethodDelete, "/api/v1/users/"+w.ada+"/factors", w.admin, nil), http.StatusOK)["removed"]; got != 0.0 {
			t.Errorf("second reset removed %v, want 0", got)
		}
		// Without factors (and MFA optional) the password alone signs in again.
		w.signIn(t, "ada", "after the reset")
		if got := w.factors(t, w.bob, w.admin); len(got.Items) != 1 {
			t.Errorf("resetting ada's factors touched bob's: %+v", got)
		}
	})
}

func TestSignInPolicyAPI(t *testing.T) {
	testkit.EachServer(t, func(t *testing.T, env *testkit.Env) {
		w := sesSetup(t, env)
		const path = "/api/v1/sign-in-policy"

		var got session.Policy
		isoExpect(t, env.Do(t, http.MethodGet, path, w.scopedARO, nil), http.StatusOK)
		env.Do(t, http.MethodGet, path, w.ro, nil).Decode(t, &got)
		if def := session.DefaultPolicy(); got.IdleTimeout != def.IdleTimeout || got.MFA != def.MFA || len(got.EditableAttributes) != 6 {
			t.Errorf("the default policy reads %+v", got)
		}

		policy := map[string]any{"idle_timeout_seconds": 600, "absolute_timeout_seconds": 3600, "mfa": "optional",
			"lockout_threshold": 5, "editable_attributes": []string{"phone", "locale"},
			"branding": map[string]any{"name": "Acme Sign-in", "logo_url": "https://acme.example/logo.svg",
				"primary_color": "#1a4d8f", "background_color": "#f7f7f2"}}
		isoExpect(t, env.Do(t, http.MethodPut, path, w.admin, policy), http.StatusOK)
		env.Do(t, http.MethodGet, path, w.ro, nil).Decode(t, &got)
		if got.IdleTimeout != 600 || got.LockoutThreshold != 5 || got.Branding.PrimaryColor != "#1a4d8f" || len(got.EditableAttributes) != 2 {
			t.Errorf("after PUT the policy reads %+v", got)
		}
		// New sessions follow it.
		w.signIn(t, "bob", "after the policy change")
		ss := w.sessions(t, w.bob, w.admin)
		created, _ := time.Parse(time.RFC3339Nano, ss[0].CreatedAt)
		idle, _ := time.Parse(time.RFC3339Nano, ss[0].IdleUntil)
		if idle.Sub(created) != 10*time.Minute {
			t.Errorf("a new session's idle timeout is %v, want the policy's 10m", idle.Sub(created))
		}

		t.Run("every member is required", func(t *testing.T) {
			partial := map[string]any{"mfa": "required", "branding": map[string]any{"name": "x"}}
			res := isoRefusedRes(t, env, http.StatusBadRequest, http.MethodPut, path, w.admin, partial)
			for _, f := range []string{"idle_timeout_seconds", "absolute_timeout_seconds", "lockout_threshold", "editable_attributes",
				"branding.logo_url", "branding.primary_color", "branding.background_color"} {
				if !isoHasField(t, res, f) {
					t.Errorf("a PUT without %s: %s", f, res.Body)
				}
			}
			if isoHasField(t, res, "mfa") || isoHasField(t, res, "branding.name") {
				t.Errorf("members that were sent are named: %s", res.Body)
			}
			noBranding := map[string]any{}
			for k, v := range policy {
				noBranding[k] = v
			}
			noBranding["branding"] = nil
			if res := isoRefusedRes(t, env, http.StatusBadRequest, http.MethodPut, path, w.admin, noBranding); !isoHasField(t, res, "branding") {
				t.Errorf("branding: null: %s", res.Body)
			}
		})

		t.Run("values are checked by field", func(t *testing.T) {
			bad := map[string]any{"idle_timeout_seconds": 30, "absolute_timeout_seconds": 20, "mfa": "always",
				"lockout_threshold": 2, "editable_attributes": []string{"phone", "phone"},
				"branding": map[string]any{"name": "ok", "logo_url": "http://acme.example/logo.svg",
					"primary_color": "#ffff00", "background_color": "black"}}
			res := isoRefusedRes(t, env, http.StatusBadRequest, http.MethodPut, path, w.admin, bad)
			for _, f := range []string{"idle_timeout_seconds", "absolute_timeout_seconds", "mfa", "lockout_threshold",
				"editable_attributes.1", "branding.logo_url", "branding.primary_color", "branding.background_color"} {
				if !isoHasField(t, res, f) {
					t.Errorf("no error names %s: %s", f, res.Body)
				}
			}
			isoRefused(t, env, http.StatusBadRequest, http.MethodPut, path, w.admin, map[string]any{"mfa": "optional", "colour": "red"})
			isoRefused(t, env, http.StatusBadRequest, http.MethodPut, path, w.admin, `{"idle_timeout_seconds":"600"}`)
		})

		t.Run("who may change it", func(t *testing.T) {
			isoRefused(t, env, http.StatusForbidden, http.MethodPut, path, w.ro, policy)
			isoRefused(t, env, http.StatusForbidden, http.MethodPut, path, w.manager, policy)
			isoRefused(t, env, http.StatusForbidden, http.MethodPut, path, w.scopedA, policy) // an organization admin
			isoRefused(t, env, http.StatusUnauthorized, http.MethodPut, path, "", policy)
		})

		t.Run("organization", func(t *testing.T) {
			opath := "/api/v1/organizations/" + w.orgA + "/sign-in-policy"
			if got := isoExpect(t, env.Do(t, http.MethodGet, opath, w.ro, nil), http.StatusOK); got["mfa"] != "" {
				t.Errorf("an organization's policy before any was set: %v", got)
			}
			op := map[string]any{"mfa": "required", "branding": map[string]any{"name": "Acme", "logo_url": "",
				"primary_color": "#7a1f1f", "background_color": ""}}
			// Its own admin may set it; not another organization's.
			isoExpect(t, env.Do(t, http.MethodPut, opath, w.scopedA, op), http.StatusOK)
			isoRefused(t, env, http.StatusNotFound, http.MethodPut, "/api/v1/organizations/"+w.orgB+"/sign-in-policy", w.scopedA, op)
			isoRefused(t, env, http.StatusNotFound, http.MethodGet, "/api/v1/organizations/"+w.orgB+"/sign-in-policy", w.scopedARO, nil)
			isoRefused(t, env, http.StatusNotFound, http.MethodPut, "/api/v1/organizations/org_missing/sign-in-policy", w.admin, op)
			isoRefused(t, env, http.StatusForbidden, http.MethodPut, opath, w.scopedARO, op)
			isoRefused(t, env, http.StatusForbidden, http.MethodPut, opath, w.manager, op)
			if got := isoExpect(t, env.Do(t, http.MethodGet, opath, w.scopedARO, nil), http.StatusOK); got["mfa"] != "required" {
				t.Errorf("the organization's policy reads %v", got)
			}
			res := isoRefusedRes(t, env, http.StatusBadRequest, http.MethodPut, opath, w.admin, map[string]any{"mfa": "always",
				"branding": map[string]any{"name": "", "logo_url": "", "primary_color": "", "background_color": "#000000"}})
			if !isoHasField(t, res, "mfa") || !isoHasField(t, res, "branding.background_color") {
				t.Errorf("bad organization policy: %s", res.Body)
			}
			if res := isoRefusedRes(t, env, http.StatusBadRequest, http.MethodPut, opath, w.admin, map[string]any{"mfa": ""}); !isoHasField(t, res, "branding") {
				t.Errorf("organization policy without branding: %s", res.Body)
			}
			// Ada (of Acme) now needs a second factor, and has none: she enrols.
			out, err := env.Server.Sessions.SignIn(t.Context(), w.ten, session.Attempt{Login: "ada", Password: sesPassword})
			if err != nil || out.Session != nil || !out.Enrol {
				t.Errorf("sign-in where the organization requires MFA: %+v %v", out, err)
			}
			w.signIn(t, "bob", "Bravo requires nothing")
		})

		t.Run("application", func(t *testing.T) {
			app := isoCreate(t, env, w.admin, "/api/v1/applications", map[string]any{"name": "Ledger", "kind": "bookmark"})
			apath := "/api/v1/applications/" + app + "/sign-in-policy"
			if got := isoExpect(t, env.Do(t, http.MethodGet, apath, w.scopedARO, nil), http.StatusOK); got["mfa"] != "" {
				t.Errorf("an application's policy before any was set: %v", got)
			}
			isoExpect(t, env.Do(t, http.MethodPut, apath, w.admin, map[string]any{"mfa": "required"}), http.StatusOK)
			if got := isoExpect(t, env.Do(t, http.MethodGet, apath, w.ro, nil), http.StatusOK); got["mfa"] != "required" {
				t.Errorf("the application's policy reads %v", got)
			}
			isoRefused(t, env, http.StatusForbidden, http.MethodPut, apath, w.scopedA, map[string]any{"mfa": ""})
			isoRefused(t, env, http.StatusNotFound, http.MethodPut, "/api/v1/applications/app_missing/sign-in-policy", w.admin, map[string]any{"mfa": ""})
			isoRefused(t, env, http.StatusNotFound, http.MethodGet, "/api/v1/applications/app_missing/sign-in-policy", w.ro, nil)
			if res := isoRefusedRes(t, env, http.StatusBadRequest, http.MethodPut, apath, w.admin, map[string]any{"mfa": "sometimes"}); !isoHasField(t, res, "mfa") {
				t.Errorf("bad application policy: %s", res.Body)
			}
			if res := isoRefusedRes(t, env, http.StatusBadRequest, http.MethodPut, apath, w.admin, map[string]any{}); !isoHasField(t, res, "mfa") {
				t.Errorf("empty application policy: %s", res.Body)
			}
			// Bob needs a second factor for this application only.
			out, err := env.Server.Sessions.SignIn(t.Context(), w.ten, session.Attempt{Login: "bob", Password: sesPassword, App: access.AppID(app)})
			if err != nil || out.Session != nil || !out.Enrol {
				t.Errorf("sign-in to an application requiring MFA: %+v %v", out, err)
			}
		})
	})
}

// isoRefusedRes is isoRefused that returns the whole answer.
func isoRefusedRes(t *testing.T, env *testkit.Env, status int, method, path, token string, body any) testkit.Response {
	t.Helper()
	var res testkit.Response
	env.Unchanged(t, func() { res = env.Do(t, method, path, token, body) })
	if res.Status != status {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, res.Status, status, res.Body)
	}
	isoProblemOf(t, res)
	return res
}
