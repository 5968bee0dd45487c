package login_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/testkit"
)

// A partner's people see their organization's branding from the password
// step on, chosen by the verified domain of the email typed, whoever it
// names; the tenant's elsewhere.
func TestOrganizationBrandingByEmailDomain(t *testing.T) {
	db := testkit.OpenSQLite(t)
	s := newSite(t, db)
	ctx := context.Background()
	sc := s.scope()
	org, err := s.srv.Tenants.CreateOrganization(ctx, sc, tenant.NewOrganization{Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.srv.Tenants.AddDomain(ctx, sc, org.ID, "acme.example"); err != nil {
		t.Fatal(err)
	}
	p := session.OrgPolicy{Branding: session.Branding{Name: "Acme Partner Portal", PrimaryColor: "#7a1f1f"}}
	if err := s.srv.Sessions.SetOrgPolicy(ctx, sc, org.ID, p); err != nil {
		t.Fatal(err)
	}
	passwordPage := func(login string) string {
		v := s.visitor(t)
		pg := v.post("/t/"+slug+"/login", url.Values{"csrf": {v.csrf()}, "login": {login}})
		if pg.status != http.StatusOK {
			t.Fatalf("identifier step for %s: %d", login, pg.status)
		}
		return pg.body
	}

	// Claimed but not yet verified: no organization may brand by it.
	if strings.Contains(passwordPage("ada@acme.example"), "Acme Partner Portal") {
		t.Error("an unverified domain chose the branding")
	}
	if _, err := db.UpdateOrganization(ctx, s.tenant, org.ID, func(o *tenant.Organization) error {
		o.Domains[0].Verified, o.Domains[0].VerifiedAt = true, time.Now()
		o.Version++ // the store writes only changed organizations
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, login := range []string{"ada@acme.example", "nobody-here@ACME.example"} {
		body := passwordPage(login)
		if !strings.Contains(body, "Acme Partner Portal") || !strings.Contains(body, "--primary: #7a1f1f") {
			t.Errorf("%s: the organization's branding is missing", login)
		}
	}
	for _, login := range []string{"ada@other.example", "ada", "ada@"} {
		if strings.Contains(passwordPage(login), "Acme Partner Portal") {
			t.Errorf("%s: another organization's branding", login)
		}
	}
}
