package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/group"
	"github.com/tessera-iam/tessera/internal/page"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

// normOrg puts an organization in a comparable form: domains by name, times
// in UTC, empty slices nil.
func normOrg(o tenant.Organization) tenant.Organization {
	o.Created, o.Updated = o.Created.UTC(), o.Updated.UTC()
	ds := make([]tenant.Domain, len(o.Domains))
	for i, d := range o.Domains {
		d.Created, d.VerifiedAt = d.Created.UTC(), d.VerifiedAt.UTC()
		ds[i] = d
	}
	slices.SortFunc(ds, func(a, b tenant.Domain) int { return strings.Compare(a.Name, b.Name) })
	if len(ds) == 0 {
		ds = nil
	}
	o.Domains = ds
	return o
}

func sameOrg(t *testing.T, what string, got, want *tenant.Organization) {
	t.Helper()
	deepEqual(t, what, normOrg(*got), normOrg(*want))
}

func domainNames(o *tenant.Organization) []string {
	var out []string
	for _, d := range o.Domains {
		out = append(out, d.Name)
	}
	slices.Sort(out)
	return out
}

func testOrganizationsCreate(t *testing.T, e *env) {
	ctx := t.Context()
	sc, log := e.newTenant(t)

	o1, err := e.tenants.CreateOrganization(ctx, sc, tenant.NewOrganization{
		Name: " Globex ", ExternalID: "crm-1", Domains: []string{"Globex.COM", "mail.globex.com."},
	})
	fatalIf(t, err, "create organization")
	log.expect(t, "organization.created")
	if o1.Name != "Globex" || o1.Status != tenant.OrgActive || o1.Version != 1 || o1.Tenant != sc.Tenant {
		t.Errorf("created organization = %+v", o1)
	}
	deepEqual(t, "normalised domains", domainNames(o1), []string{"globex.com", "mail.globex.com"})
	for _, d := range o1.Domains {
		if d.Verified || d.Token == "" || !d.VerifiedAt.IsZero() {
			t.Errorf("new domain %+v: want unverified with a token", d)
		}
	}
	got, err := e.tenants.Organization(ctx, sc, o1.ID)
	fatalIf(t, err, "read organization")
	sameOrg(t, "organization read back", got, o1)
	byDomain, err := e.db.OrganizationByDomain(ctx, sc.Tenant, "mail.globex.com")
	fatalIf(t, err, "organization by domain")
	sameOrg(t, "organization by domain", byDomain, o1)
	_, err = e.db.OrganizationByDomain(ctx, sc.Tenant, "unclaimed.example")
	wantErr(t, err, tenant.ErrOrgNotFound, "unclaimed domain")

	suspended, err := e.tenants.CreateOrganization(ctx, sc, tenant.NewOrganization{Name: "Hooli", Status: tenant.OrgSuspended})
	fatalIf(t, err, "create suspended organization")
	log.expect(t, "organization.created")
	got, err = e.tenants.Organization(ctx, sc, suspended.ID)
	fatalIf(t, err, "read suspended organization")
	sameOrg(t, "suspended organization read back", got, suspended)
	// OrganizationStatus reads the row alone: everything but the domains.
	for _, o := range []*tenant.Organization{o1, suspended} {
		row, err := e.tenants.OrganizationStatus(ctx, sc, o.ID)
		fatalIf(t, err, "organization row")
		if row.Domains != nil {
			t.Errorf("organization row of %s has domains %+v", o.Name, row.Domains)
		}
		want := *o
		want.Domains = nil
		sameOrg(t, "organization row", row, &want)
	}
	_, err = e.tenants.OrganizationStatus(ctx, sc, "org_nosuchorg")
	wantErr(t, err, tenant.ErrOrgNotFound, "row of an unknown organization")
	_, err = e.tenants.OrganizationStatus(ctx, tenant.Scope{Tenant: sc.Tenant, Org: suspended.ID}, o1.ID)
	wantErr(t, err, tenant.ErrOrgNotFound, "row of an organization outside the scope")
	// Two organizations without an external id do not collide.
	e.org(t, sc, "Umbrella")
	log.expect(t, "organization.created")

	bad := []struct {
		name string
		in   tenant.NewOrganization
		want error
	}{
		{"same name in another case", tenant.NewOrganization{Name: "GLOBEX"}, tenant.ErrOrgNameTaken},
		{"same name, other spacing", tenant.NewOrganization{Name: "globex  "}, tenant.ErrOrgNameTaken},
		{"same external id", tenant.NewOrganization{Name: "Initech", ExternalID: "crm-1"}, tenant.ErrExternalIDTaken},
		{"a claimed domain", tenant.NewOrganization{Name: "Initech", Domains: []string{"initech.com", "GLOBEX.com"}}, tenant.ErrDomainTaken},
		{"a domain listed twice", tenant.NewOrganization{Name: "Initech", Domains: []string{"initech.com", "Initech.com"}}, errkind.Invalid},
		{"a bad domain", tenant.NewOrganization{Name: "Initech", Domains: []string{"localhost"}}, errkind.Invalid},
		{"a bad status", tenant.NewOrganization{Name: "Initech", Status: "gone"}, errkind.Invalid},
		{"no name", tenant.NewOrganization{Name: "  "}, errkind.Invalid},
	}
	for _, c := range bad {
		unchanged(t, e.db, func() {
			_, err := e.tenants.CreateOrganization(ctx, sc, c.in)
			wantErr(t, err, c.want, "create with %s", c.name)
		})
	}
	log.expect(t)
	// Bad input changed nothing: in particular no Initech row was left behind
	// by the create whose second domain was taken.
	list, err := e.tenants.ListOrganizations(ctx, sc, tenant.OrgQuery{NamePrefix: "initech"})
	fatalIf(t, err, "list")
	if len(list.Items) != 0 {
		t.Errorf("a refused create left %+v", list.Items)
	}
	if _, err := e.db.OrganizationByDomain(ctx, sc.Tenant, "initech.com"); !errors.Is(err, errkind.NotFound) {
		t.Errorf("a refused create left its domain claimed: %v", err)
	}

	// Names, external ids and domains are unique per tenant only.
	other, olog := e.newTenant(t)
	twin, err := e.tenants.CreateOrganization(ctx, other, tenant.NewOrganization{Name: "globex", ExternalID: "crm-1", Domains: []string{"globex.com"}})
	fatalIf(t, err, "same organization in another tenant")
	olog.expect(t, "organization.created")
	byDomain, err = e.db.OrganizationByDomain(ctx, other.Tenant, "globex.com")
	fatalIf(t, err, "by domain in the other tenant")
	if byDomain.ID != twin.ID {
		t.Errorf("globex.com in the other tenant resolves to %s, want %s", byDomain.ID, twin.ID)
	}

	// Organization-scoped callers cannot create organizations.
	unchanged(t, e.db, func() {
		_, err := e.tenants.CreateOrganization(ctx, tenant.Scope{Tenant: sc.Tenant, Org: o1.ID}, tenant.NewOrganization{Name: "Sub"})
		wantErr(t, err, errkind.Denied, "create from an organization scope")
	})
}

func testOrganizationsUpdate(t *testing.T, e *env) {
	ctx := t.Context()
	sc, log := e.newTenant(t)
	o1, err := e.tenants.CreateOrganization(ctx, sc, tenant.NewOrganization{Name: "Globex", ExternalID: "crm-1", Domains: []string{"globex.com", "b.globex.com"}})
	fatalIf(t, err, "create")
	o2 := e.org(t, sc, "Initech", "initech.com")
	log.expect(t, "organization.created", "organization.created")

	up, err := e.tenants.UpdateOrganization(ctx, sc, o1.ID, tenant.OrganizationPatch{Name: ptr("Globex International")}, o1.Version)
	fatalIf(t, err, "rename")
	log.expect(t, "organization.updated")
	if up.Version != 2 || up.Name != "Globex International" || !up.Updated.After(o1.Updated) {
		t.Errorf("renamed = %+v", up)
	}
	got, err := e.tenants.Organization(ctx, sc, o1.ID)
	fatalIf(t, err, "read")
	sameOrg(t, "renamed organization read back", got, up)
	// Domains survive an update of other fields untouched (tokens, times).
	deepEqual(t, "domains after rename", normOrg(*got).Domains, normOrg(*o1).Domains)

	unchanged(t, e.db, func() {
		_, err = e.tenants.UpdateOrganization(ctx, sc, o1.ID, tenant.OrganizationPatch{Name: ptr("Stale")}, 1)
		wantErr(t, err, errkind.Precondition, "stale version")
		_, err = e.tenants.UpdateOrganization(ctx, sc, o1.ID, tenant.OrganizationPatch{Name: ptr("INITECH")}, 0)
		wantErr(t, err, tenant.ErrOrgNameTaken, "rename onto another organization's name")
		_, err = e.tenants.UpdateOrganization(ctx, sc, o2.ID, tenant.OrganizationPatch{ExternalID: ptr("crm-1")}, 0)
		wantErr(t, err, tenant.ErrExternalIDTaken, "take another organization's external id")
		_, err = e.tenants.UpdateOrganization(ctx, sc, o2.ID, tenant.OrganizationPatch{Status: ptr("closed")}, 0)
		wantErr(t, err, errkind.Invalid, "bad status")
		_, err = e.tenants.UpdateOrganization(ctx, sc, "org_nosuchorg", tenant.OrganizationPatch{Name: ptr("X")}, 0)
		wantErr(t, err, tenant.ErrOrgNotFound, "unknown organization")
	})
	// A patch that changes nothing writes nothing.
	same, err := e.tenants.UpdateOrganization(ctx, sc, o1.ID, tenant.OrganizationPatch{Name: ptr("Globex International"), Status: ptr(tenant.OrgActive)}, 0)
	fatalIf(t, err, "no-op update")
	if same.Version != up.Version {
		t.Errorf("a no-op update moved the version from %d to %d", up.Version, same.Version)
	}
	log.expect(t)

	// Clearing an external id frees it; status changes persist.
	_, err = e.tenants.UpdateOrganization(ctx, sc, o1.ID, tenant.OrganizationPatch{ExternalID: ptr(""), Status: ptr(tenant.OrgSuspended)}, 0)
	fatalIf(t, err, "clear external id")
	o2u, err := e.tenants.UpdateOrganization(ctx, sc, o2.ID, tenant.OrganizationPatch{ExternalID: ptr("crm-1")}, 0)
	fatalIf(t, err, "take the freed external id")
	log.expect(t, "organization.updated", "organization.updated")
	got, err = e.tenants.Organization(ctx, sc, o1.ID)
	fatalIf(t, err, "read")
	if got.ExternalID != "" || got.Status != tenant.OrgSuspended || got.Version != 3 {
		t.Errorf("after clearing: %+v", got)
	}
	got, err = e.tenants.Organization(ctx, sc, o2.ID)
	fatalIf(t, err, "read")
	sameOrg(t, "organization with the moved external id", got, o2u)

	// Domains.
	withDomain, err := e.tenants.AddDomain(ctx, sc, o1.ID, " NEW.Globex.com. ")
	fatalIf(t, err, "add domain")
	log.expect(t, "organization.domain_added")
	deepEqual(t, "domains after add", domainNames(withDomain), []string{"b.globex.com", "globex.com", "new.globex.com"})
	byDomain, err := e.db.OrganizationByDomain(ctx, sc.Tenant, "new.globex.com")
	fatalIf(t, err, "by new domain")
	sameOrg(t, "organization by its new domain", byDomain, withDomain)
	unchanged(t, e.db, func() {
		_, err = e.tenants.AddDomain(ctx, sc, o2.ID, "globex.com")
		wantErr(t, err, tenant.ErrDomainTaken, "claim another organization's domain")
		_, err = e.tenants.AddDomain(ctx, sc, o1.ID, "GLOBEX.com")
		wantErr(t, err, tenant.ErrDomainTaken, "claim an own domain twice")
		_, err = e.tenants.AddDomain(ctx, sc, o1.ID, "not a domain")
		wantErr(t, err, errkind.Invalid, "claim a malformed domain")
		_, err = e.tenants.RemoveDomain(ctx, sc, o1.ID, "initech.com")
		wantErr(t, err, tenant.ErrDomainNotFound, "remove another organization's domain")
		_, err = e.tenants.AddDomain(ctx, sc, "org_nosuchorg", "ghost.example")
		wantErr(t, err, errkind.NotFound, "add a domain to an unknown organization")
	})
	log.expect(t)
	removed, err := e.tenants.RemoveDomain(ctx, sc, o1.ID, "Globex.com")
	fatalIf(t, err, "remove domain")
	log.expect(t, "organization.domain_removed")
	deepEqual(t, "domains after remove", domainNames(removed), []string{"b.globex.com", "new.globex.com"})
	_, err = e.db.OrganizationByDomain(ctx, sc.Tenant, "globex.com")
	wantErr(t, err, tenant.ErrOrgNotFound, "lookup of a removed domain")
	// The freed domain can be claimed by another organization.
	o2d, err := e.tenants.AddDomain(ctx, sc, o2.ID, "globex.com")
	fatalIf(t, err, "claim the freed domain")
	log.expect(t, "organization.domain_added")
	byDomain, err = e.db.OrganizationByDomain(ctx, sc.Tenant, "globex.com")
	fatalIf(t, err, "by moved domain")
	sameOrg(t, "new owner of the domain", byDomain, o2d)
	got, err = e.tenants.Organization(ctx, sc, o1.ID)
	fatalIf(t, err, "read")
	sameOrg(t, "organization after domain changes", got, removed)
}

func testOrganizationsDelete(t *testing.T, e *env) {
	ctx := t.Context()
	sc, log := e.newTenant(t)
	o := e.org(t, sc, "Doomed", "doomed.example")
	keep := e.org(t, sc, "Keeper")
	u := e.user(t, sc, user.NewUser{Username: "resident", Org: o.ID})
	log.expect(t, "organization.created", "organization.created", "user.created")

	unchanged(t, e.db, func() {
		err := e.tenants.DeleteOrganization(ctx, sc, o.ID)
		wantErr(t, err, tenant.ErrOrgInUse, "delete while a user is homed there")
		err = e.tenants.DeleteOrganization(ctx, tenant.Scope{Tenant: sc.Tenant, Org: o.ID}, o.ID)
		wantErr(t, err, errkind.Denied, "delete from an organization scope")
	})
	log.expect(t)

	// Move the user out; a group homed there blocks too.
	_, err := e.users.Update(ctx, sc, u.ID, user.Patch{Org: ptr(keep.ID)}, 0)
	fatalIf(t, err, "move the user away")
	g := e.group(t, sc, group.NewGroup{Name: "Doomed team", Org: o.ID})
	log.expect(t, "user.updated", "group.created")
	unchanged(t, e.db, func() {
		wantErr(t, e.tenants.DeleteOrganization(ctx, sc, o.ID), tenant.ErrOrgInUse, "delete while a group is homed there")
	})
	fatalIf(t, e.groups.Delete(ctx, sc, g.ID), "delete the group")
	log.expect(t, "group.deleted")

	fatalIf(t, e.tenants.DeleteOrganization(ctx, sc, o.ID), "delete the empty organization")
	log.expect(t, "organization.deleted")
	_, err = e.tenants.Organization(ctx, sc, o.ID)
	wantErr(t, err, tenant.ErrOrgNotFound, "read a deleted organization")
	_, err = e.db.OrganizationByDomain(ctx, sc.Tenant, "doomed.example")
	wantErr(t, err, tenant.ErrOrgNotFound, "a deleted organization's domain")
	// Its domain and name are free again.
	o2 := e.org(t, sc, "doomed", "doomed.example")
	log.expect(t, "organization.created")
	unchanged(t, e.db, func() {
		wantErr(t, e.tenants.DeleteOrganization(ctx, sc, o.ID), tenant.ErrOrgNotFound, "delete twice")
	})
	log.expect(t)
	byDomain, err := e.db.OrganizationByDomain(ctx, sc.Tenant, "doomed.example")
	fatalIf(t, err, "reclaimed domain")
	if byDomain.ID != o2.ID {
		t.Errorf("reclaimed domain resolves to %s, want %s", byDomain.ID, o2.ID)
	}
}

// orgRows reads every organization afresh and reduces it to the rows a sort
// sees, keeping those that match.
func orgRows(t *testing.T, e *env, sc tenant.Scope, ids []tenant.OrgID, q tenant.OrgQuery) []row {
	t.Helper()
	var rows []row
	for _, id := range ids {
		o, err := e.db.Organization(t.Context(), sc.Tenant, id)
		fatalIf(t, err, "read organization %s", id)
		if q.Status != "" && o.Status != q.Status || q.ExternalID != "" && o.ExternalID != q.ExternalID ||
			!strings.HasPrefix(o.NameKey(), strings.ToLower(q.NamePrefix)) {
			continue
		}
		key := ""
		if q.Sort == "name" {
			key = o.NameKey()
		}
		rows = append(rows, row{id: string(o.ID), key: key})
	}
	return rows
}

func listOrgs(t *testing.T, e *env, sc tenant.Scope, q tenant.OrgQuery) func(string) (page.Of[tenant.Organization], error) {
	return func(cursor string) (page.Of[tenant.Organization], error) {
		q := q
		q.Cursor = cursor
		p, err := e.tenants.ListOrganizations(t.Context(), sc, q)
		for _, o := range p.Items {
			if o.Tenant != sc.Tenant {
				t.Errorf("organization %s of tenant %s listed in %s", o.ID, o.Tenant, sc.Tenant)
			}
		}
		return p, err
	}
}

func orgID(o tenant.Organization) string { return string(o.ID) }

func testOrganizationsList(t *testing.T, e *env) {
	ctx := t.Context()
	sc, _ := e.newTenant(t)
	// Another tenant's organizations with the same names must never show up.
	other, _ := e.newTenant(t)
	names := []string{"Acme", "acme labs", "ACME Rockets", "Ärzte ohne Grenzen", "Beta", "beta2", "Zeta", "Émile & Co", "Globex", "Hooli", "Initech", "Umbrella", "Wayne", "Stark", "Tyrell"}
	var ids []tenant.OrgID
	for i, n := range names {
		in := tenant.NewOrganization{Name: n}
		if i%3 == 0 {
			in.Status = tenant.OrgSuspended
		}
		if i%4 == 1 {
			in.ExternalID = fmt.Sprintf("crm-%d", i)
		}
		o, err := e.tenants.CreateOrganization(ctx, sc, in)
		fatalIf(t, err, "create %s", n)
		ids = append(ids, o.ID)
		if i%2 == 0 {
			e.org(t, other, n)
		}
	}
	// Make creation order differ from id order of renamed rows: rename two.
	_, err := e.tenants.UpdateOrganization(ctx, sc, ids[0], tenant.OrganizationPatch{Name: ptr("zz Acme renamed")}, 0)
	fatalIf(t, err, "rename")
	_, err = e.tenants.UpdateOrganization(ctx, sc, ids[6], tenant.OrganizationPatch{Name: ptr("aaa Zeta renamed")}, 0)
	fatalIf(t, err, "rename")

	filters := []struct {
		name string
		q    tenant.OrgQuery
	}{
		{"all", tenant.OrgQuery{}},
		{"active", tenant.OrgQuery{Status: tenant.OrgActive}},
		{"suspended", tenant.OrgQuery{Status: tenant.OrgSuspended}},
		{"external id", tenant.OrgQuery{ExternalID: "crm-1"}},
		{"no such external id", tenant.OrgQuery{ExternalID: "crm-404"}},
		{"prefix ac", tenant.OrgQuery{NamePrefix: "ac"}},
		{"prefix AC", tenant.OrgQuery{NamePrefix: "AC"}},
		{"prefix ä", tenant.OrgQuery{NamePrefix: "Ä"}},
		{"prefix nothing", tenant.OrgQuery{NamePrefix: "qqq"}},
		{"active prefix b", tenant.OrgQuery{Status: tenant.OrgActive, NamePrefix: "b"}},
	}
	for _, f := range filters {
		for _, sort := range tenant.OrgSorts {
			for _, desc := range []bool{false, true} {
				for _, limit := range []int{1, 4, page.MaxLimit} {
					q := f.q
					q.Sort, q.Desc, q.Limit = sort, desc, limit
					want := bruteForce(orgRows(t, e, sc, ids, q), desc)
					got := walk(t, limit, orgID, listOrgs(t, e, sc, q), nil)
					sameOrder(t, describe(f.name, sort, desc, limit), got, want)
				}
			}
		}
	}
	// The default sort is by creation, ascending.
	p, err := e.tenants.ListOrganizations(ctx, sc, tenant.OrgQuery{})
	fatalIf(t, err, "default list")
	got := make([]string, len(p.Items))
	for i, o := range p.Items {
		got[i] = string(o.ID)
	}
	sameOrder(t, "default order", got, bruteForce(orgRows(t, e, sc, ids, tenant.OrgQuery{Request: page.Request{Sort: "created"}}), false))
	for _, o := range p.Items {
		want, err := e.db.Organization(ctx, sc.Tenant, o.ID)
		fatalIf(t, err, "read")
		sameOrg(t, "listed organization", &o, want)
	}

	// Bad requests.
	first, err := e.tenants.ListOrganizations(ctx, sc, tenant.OrgQuery{Request: page.Request{Limit: 2, Sort: "name"}})
	fatalIf(t, err, "first page")
	checkBadCursors(t, "organizations", first.Next, func(c string) (page.Of[tenant.Organization], error) {
		return e.tenants.ListOrganizations(ctx, sc, tenant.OrgQuery{Request: page.Request{Limit: 2, Cursor: c, Sort: "created"}})
	})
	for _, r := range []page.Request{{Sort: "size"}, {Limit: page.MaxLimit + 1}, {Limit: -1}} {
		_, err := e.tenants.ListOrganizations(ctx, sc, tenant.OrgQuery{Request: r})
		wantErr(t, err, errkind.Invalid, "list with %+v", r)
	}
	_, err = e.tenants.ListOrganizations(ctx, sc, tenant.OrgQuery{Status: "gone"})
	wantErr(t, err, errkind.Invalid, "list with a bad status")
}

// testOrganizationsListStable walks each sort while rows are inserted before
// and after the cursor: the rows that existed all come exactly once and in
// order, and of the new ones exactly those after the cursor come.
func testOrganizationsListStable(t *testing.T, e *env) {
	sc, _ := e.newTenant(t)
	var ids []tenant.OrgID
	for i := range 12 {
		o := e.org(t, sc, fmt.Sprintf("m-org-%02d", i))
		ids = append(ids, o.ID)
	}
	n := 0
	for _, sort := range tenant.OrgSorts {
		for _, desc := range []bool{false, true} {
			q := tenant.OrgQuery{Request: page.Request{Limit: 3, Sort: sort, Desc: desc}}
			before := orgRows(t, e, sc, ids, q)
			var cut row
			var added []row
			got := walk(t, 3, orgID, listOrgs(t, e, sc, q), func(pageNo int, last tenant.Organization) {
				if pageNo != 1 {
					return
				}
				cut = row{id: string(last.ID)}
				if sort == "name" {
					cut.key = last.NameKey()
				}
				// One name sorting first, one last, one right after the cursor.
				for _, name := range []string{"a-first", "z-last", last.Name + "-next"} {
					n++
					o := e.org(t, sc, fmt.Sprintf("%s-%d", name, n))
					ids = append(ids, o.ID)
					r := row{id: string(o.ID)}
					if sort == "name" {
						r.key = o.NameKey()
					}
					added = append(added, r)
				}
			})
			var want []row
			want = append(want, before...)
			for _, r := range added {
				if desc && r.less(cut) || !desc && cut.less(r) {
					want = append(want, r)
				}
			}
			sameOrder(t, describe("inserting mid-walk", sort, desc, 3), got, bruteForce(want, desc))
		}
	}
}
