package session_test

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/tenant"
)

// TestPolicy runs the scenarios of this file (see runScenarios).
// Sign-in policy: validation, MFA required by tenant, organization, application.
func TestPolicy(t *testing.T) {
	t.Parallel()
	runScenarios(t,
		scenario{"PolicyValidation", testPolicyValidation},
		scenario{"TenantRequiresMFA", testTenantRequiresMFA},
		scenario{"EnrolmentCannotBypassExistingFactor", testEnrolmentCannotBypassExistingFactor},
		scenario{"OrgAndAppRequireMFA", testOrgAndAppRequireMFA},
	)
}

func testPolicyValidation(t *testing.T, f *fixture) {
	cases := []struct {
		name   string
		change func(p *session.Policy)
		fields []string // nil: valid
	}{
		{"default", func(p *session.Policy) {}, nil},
		{"idle too short", func(p *session.Policy) { p.IdleTimeout = 59 }, []string{"idle_timeout_seconds"}},
		{"idle too long", func(p *session.Policy) { p.IdleTimeout, p.AbsoluteTimeout = 30*86400+1, 90*86400 }, []string{"idle_timeout_seconds"}},
		{"absolute below idle", func(p *session.Policy) { p.IdleTimeout, p.AbsoluteTimeout = 3600, 3599 }, []string{"absolute_timeout_seconds"}},
		{"absolute too long", func(p *session.Policy) { p.AbsoluteTimeout = 90*86400 + 1 }, []string{"absolute_timeout_seconds"}},
		{"shortest", func(p *session.Policy) { p.IdleTimeout, p.AbsoluteTimeout = 60, 60 }, nil},
		{"mfa unknown", func(p *session.Policy) { p.MFA = "sometimes" }, []string{"mfa"}},
		{"mfa empty", func(p *session.Policy) { p.MFA = "" }, []string{"mfa"}},
		{"mfa required", func(p *session.Policy) { p.MFA = session.MFARequired }, nil},
		{"lockout 2", func(p *session.Policy) { p.LockoutThreshold = 2 }, []string{"lockout_threshold"}},
		{"lockout negative", func(p *session.Policy) { p.LockoutThreshold = -1 }, []string{"lockout_threshold"}},
		{"lockout 101", func(p *session.Policy) { p.LockoutThreshold = 101 }, []string{"lockout_threshold"}},
		{"lockout off", func(p *session.Policy) { p.LockoutThreshold = 0 }, nil},
		{"lockout 3", func(p *session.Policy) { p.LockoutThreshold = 3 }, nil},
		{"editable twice", func(p *session.Policy) { p.EditableAttributes = []string{"phone", "locale", "phone"} }, []string{"editable_attributes.2"}},
		{"editable empty name", func(p *session.Policy) { p.EditableAttributes = []string{""} }, []string{"editable_attributes.0"}},
		{"primary too light", func(p *session.Policy) { p.Branding.PrimaryColor = "#ffff00" }, []string{"branding.primary_color"}},
		{"primary not a colour", func(p *session.Policy) { p.Branding.PrimaryColor = "red" }, []string{"branding.primary_color"}},
		{"primary short form", func(p *session.Policy) { p.Branding.PrimaryColor = "#003" }, []string{"branding.primary_color"}},
		{"primary dark", func(p *session.Policy) { p.Branding.PrimaryColor = "#003366" }, nil},
		{"background too dark", func(p *session.Policy) { p.Branding.BackgroundColor = "#000000" }, []string{"branding.background_color"}},
		{"background light", func(p *session.Policy) { p.Branding.BackgroundColor = "#FAFAFA" }, nil},
		{"logo javascript", func(p *session.Policy) { p.Branding.LogoURL = "javascript:alert(1)" }, []string{"branding.logo_url"}},
		{"logo http", func(p *session.Policy) { p.Branding.LogoURL = "http://cdn.example.com/logo.png" }, []string{"branding.logo_url"}},
		{"logo data", func(p *session.Policy) { p.Branding.LogoURL = "data:image/png;base64,AAAA" }, []string{"branding.logo_url"}},
		{"logo https", func(p *session.Policy) { p.Branding.LogoURL = "https://cdn.example.com/logo.png" }, nil},
		{"name with newline", func(p *session.Policy) { p.Branding.Name = "Acme\nInc" }, []string{"branding.name"}},
		{"several at once", func(p *session.Policy) { p.IdleTimeout, p.MFA, p.Branding.PrimaryColor = 1, "x", "#ffffff" },
			[]string{"idle_timeout_seconds", "mfa", "branding.primary_color"}},
	}
	for _, c := range cases {
		p := session.DefaultPolicy()
		c.change(&p)
		before := f.fingerprint(t)
		err := f.ses.SetPolicy(f.ctx, f.sc, p)
		if c.fields == nil {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
				continue
			}
			got, err := f.ses.Policy(f.ctx, f.tenant)
			if err != nil || !reflect.DeepEqual(got, p) {
				t.Errorf("%s: read back %+v, %v; want %+v", c.name, got, err, p)
			}
			continue
		}
		if !errors.Is(err, errkind.Invalid) {
			t.Errorf("%s: err = %v, want Invalid", c.name, err)
			continue
		}
		if got := fieldNames(err); !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(c.fields))) {
			t.Errorf("%s: fields %v, want %v", c.name, got, c.fields)
		}
		if f.fingerprint(t) != before {
			t.Errorf("%s: a refused policy changed the database", c.name)
		}
	}

	// Only tenant-wide callers set the policy.
	org, err := f.srv.Tenants.CreateOrganization(f.ctx, f.sc, tenant.NewOrganization{Name: "Initech"})
	if err != nil {
		t.Fatal(err)
	}
	before := f.fingerprint(t)
	err = f.ses.SetPolicy(f.ctx, tenant.Scope{Tenant: f.tenant, Org: org.ID}, session.DefaultPolicy())
	if !errors.Is(err, errkind.Denied) {
		t.Errorf("org-scoped SetPolicy: %v, want Denied", err)
	}
	if f.fingerprint(t) != before {
		t.Error("a refused SetPolicy changed the database")
	}

	// nil editable attributes means none, not the default list; and the
	// change is audited.
	p := session.DefaultPolicy()
	p.EditableAttributes = nil
	if err := f.ses.SetPolicy(f.ctx, f.sc, p); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.ses.Policy(f.ctx, f.tenant); got.EditableAttributes == nil || len(got.EditableAttributes) != 0 {
		t.Errorf("editable attributes read back as %#v", got.EditableAttributes)
	}
	if ev := f.events(t, "tenant.sign_in_policy_updated"); len(ev) == 0 || ev[len(ev)-1].TargetID != string(f.tenant) {
		t.Errorf("policy events %+v", ev)
	}
	// Another tenant keeps the default.
	other := f.otherTenant(t, "globex")
	if got, _ := f.ses.Policy(f.ctx, other); !reflect.DeepEqual(got, session.DefaultPolicy()) {
		t.Errorf("the other tenant's policy changed: %+v", got)
	}
}

// MFA required by the tenant: a user without a factor must enrol one to
// finish signing in.
func testTenantRequiresMFA(t *testing.T, f *fixture) {
	alice := f.newUser(t, "alice")
	f.setPolicy(t, func(p *session.Policy) { p.MFA = session.MFARequired })

	p := f.mustPending(t, "alice", goodPassword)
	if !p.Enrol {
		t.Fatal("pending step is not an enrolment")
	}
	if step, err := f.ses.PendingStep(f.ctx, f.tenant, p.Pending); err != nil || !step.Enrol || len(step.Factors) != 0 {
		t.Fatalf("step %+v, %v", step, err)
	}
	// Nothing to check a code or a recovery code against.
	_, err := f.ses.CompleteTOTP(f.ctx, f.tenant, p.Pending, "123456", client)
	wantErr(t, "TOTP without a factor", err, session.ErrBadCode)
	_, err = f.ses.CompleteRecovery(f.ctx, f.tenant, p.Pending, "abcde-fghij", client)
	wantErr(t, "recovery code without a factor", err, session.ErrBadCode)

	enr, err := f.ses.BeginTOTP(f.ctx, f.tenant, alice, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	now := f.clk.Now() // two failures so far: no delay yet
	out, codes, err := f.ses.CompleteEnrolTOTP(f.ctx, f.tenant, p.Pending, enr.Token, wrongCode(t, enr.Secret, now), "phone", client)
	if !errors.Is(err, session.ErrBadCode) || out != nil || codes != nil {
		t.Fatalf("enrol with a wrong code: %+v, %v, %v", out, codes, err)
	}
	f.clk.Advance(time.Second) // the delay after a third failure
	now = f.clk.Now()
	out, codes, err = f.ses.CompleteEnrolTOTP(f.ctx, f.tenant, p.Pending, enr.Token, code(t, enr.Secret, now), "phone", client)
	if err != nil {
		t.Fatal(err)
	}
	if out.Session == nil || !slices.Equal(out.Session.AMR, []string{"pwd", "otp"}) || len(codes) != 10 {
		t.Fatalf("enrolled: %+v, %d codes", out.Session, len(codes))
	}
	f.wantLive(t, "enrolled session", out.Token, true)
	if fs, _ := f.ses.Factors(f.ctx, f.sc, alice.ID); len(fs) != 1 {
		t.Errorf("%d factors", len(fs))
	}
	// From now on the user is asked for the factor, not to enrol.
	if p := f.mustPending(t, "alice", goodPassword); p.Enrol {
		t.Error("asked to enrol again")
	}
	// With the factors reset by an admin, the next sign-in enrols again.
	if _, err := f.ses.ResetFactors(f.ctx, f.sc, alice.ID); err != nil {
		t.Fatal(err)
	}
	if p := f.mustPending(t, "alice", goodPassword); !p.Enrol {
		t.Error("not asked to enrol after the factors were reset")
	}
	if ok, err := f.ses.MFARequired(f.ctx, f.tenant, "", ""); err != nil || !ok {
		t.Errorf("MFARequired: %v, %v", ok, err)
	}
}

// A step that is not an enrolment (the user has a factor) cannot be
// finished by enrolling another one: knowing the password and starting an
// enrolment must not stand in for the factor the user has.
func testEnrolmentCannotBypassExistingFactor(t *testing.T, f *fixture) {
	alice := f.newUser(t, "alice")
	f.enrolTOTP(t, alice)
	f.clk.Advance(time.Minute)

	p := f.mustPending(t, "alice", goodPassword)
	enr, err := f.ses.BeginTOTP(f.ctx, f.tenant, alice, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := f.ses.CompleteEnrolTOTP(f.ctx, f.tenant, p.Pending, enr.Token, code(t, enr.Secret, f.clk.Now()), "attacker", client)
	if err == nil || out != nil {
		t.Fatalf("enrolled a second TOTP factor through a non-enrolment step: %+v", out)
	}
	out, _, err = f.ses.CompleteEnrolWebAuthn(f.ctx, f.tenant, p.Pending, "attacker", "YXR0YWNrZXI", []byte(`{}`), client)
	if err == nil || out != nil {
		t.Fatalf("enrolled a passkey through a non-enrolment step: %+v", out)
	}
	if fs, _ := f.ses.Factors(f.ctx, f.sc, alice.ID); len(fs) != 1 {
		t.Errorf("%d factors, want the original one", len(fs))
	}
	if n := len(f.events(t, "session.mfa_enrolled")); n != 1 {
		t.Errorf("%d enrolment events, want 1", n)
	}
}

// Required for an organization applies to its users only; required for an
// application applies to sign-ins for it.
func testOrgAndAppRequireMFA(t *testing.T, f *fixture) {
	org, err := f.srv.Tenants.CreateOrganization(f.ctx, f.sc, tenant.NewOrganization{Name: "Initech"})
	if err != nil {
		t.Fatal(err)
	}
	org2, err := f.srv.Tenants.CreateOrganization(f.ctx, f.sc, tenant.NewOrganization{Name: "Umbrella"})
	if err != nil {
		t.Fatal(err)
	}
	orgSc := tenant.Scope{Tenant: f.tenant, Org: org.ID}
	f.newUserIn(t, orgSc, "peter")
	f.newUser(t, "alice")

	// An org admin sets their own org's policy, not another's; bad values
	// name the field.
	wantErr(t, "other org's admin", f.ses.SetOrgPolicy(f.ctx, tenant.Scope{Tenant: f.tenant, Org: org2.ID}, org.ID,
		session.OrgPolicy{MFA: session.MFARequired}), tenant.ErrOrgNotFound)
	wantErr(t, "unknown org", f.ses.SetOrgPolicy(f.ctx, f.sc, "org_unknown", session.OrgPolicy{}), errkind.NotFound)
	err = f.ses.SetOrgPolicy(f.ctx, orgSc, org.ID, session.OrgPolicy{MFA: "always", Branding: session.Branding{LogoURL: "javascript:alert(1)"}})
	if got := fieldNames(err); !errors.Is(err, errkind.Invalid) || !slices.Equal(got, []string{"mfa", "branding.logo_url"}) {
		t.Errorf("bad org policy: %v (fields %v)", err, got)
	}
	if err := f.ses.SetOrgPolicy(f.ctx, orgSc, org.ID, session.OrgPolicy{MFA: session.MFARequired,
		Branding: session.Branding{PrimaryColor: "#660000"}}); err != nil {
		t.Fatal(err)
	}
	if ev := f.events(t, "organization.sign_in_policy_updated"); len(ev) != 1 || ev[0].TargetID != string(org.ID) {
		t.Errorf("org policy events %+v", ev)
	}

	if p := f.mustPending(t, "peter", goodPassword); !p.Enrol {
		t.Error("org user: not asked to enrol")
	}
	f.mustSignIn(t, "alice", goodPassword)

	// Branding merges the organization's over the tenant's.
	f.setPolicy(t, func(p *session.Policy) { p.Branding = session.Branding{Name: "Acme", PrimaryColor: "#003366"} })
	b, err := f.ses.BrandingFor(f.ctx, f.tenant, org.ID)
	if err != nil || b != (session.Branding{Name: "Acme", PrimaryColor: "#660000"}) {
		t.Errorf("org branding %+v, %v", b, err)
	}
	if b, _ := f.ses.BrandingFor(f.ctx, f.tenant, ""); b != (session.Branding{Name: "Acme", PrimaryColor: "#003366"}) {
		t.Errorf("tenant branding %+v", b)
	}

	// Application.
	app, err := f.srv.Access.CreateApplication(f.ctx, f.sc, access.NewApplication{Name: "Payroll", Kind: access.KindBookmark,
		LaunchURL: "https://payroll.example.com/"})
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "org-scoped app policy", f.ses.SetAppPolicy(f.ctx, orgSc, app.ID, session.AppPolicy{MFA: session.MFARequired}), errkind.Denied)
	wantErr(t, "bad app policy", f.ses.SetAppPolicy(f.ctx, f.sc, app.ID, session.AppPolicy{MFA: "yes"}), errkind.Invalid)
	wantErr(t, "unknown app", f.ses.SetAppPolicy(f.ctx, f.sc, "app_unknown", session.AppPolicy{}), errkind.NotFound)
	if err := f.ses.SetAppPolicy(f.ctx, f.sc, app.ID, session.AppPolicy{MFA: session.MFARequired}); err != nil {
		t.Fatal(err)
	}
	out, err := f.ses.SignIn(f.ctx, f.tenant, session.Attempt{Login: "alice", Password: goodPassword, App: app.ID, Client: client})
	if err != nil || out.Pending == "" || !out.Enrol || out.Session != nil {
		t.Fatalf("sign in for the app: %+v, %v", out, err)
	}
	if step, _ := f.ses.PendingStep(f.ctx, f.tenant, out.Pending); step.App != app.ID {
		t.Errorf("pending step's app %q", step.App)
	}
	f.mustSignIn(t, "alice", goodPassword) // not for the app: no factor needed

	// A failed sign-in for the app is recorded against the app.
	if _, err := f.ses.SignIn(f.ctx, f.tenant, session.Attempt{Login: "alice", Password: wrongPassword, App: app.ID}); err == nil {
		t.Fatal("wrong password accepted")
	}
	sis, err := f.srv.Audit.SignIns(f.ctx, string(f.tenant), string(app.ID), audit.Query{})
	if err != nil || len(sis.Items) != 1 || sis.Items[0].Outcome != audit.Failure {
		t.Errorf("sign-ins to the app: %+v, %v", sis.Items, err)
	}

	// MFARequired weighs the three levels, read together (one statement on
	// the SQL store) or one by one (a store without Settings) alike.
	oneByOne := &session.Service{Store: struct{ session.Store }{f.ses.Store}, Now: f.ses.Now}
	mfa := func(what string, org tenant.OrgID, app access.AppID, want bool) {
		t.Helper()
		for _, s := range []*session.Service{f.ses, oneByOne} {
			if got, err := s.MFARequired(f.ctx, f.tenant, org, app); err != nil || got != want {
				t.Errorf("MFARequired for %s = %v, %v; want %v", what, got, err, want)
			}
		}
	}
	mfa("nothing", "", "", false)
	mfa("the org that requires it", org.ID, "", true)
	mfa("another org", org2.ID, "", false)
	mfa("the app that requires it", "", app.ID, true)
	mfa("another org and the app", org2.ID, app.ID, true)
	mfa("an app without a policy", org2.ID, "app_unknown", false)
	if err := f.ses.SetOrgPolicy(f.ctx, orgSc, org.ID, session.OrgPolicy{MFA: session.MFAOptional}); err != nil {
		t.Fatal(err)
	}
	mfa("the org once it stops requiring it", org.ID, "", false)
	f.setPolicy(t, func(p *session.Policy) { p.MFA = session.MFARequired })
	mfa("a tenant that requires it", org2.ID, "app_unknown", true)
	f.setPolicy(t, func(p *session.Policy) { p.MFA = session.MFAOptional })
	mfa("a tenant that stopped requiring it", org.ID, "", false)
}
