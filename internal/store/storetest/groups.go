package storetest

import (
	"slices"
	"strings"
	"testing"

	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/group"
	"github.com/tessera-iam/tessera/internal/page"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

func normGroup(g group.Group) group.Group {
	g.Created, g.Updated = g.Created.UTC(), g.Updated.UTC()
	return g
}

func sameGroup(t *testing.T, what string, got, want *group.Group) {
	t.Helper()
	deepEqual(t, what, normGroup(*got), normGroup(*want))
}

// groupsOf lists the ids of the groups uid belongs to, as seen from sc.
func groupsOf(t *testing.T, e *env, sc tenant.Scope, uid user.ID) []string {
	t.Helper()
	p, err := e.groups.GroupsOf(t.Context(), sc, uid, page.Request{})
	fatalIf(t, err, "groups of %s", uid)
	ids := make([]string, len(p.Items))
	for i, g := range p.Items {
		ids[i] = string(g.ID)
	}
	slices.Sort(ids)
	return ids
}

// namesAgree checks that NamesOf lists, in order, the names of the groups
// GroupsOf pages for uid in sc, and returns them.
func namesAgree(t *testing.T, e *env, sc tenant.Scope, uid user.ID) []string {
	t.Helper()
	p, err := e.groups.GroupsOf(t.Context(), sc, uid, page.Request{Limit: page.MaxLimit})
	fatalIf(t, err, "groups of %s", uid)
	want := []string{}
	for _, g := range p.Items {
		want = append(want, g.Name)
	}
	got, err := e.groups.NamesOf(t.Context(), sc, uid)
	fatalIf(t, err, "names of the groups of %s", uid)
	deepEqual(t, "names of the groups of "+string(uid), got, want)
	return got
}

func sortedIDs[T ~string](ids ...T) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = string(id)
	}
	slices.Sort(out)
	return out
}

func testGroups(t *testing.T, e *env) {
	ctx := t.Context()
	sc, log := e.newTenant(t)
	o1 := e.org(t, sc, "One")
	o2 := e.org(t, sc, "Two")
	u1 := e.user(t, sc, user.NewUser{Username: "u1", Org: o1.ID})
	u2 := e.user(t, sc, user.NewUser{Username: "u2", Org: o2.ID})
	uT := e.user(t, sc, user.NewUser{Username: "ut"})
	log.next(t)

	gT, err := e.groups.Create(ctx, sc, group.NewGroup{Name: " Staff ", Description: "Everyone on staff", ExternalID: "g-ext-1"})
	fatalIf(t, err, "create tenant-wide group")
	g1 := e.group(t, sc, group.NewGroup{Name: "Staff", Org: o1.ID})
	g2 := e.group(t, sc, group.NewGroup{Name: "staff", Org: o2.ID})
	log.expect(t, "group.created", "group.created", "group.created")
	if gT.Name != "Staff" || gT.Org != "" || gT.Version != 1 || g1.Org != o1.ID {
		t.Errorf("created groups = %+v, %+v", gT, g1)
	}
	for _, g := range []*group.Group{gT, g1, g2} {
		got, err := e.groups.Group(ctx, sc, g.ID)
		fatalIf(t, err, "read group")
		sameGroup(t, "group read back", got, g)
	}

	unchanged(t, e.db, func() {
		for _, c := range []struct {
			name string
			in   group.NewGroup
			want error
		}{
			{"a taken tenant-wide name in another case", group.NewGroup{Name: "STAFF"}, group.ErrNameTaken},
			{"a taken organization name with spaces", group.NewGroup{Name: "staff ", Org: o1.ID}, group.ErrNameTaken},
			{"a taken external id in another scope", group.NewGroup{Name: "Other", Org: o2.ID, ExternalID: "g-ext-1"}, group.ErrExternalIDTaken},
			{"no name", group.NewGroup{Name: " "}, errkind.Invalid},
			{"an unknown organization", group.NewGroup{Name: "Lost", Org: "org_nosuchorg"}, errkind.Invalid},
		} {
			_, err := e.groups.Create(ctx, sc, c.in)
			wantErr(t, err, c.want, "create with %s", c.name)
		}
	})
	log.expect(t)

	// Updates.
	up, err := e.groups.Update(ctx, sc, gT.ID, group.Patch{Description: ptr("All staff")}, gT.Version)
	fatalIf(t, err, "update")
	log.expect(t, "group.updated")
	if up.Version != 2 || up.Description != "All staff" || !up.Updated.After(gT.Updated) {
		t.Errorf("updated group = %+v", up)
	}
	got, err := e.groups.Group(ctx, sc, gT.ID)
	fatalIf(t, err, "read")
	sameGroup(t, "updated group read back", got, up)
	e.group(t, sc, group.NewGroup{Name: "Managers"})
	log.expect(t, "group.created")
	unchanged(t, e.db, func() {
		_, err := e.groups.Update(ctx, sc, gT.ID, group.Patch{Name: ptr("MANAGERS")}, 0)
		wantErr(t, err, group.ErrNameTaken, "rename onto a taken name")
		_, err = e.groups.Update(ctx, sc, g2.ID, group.Patch{ExternalID: ptr("g-ext-1")}, 0)
		wantErr(t, err, group.ErrExternalIDTaken, "take a taken external id")
		_, err = e.groups.Update(ctx, sc, gT.ID, group.Patch{Name: ptr("Stale")}, 1)
		wantErr(t, err, errkind.Precondition, "stale version")
		_, err = e.groups.Update(ctx, sc, "grp_nosuchgroup", group.Patch{Name: ptr("Ghost")}, 0)
		wantErr(t, err, group.ErrNotFound, "update an unknown group")
	})
	same, err := e.groups.Update(ctx, sc, gT.ID, group.Patch{Name: ptr("Staff"), Description: ptr("All staff")}, 0)
	fatalIf(t, err, "no-op update")
	if same.Version != up.Version {
		t.Errorf("a no-op update moved the version to %d", same.Version)
	}
	log.expect(t)
	// A name may differ from another scope's only in case, and a group may
	// change the case of its own name.
	_, err = e.groups.Update(ctx, sc, g1.ID, group.Patch{Name: ptr("STAFF")}, 0)
	fatalIf(t, err, "change the case of an own name")
	log.expect(t, "group.updated")

	// Members.
	for _, m := range []struct {
		g *group.Group
		u *user.User
	}{{gT, u1}, {gT, u2}, {gT, uT}, {g1, u1}} {
		fatalIf(t, e.groups.AddMember(ctx, sc, m.g.ID, m.u.ID), "add %s to %s", m.u.Username, m.g.Name)
		log.expect(t, "group.member_added")
	}
	unchanged(t, e.db, func() {
		fatalIf(t, e.groups.AddMember(ctx, sc, gT.ID, u1.ID), "add a member twice")
		wantErr(t, e.groups.AddMember(ctx, sc, g1.ID, u2.ID), group.ErrForeignMember, "add another organization's user")
		wantErr(t, e.groups.AddMember(ctx, sc, g1.ID, uT.ID), group.ErrForeignMember, "add a tenant-level user to an organization group")
		wantErr(t, e.groups.AddMember(ctx, sc, gT.ID, "usr_nosuchuser"), errkind.NotFound, "add an unknown user")
		wantErr(t, e.groups.AddMember(ctx, sc, "grp_nosuchgroup", u1.ID), errkind.NotFound, "add to an unknown group")
		wantErr(t, e.groups.RemoveMember(ctx, sc, g2.ID, u2.ID), errkind.NotFound, "remove a non-member")
	})
	log.expect(t)
	counts := map[group.ID]int{gT.ID: 3, g1.ID: 1, g2.ID: 0}
	for id, n := range counts {
		g, err := e.groups.Group(ctx, sc, id)
		fatalIf(t, err, "read")
		if g.Members != n {
			t.Errorf("group %s has %d members, want %d", g.Name, g.Members, n)
		}
	}
	deepEqual(t, "groups of u1", groupsOf(t, e, sc, u1.ID), sortedIDs(gT.ID, g1.ID))
	deepEqual(t, "groups of u2", groupsOf(t, e, sc, u2.ID), sortedIDs(gT.ID))
	deepEqual(t, "groups of u1 in its org scope", groupsOf(t, e, tenant.Scope{Tenant: sc.Tenant, Org: o1.ID}, u1.ID), sortedIDs(g1.ID))
	so1 := tenant.Scope{Tenant: sc.Tenant, Org: o1.ID}
	namesAgree(t, e, sc, u1.ID)
	namesAgree(t, e, sc, u2.ID)
	namesAgree(t, e, so1, u1.ID)
	if n := namesAgree(t, e, sc, uT.ID); len(n) != 1 || n[0] != "Staff" {
		t.Errorf("names of the groups of ut = %q", n)
	}
	if n, err := e.groups.NamesOf(ctx, sc, e.user(t, sc, user.NewUser{Username: "nogroups"}).ID); err != nil || n == nil || len(n) != 0 {
		t.Errorf("names of the groups of a user in none = %#v, %v", n, err)
	}
	log.next(t)
	for _, c := range []struct {
		name string
		sc   tenant.Scope
		uid  user.ID
	}{{"another organization's user", so1, u2.ID}, {"a tenant-level user from an organization", so1, uT.ID}, {"an unknown user", sc, "usr_nosuchuser"}} {
		_, err := e.groups.NamesOf(ctx, c.sc, c.uid)
		wantErr(t, err, user.ErrNotFound, "names of the groups of %s", c.name)
		_, err = e.groups.GroupsOf(ctx, c.sc, c.uid, page.Request{})
		wantErr(t, err, user.ErrNotFound, "groups of %s", c.name)
	}
	mp, err := e.users.List(ctx, sc, user.Query{Group: string(gT.ID)})
	fatalIf(t, err, "members")
	ids, _ := collect(mp.Items, func(u user.User) (string, tenant.ID) { return string(u.ID), u.Tenant })
	slices.Sort(ids)
	deepEqual(t, "members of the tenant-wide group", ids, sortedIDs(u1.ID, u2.ID, uT.ID))

	fatalIf(t, e.groups.RemoveMember(ctx, sc, gT.ID, u2.ID), "remove")
	log.expect(t, "group.member_removed")
	unchanged(t, e.db, func() {
		wantErr(t, e.groups.RemoveMember(ctx, sc, gT.ID, u2.ID), errkind.NotFound, "remove twice")
	})
	log.expect(t)
	if g, err := e.groups.Group(ctx, sc, gT.ID); err != nil || g.Members != 2 {
		t.Errorf("after remove: %+v, %v", g, err)
	}

	// Delete ends memberships and frees the name.
	fatalIf(t, e.groups.Delete(ctx, sc, g1.ID), "delete")
	log.expect(t, "group.deleted")
	_, err = e.groups.Group(ctx, sc, g1.ID)
	wantErr(t, err, group.ErrNotFound, "read a deleted group")
	deepEqual(t, "groups of u1 after delete", groupsOf(t, e, sc, u1.ID), sortedIDs(gT.ID))
	mp, err = e.users.List(ctx, sc, user.Query{Group: string(g1.ID)})
	fatalIf(t, err, "members of a deleted group")
	if len(mp.Items) != 0 {
		t.Errorf("a deleted group still lists members")
	}
	unchanged(t, e.db, func() {
		wantErr(t, e.groups.Delete(ctx, sc, g1.ID), group.ErrNotFound, "delete twice")
		wantErr(t, e.db.DeleteGroup(ctx, sc.Tenant, g1.ID), group.ErrNotFound, "store delete twice")
	})
	log.expect(t)
	e.group(t, sc, group.NewGroup{Name: "Staff", Org: o1.ID})
	log.expect(t, "group.created")
}

func groupRows(t *testing.T, e *env, sc tenant.Scope, ids []group.ID, q group.Query, members map[group.ID]bool) []row {
	t.Helper()
	var rows []row
	for _, id := range ids {
		g, err := e.db.Group(t.Context(), sc.Tenant, id)
		fatalIf(t, err, "read group %s", id)
		if q.Org != "" && g.Org != q.Org || q.Member != "" && !members[g.ID] || !strings.HasPrefix(g.NameKey(), strings.ToLower(q.NamePrefix)) {
			continue
		}
		r := row{id: string(g.ID)}
		if q.Sort == "name" {
			r.key = g.NameKey()
		}
		rows = append(rows, r)
	}
	return rows
}

func testGroupsList(t *testing.T, e *env) {
	ctx := t.Context()
	sc, _ := e.newTenant(t)
	other, _ := e.newTenant(t)
	o1 := e.org(t, sc, "One")
	o2 := e.org(t, sc, "Two")
	m := e.user(t, sc, user.NewUser{Username: "member", Org: o1.ID})
	var ids []group.ID
	memberOf := map[group.ID]bool{}
	size := map[group.ID]int{}
	scopes := []tenant.OrgID{"", o1.ID, o2.ID}
	names := []string{"Team", "team-a", "Team B", "Öl", "admins", "Zulu", "Édition", "ops", "Ops-2", "sales", "Support"}
	for i, n := range names {
		e.group(t, other, group.NewGroup{Name: n})
		for j, org := range scopes {
			if (i+j)%2 == 1 && n != "Team" {
				continue // every scope has a "Team": ties on the name key across scopes
			}
			g := e.group(t, sc, group.NewGroup{Name: n, Org: org})
			ids = append(ids, g.ID)
			if org != o2.ID && i%2 == 0 {
				fatalIf(t, e.groups.AddMember(ctx, sc, g.ID, m.ID), "add member")
				memberOf[g.ID] = true
				size[g.ID] = 1
			}
		}
	}
	filters := []struct {
		name string
		q    group.Query
	}{
		{"all", group.Query{}},
		{"org one", group.Query{Org: o1.ID}},
		{"org two", group.Query{Org: o2.ID}},
		{"prefix te", group.Query{NamePrefix: "te"}},
		{"prefix TEAM", group.Query{NamePrefix: "TEAM"}},
		{"prefix é", group.Query{NamePrefix: "É"}},
		{"member", group.Query{Member: m.ID}},
		{"member in org one", group.Query{Member: m.ID, Org: o1.ID}},
		{"prefix nothing", group.Query{NamePrefix: "qqq"}},
	}
	for _, f := range filters {
		for _, sort := range group.Sorts {
			for _, desc := range []bool{false, true} {
				limits := []int{3, page.MaxLimit}
				if f.name == "all" {
					limits = append(limits, 1)
				}
				for _, limit := range limits {
					q := f.q
					q.Sort, q.Desc, q.Limit = sort, desc, limit
					want := bruteForce(groupRows(t, e, sc, ids, q, memberOf), desc)
					got := walk(t, limit, func(g group.Group) string { return string(g.ID) }, func(c string) (page.Of[group.Group], error) {
						q := q
						q.Cursor = c
						p, err := e.groups.List(ctx, sc, q)
						for _, g := range p.Items {
							if g.Tenant != sc.Tenant {
								t.Errorf("group %s of tenant %s listed", g.ID, g.Tenant)
							}
							if g.Members != size[g.ID] {
								t.Errorf("listed group %s has %d members, want %d", g.Name, g.Members, size[g.ID])
							}
						}
						return p, err
					}, nil)
					sameOrder(t, describe(f.name, sort, desc, limit), got, want)
				}
			}
		}
	}
	first, err := e.groups.List(ctx, sc, group.Query{Request: page.Request{Limit: 2, Sort: "name"}})
	fatalIf(t, err, "first page")
	checkBadCursors(t, "groups", first.Next, func(c string) (page.Of[group.Group], error) {
		return e.groups.List(ctx, sc, group.Query{Request: page.Request{Limit: 2, Cursor: c}})
	})
	_, err = e.groups.List(ctx, sc, group.Query{Request: page.Request{Sort: "members"}})
	wantErr(t, err, errkind.Invalid, "list with an unknown sort")
}
