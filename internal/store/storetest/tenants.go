package storetest

import (
	"slices"
	"testing"

	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/tenant"
)

func testTenants(t *testing.T, e *env) {
	ctx := t.Context()
	s := slug("acme")
	a, err := e.tenants.CreateTenant(ctx, s, "  Acme Corp ")
	fatalIf(t, err, "create tenant")
	log := &auditLog{db: e.db, tenant: a.ID}
	t.Cleanup(func() { checkGapless(t, e.db, a.ID) })
	evs := log.expect(t, "tenant.created")
	if len(evs) == 1 && (evs[0].TargetID != string(a.ID) || evs[0].Details["slug"] != s) {
		t.Errorf("tenant.created event = %+v", evs[0])
	}
	if a.Name != "Acme Corp" || a.Version != 1 {
		t.Errorf("created tenant = %+v, want trimmed name and version 1", a)
	}

	byID, err := e.tenants.Tenant(ctx, a.ID)
	fatalIf(t, err, "tenant by id")
	bySlug, err := e.tenants.TenantBySlug(ctx, s)
	fatalIf(t, err, "tenant by slug")
	for _, got := range []*tenant.Tenant{byID, bySlug} {
		sameTime(t, "created", got.Created, a.Created)
		sameTime(t, "updated", got.Updated, a.Updated)
		got.Created, got.Updated = a.Created, a.Updated
		deepEqual(t, "tenant read back", *got, *a)
	}

	_, err = e.tenants.Tenant(ctx, "ten_nosuchtenant")
	wantErr(t, err, tenant.ErrNotFound, "unknown tenant id")
	_, err = e.tenants.TenantBySlug(ctx, "no-such-slug")
	wantErr(t, err, errkind.NotFound, "unknown tenant slug")

	unchanged(t, e.db, func() {
		_, err = e.tenants.CreateTenant(ctx, s, "Another")
		wantErr(t, err, tenant.ErrSlugTaken, "duplicate slug")
		wantErr(t, err, errkind.Conflict, "duplicate slug")
		_, err = e.tenants.CreateTenant(ctx, "Not A Slug", "Bad")
		wantErr(t, err, errkind.Invalid, "invalid slug")
		_, err = e.tenants.CreateTenant(ctx, "api", "Reserved")
		wantErr(t, err, errkind.Invalid, "reserved slug")
	})

	// Listed by slug, whatever the creation order.
	var made []string
	for _, p := range []string{"zulu", "alpha", "mike"} {
		tn, err := e.tenants.CreateTenant(ctx, slug(p), p)
		fatalIf(t, err, "create tenant %s", p)
		t.Cleanup(func() { checkGapless(t, e.db, tn.ID) })
		made = append(made, tn.Slug)
	}
	all, err := e.tenants.ListTenants(ctx)
	fatalIf(t, err, "list tenants")
	var slugs []string
	for _, tn := range all {
		slugs = append(slugs, tn.Slug)
	}
	if !slices.IsSorted(slugs) {
		t.Errorf("tenants not listed by slug: %q", slugs)
	}
	for _, m := range append(made, s) {
		if !slices.Contains(slugs, m) {
			t.Errorf("tenant %s missing from the list", m)
		}
	}
	if len(slices.Compact(slices.Clone(slugs))) != len(slugs) {
		t.Errorf("a tenant is listed twice: %q", slugs)
	}

	// Rename with a version check.
	r, err := e.tenants.RenameTenant(ctx, a.ID, " Acme Two ", a.Version)
	fatalIf(t, err, "rename")
	if r.Name != "Acme Two" || r.Version != 2 || !r.Updated.After(a.Updated) {
		t.Errorf("renamed tenant = %+v", r)
	}
	log.expect(t, "tenant.updated")
	unchanged(t, e.db, func() {
		_, err = e.tenants.RenameTenant(ctx, a.ID, "Stale", 1)
		wantErr(t, err, errkind.Precondition, "rename with a stale version")
		_, err = e.tenants.RenameTenant(ctx, a.ID, "", 0)
		wantErr(t, err, errkind.Invalid, "rename to an empty name")
		_, err = e.tenants.RenameTenant(ctx, "ten_nosuchtenant", "Ghost", 0)
		wantErr(t, err, errkind.NotFound, "rename an unknown tenant")
	})
	log.expect(t)
	got, err := e.tenants.Tenant(ctx, a.ID)
	fatalIf(t, err, "read renamed tenant")
	if got.Name != "Acme Two" || got.Version != 2 || got.Slug != s {
		t.Errorf("after a refused rename the tenant is %+v", got)
	}
	sameTime(t, "updated after rename", got.Updated, r.Updated)
	// No version check asked: always applies.
	r, err = e.tenants.RenameTenant(ctx, a.ID, "Acme Three", 0)
	fatalIf(t, err, "rename without version check")
	if r.Version != 3 {
		t.Errorf("version after second rename = %d, want 3", r.Version)
	}
	log.expect(t, "tenant.updated")
}
