package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/group"
	"github.com/tessera-iam/tessera/internal/page"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

// normUser puts a user in a comparable form. Attributes go through JSON,
// which is what the API shows: a service hands back integers as int64 and
// the store as float64, and both are the same JSON number.
func normUser(t *testing.T, u user.User) user.User {
	t.Helper()
	if len(u.Attributes) == 0 {
		u.Attributes = nil
	} else {
		b, err := json.Marshal(u.Attributes)
		fatalIf(t, err, "marshal attributes")
		u.Attributes = nil
		fatalIf(t, json.Unmarshal(b, &u.Attributes), "unmarshal attributes")
	}
	if len(u.Emails) == 0 {
		u.Emails = nil
	}
	if len(u.ExternalIDs) == 0 {
		u.ExternalIDs = nil
	}
	u.PasswordChanged, u.StatusChanged = u.PasswordChanged.UTC(), u.StatusChanged.UTC()
	u.Created, u.Updated = u.Created.UTC(), u.Updated.UTC()
	return u
}

func sameUser(t *testing.T, what string, got, want *user.User) {
	t.Helper()
	deepEqual(t, what, normUser(t, *got), normUser(t, *want))
}

// profileSchema declares one attribute of every type.
var profileSchema = user.Schema{Attributes: []user.AttributeDef{
	{Name: "department", Type: user.TypeString, Enum: []string{"sales", "support", "engineering"}},
	{Name: "level", Type: user.TypeInteger},
	{Name: "employee_number", Type: user.TypeInteger},
	{Name: "score", Type: user.TypeNumber},
	{Name: "contractor", Type: user.TypeBoolean},
	{Name: "start_date", Type: user.TypeDate},
	{Name: "tags", Type: user.TypeStrings},
}}

func testUsersRoundTrip(t *testing.T, e *env) {
	ctx := t.Context()
	sc, log := e.newTenant(t)
	o1 := e.org(t, sc, "One")
	o2 := e.org(t, sc, "Two")
	fatalIf(t, e.users.SetProfileSchema(ctx, sc, profileSchema), "set profile schema")
	log.expect(t, "organization.created", "organization.created", "tenant.profile_schema_updated")

	in := user.NewUser{
		Username: "ana.lima",
		Emails: []user.Email{
			{Value: "Ana.Lima@Example.COM", Primary: true, Verified: true},
			{Value: "ana@partner.example", Verified: false},
			{Value: "a.lima@third.example", Verified: true},
		},
		GivenName: "Ana", FamilyName: "Lima", DisplayName: "Ana L.", Phone: "+5511987654321",
		Locale: "pt-br", TimeZone: "America/Sao_Paulo",
		Attributes: map[string]any{
			"department": "sales", "level": 3, "score": 4.5, "contractor": true,
			"start_date": "2026-01-15", "tags": []any{"vip", "early-adopter"}, "employee_number": 424242,
		},
		ExternalIDs: map[string]string{"crm": "C-0001", "ldap": "uid=ana,ou=people"},
		Org:         o1.ID, Source: user.SourceSCIM, Status: user.Staged,
	}
	u, err := e.users.Create(ctx, sc, in)
	fatalIf(t, err, "create user")
	evs := log.expect(t, "user.created")
	if len(evs) == 1 && (evs[0].TargetID != string(u.ID) || evs[0].TargetType != "user" || evs[0].Details["username"] != "ana.lima") {
		t.Errorf("user.created event = %+v", evs[0])
	}
	if u.Locale != "pt-BR" || u.Emails[0].Value != "Ana.Lima@example.com" || u.Version != 1 || u.Status != user.Staged {
		t.Errorf("created user not normalised as expected: %+v", u)
	}
	got, err := e.users.User(ctx, sc, u.ID)
	fatalIf(t, err, "read user")
	sameUser(t, "user read back", got, u)
	for _, login := range []string{"ANA.LIMA", "ana.lima", "ana.lima@EXAMPLE.com", "ANA.LIMA@example.com"} {
		got, err := e.db.UserByKey(ctx, sc.Tenant, user.Key(login))
		if err != nil || got.ID != u.ID {
			t.Errorf("user by key %q = %v, %v; want %s", login, got, err, u.ID)
			continue
		}
		sameUser(t, "user by key "+login, got, u)
	}
	// Secondary addresses are not sign-in names.
	_, err = e.db.UserByKey(ctx, sc.Tenant, user.Key("ana@partner.example"))
	wantErr(t, err, user.ErrNotFound, "user by a secondary email")

	// Change every field at once.
	newEmails := []user.Email{
		{Value: "ana@partner.example", Primary: true, Verified: true},
		{Value: "ana.lima@example.com"},
	}
	p := user.Patch{
		Username: ptr("ana.l"), Emails: &newEmails, GivenName: ptr("Ana Maria"), FamilyName: ptr("Lima Souza"),
		DisplayName: ptr("A. M. Lima"), Phone: ptr("+4930123456"), Locale: ptr("de-DE"), TimeZone: ptr("Europe/Berlin"),
		Org:         ptr(o2.ID),
		Attributes:  map[string]any{"level": 4, "tags": nil, "contractor": false, "department": "support"},
		ExternalIDs: map[string]*string{"crm": ptr("C-0002"), "ldap": nil, "hr": ptr("H-9")},
	}
	up, err := e.users.Update(ctx, sc, u.ID, p, u.Version)
	fatalIf(t, err, "update every field")
	evs = log.expect(t, "user.updated")
	if len(evs) == 1 {
		changed, _ := evs[0].Details["changed"].([]any)
		want := []any{"username", "emails", "given_name", "family_name", "display_name", "phone", "locale", "time_zone",
			"organization_id", "attributes", "external_ids"}
		deepEqual(t, "changed fields in the audit event", changed, want)
	}
	if up.Version != 2 || !up.Updated.After(u.Updated) || !up.Created.Equal(u.Created) {
		t.Errorf("updated user versions/times = %d %s %s", up.Version, up.Created, up.Updated)
	}
	deepEqual(t, "external ids after patch", up.ExternalIDs, map[string]string{"crm": "C-0002", "hr": "H-9"})
	if _, ok := up.Attributes["tags"]; ok {
		t.Errorf("a nil attribute in the patch should remove it: %v", up.Attributes)
	}
	got, err = e.users.User(ctx, sc, u.ID)
	fatalIf(t, err, "read updated user")
	sameUser(t, "updated user read back", got, up)
	// Old sign-in names are free; new ones lead here.
	for login, want := range map[string]user.ID{"ana.lima": "", "ana.lima@example.com": "", "ana.l": u.ID, "ANA@partner.example": u.ID} {
		got, err := e.db.UserByKey(ctx, sc.Tenant, user.Key(login))
		switch {
		case want == "":
			wantErr(t, err, user.ErrNotFound, "look-up by the old login %q", login)
		case err != nil || got.ID != want:
			t.Errorf("look-up by %q = %v, %v", login, got, err)
		}
	}
	// The freed sign-in names and external id can be taken by another user.
	e.user(t, sc, user.NewUser{Username: "ana.lima", Emails: []user.Email{{Value: "ana.lima@example.com"}},
		ExternalIDs: map[string]string{"ldap": "uid=ana,ou=people", "crm": "C-0001"}})
	log.expect(t, "user.created")

	// Attributes are checked against the schema; refused changes change nothing.
	unchanged(t, e.db, func() {
		for name, attrs := range map[string]map[string]any{
			"unknown attribute": {"shoe_size": 42},
			"wrong type":        {"level": "high"},
			"not in the enum":   {"department": "legal"},
			"not a date":        {"start_date": "15/01/2026"},
		} {
			_, err := e.users.Update(ctx, sc, u.ID, user.Patch{Attributes: attrs}, 0)
			wantErr(t, err, errkind.Invalid, "update with %s", name)
			_, err = e.users.Create(ctx, sc, user.NewUser{Username: "x-" + strings.ReplaceAll(name, " ", "-"), Attributes: attrs})
			wantErr(t, err, errkind.Invalid, "create with %s", name)
		}
		_, err := e.users.Update(ctx, sc, u.ID, user.Patch{Phone: ptr("0800 123")}, 0)
		wantErr(t, err, errkind.Invalid, "bad phone")
		_, err = e.users.Update(ctx, sc, u.ID, user.Patch{TimeZone: ptr("Mars/Olympus")}, 0)
		wantErr(t, err, errkind.Invalid, "bad time zone")
		_, err = e.users.Update(ctx, sc, u.ID, user.Patch{Org: ptr(tenant.OrgID("org_nosuchorg"))}, 0)
		wantErr(t, err, errkind.Invalid, "move to an unknown organization")
		_, err = e.users.Update(ctx, sc, u.ID, user.Patch{GivenName: ptr("Stale")}, 1)
		wantErr(t, err, errkind.Precondition, "stale version")
		_, err = e.users.Update(ctx, sc, "usr_nosuchuser", user.Patch{GivenName: ptr("Ghost")}, 0)
		wantErr(t, err, user.ErrNotFound, "update an unknown user")
	})
	log.expect(t)
}

func testUsersUniqueness(t *testing.T, e *env) {
	ctx := t.Context()
	sc, log := e.newTenant(t)
	ana := e.user(t, sc, user.NewUser{Username: "Ana"})
	e.user(t, sc, user.NewUser{Username: "émile"}) // precomposed é
	e.user(t, sc, user.NewUser{Username: "pat", Emails: []user.Email{{Value: "pat@example.com"}}})
	e.user(t, sc, user.NewUser{Username: "lee@example.com"}) // a username that looks like an email
	e.user(t, sc, user.NewUser{Username: "crm-user", ExternalIDs: map[string]string{"crm": "42"}})
	log.next(t)

	refused := []struct {
		name string
		in   user.NewUser
		want error
	}{
		{"the same username", user.NewUser{Username: "Ana"}, user.ErrUsernameTaken},
		{"the username upper-cased", user.NewUser{Username: "ANA"}, user.ErrUsernameTaken},
		{"the username lower-cased", user.NewUser{Username: "ana"}, user.ErrUsernameTaken},
		{"the username in full-width letters", user.NewUser{Username: "Ａｎａ"}, user.ErrUsernameTaken},
		{"a decomposed é", user.NewUser{Username: "e\u0301mile"}, user.ErrUsernameTaken},
		{"an upper-case decomposed É", user.NewUser{Username: "E\u0301MILE"}, user.ErrUsernameTaken},
		{"another's primary email", user.NewUser{Username: "pat2", Emails: []user.Email{{Value: "PAT@example.com"}}}, user.ErrEmailTaken},
		{"another's primary email as username", user.NewUser{Username: "Pat@Example.com"}, user.ErrUsernameTaken},
		{"another's username as primary email", user.NewUser{Username: "lee2", Emails: []user.Email{{Value: "LEE@example.com"}}}, user.ErrEmailTaken},
		{"no username and a taken email", user.NewUser{Emails: []user.Email{{Value: "pat@EXAMPLE.com"}}}, errkind.Conflict},
		{"an external id of the same source", user.NewUser{Username: "crm-user-2", ExternalIDs: map[string]string{"crm": "42"}}, user.ErrExternalIDTaken},
		{"a username with surrounding space", user.NewUser{Username: " ana "}, errkind.Invalid},
		{"an empty username", user.NewUser{}, errkind.Invalid},
		{"two primary emails", user.NewUser{Username: "two", Emails: []user.Email{{Value: "a@x.example", Primary: true}, {Value: "b@x.example", Primary: true}}}, errkind.Invalid},
	}
	unchanged(t, e.db, func() {
		for _, c := range refused {
			_, err := e.users.Create(ctx, sc, c.in)
			wantErr(t, err, c.want, "create with %s", c.name)
			if errors.Is(c.want, errkind.Conflict) {
				wantErr(t, err, errkind.Conflict, "create with %s", c.name)
			}
		}
		_, err := e.users.Update(ctx, sc, ana.ID, user.Patch{Username: ptr("ÉMILE")}, 0)
		wantErr(t, err, user.ErrUsernameTaken, "rename onto another username")
		_, err = e.users.Update(ctx, sc, ana.ID, user.Patch{Username: ptr("PAT@example.com")}, 0)
		wantErr(t, err, user.ErrUsernameTaken, "rename onto another's primary email")
		_, err = e.users.Update(ctx, sc, ana.ID, user.Patch{Emails: &[]user.Email{{Value: "Pat@example.com"}}}, 0)
		wantErr(t, err, user.ErrEmailTaken, "take another's primary email")
		_, err = e.users.Update(ctx, sc, ana.ID, user.Patch{ExternalIDs: map[string]*string{"crm": ptr("42")}}, 0)
		wantErr(t, err, user.ErrExternalIDTaken, "take another's external id")
	})
	log.expect(t)

	// Allowed: the same external id in another source, a secondary address
	// that is someone's primary one, own keys in another case, and everything
	// in another tenant.
	e.user(t, sc, user.NewUser{Username: "ldap-user", ExternalIDs: map[string]string{"ldap": "42"}})
	e.user(t, sc, user.NewUser{Username: "sec", Emails: []user.Email{{Value: "sec@example.com", Primary: true}, {Value: "pat@example.com"}}})
	log.expect(t, "user.created", "user.created")
	re, err := e.users.Update(ctx, sc, ana.ID, user.Patch{Username: ptr("ANA")}, 0)
	fatalIf(t, err, "change the case of an own username")
	if re.Username != "ANA" || re.Version != 2 {
		t.Errorf("renamed user = %+v", re)
	}
	// Email equal to own username: one key for both.
	_, err = e.users.Update(ctx, sc, ana.ID, user.Patch{Username: ptr("ana@example.com"), Emails: &[]user.Email{{Value: "Ana@example.com"}}}, 0)
	fatalIf(t, err, "username equal to own email")
	log.expect(t, "user.updated", "user.updated")
	other, olog := e.newTenant(t)
	for _, in := range []user.NewUser{
		{Username: "ana@example.com"}, {Username: "émile"}, {Username: "pat", Emails: []user.Email{{Value: "pat@example.com"}}},
		{Username: "crm-user", ExternalIDs: map[string]string{"crm": "42"}},
	} {
		twin := e.user(t, other, in)
		olog.expect(t, "user.created")
		// The same sign-in name in two tenants finds each tenant's own user.
		key := twin.UsernameKey()
		got, err := e.db.UserByKey(ctx, other.Tenant, key)
		if err != nil || got.ID != twin.ID {
			t.Errorf("user by key %q in the second tenant = %v, %v; want %s", key, got, err, twin.ID)
		}
		got, err = e.db.UserByKey(ctx, sc.Tenant, key)
		if err != nil || got.Tenant != sc.Tenant || got.UsernameKey() != key && got.EmailKey() != key {
			t.Errorf("user by key %q in the first tenant = %+v, %v", key, got, err)
		}
	}
	// After a rename the old username and email are free again.
	_, err = e.users.Update(ctx, sc, ana.ID, user.Patch{Username: ptr("ana-renamed"), Emails: &[]user.Email{}}, 0)
	fatalIf(t, err, "rename")
	e.user(t, sc, user.NewUser{Username: "Ａｎａ"})
	e.user(t, sc, user.NewUser{Username: "x", Emails: []user.Email{{Value: "ana@example.com"}}})
	log.expect(t, "user.updated", "user.created", "user.created")
}

// userRows reads the users afresh and reduces those matching q to rows.
func userRows(t *testing.T, e *env, sc tenant.Scope, ids []user.ID, q user.Query, members map[user.ID]bool) []row {
	t.Helper()
	var rows []row
	for _, id := range ids {
		u, err := e.db.User(t.Context(), sc.Tenant, id)
		fatalIf(t, err, "read user %s", id)
		if q.Status != "" && u.Status != q.Status || q.Org != "" && u.Org != q.Org ||
			q.Group != "" && !members[u.ID] || q.Email != "" && u.EmailKey() != user.Key(q.Email) ||
			!strings.HasPrefix(u.UsernameKey(), user.Key(q.UsernamePrefix)) ||
			!q.UpdatedSince.IsZero() && u.Updated.Before(q.UpdatedSince) {
			continue
		}
		r := row{id: string(u.ID)}
		switch q.Sort {
		case "username":
			r.key = u.UsernameKey()
		case "updated":
			r.key = timeKey(u.Updated)
		}
		rows = append(rows, r)
	}
	return rows
}

func listUsers(t *testing.T, e *env, sc tenant.Scope, q user.Query) func(string) (page.Of[user.User], error) {
	return func(cursor string) (page.Of[user.User], error) {
		q := q
		q.Cursor = cursor
		p, err := e.users.List(t.Context(), sc, q)
		for _, u := range p.Items {
			if u.Tenant != sc.Tenant {
				t.Errorf("user %s of tenant %s listed in %s", u.ID, u.Tenant, sc.Tenant)
			}
		}
		return p, err
	}
}

func userID(u user.User) string { return string(u.ID) }

func testUsersList(t *testing.T, e *env) {
	ctx := t.Context()
	sc, _ := e.newTenant(t)
	other, _ := e.newTenant(t)
	o1 := e.org(t, sc, "One")
	o2 := e.org(t, sc, "Two")
	g := e.group(t, sc, group.NewGroup{Name: "Members"})
	members := map[user.ID]bool{}
	var ids []user.ID
	add := func(svc *user.Service, in user.NewUser) *user.User {
		t.Helper()
		u, err := svc.Create(ctx, sc, in)
		fatalIf(t, err, "create %q", in.Username)
		ids = append(ids, u.ID)
		// A same-named user in another tenant must never be listed.
		if _, err := svc.Create(ctx, other, user.NewUser{Username: in.Username, Emails: in.Emails}); err != nil {
			t.Fatalf("create %q in the other tenant: %v", in.Username, err)
		}
		return u
	}
	names := []string{"ana", "Bob", "émile", "Zoë", "ÅSA", "carl", "Ｄａｎ", "ana.b", "anabel", "Ana-Maria", "e\u0301lodie", "ß-user", "zed"}
	for i := range 16 {
		names = append(names, fmt.Sprintf("user%02d", i))
	}
	orgs := []tenant.OrgID{"", o1.ID, o2.ID}
	for i, n := range names {
		in := user.NewUser{Username: n, Org: orgs[i%3]}
		if i%2 == 0 {
			in.Emails = []user.Email{{Value: fmt.Sprintf("person%d@Example.com", i)}}
		}
		if i%5 == 4 {
			in.Status = user.Staged
		}
		add(e.users, in)
	}
	// A batch created at one frozen instant: equal created and updated times,
	// so the updated sort must break ties by id.
	frozen := *e.users
	at := e.clock.Now()
	frozen.Now = func() time.Time { return at }
	for i := range 6 {
		add(&frozen, user.NewUser{Username: fmt.Sprintf("batch-%d", i), Org: orgs[i%2]})
	}
	// Move some through the lifecycle and update others, so that updated
	// order differs from created order.
	for i, id := range ids {
		var err error
		switch i % 7 {
		case 1:
			_, err = e.users.Transition(ctx, sc, id, user.OpSuspend, 0)
		case 3:
			_, err = e.users.Transition(ctx, sc, id, user.OpDeactivate, 0)
		case 5:
			_, err = e.users.Update(ctx, sc, id, user.Patch{GivenName: ptr(fmt.Sprintf("Given %d", i))}, 0)
		}
		if err != nil && !errors.Is(err, user.ErrTransition) {
			t.Fatalf("change user %d: %v", i, err)
		}
	}
	for i, id := range ids {
		if i%3 == 0 {
			fatalIf(t, e.groups.AddMember(ctx, sc, g.ID, id), "add member")
			members[id] = true
		}
	}
	mid, err := e.db.User(ctx, sc.Tenant, ids[len(ids)/2])
	fatalIf(t, err, "read")
	since := mid.Updated

	filters := []struct {
		name string
		q    user.Query
	}{
		{"all", user.Query{}},
		{"active", user.Query{Status: user.Active}},
		{"staged", user.Query{Status: user.Staged}},
		{"suspended", user.Query{Status: user.Suspended}},
		{"deactivated", user.Query{Status: user.Deactivated}},
		{"org one", user.Query{Org: o1.ID}},
		{"org two", user.Query{Org: o2.ID}},
		{"group", user.Query{Group: string(g.ID)}},
		{"email in another case", user.Query{Email: "PERSON4@example.COM"}},
		{"unknown email", user.Query{Email: "nobody@example.com"}},
		{"prefix an", user.Query{UsernamePrefix: "an"}},
		{"prefix AN", user.Query{UsernamePrefix: "AN"}},
		{"prefix full-width ｕｓｅｒ1", user.Query{UsernamePrefix: "ｕｓｅｒ1"}},
		{"prefix decomposed é", user.Query{UsernamePrefix: "e\u0301"}},
		{"prefix ss (ß folds to ss)", user.Query{UsernamePrefix: "ss"}},
		{"updated since", user.Query{UpdatedSince: since}},
		{"active in org one", user.Query{Org: o1.ID, Status: user.Active}},
		{"group, org two, updated since", user.Query{Group: string(g.ID), Org: o2.ID, UpdatedSince: since}},
		{"group and prefix", user.Query{Group: string(g.ID), UsernamePrefix: "user"}},
	}
	for _, f := range filters {
		for _, sort := range user.Sorts {
			for _, desc := range []bool{false, true} {
				limits := []int{4, page.MaxLimit}
				if f.name == "all" {
					limits = append(limits, 1)
				}
				for _, limit := range limits {
					q := f.q
					q.Sort, q.Desc, q.Limit = sort, desc, limit
					want := bruteForce(userRows(t, e, sc, ids, q, members), desc)
					got := walk(t, limit, userID, listUsers(t, e, sc, q), nil)
					sameOrder(t, describe(f.name, sort, desc, limit), got, want)
				}
			}
		}
	}
	// Listed users are whole: the same as read one by one.
	p, err := e.users.List(ctx, sc, user.Query{Request: page.Request{Limit: page.MaxLimit}})
	fatalIf(t, err, "list")
	for _, u := range p.Items {
		want, err := e.db.User(ctx, sc.Tenant, u.ID)
		fatalIf(t, err, "read")
		sameUser(t, "listed user", &u, want)
	}

	first, err := e.users.List(ctx, sc, user.Query{Request: page.Request{Limit: 2, Sort: "username"}})
	fatalIf(t, err, "first page")
	for _, sort := range []string{"created", "updated"} {
		checkBadCursors(t, "users sorted by "+sort, first.Next, func(c string) (page.Of[user.User], error) {
			return e.users.List(ctx, sc, user.Query{Request: page.Request{Limit: 2, Cursor: c, Sort: sort}})
		})
	}
	for _, q := range []user.Query{
		{Request: page.Request{Sort: "email"}}, {Request: page.Request{Limit: page.MaxLimit + 1}}, {Status: "asleep"},
	} {
		_, err := e.users.List(ctx, sc, q)
		wantErr(t, err, errkind.Invalid, "list with %+v", q)
	}
}

func testUsersListStable(t *testing.T, e *env) {
	sc, _ := e.newTenant(t)
	var ids []user.ID
	for i := range 12 {
		ids = append(ids, e.user(t, sc, user.NewUser{Username: fmt.Sprintf("m-user-%02d", i)}).ID)
	}
	n := 0
	for _, sort := range user.Sorts {
		for _, desc := range []bool{false, true} {
			q := user.Query{Request: page.Request{Limit: 3, Sort: sort, Desc: desc}}
			before := userRows(t, e, sc, ids, q, nil)
			var cut row
			var added []row
			toRow := func(u *user.User) row {
				r := row{id: string(u.ID)}
				switch sort {
				case "username":
					r.key = u.UsernameKey()
				case "updated":
					r.key = timeKey(u.Updated)
				}
				return r
			}
			got := walk(t, 3, userID, listUsers(t, e, sc, q), func(pageNo int, last user.User) {
				if pageNo != 1 {
					return
				}
				cut = toRow(&last)
				for _, name := range []string{"a-first", "z-last", last.Username + "-next"} {
					n++
					u := e.user(t, sc, user.NewUser{Username: fmt.Sprintf("%s-%d", name, n)})
					ids = append(ids, u.ID)
					added = append(added, toRow(u))
				}
			})
			want := slices.Clone(before)
			for _, r := range added {
				if desc && r.less(cut) || !desc && cut.less(r) {
					want = append(want, r)
				}
			}
			sameOrder(t, describe("inserting mid-walk", sort, desc, 3), got, bruteForce(want, desc))
		}
	}
}

func testUsersLifecycle(t *testing.T, e *env) {
	ctx := t.Context()
	sc, log := e.newTenant(t)
	u := e.user(t, sc, user.NewUser{Username: "cycler", Status: user.Staged})
	log.expect(t, "user.created")
	steps := []struct {
		op         user.Op
		ok         bool
		wantStatus user.Status
		wantLocked bool
	}{
		{user.OpActivate, true, user.Active, false},
		{user.OpActivate, false, user.Active, false},
		{user.OpSuspend, true, user.Suspended, false},
		{user.OpSuspend, false, user.Suspended, false},
		{user.OpReactivate, false, user.Suspended, false},
		{user.OpUnsuspend, true, user.Active, false},
		{user.OpLock, true, user.Active, true},
		{user.OpLock, false, user.Active, true},
		{user.OpUnlock, true, user.Active, false},
		{user.OpUnlock, false, user.Active, false},
		{user.OpDeactivate, true, user.Deactivated, false},
		{user.OpSuspend, false, user.Deactivated, false},
		{user.OpReactivate, true, user.Active, false},
		{user.OpDeactivate, true, user.Deactivated, false},
	}
	cur := u
	for _, s := range steps {
		if !s.ok {
			unchanged(t, e.db, func() {
				_, err := e.users.Transition(ctx, sc, u.ID, s.op, 0)
				wantErr(t, err, user.ErrTransition, "%s from %s", s.op, cur.Status)
			})
			log.expect(t)
			continue
		}
		next, err := e.users.Transition(ctx, sc, u.ID, s.op, cur.Version)
		fatalIf(t, err, "%s from %s", s.op, cur.Status)
		log.expect(t, "user."+string(s.op))
		got, err := e.users.User(ctx, sc, u.ID)
		fatalIf(t, err, "read")
		sameUser(t, "after "+string(s.op), got, next)
		if got.Status != s.wantStatus || got.Locked != s.wantLocked || got.Version != cur.Version+1 || !got.Updated.After(cur.Updated) {
			t.Errorf("after %s: status %s locked %v version %d; want %s %v %d", s.op, got.Status, got.Locked, got.Version,
				s.wantStatus, s.wantLocked, cur.Version+1)
		}
		// StatusChanged and Updated are separate readings of the clock.
		if statusChanged := got.Status != cur.Status; statusChanged &&
			(!got.StatusChanged.After(cur.Updated) || got.StatusChanged.After(got.Updated)) ||
			!statusChanged && !got.StatusChanged.Equal(cur.StatusChanged) {
			t.Errorf("after %s: status changed at %s (updated %s, before %s)", s.op, got.StatusChanged, got.Updated, cur.StatusChanged)
		}
		cur = got
	}
	unchanged(t, e.db, func() {
		_, err := e.users.Transition(ctx, sc, u.ID, user.OpReactivate, cur.Version-1)
		wantErr(t, err, errkind.Precondition, "transition with a stale version")
		_, err = e.users.Transition(ctx, sc, u.ID, user.Op("explode"), 0)
		wantErr(t, err, errkind.Invalid, "unknown operation")
		_, err = e.users.Transition(ctx, sc, "usr_nosuchuser", user.OpSuspend, 0)
		wantErr(t, err, user.ErrNotFound, "transition an unknown user")
	})
	log.expect(t)
}

// testUsersNoopUpdate: an update that changes nothing writes nothing: same
// version, same updated time, no audit event.
func testUsersNoopUpdate(t *testing.T, e *env) {
	ctx := t.Context()
	sc, log := e.newTenant(t)
	o := e.org(t, sc, "Home")
	fatalIf(t, e.users.SetProfileSchema(ctx, sc, profileSchema), "schema")
	log.next(t)
	cases := []struct {
		name  string
		attrs map[string]any
	}{
		{"no attributes", nil},
		{"small attributes of every type", map[string]any{"department": "sales", "level": 3, "score": 4.5, "contractor": true,
			"start_date": "2026-01-15", "tags": []any{"a", "b"}}},
		{"an integer attribute of 999999", map[string]any{"employee_number": 999999}},
		{"an integer attribute of 1000000", map[string]any{"employee_number": 1000000}},
		{"an integer attribute of 20260315", map[string]any{"employee_number": 20260315}},
		{"a number attribute of 1e7", map[string]any{"score": 1e7}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := user.NewUser{
				Username: fmt.Sprintf("still-%d", i), Emails: []user.Email{{Value: fmt.Sprintf("still%d@example.com", i), Verified: true}},
				GivenName: "Still", FamilyName: "Water", Phone: "+14155550100", Locale: "en-US", TimeZone: "UTC",
				Attributes: c.attrs, ExternalIDs: map[string]string{"crm": fmt.Sprint(i)}, Org: o.ID,
			}
			u := e.user(t, sc, in)
			log.expect(t, "user.created")
			emails := slices.Clone(u.Emails)
			patches := []struct {
				name string
				p    user.Patch
			}{
				{"empty patch", user.Patch{}},
				{"every field set to its value", user.Patch{
					Username: ptr(u.Username), Emails: &emails, GivenName: ptr(u.GivenName), FamilyName: ptr(u.FamilyName),
					DisplayName: ptr(u.DisplayName), Phone: ptr(u.Phone), Locale: ptr(u.Locale), TimeZone: ptr(u.TimeZone),
					Org: ptr(u.Org), Attributes: c.attrs, ExternalIDs: map[string]*string{"crm": ptr(u.ExternalIDs["crm"])},
				}},
				{"given name only", user.Patch{GivenName: ptr("Still")}},
			}
			for _, pc := range patches {
				name, p := pc.name, pc.p
				got, err := e.users.Update(ctx, sc, u.ID, p, u.Version)
				fatalIf(t, err, "%s", name)
				if got.Version != u.Version || !got.Updated.Equal(u.Updated) {
					t.Errorf("%s: version %d -> %d, updated %s -> %s: a no-op update was written", name, u.Version, got.Version,
						u.Updated.Format(time.RFC3339Nano), got.Updated.Format(time.RFC3339Nano))
				}
				for _, ev := range log.expect(t) {
					t.Logf("%s: unexpected event details %v", name, ev.Details)
				}
				u, err = e.db.User(ctx, sc.Tenant, u.ID)
				fatalIf(t, err, "read")
			}
		})
	}
}

func testUsersOrgMove(t *testing.T, e *env) {
	ctx := t.Context()
	sc, log := e.newTenant(t)
	o1 := e.org(t, sc, "One")
	o2 := e.org(t, sc, "Two")
	u := e.user(t, sc, user.NewUser{Username: "mover", Org: o1.ID})
	g1 := e.group(t, sc, group.NewGroup{Name: "Team", Org: o1.ID})
	gT := e.group(t, sc, group.NewGroup{Name: "Everyone"})
	for _, g := range []*group.Group{g1, gT} {
		fatalIf(t, e.groups.AddMember(ctx, sc, g.ID, u.ID), "add member")
	}
	log.next(t)

	moved, err := e.users.Update(ctx, sc, u.ID, user.Patch{Org: ptr(o2.ID)}, 0)
	fatalIf(t, err, "move")
	evs := log.expect(t, "group.member_removed", "user.updated")
	if len(evs) == 2 && evs[0].TargetID != string(g1.ID) {
		t.Errorf("membership end recorded for %s, want %s", evs[0].TargetID, g1.ID)
	}
	if moved.Org != o2.ID {
		t.Errorf("moved user's org = %s", moved.Org)
	}
	gs, err := e.groups.GroupsOf(ctx, sc, u.ID, page.Request{})
	fatalIf(t, err, "groups of")
	ids, _ := collect(gs.Items, func(g group.Group) (string, tenant.ID) { return string(g.ID), g.Tenant })
	sameOrder(t, "groups after the move", ids, []string{string(gT.ID)})
	g1r, err := e.groups.Group(ctx, sc, g1.ID)
	fatalIf(t, err, "group")
	if g1r.Members != 0 {
		t.Errorf("old organization's group keeps %d members", g1r.Members)
	}
	// To tenant level: organization groups go, tenant-wide ones stay.
	g2 := e.group(t, sc, group.NewGroup{Name: "Team", Org: o2.ID})
	fatalIf(t, e.groups.AddMember(ctx, sc, g2.ID, u.ID), "add member")
	log.next(t)
	_, err = e.users.Update(ctx, sc, u.ID, user.Patch{Org: ptr(tenant.OrgID(""))}, 0)
	fatalIf(t, err, "move to tenant level")
	log.expect(t, "group.member_removed", "user.updated")
	gs, err = e.groups.GroupsOf(ctx, sc, u.ID, page.Request{})
	fatalIf(t, err, "groups of")
	ids, _ = collect(gs.Items, func(g group.Group) (string, tenant.ID) { return string(g.ID), g.Tenant })
	sameOrder(t, "groups after moving to tenant level", ids, []string{string(gT.ID)})
}

func testUsersDelete(t *testing.T, e *env) {
	ctx := t.Context()
	sc, log := e.newTenant(t)
	u := e.user(t, sc, user.NewUser{Username: "leaver", Emails: []user.Email{{Value: "leaver@example.com"}},
		ExternalIDs: map[string]string{"crm": "L-1"}})
	g := e.group(t, sc, group.NewGroup{Name: "Everyone"})
	fatalIf(t, e.groups.AddMember(ctx, sc, g.ID, u.ID), "add member")
	_, err := e.users.ImportPasswordHash(ctx, sc, u.ID, bcryptHash(t, "old secret"))
	fatalIf(t, err, "import password")
	log.next(t)

	unchanged(t, e.db, func() {
		wantErr(t, e.users.Delete(ctx, sc, u.ID), user.ErrTransition, "delete an active user")
		wantErr(t, e.users.Delete(ctx, sc, "usr_nosuchuser"), user.ErrNotFound, "delete an unknown user")
	})
	_, err = e.users.Transition(ctx, sc, u.ID, user.OpDeactivate, 0)
	fatalIf(t, err, "deactivate")
	fatalIf(t, e.users.Delete(ctx, sc, u.ID), "delete")
	log.expect(t, "user.deactivate", "user.deleted")

	_, err = e.users.User(ctx, sc, u.ID)
	wantErr(t, err, user.ErrNotFound, "read a deleted user")
	_, err = e.db.PasswordHashes(ctx, sc.Tenant, u.ID, 10)
	wantErr(t, err, user.ErrNoPassword, "passwords of a deleted user")
	gr, err := e.groups.Group(ctx, sc, g.ID)
	fatalIf(t, err, "group")
	if gr.Members != 0 {
		t.Errorf("group keeps %d members after the user was deleted", gr.Members)
	}
	mp, err := e.users.List(ctx, sc, user.Query{Group: string(g.ID)})
	fatalIf(t, err, "members")
	if len(mp.Items) != 0 {
		t.Errorf("deleted user still listed as member: %+v", mp.Items)
	}
	for _, login := range []string{"leaver", "leaver@example.com"} {
		_, err = e.db.UserByKey(ctx, sc.Tenant, user.Key(login))
		wantErr(t, err, user.ErrNotFound, "look-up of a deleted user by %s", login)
	}
	unchanged(t, e.db, func() {
		wantErr(t, e.users.Delete(ctx, sc, u.ID), user.ErrNotFound, "delete twice")
		wantErr(t, e.db.DeleteUser(ctx, sc.Tenant, u.ID), user.ErrNotFound, "store delete twice")
	})
	log.expect(t)
	// Everything the user held is free again.
	e.user(t, sc, user.NewUser{Username: "leaver", Emails: []user.Email{{Value: "leaver@example.com"}},
		ExternalIDs: map[string]string{"crm": "L-1"}})
	log.expect(t, "user.created")
}
