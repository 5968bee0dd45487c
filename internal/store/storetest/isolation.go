package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tessera-iam/tessera/internal/apitoken"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/group"
	"github.com/tessera-iam/tessera/internal/page"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

// world is one tenant's worth of data, to be attacked from elsewhere.
type world struct {
	sc    tenant.Scope
	log   *auditLog
	org   *tenant.Organization
	user  *user.User
	group *group.Group // tenant-wide, user is a member
	ogrp  *group.Group // organization group, user is a member
	token *apitoken.Token
}

// bcryptHash makes a cheap legacy hash to import (no argon2 work).
func bcryptHash(t *testing.T, plain string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(plain), bcrypt.MinCost)
	fatalIf(t, err, "bcrypt")
	return string(h)
}

func (e *env) world(t *testing.T, username, domain string) world {
	t.Helper()
	ctx := t.Context()
	sc, log := e.newTenant(t)
	w := world{sc: sc, log: log}
	w.org = e.org(t, sc, "Shared name", domain)
	fatalIf(t, e.users.SetProfileSchema(ctx, sc, user.Schema{Attributes: []user.AttributeDef{{Name: "team", Type: user.TypeString}}}), "schema")
	w.user = e.user(t, sc, user.NewUser{
		Username: username, Emails: []user.Email{{Value: username + "@" + domain}}, Org: w.org.ID,
		ExternalIDs: map[string]string{"crm": "same-external-id"}, Attributes: map[string]any{"team": "x"},
	})
	_, err := e.users.ImportPasswordHash(ctx, sc, w.user.ID, bcryptHash(t, "correct horse battery"))
	fatalIf(t, err, "import password")
	w.group = e.group(t, sc, group.NewGroup{Name: "Everyone", ExternalID: "grp-ext"})
	w.ogrp = e.group(t, sc, group.NewGroup{Name: "Team", Org: w.org.ID})
	for _, g := range []*group.Group{w.group, w.ogrp} {
		fatalIf(t, e.groups.AddMember(ctx, sc, g.ID, w.user.ID), "add member")
	}
	w.token, _, err = e.tokens.Create(ctx, sc, apitoken.NewToken{Name: "ci", Role: apitoken.Admin})
	fatalIf(t, err, "create token")
	log.next(t)
	return w
}

func testTenantIsolation(t *testing.T, e *env) {
	ctx := t.Context()
	a := e.world(t, "only-in-a", "a.example")
	b := e.world(t, "shared", "b.example")
	sb := b.sc
	tb := sb.Tenant
	hashA, err := e.db.PasswordHashes(ctx, a.sc.Tenant, a.user.ID, 0)
	fatalIf(t, err, "hashes of a")
	tokensA, err := e.db.ListTokens(ctx, a.sc.Tenant)
	fatalIf(t, err, "tokens of a")

	// Every read, change and delete by id from tenant B with tenant A's ids
	// is "not found", and changes nothing.
	notFound := []struct {
		name string
		call func() error
	}{
		{"organization", func() error { _, err := e.tenants.Organization(ctx, sb, a.org.ID); return err }},
		{"update organization", func() error {
			_, err := e.tenants.UpdateOrganization(ctx, sb, a.org.ID, tenant.OrganizationPatch{Name: ptr("Hijacked")}, 0)
			return err
		}},
		{"add domain", func() error { _, err := e.tenants.AddDomain(ctx, sb, a.org.ID, "evil.example"); return err }},
		{"remove domain", func() error { _, err := e.tenants.RemoveDomain(ctx, sb, a.org.ID, "a.example"); return err }},
		{"verify domain", func() error { _, err := e.tenants.VerifyDomain(ctx, sb, a.org.ID, "a.example"); return err }},
		{"delete organization", func() error { return e.tenants.DeleteOrganization(ctx, sb, a.org.ID) }},
		{"user", func() error { _, err := e.users.User(ctx, sb, a.user.ID); return err }},
		{"update user", func() error {
			_, err := e.users.Update(ctx, sb, a.user.ID, user.Patch{GivenName: ptr("Mallory")}, 0)
			return err
		}},
		{"suspend user", func() error { _, err := e.users.Transition(ctx, sb, a.user.ID, user.OpSuspend, 0); return err }},
		{"delete user", func() error { return e.users.Delete(ctx, sb, a.user.ID) }},
		{"set password", func() error { _, err := e.users.SetPassword(ctx, sb, a.user.ID, "a new long password"); return err }},
		{"import password", func() error {
			_, err := e.users.ImportPasswordHash(ctx, sb, a.user.ID, hashA[0])
			return err
		}},
		{"validate password for user", func() error { _, err := e.users.ValidatePassword(ctx, sb, "whatever it is", a.user.ID); return err }},
		{"group", func() error { _, err := e.groups.Group(ctx, sb, a.group.ID); return err }},
		{"update group", func() error {
			_, err := e.groups.Update(ctx, sb, a.group.ID, group.Patch{Name: ptr("Hijacked")}, 0)
			return err
		}},
		{"delete group", func() error { return e.groups.Delete(ctx, sb, a.group.ID) }},
		{"add own user to foreign group", func() error { return e.groups.AddMember(ctx, sb, a.group.ID, b.user.ID) }},
		{"add foreign user to own group", func() error { return e.groups.AddMember(ctx, sb, b.group.ID, a.user.ID) }},
		{"remove foreign membership", func() error { return e.groups.RemoveMember(ctx, sb, a.group.ID, a.user.ID) }},
		{"groups of foreign user", func() error { _, err := e.groups.GroupsOf(ctx, sb, a.user.ID, page.Request{}); return err }},
		{"revoke token", func() error { _, err := e.tokens.Revoke(ctx, sb, a.token.ID); return err }},
		// The store itself, below the services.
		{"store user", func() error { _, err := e.db.User(ctx, tb, a.user.ID); return err }},
		{"store user by key", func() error { _, err := e.db.UserByKey(ctx, tb, user.Key("only-in-a")); return err }},
		{"store user by email key", func() error { _, err := e.db.UserByKey(ctx, tb, user.Key("only-in-a@a.example")); return err }},
		{"store update user", func() error {
			_, err := e.db.UpdateUser(ctx, tb, a.user.ID, func(u *user.User) error {
				t.Errorf("UpdateUser ran fn on another tenant's user %+v", u)
				u.Version++
				return nil
			})
			return err
		}},
		{"store delete user", func() error { return e.db.DeleteUser(ctx, tb, a.user.ID) }},
		{"store password hashes", func() error { _, err := e.db.PasswordHashes(ctx, tb, a.user.ID, 5); return err }},
		{"store set password", func() error {
			return e.db.SetPassword(ctx, tb, a.user.ID, hashA[0], e.clock.Now(), 3)
		}},
		{"store organization", func() error { _, err := e.db.Organization(ctx, tb, a.org.ID); return err }},
		{"store organization by domain", func() error { _, err := e.db.OrganizationByDomain(ctx, tb, "a.example"); return err }},
		{"store update organization", func() error {
			_, err := e.db.UpdateOrganization(ctx, tb, a.org.ID, func(o *tenant.Organization) error {
				t.Errorf("UpdateOrganization ran fn on another tenant's organization %+v", o)
				o.Version++
				return nil
			})
			return err
		}},
		{"store delete organization", func() error { return e.db.DeleteOrganization(ctx, tb, a.org.ID) }},
		{"store group", func() error { _, err := e.db.Group(ctx, tb, a.group.ID); return err }},
		{"store update group", func() error {
			_, err := e.db.UpdateGroup(ctx, tb, a.group.ID, func(g *group.Group) error {
				t.Errorf("UpdateGroup ran fn on another tenant's group %+v", g)
				g.Version++
				return nil
			})
			return err
		}},
		{"store delete group", func() error { return e.db.DeleteGroup(ctx, tb, a.group.ID) }},
		{"store add member", func() error { _, err := e.db.AddMember(ctx, tb, a.group.ID, a.user.ID, e.clock.Now()); return err }},
		{"store revoke token", func() error { _, _, err := e.db.RevokeToken(ctx, tb, a.token.ID, e.clock.Now()); return err }},
	}
	unchanged(t, e.db, func() {
		for _, c := range notFound {
			if err := c.call(); !errors.Is(err, errkind.NotFound) {
				t.Errorf("%s across tenants: error = %v, want errkind.NotFound", c.name, err)
			}
		}
		// Writes by id that report no match rather than an error.
		if removed, err := e.db.RemoveMember(ctx, tb, a.group.ID, a.user.ID); err != nil || removed {
			t.Errorf("store remove member across tenants = %v, %v; want false, nil", removed, err)
		}
		if gids, err := e.db.RemoveMembershipsOutside(ctx, tb, a.user.ID, ""); err != nil || len(gids) != 0 {
			t.Errorf("store remove memberships outside across tenants = %v, %v; want none", gids, err)
		}
		if err := e.db.UpgradePasswordHash(ctx, tb, a.user.ID, hashA[0], "$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"); err != nil {
			t.Errorf("store upgrade password hash across tenants: %v", err)
		}
		if err := e.db.TouchToken(ctx, tb, a.token.ID, e.clock.Now().Add(time.Hour)); err != nil {
			t.Errorf("store touch token across tenants: %v", err)
		}
		// Creating with a reference to another tenant's organization.
		_, err := e.users.Create(ctx, sb, user.NewUser{Username: "intruder", Org: a.org.ID})
		wantErr(t, err, errkind.Invalid, "create a user in another tenant's organization")
		_, err = e.groups.Create(ctx, sb, group.NewGroup{Name: "Intruders", Org: a.org.ID})
		wantErr(t, err, errkind.Invalid, "create a group in another tenant's organization")
		_, _, err = e.tokens.Create(ctx, sb, apitoken.NewToken{Name: "intruder", Role: apitoken.Admin, Org: a.org.ID})
		wantErr(t, err, errkind.Invalid, "create a token for another tenant's organization")
		_, err = e.users.Update(ctx, sb, b.user.ID, user.Patch{Org: ptr(a.org.ID)}, 0)
		wantErr(t, err, errkind.Invalid, "move a user into another tenant's organization")
		// Sign-in and look-ups by login are per tenant.
		_, err = e.users.CheckPassword(ctx, tb, "only-in-a", "correct horse battery")
		wantErr(t, err, user.ErrBadCredentials, "check another tenant's user's password")
		if ok, err := e.users.Exists(ctx, sb, "only-in-a@a.example"); ok || err != nil {
			t.Errorf("exists across tenants = %v, %v", ok, err)
		}
	})
	b.log.expect(t)
	a.log.expect(t)
	if got, err := e.db.PasswordHashes(ctx, a.sc.Tenant, a.user.ID, 0); err != nil || got[0] != hashA[0] {
		t.Errorf("tenant A's password hash changed: %v, %v", got, err)
	}
	if got, err := e.db.ListTokens(ctx, a.sc.Tenant); err != nil || !got[0].LastUsed.Equal(tokensA[0].LastUsed) {
		t.Errorf("tenant A's token was touched from tenant B: %+v, %v", got, err)
	}
	var schema user.Schema
	if ok, err := e.db.Setting(ctx, tb, "profile_schema", &schema); err != nil || !ok || len(schema.Attributes) != 1 {
		t.Errorf("tenant B's own schema: %v %v %+v", ok, err, schema)
	}
	fresh, _ := e.newTenant(t)
	if ok, err := e.db.Setting(ctx, fresh.Tenant, "profile_schema", &schema); ok || err != nil {
		t.Errorf("a fresh tenant sees a profile schema: %v, %v", ok, err)
	}

	// Lists show only the caller's tenant.
	for _, w := range []world{a, b} {
		other := a
		if w.sc.Tenant == a.sc.Tenant {
			other = b
		}
		ownOnly(t, "organizations", w.sc.Tenant, func() ([]string, []tenant.ID) {
			p, err := e.tenants.ListOrganizations(ctx, w.sc, tenant.OrgQuery{})
			fatalIf(t, err, "list organizations")
			return collect(p.Items, func(o tenant.Organization) (string, tenant.ID) { return string(o.ID), o.Tenant })
		}, []string{string(w.org.ID)})
		for name, q := range map[string]user.Query{
			"users":                           {},
			"users of the other's org":        {Org: other.org.ID},
			"users of the other's group":      {Group: string(other.group.ID)},
			"users with the other's email":    {Email: other.user.PrimaryEmail().Value},
			"users with the other's username": {UsernamePrefix: other.user.Username},
		} {
			want := []string{string(w.user.ID)}
			if name != "users" {
				want = nil // the usernames "shared" and "only-in-a" are not prefixes of each other
			}
			ownOnly(t, name, w.sc.Tenant, func() ([]string, []tenant.ID) {
				p, err := e.users.List(ctx, w.sc, q)
				fatalIf(t, err, "list %s", name)
				return collect(p.Items, func(u user.User) (string, tenant.ID) { return string(u.ID), u.Tenant })
			}, want)
		}
		for name, q := range map[string]group.Query{
			"groups":                     {},
			"groups of the other's org":  {Org: other.org.ID},
			"groups of the other's user": {Member: other.user.ID},
		} {
			want := []string{string(w.group.ID), string(w.ogrp.ID)}
			if name != "groups" {
				want = nil
			}
			ownOnly(t, name, w.sc.Tenant, func() ([]string, []tenant.ID) {
				p, err := e.groups.List(ctx, w.sc, q)
				fatalIf(t, err, "list %s", name)
				return collect(p.Items, func(g group.Group) (string, tenant.ID) { return string(g.ID), g.Tenant })
			}, want)
		}
		ownOnly(t, "tokens", w.sc.Tenant, func() ([]string, []tenant.ID) {
			ts, err := e.tokens.List(ctx, w.sc)
			fatalIf(t, err, "list tokens")
			return collect(ts, func(tk apitoken.Token) (string, tenant.ID) { return string(tk.ID), tk.Tenant })
		}, []string{string(w.token.ID)})
		evs, err := e.db.Events(ctx, w.sc.Tenant, 0, 1000)
		fatalIf(t, err, "events")
		for _, ev := range evs {
			if ev.Tenant != string(w.sc.Tenant) || slices.Contains([]string{string(other.user.ID), string(other.org.ID), string(other.group.ID)}, ev.TargetID) {
				t.Errorf("tenant %s's log holds %+v", w.sc.Tenant, ev)
			}
		}
	}
}

func collect[T any](items []T, f func(T) (string, tenant.ID)) ([]string, []tenant.ID) {
	var ids []string
	var ts []tenant.ID
	for _, it := range items {
		id, tn := f(it)
		ids, ts = append(ids, id), append(ts, tn)
	}
	return ids, ts
}

// ownOnly checks a list holds exactly want, all of tenant tn.
func ownOnly(t *testing.T, what string, tn tenant.ID, list func() ([]string, []tenant.ID), want []string) {
	t.Helper()
	ids, tenants := list()
	for _, x := range tenants {
		if x != tn {
			t.Errorf("%s of %s lists a row of tenant %s", what, tn, x)
		}
	}
	slices.Sort(ids)
	want = slices.Clone(want)
	slices.Sort(want)
	sameOrder(t, what+" of "+string(tn), ids, want)
}

// testOrgScope checks that an organization-scoped caller sees and changes
// only its organization's users and groups, and cannot move users.
func testOrgScope(t *testing.T, e *env) {
	ctx := t.Context()
	sc, log := e.newTenant(t)
	o1 := e.org(t, sc, "One")
	o2 := e.org(t, sc, "Two")
	u1 := e.user(t, sc, user.NewUser{Username: "one", Org: o1.ID})
	u2 := e.user(t, sc, user.NewUser{Username: "two", Org: o2.ID})
	uT := e.user(t, sc, user.NewUser{Username: "tenant-level"})
	g1 := e.group(t, sc, group.NewGroup{Name: "Team", Org: o1.ID})
	g2 := e.group(t, sc, group.NewGroup{Name: "Team", Org: o2.ID})
	gT := e.group(t, sc, group.NewGroup{Name: "Everyone"})
	for _, m := range []struct {
		g *group.Group
		u *user.User
	}{{gT, u1}, {gT, u2}, {g2, u2}} {
		fatalIf(t, e.groups.AddMember(ctx, sc, m.g.ID, m.u.ID), "add member")
	}
	log.next(t)
	s1 := tenant.Scope{Tenant: sc.Tenant, Org: o1.ID}

	type call struct {
		name string
		want error
		fn   func() error
	}
	refused := []call{
		{"read a user of another org", errkind.NotFound, func() error { _, err := e.users.User(ctx, s1, u2.ID); return err }},
		{"read a tenant-level user", errkind.NotFound, func() error { _, err := e.users.User(ctx, s1, uT.ID); return err }},
		{"update a user of another org", errkind.NotFound, func() error {
			_, err := e.users.Update(ctx, s1, u2.ID, user.Patch{GivenName: ptr("X")}, 0)
			return err
		}},
		{"suspend a user of another org", errkind.NotFound, func() error {
			_, err := e.users.Transition(ctx, s1, u2.ID, user.OpSuspend, 0)
			return err
		}},
		{"delete a user of another org", errkind.NotFound, func() error { return e.users.Delete(ctx, s1, u2.ID) }},
		{"set the password of a user of another org", errkind.NotFound, func() error {
			_, err := e.users.SetPassword(ctx, s1, u2.ID, "a new long password")
			return err
		}},
		{"import a password of a user of another org", errkind.NotFound, func() error {
			_, err := e.users.ImportPasswordHash(ctx, s1, u2.ID, bcryptHash(t, "whatever"))
			return err
		}},
		{"move an own user to another org", errkind.Denied, func() error {
			_, err := e.users.Update(ctx, s1, u1.ID, user.Patch{Org: ptr(o2.ID)}, 0)
			return err
		}},
		{"move an own user to tenant level", errkind.Denied, func() error {
			_, err := e.users.Update(ctx, s1, u1.ID, user.Patch{Org: ptr(tenant.OrgID(""))}, 0)
			return err
		}},
		{"create a user in another org", errkind.Invalid, func() error {
			_, err := e.users.Create(ctx, s1, user.NewUser{Username: "sneaky", Org: o2.ID})
			return err
		}},
		{"read a group of another org", errkind.NotFound, func() error { _, err := e.groups.Group(ctx, s1, g2.ID); return err }},
		{"read a tenant-wide group", errkind.NotFound, func() error { _, err := e.groups.Group(ctx, s1, gT.ID); return err }},
		{"rename a group of another org", errkind.NotFound, func() error {
			_, err := e.groups.Update(ctx, s1, g2.ID, group.Patch{Name: ptr("Mine")}, 0)
			return err
		}},
		{"delete a group of another org", errkind.NotFound, func() error { return e.groups.Delete(ctx, s1, g2.ID) }},
		{"add a user of another org to an own group", errkind.NotFound, func() error { return e.groups.AddMember(ctx, s1, g1.ID, u2.ID) }},
		{"add an own user to a tenant-wide group", errkind.NotFound, func() error { return e.groups.AddMember(ctx, s1, gT.ID, u1.ID) }},
		{"remove a membership in another org", errkind.NotFound, func() error { return e.groups.RemoveMember(ctx, s1, g2.ID, u2.ID) }},
		{"groups of a user of another org", errkind.NotFound, func() error { _, err := e.groups.GroupsOf(ctx, s1, u2.ID, page.Request{}); return err }},
		{"create a group in another org", errkind.Invalid, func() error {
			_, err := e.groups.Create(ctx, s1, group.NewGroup{Name: "Sneaky", Org: o2.ID})
			return err
		}},
		{"read another org", errkind.NotFound, func() error { _, err := e.tenants.Organization(ctx, s1, o2.ID); return err }},
		{"rename another org", errkind.NotFound, func() error {
			_, err := e.tenants.UpdateOrganization(ctx, s1, o2.ID, tenant.OrganizationPatch{Name: ptr("Mine")}, 0)
			return err
		}},
		{"change the own org's status", errkind.Denied, func() error {
			_, err := e.tenants.UpdateOrganization(ctx, s1, o1.ID, tenant.OrganizationPatch{Status: ptr(tenant.OrgSuspended)}, 0)
			return err
		}},
		{"issue a token", errkind.Denied, func() error {
			_, _, err := e.tokens.Create(ctx, s1, apitoken.NewToken{Name: "x", Role: apitoken.ReadOnly})
			return err
		}},
		{"change the profile schema", errkind.Denied, func() error { return e.users.SetProfileSchema(ctx, s1, user.Schema{}) }},
	}
	unchanged(t, e.db, func() {
		for _, c := range refused {
			if err := c.fn(); !errors.Is(err, c.want) {
				t.Errorf("%s from an organization scope: error = %v, want %v", c.name, err, c.want)
			}
		}
	})
	log.expect(t)

	// What the scope does reach.
	scoped := e.user(t, s1, user.NewUser{Username: "scoped"})
	if scoped.Org != o1.ID {
		t.Errorf("a user created in an organization scope is homed in %q, want %s", scoped.Org, o1.ID)
	}
	sg := e.group(t, s1, group.NewGroup{Name: "Scoped"})
	if sg.Org != o1.ID {
		t.Errorf("a group created in an organization scope is homed in %q, want %s", sg.Org, o1.ID)
	}
	fatalIf(t, e.groups.AddMember(ctx, s1, g1.ID, u1.ID), "add an own user to an own group")
	_, err := e.users.Update(ctx, s1, u1.ID, user.Patch{GivenName: ptr("Uno")}, 0)
	fatalIf(t, err, "update an own user")
	log.expect(t, "user.created", "group.created", "group.member_added", "user.updated")

	listed := func(what string, got []string, want ...string) {
		t.Helper()
		slices.Sort(got)
		slices.Sort(want)
		sameOrder(t, what, got, want)
	}
	up, err := e.users.List(ctx, s1, user.Query{})
	fatalIf(t, err, "list users")
	ids, _ := collect(up.Items, func(u user.User) (string, tenant.ID) { return string(u.ID), u.Tenant })
	listed("users in the org scope", ids, string(u1.ID), string(scoped.ID))
	up, err = e.users.List(ctx, s1, user.Query{Org: o2.ID})
	fatalIf(t, err, "list users")
	listed("users of another org in the org scope", nil)
	for _, o := range []tenant.OrgID{o2.ID} {
		up, err = e.users.List(ctx, s1, user.Query{Group: string(gT.ID), Org: o})
		fatalIf(t, err, "list users")
		ids, _ = collect(up.Items, func(u user.User) (string, tenant.ID) { return string(u.ID), u.Tenant })
		listed("members of a tenant-wide group filtered to another org", ids)
	}
	up, err = e.users.List(ctx, s1, user.Query{Group: string(gT.ID)})
	fatalIf(t, err, "list users")
	ids, _ = collect(up.Items, func(u user.User) (string, tenant.ID) { return string(u.ID), u.Tenant })
	listed("members of a tenant-wide group seen from an org scope", ids, string(u1.ID))
	gp, err := e.groups.List(ctx, s1, group.Query{})
	fatalIf(t, err, "list groups")
	ids, _ = collect(gp.Items, func(g group.Group) (string, tenant.ID) { return string(g.ID), g.Tenant })
	listed("groups in the org scope", ids, string(g1.ID), string(sg.ID))
	gp, err = e.groups.GroupsOf(ctx, s1, u1.ID, page.Request{})
	fatalIf(t, err, "groups of")
	ids, _ = collect(gp.Items, func(g group.Group) (string, tenant.ID) { return string(g.ID), g.Tenant })
	listed("groups of an own user in the org scope (tenant-wide hidden)", ids, string(g1.ID))
	op, err := e.tenants.ListOrganizations(ctx, s1, tenant.OrgQuery{})
	fatalIf(t, err, "list organizations")
	ids, _ = collect(op.Items, func(o tenant.Organization) (string, tenant.ID) { return string(o.ID), o.Tenant })
	listed("organizations in the org scope", ids, string(o1.ID))
	if ok, err := e.users.Exists(ctx, s1, "two"); ok || err != nil {
		t.Errorf("exists for a user of another org = %v, %v", ok, err)
	}
	if ok, err := e.users.Exists(ctx, s1, "ONE"); !ok || err != nil {
		t.Errorf("exists for an own user = %v, %v", ok, err)
	}
}
