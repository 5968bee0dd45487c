package api_test

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/api"
	"github.com/tessera-iam/tessera/internal/apitoken"
	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/group"
	"github.com/tessera-iam/tessera/internal/id"
	"github.com/tessera-iam/tessera/internal/keys"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/testkit"
	"github.com/tessera-iam/tessera/internal/user"
	"github.com/tessera-iam/tessera/internal/user/password"
)

// The isolation matrix: every route of routes.go × every kind of principal ×
// objects in the caller's own organization, another organization, the tenant
// level, another tenant and nowhere. It asserts the exact status of each
// answer, that lists never carry rows the caller must not see, and that every
// refused write leaves the database untouched.
//
// Order of refusals the API promises (and the matrix encodes):
//  1. no or bad credentials: 401, whatever the id;
//  2. a role too weak for the route: 403, whatever the id;
//  3. an operation an organization-scoped token may never do (tokens, tenant
//     settings, creating or deleting organizations, moving users, verifying
//     domains): 403, whatever the id, except where the service first looks
//     the object up in the caller's reach, which answers 404 outside it;
//  4. an id outside the caller's reach (other organization, other tenant,
//     nonexistent): 404 — the same answer for all three, so existence never
//     leaks across the line.

// isoScope is where an object lives: tenant "A" or "B" ("" for an id that
// exists nowhere) and its organization id ("" at tenant level). An
// organization's own scope is itself.
type isoScope struct{ tenant, org string }

type isoPrincipal struct {
	name   string
	token  string // "" sends no credentials
	tenant string // "A" or "B"
	org    string // organization id of an organization-scoped token
	role   apitoken.Role
}

// isoConfig is the organization of tenant-level configuration (applications,
// business roles), which every scope of the tenant may read.
const isoConfig = "*"

// sees reports whether an object in s is within the principal's reach.
func (p isoPrincipal) sees(s isoScope) bool {
	return p.tenant != "" && s.tenant == p.tenant && (p.org == "" || p.org == s.org || s.org == isoConfig)
}

func (p isoPrincipal) wide() bool { return p.org == "" }

type isoAccess int

const (
	isoPublic isoAccess = iota // no token needed
	isoRead                    // any role
	isoManage                  // user-manager or admin
	isoAdmin                   // admin
)

func (p isoPrincipal) may(need isoAccess) bool {
	switch need {
	case isoManage:
		return p.role == apitoken.Admin || p.role == apitoken.UserManager
	case isoAdmin:
		return p.role == apitoken.Admin
	}
	return true
}

// isoFixture is the data every matrix case runs against. Target keys:
// "o1" and "o2" (organizations of tenant A), "at" (tenant level of A), "b"
// (tenant B's organization) and "missing" (well-formed ids that exist nowhere).
type isoFixture struct {
	env      *testkit.Env
	ctx      context.Context
	tenantID map[string]tenant.ID // "A", "B"
	tenName  map[string]string
	scope    map[string]isoScope
	org      map[string]string // target -> organization id
	orgName  map[string]string
	orgExt   map[string]string
	user     map[string]string // target -> a fixture user homed there
	username map[string]string
	group    map[string]string // target -> a fixture group scoped there
	// members and groupsOf are the fixture memberships (ids).
	members   map[string][]string
	groupsOf  map[string][]string
	fixUsers  map[string]bool
	fixGroups map[string]bool
	// Access: target ("cfg" for tenant A, "b", "missing") -> application and
	// business role; fixture assignments per application, holders per role,
	// and the fixture users with access per application.
	app         map[string]string
	role        map[string]string
	assignments map[string][]string
	holders     map[string][]string
	accounts    map[string][]string
	fixAccess   map[string]bool     // fixture assignments
	objects     map[string]isoScope // every id the test knows -> where it lives
	principals  []isoPrincipal
	seq         int
	// dry makes the fresh* helpers hand out one cached victim per kind and
	// target: a case expected to be refused runs against it (a refusal
	// changes nothing, which Unchanged proves), so only cases expected to
	// succeed create objects, and the database stays small.
	dry     bool
	victims map[string]string
}

func (f *isoFixture) next(prefix string) string {
	f.seq++
	return fmt.Sprintf("iso-%s-%d", prefix, f.seq)
}

func (f *isoFixture) tscope(s isoScope) tenant.Scope {
	return tenant.Scope{Tenant: f.tenantID[s.tenant]}
}

func isoCheck(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func isoNewFixture(t *testing.T, env *testkit.Env) *isoFixture {
	t.Helper()
	ctx := audit.WithActor(context.Background(), audit.Actor{Type: "system", ID: "isolation-test"})
	s := env.Server
	f := &isoFixture{env: env, ctx: ctx, tenantID: map[string]tenant.ID{}, tenName: map[string]string{},
		scope: map[string]isoScope{"missing": {}}, org: map[string]string{}, orgName: map[string]string{},
		orgExt: map[string]string{}, user: map[string]string{}, username: map[string]string{}, group: map[string]string{},
		members: map[string][]string{}, groupsOf: map[string][]string{}, fixUsers: map[string]bool{}, fixGroups: map[string]bool{},
		objects: map[string]isoScope{}, app: map[string]string{}, role: map[string]string{}, assignments: map[string][]string{},
		holders: map[string][]string{}, accounts: map[string][]string{}, fixAccess: map[string]bool{}, victims: map[string]string{}}

	// No TXT record exists anywhere: verification is refused without
	// depending on the machine's DNS.
	s.Tenants.Resolver = &isoTXT{}

	ta, err := s.Tenants.TenantBySlug(ctx, "default")
	isoCheck(t, err)
	tb, err := s.Tenants.CreateTenant(ctx, "bravo", "Bravo Corp")
	isoCheck(t, err)
	f.tenantID["A"], f.tenName["A"] = ta.ID, ta.Name
	f.tenantID["B"], f.tenName["B"] = tb.ID, tb.Name

	mkOrg := func(target, ten, name, ext, domain string) {
		o, err := s.Tenants.CreateOrganization(ctx, tenant.Scope{Tenant: f.tenantID[ten]},
			tenant.NewOrganization{Name: name, ExternalID: ext, Domains: []string{domain}})
		isoCheck(t, err)
		f.org[target], f.orgName[target], f.orgExt[target] = string(o.ID), name, ext
		f.scope[target] = isoScope{ten, string(o.ID)}
		f.objects[string(o.ID)] = isoScope{ten, string(o.ID)}
	}
	mkOrg("o1", "A", "Acme One", "crm-o1", "one.example")
	mkOrg("o2", "A", "Acme Two", "crm-o2", "two.example")
	// Tenant B claims the same domain as O1: domains are unique per tenant only.
	mkOrg("b", "B", "Bravo Org", "crm-b", "one.example")
	f.scope["at"] = isoScope{"A", ""}
	f.org["missing"] = id.New("org", time.Now())
	f.orgName["missing"], f.orgExt["missing"] = "Nowhere Org", "crm-missing"

	mkUser := func(target, ten, org, name string) string {
		u, err := s.Users.Create(ctx, tenant.Scope{Tenant: f.tenantID[ten]}, user.NewUser{Username: name,
			Emails: []user.Email{{Value: name + "@mail.example", Primary: true}}, Org: tenant.OrgID(org)})
		isoCheck(t, err)
		f.objects[string(u.ID)] = isoScope{ten, org}
		f.fixUsers[string(u.ID)] = true
		if target != "" {
			f.user[target], f.username[target] = string(u.ID), name
		}
		return string(u.ID)
	}
	mkUser("o1", "A", f.org["o1"], "alice.one")
	mkUser("", "A", f.org["o1"], "arthur.one") // in no group
	mkUser("o2", "A", f.org["o2"], "oscar.two")
	mkUser("", "A", f.org["o2"], "olga.two") // in no group
	mkUser("at", "A", "", "tina.tenant")
	mkUser("b", "B", f.org["b"], "bob.bravo")
	f.user["missing"], f.username["missing"] = id.New("usr", time.Now()), "nobody.anywhere"

	mkGroup := func(target, ten, org, name string) {
		g, err := s.Groups.Create(ctx, tenant.Scope{Tenant: f.tenantID[ten]}, group.NewGroup{Name: name, Org: tenant.OrgID(org)})
		isoCheck(t, err)
		f.group[target] = string(g.ID)
		f.objects[string(g.ID)] = isoScope{ten, org}
		f.fixGroups[string(g.ID)] = true
	}
	// The same group name in both organizations and in tenant B: names are
	// unique per scope only.
	mkGroup("o1", "A", f.org["o1"], "Team")
	mkGroup("o2", "A", f.org["o2"], "Team")
	mkGroup("at", "A", "", "Everyone")
	mkGroup("b", "B", f.org["b"], "Team")
	f.group["missing"] = id.New("grp", time.Now())

	join := func(g, u string) {
		ten := f.objects[f.group[g]].tenant
		isoCheck(t, s.Groups.AddMember(ctx, tenant.Scope{Tenant: f.tenantID[ten]}, group.ID(f.group[g]), user.ID(f.user[u])))
		f.members[f.group[g]] = append(f.members[f.group[g]], f.user[u])
		f.groupsOf[f.user[u]] = append(f.groupsOf[f.user[u]], f.group[g])
	}
	join("o1", "o1")
	join("o2", "o2")
	join("at", "o1")
	join("at", "o2")
	join("at", "at")
	join("b", "b")

	// Access: per tenant an application and a business role (tenant-level
	// configuration), assignments and holders reaching every scope.
	f.scope["cfg"] = isoScope{"A", isoConfig}
	for _, c := range []struct{ target, ten string }{{"cfg", "A"}, {"b", "B"}} {
		sc := tenant.Scope{Tenant: f.tenantID[c.ten]}
		a, err := s.Access.CreateApplication(ctx, sc, access.NewApplication{Name: "Ledger", Kind: access.KindBookmark,
			Roles: []access.AppRole{{Name: "viewer"}, {Name: "approver"}}})
		isoCheck(t, err)
		r, err := s.Access.CreateBusinessRole(ctx, sc, "Clerk", "")
		isoCheck(t, err)
		f.app[c.target], f.role[c.target] = string(a.ID), string(r.ID)
		f.objects[string(a.ID)], f.objects[string(r.ID)] = isoScope{c.ten, isoConfig}, isoScope{c.ten, isoConfig}
	}
	f.app["missing"], f.role["missing"] = id.New("app", time.Now()), id.New("rol", time.Now())
	assign := func(app, ptype, pid string, where isoScope) {
		as, err := s.Access.Assign(ctx, f.tscope(where), access.AppID(f.app[app]), access.NewAssignment{
			Principal: access.Principal{Type: ptype, ID: pid}, Roles: []string{"viewer"}})
		isoCheck(t, err)
		f.assignments[f.app[app]] = append(f.assignments[f.app[app]], string(as.ID))
		f.objects[string(as.ID)] = where
		f.fixAccess[string(as.ID)] = true
	}
	for _, u := range []string{"o1", "o2", "at"} {
		assign("cfg", access.PrincipalUser, f.user[u], f.scope[u])
	}
	assign("cfg", access.PrincipalGroup, f.group["o1"], f.scope["o1"])
	assign("cfg", access.PrincipalGroup, f.group["at"], f.scope["at"])
	// Only tenant-wide callers may see an assignment to a business role.
	assign("cfg", access.PrincipalBusinessRole, f.role["cfg"], isoScope{"A", ""})
	assign("b", access.PrincipalUser, f.user["b"], f.scope["b"])
	hold := func(role, htype, hid string) {
		ten := f.objects[f.role[role]].tenant
		isoCheck(t, s.Access.AddHolder(ctx, tenant.Scope{Tenant: f.tenantID[ten]}, access.RoleID(f.role[role]), access.Holder{Type: htype, ID: hid}))
		f.holders[f.role[role]] = append(f.holders[f.role[role]], hid)
	}
	hold("cfg", access.PrincipalUser, f.user["o1"])
	hold("cfg", access.PrincipalGroup, f.group["o2"])
	hold("cfg", access.PrincipalUser, f.user["at"])
	hold("b", access.PrincipalUser, f.user["b"])
	f.accounts[f.app["cfg"]] = []string{f.user["o1"], f.user["o2"], f.user["at"]}
	f.accounts[f.app["b"]] = []string{f.user["b"]}

	// Tokens that exist before the matrix, among them the bootstrap one.
	for _, ten := range []string{"A", "B"} {
		ts, err := s.Tokens.List(ctx, tenant.Scope{Tenant: f.tenantID[ten]})
		isoCheck(t, err)
		for _, tok := range ts {
			f.objects[string(tok.ID)] = isoScope{ten, string(tok.Org)}
		}
	}
	mkTok := func(name, ten, slug string, role apitoken.Role, org string) {
		tok, secret, err := s.CreateToken(ctx, slug, apitoken.NewToken{Name: name, Role: role, Org: tenant.OrgID(org)})
		isoCheck(t, err)
		f.objects[string(tok.ID)] = isoScope{ten, org}
		f.principals = append(f.principals, isoPrincipal{name: name, token: secret, tenant: ten, org: org, role: role})
	}
	f.principals = append(f.principals, isoPrincipal{name: "anonymous"})
	mkTok("a-admin", "A", "default", apitoken.Admin, "")
	mkTok("a-user-manager", "A", "default", apitoken.UserManager, "")
	mkTok("a-read-only", "A", "default", apitoken.ReadOnly, "")
	mkTok("o1-admin", "A", "default", apitoken.Admin, f.org["o1"])
	mkTok("o1-read-only", "A", "default", apitoken.ReadOnly, f.org["o1"])
	mkTok("b-admin", "B", "bravo", apitoken.Admin, "")
	return f
}

// Fresh objects for cases that change or delete what they address: each
// case expected to succeed gets its own, so it does not disturb the fixture;
// a case expected to be refused gets a victim that could have been changed
// and must not be.

// isoFresh returns make(), or in dry mode the victim cached under key.
func (f *isoFixture) isoFresh(key string, make func() string) string {
	if !f.dry {
		return make()
	}
	if v, ok := f.victims[key]; ok {
		return v
	}
	v := make()
	f.victims[key] = v
	return v
}

func (f *isoFixture) freshUser(t *testing.T, target string, status user.Status) string {
	t.Helper()
	return f.isoFresh("user/"+target+"/"+string(status), func() string {
		s := f.scope[target]
		if s.tenant == "" {
			return id.New("usr", time.Now())
		}
		u, err := f.env.Server.Users.Create(f.ctx, f.tscope(s), user.NewUser{Username: f.next("user"), Org: tenant.OrgID(s.org)})
		isoCheck(t, err)
		if status == user.Deactivated {
			_, err = f.env.Server.Users.Transition(f.ctx, f.tscope(s), u.ID, user.OpDeactivate, 0)
			isoCheck(t, err)
		}
		f.objects[string(u.ID)] = s
		return string(u.ID)
	})
}

func (f *isoFixture) freshGroup(t *testing.T, target string) string {
	t.Helper()
	return f.isoFresh("group/"+target, func() string {
		s := f.scope[target]
		if s.tenant == "" {
			return id.New("grp", time.Now())
		}
		g, err := f.env.Server.Groups.Create(f.ctx, f.tscope(s), group.NewGroup{Name: f.next("group"), Org: tenant.OrgID(s.org)})
		isoCheck(t, err)
		f.objects[string(g.ID)] = s
		return string(g.ID)
	})
}

func (f *isoFixture) freshDomain(t *testing.T, target string) string {
	t.Helper()
	return f.isoFresh("domain/"+target, func() string {
		s := f.scope[target]
		d := f.next("domain") + ".example"
		if s.tenant == "" {
			return d
		}
		_, err := f.env.Server.Tenants.AddDomain(f.ctx, f.tscope(s), tenant.OrgID(s.org), d)
		isoCheck(t, err)
		return d
	})
}

func (f *isoFixture) freshToken(t *testing.T, target string) string {
	t.Helper()
	return f.isoFresh("token/"+target, func() string {
		s := f.scope[target]
		if s.tenant == "" {
			return id.New("tok", time.Now())
		}
		tok, _, err := f.env.Server.Tokens.Create(f.ctx, f.tscope(s), apitoken.NewToken{Name: f.next("token"),
			Role: apitoken.ReadOnly, Org: tenant.OrgID(s.org)})
		isoCheck(t, err)
		f.objects[string(tok.ID)] = s
		return string(tok.ID)
	})
}

// freshApp makes an application where target's configuration lives.
func (f *isoFixture) freshApp(t *testing.T, target string) string {
	t.Helper()
	return f.isoFresh("app/"+target, func() string {
		s := f.scope[target]
		if s.tenant == "" {
			return id.New("app", time.Now())
		}
		a, err := f.env.Server.Access.CreateApplication(f.ctx, f.tscope(s), access.NewApplication{Name: f.next("app"),
			Kind: access.KindOIDC, Roles: []access.AppRole{{Name: "viewer"}}})
		isoCheck(t, err)
		f.objects[string(a.ID)] = isoScope{s.tenant, isoConfig}
		return string(a.ID)
	})
}

// freshRole makes a business role where target's configuration lives.
func (f *isoFixture) freshRole(t *testing.T, target string) string {
	t.Helper()
	return f.isoFresh("role/"+target, func() string {
		s := f.scope[target]
		if s.tenant == "" {
			return id.New("rol", time.Now())
		}
		r, err := f.env.Server.Access.CreateBusinessRole(f.ctx, f.tscope(s), f.next("role"), "")
		isoCheck(t, err)
		f.objects[string(r.ID)] = isoScope{s.tenant, isoConfig}
		return string(r.ID)
	})
}

// freshAssignment assigns a fresh user of scope u to the application of
// scope a (an application of tenant A when a is "missing", so the path
// names another application than the assignment's).
func (f *isoFixture) freshAssignment(t *testing.T, a, u string) string {
	t.Helper()
	return f.isoFresh("assignment/"+a+"/"+u, func() string {
		if u == "missing" {
			return id.New("asg", time.Now())
		}
		app := a
		if a == "missing" {
			app = "cfg"
		}
		dry := f.dry
		f.dry = false // the assignment's own user, even for a victim
		uid := f.freshUser(t, u, user.Active)
		f.dry = dry
		as, err := f.env.Server.Access.Assign(f.ctx, f.tscope(f.scope[u]), access.AppID(f.app[app]), access.NewAssignment{
			Principal: access.Principal{Type: access.PrincipalUser, ID: uid}, Roles: []string{"viewer"}})
		isoCheck(t, err)
		f.objects[string(as.ID)] = f.scope[u]
		return string(as.ID)
	})
}

// freshOrg makes an empty organization in tenant ten ("A" or "B").
func (f *isoFixture) freshOrg(t *testing.T, ten string) (string, isoScope) {
	t.Helper()
	oid := f.isoFresh("org/"+ten, func() string {
		o, err := f.env.Server.Tenants.CreateOrganization(f.ctx, tenant.Scope{Tenant: f.tenantID[ten]},
			tenant.NewOrganization{Name: f.next("org")})
		isoCheck(t, err)
		f.objects[string(o.ID)] = isoScope{ten, string(o.ID)}
		return string(o.ID)
	})
	return oid, f.objects[oid]
}

// isoCall is one prepared request.
type isoCall struct {
	path  string
	body  any
	at    isoScope // where the addressed object (or filter subject) lives
	other isoScope // the second object, for memberships
}

type isoRow struct {
	pattern string // exactly as registered in routes.go
	variant string
	need    isoAccess
	targets []string // nil: one case, target "-"
	request func(t *testing.T, f *isoFixture, p isoPrincipal, target string) isoCall
	// expect is the status once authentication and the role check passed.
	expect func(p isoPrincipal, target string, c isoCall) int
	// check inspects a successful answer.
	check func(t *testing.T, f *isoFixture, p isoPrincipal, target string, c isoCall, res testkit.Response)
	// config: what the route creates is tenant-level configuration.
	config bool
	// home, when set, says where what the route creates lives.
	home func(c isoCall) isoScope
}

func (r isoRow) method() string {
	if m, _, ok := strings.Cut(r.pattern, " "); ok {
		return m
	}
	return http.MethodGet
}

func (r isoRow) name() string {
	if r.variant == "" {
		return r.pattern
	}
	return r.pattern + " [" + r.variant + "]"
}

func isoWant(r isoRow, p isoPrincipal, target string, c isoCall) int {
	if r.need != isoPublic {
		if p.token == "" {
			return http.StatusUnauthorized
		}
		if !p.may(r.need) {
			return http.StatusForbidden
		}
	}
	return r.expect(p, target, c)
}

// Expectation helpers.

func isoConst(status int) func(isoPrincipal, string, isoCall) int {
	return func(isoPrincipal, string, isoCall) int { return status }
}

// isoReach answers ok for an object in reach, else 404.
func isoReach(ok int) func(isoPrincipal, string, isoCall) int {
	return func(p isoPrincipal, _ string, c isoCall) int {
		if p.sees(c.at) {
			return ok
		}
		return http.StatusNotFound
	}
}

// isoWide refuses organization-scoped tokens with 403 before anything else.
func isoWide(inner func(isoPrincipal, string, isoCall) int) func(isoPrincipal, string, isoCall) int {
	return func(p isoPrincipal, target string, c isoCall) int {
		if !p.wide() {
			return http.StatusForbidden
		}
		return inner(p, target, c)
	}
}

// isoCreateIn answers ok when the organization named in the body is in the
// caller's reach (or none is named), else 400: an organization_id is input,
// not an address.
func isoCreateIn(ok int) func(isoPrincipal, string, isoCall) int {
	return func(p isoPrincipal, target string, c isoCall) int {
		if target == "-" || p.sees(c.at) {
			return ok
		}
		return http.StatusBadRequest
	}
}

// isoMembership is the answer of PUT and DELETE /groups/{id}/members/{user_id}.
// An organization's group holds only its users: adding another one is a bad
// request, removing one finds no membership.
func isoMembership(ok, foreign int) func(isoPrincipal, string, isoCall) int {
	return func(p isoPrincipal, _ string, c isoCall) int {
		switch {
		case !p.sees(c.at), !p.sees(c.other):
			return http.StatusNotFound
		case c.at.org != "" && c.at.org != c.other.org:
			return foreign
		}
		return ok
	}
}

// isoGrant answers giving something in reach (c.at) to a user or group
// (c.other): 404 for the first out of reach, 400 for the second ("no such
// user": it is input, not an address).
func isoGrant(ok int) func(isoPrincipal, string, isoCall) int {
	return func(p isoPrincipal, _ string, c isoCall) int {
		switch {
		case !p.sees(c.at):
			return http.StatusNotFound
		case !p.sees(c.other):
			return http.StatusBadRequest
		}
		return ok
	}
}

// isoBoth answers ok when both c.at and c.other are in reach, else 404.
func isoBoth(ok int) func(isoPrincipal, string, isoCall) int {
	return func(p isoPrincipal, _ string, c isoCall) int {
		if p.sees(c.at) && p.sees(c.other) {
			return ok
		}
		return http.StatusNotFound
	}
}

// Checks of successful answers.

// isoAuditCheck asserts audit lines are all of p's tenant and name no
// object of another tenant; it returns how many there are.
func isoAuditCheck(t *testing.T, f *isoFixture, p isoPrincipal, lines []map[string]any) int {
	t.Helper()
	for _, l := range lines {
		if l["tenant_id"] != string(f.tenantID[p.tenant]) {
			t.Errorf("LEAK: event of tenant %v in %s's audit log", l["tenant_id"], p.tenant)
		}
		for _, k := range []string{"target_id", "actor_id"} {
			if id, _ := l[k].(string); id != "" {
				if s, known := f.objects[id]; known && s.tenant != p.tenant {
					t.Errorf("LEAK: event %v names %s of tenant %s", l["seq"], id, s.tenant)
				}
			}
		}
	}
	return len(lines)
}

// isoRekeyItems returns a list answer's raw items.
func isoRekeyItems(t *testing.T, res testkit.Response) []map[string]any {
	t.Helper()
	var l struct {
		Items []map[string]any `json:"items"`
	}
	res.Decode(t, &l)
	return l.Items
}

// isoRekey rewrites a list answer so that each item's field is its "id", for
// lists of rows that name someone else (holders, accounts, changes).
func isoRekey(t *testing.T, res testkit.Response, field string) testkit.Response {
	t.Helper()
	var l struct {
		Items []map[string]any `json:"items"`
	}
	res.Decode(t, &l)
	out := []map[string]any{}
	for _, it := range l.Items {
		out = append(out, map[string]any{"id": it[field]})
	}
	b, err := json.Marshal(map[string]any{"items": out})
	isoCheck(t, err)
	res.Body = b
	return res
}

type isoItem struct {
	ID     string  `json:"id"`
	Org    *string `json:"organization_id"`
	Secret *string `json:"secret"`
}

func isoItems(t *testing.T, res testkit.Response) []isoItem {
	t.Helper()
	var l struct {
		Items []isoItem `json:"items"`
	}
	res.Decode(t, &l)
	if l.Items == nil {
		t.Fatalf("list answer without items: %s", res.Body)
	}
	return l.Items
}

// isoListCheck asserts every row of a list is known and in the principal's
// reach; then that the list is empty (want == nil) or that its rows among
// ids of the pool equal exactly want's rows in reach.
func isoListCheck(t *testing.T, f *isoFixture, p isoPrincipal, res testkit.Response, pool map[string]bool, want []string) {
	t.Helper()
	items := isoItems(t, res)
	var got, all []string
	for _, it := range items {
		all = append(all, it.ID)
		s, known := f.objects[it.ID]
		switch {
		case !known:
			t.Errorf("list holds %s, an object this test never made", it.ID)
		case !p.sees(s):
			t.Errorf("LEAK: list holds %s of %+v, outside the reach of %s", it.ID, s, p.name)
		}
		if it.Secret != nil {
			t.Errorf("list shows the secret of %s", it.ID)
		}
		if pool == nil || pool[it.ID] {
			got = append(got, it.ID)
		}
	}
	if want == nil {
		if len(items) != 0 {
			t.Errorf("LEAK: the filter names something outside the reach of %s, want an empty list, got %v", p.name, all)
		}
		return
	}
	var exp []string
	for _, w := range want {
		if p.sees(f.objects[w]) {
			exp = append(exp, w)
		}
	}
	if pool == nil { // the list may hold more than the fixture: only check presence
		for _, w := range exp {
			if !slices.Contains(got, w) {
				t.Errorf("list misses %s (%+v): %s", w, f.objects[w], res.Body)
			}
		}
		return
	}
	sort.Strings(got)
	sort.Strings(exp)
	if !slices.Equal(got, exp) {
		t.Errorf("list rows = %v, want %v", got, exp)
	}
}

func isoIDIs(t *testing.T, res testkit.Response, want string) {
	t.Helper()
	if got, _ := res.JSON(t)["id"].(string); got != want {
		t.Errorf("id = %q, want %q", got, want)
	}
}

func (f *isoFixture) fixtureOrgs() []string { return []string{f.org["o1"], f.org["o2"], f.org["b"]} }

func (f *isoFixture) fixtureIDs(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func isoSSHA(pw string) string {
	salt := []byte("isosalt1")
	sum := sha1.Sum(append([]byte(pw), salt...))
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(sum[:], salt...))
}

// isoMemberPairs are group/user targets for membership routes.
var isoMemberPairs = []string{"o1/o1", "o1/o2", "o1/at", "o1/b", "o1/missing", "o2/o2", "at/at", "at/o1", "b/b", "b/o1", "missing/o1"}

var (
	// Tenant-level configuration: tenant A's, tenant B's, none.
	isoCfgTargets = []string{"cfg", "b", "missing"}
	// Configuration object / user or group.
	isoAssignPairs = []string{"cfg/o1", "cfg/o2", "cfg/at", "cfg/b", "cfg/missing", "b/b", "b/o1", "missing/o1"}
	// Application / the user of an existing assignment ("missing/o1": an
	// assignment of another application).
	isoAssignmentTargets = []string{"cfg/o1", "cfg/o2", "cfg/at", "b/b", "missing/o1", "cfg/missing"}
	isoIDTargets         = []string{"o1", "o2", "at", "b", "missing"}
	isoOrgTargets        = []string{"o1", "o2", "b", "missing"}
	isoBodyTargets       = []string{"-", "o1", "o2", "b", "missing"}
)

func isoRows() []isoRow {
	const v1 = "/api/v1"
	get := func(path string) func(*testing.T, *isoFixture, isoPrincipal, string) isoCall {
		return func(*testing.T, *isoFixture, isoPrincipal, string) isoCall { return isoCall{path: path} }
	}
	return append([]isoRow{
		{pattern: "GET /api/v1/openapi.json", need: isoPublic, request: get(v1 + "/openapi.json"), expect: isoConst(http.StatusOK)},
		{pattern: "/api/", need: isoPublic, request: get(v1 + "/no-such-resource"), expect: isoConst(http.StatusNotFound)},

		// Tenant and its settings.
		{pattern: "GET /api/v1/tenant", need: isoRead, request: get(v1 + "/tenant"), expect: isoConst(http.StatusOK),
			check: func(t *testing.T, f *isoFixture, p isoPrincipal, _ string, _ isoCall, res testkit.Response) {
				isoIDIs(t, res, string(f.tenantID[p.tenant]))
			}},
		{pattern: "PATCH /api/v1/tenant", need: isoAdmin,
			request: func(_ *testing.T, f *isoFixture, p isoPrincipal, _ string) isoCall {
				return isoCall{path: v1 + "/tenant", body: map[string]any{"name": f.tenName[p.tenant] + " renamed"}}
			},
			expect: isoWide(isoConst(http.StatusOK)),
			check: func(t *testing.T, f *isoFixture, p isoPrincipal, _ string, _ isoCall, res testkit.Response) {
				isoIDIs(t, res, string(f.tenantID[p.tenant]))
			}},
		{pattern: "PUT /api/v1/tenant/domain", need: isoAdmin,
			request: func(_ *testing.T, f *isoFixture, p isoPrincipal, _ string) isoCall {
				host := strings.ToLower(strings.ReplaceAll(string(f.tenantID[p.tenant]), "_", "-")) + ".example"
				return isoCall{path: v1 + "/tenant/domain", body: map[string]any{"domain": host}}
			},
			expect: isoWide(isoConst(http.StatusOK)),
			check: func(t *testing.T, f *isoFixture, p isoPrincipal, _ string, _ isoCall, res testkit.Response) {
				isoIDIs(t, res, string(f.tenantID[p.tenant]))
			}},
		{pattern: "GET /api/v1/tenant/password-policy", need: isoRead, request: get(v1 + "/tenant/password-policy"), expect: isoConst(http.StatusOK)},
		{pattern: "PUT /api/v1/tenant/password-policy", need: isoAdmin,
			request: func(*testing.T, *isoFixture, isoPrincipal, string) isoCall {
				p := password.DefaultPolicy()
				p.HistoryCount = 2
				return isoCall{path: v1 + "/tenant/password-policy", body: p}
			},
			expect: isoWide(isoConst(http.StatusOK))},
		{pattern: "POST /api/v1/tenant/password-policy/validate", need: isoRead, targets: append([]string{"-"}, isoIDTargets...),
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				body := map[string]any{"password": "a sufficiently long passphrase"}
				if target != "-" {
					body["user_id"] = f.user[target]
				}
				return isoCall{path: v1 + "/tenant/password-policy/validate", body: body, at: f.scope[target]}
			},
			expect: func(p isoPrincipal, target string, c isoCall) int {
				if target == "-" || p.sees(c.at) {
					return http.StatusOK
				}
				return http.StatusNotFound
			}},
		{pattern: "GET /api/v1/tenant/profile-schema", need: isoRead, request: get(v1 + "/tenant/profile-schema"), expect: isoConst(http.StatusOK)},
		{pattern: "PUT /api/v1/tenant/profile-schema", need: isoAdmin,
			request: func(*testing.T, *isoFixture, isoPrincipal, string) isoCall {
				return isoCall{path: v1 + "/tenant/profile-schema", body: map[string]any{"attributes": []any{
					map[string]any{"name": "cost_center", "type": "string"}}}}
			},
			expect: isoWide(isoConst(http.StatusOK))},

		// Organizations.
		{pattern: "GET /api/v1/organizations", variant: "all", need: isoRead, request: get(v1 + "/organizations?limit=500"),
			expect: isoConst(http.StatusOK),
			check: func(t *testing.T, f *isoFixture, p isoPrincipal, _ string, _ isoCall, res testkit.Response) {
				isoListCheck(t, f, p, res, nil, f.fixtureOrgs())
			}},
		{pattern: "GET /api/v1/organizations", variant: "external_id", need: isoRead, targets: isoOrgTargets,
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/organizations?external_id=" + url.QueryEscape(f.orgExt[target]), at: f.scope[target]}
			},
			expect: isoConst(http.StatusOK),
			check: func(t *testing.T, f *isoFixture, p isoPrincipal, target string, c isoCall, res testkit.Response) {
				isoListCheck(t, f, p, res, f.known(), f.wantIfSees(p, c.at, f.org[target]))
			}},
		{pattern: "GET /api/v1/organizations", variant: "name_prefix", need: isoRead, targets: isoOrgTargets,
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/organizations?name_prefix=" + url.QueryEscape(f.orgName[target]), at: f.scope[target]}
			},
			expect: isoConst(http.StatusOK),
			check: func(t *testing.T, f *isoFixture, p isoPrincipal, target string, c isoCall, res testkit.Response) {
				isoListCheck(t, f, p, res, f.known(), f.wantIfSees(p, c.at, f.org[target]))
			}},
		{pattern: "POST /api/v1/organizations", need: isoAdmin,
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, _ string) isoCall {
				return isoCall{path: v1 + "/organizations", body: map[string]any{"name": f.next("org"), "domains": []string{f.next("new") + ".example"}}}
			},
			expect: isoWide(isoConst(http.StatusCreated))},
		{pattern: "GET /api/v1/organizations/{id}", need: isoRead, targets: isoOrgTargets,
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/organizations/" + f.org[target], at: f.scope[target]}
			},
			expect: isoReach(http.StatusOK),
			check: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string, _ isoCall, res testkit.Response) {
				isoIDIs(t, res, f.org[target])
			}},
		{pattern: "PATCH /api/v1/organizations/{id}", variant: "name", need: isoAdmin, targets: isoOrgTargets,
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				// Renaming to the same name: allowed, changes nothing, keeps the fixture.
				return isoCall{path: v1 + "/organizations/" + f.org[target], body: map[string]any{"name": f.orgName[target]}, at: f.scope[target]}
			},
			expect: isoReach(http.StatusOK)},
		{pattern: "PATCH /api/v1/organizations/{id}", variant: "status", need: isoAdmin, targets: isoOrgTargets,
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/organizations/" + f.org[target], body: map[string]any{"status": "suspended", "external_id": "changed"}, at: f.scope[target]}
			},
			expect: func(p isoPrincipal, _ string, c isoCall) int {
				switch {
				case !p.sees(c.at):
					return http.StatusNotFound
				case !p.wide():
					return http.StatusForbidden // an organization admin cannot change its contract status
				}
				return http.StatusOK
			},
			check: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string, _ isoCall, res testkit.Response) {
				// Put the fixture back.
				s := f.scope[target]
				active, ext := tenant.OrgActive, f.orgExt[target]
				_, err := f.env.Server.Tenants.UpdateOrganization(f.ctx, f.tscope(s), tenant.OrgID(s.org),
					tenant.OrganizationPatch{Status: &active, ExternalID: &ext}, 0)
				isoCheck(t, err)
			}},
		{pattern: "DELETE /api/v1/organizations/{id}", need: isoAdmin, targets: []string{"o1", "o2", "b", "missing", "A-empty", "B-empty"},
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				if ten, ok := strings.CutSuffix(target, "-empty"); ok {
					id, s := f.freshOrg(t, ten)
					return isoCall{path: v1 + "/organizations/" + id, at: s}
				}
				return isoCall{path: v1 + "/organizations/" + f.org[target], at: f.scope[target]}
			},
			expect: isoWide(func(p isoPrincipal, target string, c isoCall) int {
				switch {
				case !p.sees(c.at):
					return http.StatusNotFound
				case !strings.HasSuffix(target, "-empty"):
					return http.StatusConflict // users are homed there
				}
				return http.StatusNoContent
			})},
		{pattern: "POST /api/v1/organizations/{id}/domains", need: isoAdmin, targets: isoOrgTargets,
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/organizations/" + f.org[target] + "/domains", body: map[string]any{"domain": f.next("claim") + ".example"}, at: f.scope[target]}
			},
			expect: isoReach(http.StatusCreated)},
		{pattern: "DELETE /api/v1/organizations/{id}/domains/{domain}", need: isoAdmin, targets: isoOrgTargets,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/organizations/" + f.org[target] + "/domains/" + f.freshDomain(t, target), at: f.scope[target]}
			},
			expect: isoReach(http.StatusOK)},
		{pattern: "POST /api/v1/organizations/{id}/domains/{domain}/verify", need: isoAdmin, targets: isoOrgTargets,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/organizations/" + f.org[target] + "/domains/" + f.freshDomain(t, target) + "/verify", at: f.scope[target]}
			},
			expect: func(p isoPrincipal, _ string, c isoCall) int {
				switch {
				case !p.sees(c.at):
					return http.StatusNotFound
				case !p.wide():
					return http.StatusForbidden // only the operator verifies domains
				}
				return http.StatusBadRequest // no TXT record (and no network)
			}},

		// Users.
		{pattern: "GET /api/v1/users", variant: "all", need: isoRead, request: get(v1 + "/users?limit=500"),
			expect: isoConst(http.StatusOK),
			check: func(t *testing.T, f *isoFixture, p isoPrincipal, _ string, _ isoCall, res testkit.Response) {
				isoListCheck(t, f, p, res, nil, f.fixtureIDs(f.fixUsers))
			}},
		{pattern: "GET /api/v1/users", variant: "organization_id", need: isoRead, targets: isoOrgTargets,
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/users?limit=500&organization_id=" + f.org[target], at: f.scope[target]}
			},
			expect: isoConst(http.StatusOK),
			check: func(t *testing.T, f *isoFixture, p isoPrincipal, target string, c isoCall, res testkit.Response) {
				for _, it := range isoItems(t, res) {
					if it.Org == nil || *it.Org != f.org[target] {
						t.Errorf("user %s of another organization in a list filtered by %s", it.ID, f.org[target])
					}
				}
				isoListCheck(t, f, p, res, f.fixUsers, f.wantIfSees(p, c.at, f.fixtureIn(f.fixUsers, c.at)...))
			}},
		{pattern: "GET /api/v1/users", variant: "group_id", need: isoRead, targets: isoIDTargets,
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/users?limit=500&group_id=" + f.group[target], at: f.scope[target]}
			},
			expect: isoConst(http.StatusOK),
			check: func(t *testing.T, f *isoFixture, p isoPrincipal, target string, c isoCall, res testkit.Response) {
				// A group out of reach must not reveal its members (nor that it exists).
				isoListCheck(t, f, p, res, f.fixUsers, f.wantIfSees(p, c.at, f.members[f.group[target]]...))
			}},
		{pattern: "GET /api/v1/users", variant: "email", need: isoRead, targets: isoIDTargets,
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/users?email=" + url.QueryEscape(f.username[target]+"@mail.example"), at: f.scope[target]}
			},
			expect: isoConst(http.StatusOK),
			check: func(t *testing.T, f *isoFixture, p isoPrincipal, target string, c isoCall, res testkit.Response) {
				isoListCheck(t, f, p, res, f.known(), f.wantIfSees(p, c.at, f.user[target]))
			}},
		{pattern: "POST /api/v1/users", need: isoManage, targets: isoBodyTargets,
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				body := map[string]any{"username": f.next("created")}
				if target != "-" {
					body["organization_id"] = f.org[target]
				}
				return isoCall{path: v1 + "/users", body: body, at: f.scope[target]}
			},
			expect: isoCreateIn(http.StatusCreated),
			check:  isoCheckHome},
		{pattern: "GET /api/v1/users/exists", need: isoRead, targets: isoIDTargets,
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/users/exists?username=" + url.QueryEscape(f.username[target]), at: f.scope[target]}
			},
			expect: isoConst(http.StatusOK),
			check: func(t *testing.T, _ *isoFixture, p isoPrincipal, _ string, c isoCall, res testkit.Response) {
				if got, want := res.JSON(t)["exists"], p.sees(c.at); got != want {
					t.Errorf("exists = %v, want %v", got, want)
				}
			}},
		{pattern: "GET /api/v1/users/{id}", need: isoRead, targets: isoIDTargets,
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/users/" + f.user[target], at: f.scope[target]}
			},
			expect: isoReach(http.StatusOK),
			check: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string, _ isoCall, res testkit.Response) {
				isoIDIs(t, res, f.user[target])
			}},
		{pattern: "PATCH /api/v1/users/{id}", variant: "profile", need: isoManage, targets: isoIDTargets,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/users/" + f.freshUser(t, target, user.Active), body: map[string]any{"given_name": "Changed"}, at: f.scope[target]}
			},
			expect: isoReach(http.StatusOK)},
		{pattern: "PATCH /api/v1/users/{id}", variant: "organization_id", need: isoManage, targets: isoIDTargets,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				// Move into tenant A's O1.
				return isoCall{path: v1 + "/users/" + f.freshUser(t, target, user.Active), body: map[string]any{"organization_id": f.org["o1"]},
					at: f.scope[target], other: f.scope["o1"]}
			},
			expect: isoWide(func(p isoPrincipal, _ string, c isoCall) int {
				switch {
				case !p.sees(c.at):
					return http.StatusNotFound
				case !p.sees(c.other):
					return http.StatusBadRequest // that organization is not in the caller's tenant
				}
				return http.StatusOK
			})},
		{pattern: "DELETE /api/v1/users/{id}", need: isoManage, targets: isoIDTargets,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/users/" + f.freshUser(t, target, user.Deactivated), at: f.scope[target]}
			},
			expect: isoReach(http.StatusNoContent)},
		{pattern: "POST /api/v1/users/{id}/lifecycle/{operation}", need: isoManage, targets: isoIDTargets,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/users/" + f.freshUser(t, target, user.Active) + "/lifecycle/suspend", at: f.scope[target]}
			},
			expect: isoReach(http.StatusOK)},
		{pattern: "PUT /api/v1/users/{id}/password", need: isoManage, targets: isoIDTargets,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/users/" + f.freshUser(t, target, user.Active) + "/password",
					body: map[string]any{"password": "plenty long passphrase 42"}, at: f.scope[target]}
			},
			expect: isoReach(http.StatusOK)},
		{pattern: "PUT /api/v1/users/{id}/password-hash", need: isoManage, targets: isoIDTargets,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/users/" + f.freshUser(t, target, user.Active) + "/password-hash",
					body: map[string]any{"hash": isoSSHA("imported secret")}, at: f.scope[target]}
			},
			expect: isoReach(http.StatusOK)},
		{pattern: "GET /api/v1/users/{id}/groups", need: isoRead, targets: isoIDTargets,
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/users/" + f.user[target] + "/groups?limit=500", at: f.scope[target]}
			},
			expect: isoReach(http.StatusOK),
			check: func(t *testing.T, f *isoFixture, p isoPrincipal, target string, _ isoCall, res testkit.Response) {
				// Exactly the fixture groups of the user that the caller may see.
				isoListCheck(t, f, p, res, f.known(), f.groupsOf[f.user[target]])
			}},

		// Groups.
		{pattern: "GET /api/v1/groups", variant: "all", need: isoRead, request: get(v1 + "/groups?limit=500"),
			expect: isoConst(http.StatusOK),
			check: func(t *testing.T, f *isoFixture, p isoPrincipal, _ string, _ isoCall, res testkit.Response) {
				isoListCheck(t, f, p, res, nil, f.fixtureIDs(f.fixGroups))
			}},
		{pattern: "GET /api/v1/groups", variant: "organization_id", need: isoRead, targets: isoOrgTargets,
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/groups?limit=500&organization_id=" + f.org[target], at: f.scope[target]}
			},
			expect: isoConst(http.StatusOK),
			check: func(t *testing.T, f *isoFixture, p isoPrincipal, _ string, c isoCall, res testkit.Response) {
				isoListCheck(t, f, p, res, f.fixGroups, f.wantIfSees(p, c.at, f.fixtureIn(f.fixGroups, c.at)...))
			}},
		{pattern: "GET /api/v1/groups", variant: "member", need: isoRead, targets: isoIDTargets,
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/groups?limit=500&member=" + f.user[target], at: f.scope[target]}
			},
			expect: isoConst(http.StatusOK),
			check: func(t *testing.T, f *isoFixture, p isoPrincipal, target string, c isoCall, res testkit.Response) {
				isoListCheck(t, f, p, res, f.known(), f.wantIfSees(p, c.at, f.groupsOf[f.user[target]]...))
			}},
		{pattern: "POST /api/v1/groups", need: isoManage, targets: isoBodyTargets,
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				body := map[string]any{"name": f.next("created")}
				if target != "-" {
					body["organization_id"] = f.org[target]
				}
				return isoCall{path: v1 + "/groups", body: body, at: f.scope[target]}
			},
			expect: isoCreateIn(http.StatusCreated),
			check:  isoCheckHome},
		{pattern: "GET /api/v1/groups/{id}", need: isoRead, targets: isoIDTargets,
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/groups/" + f.group[target], at: f.scope[target]}
			},
			expect: isoReach(http.StatusOK),
			check: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string, _ isoCall, res testkit.Response) {
				isoIDIs(t, res, f.group[target])
			}},
		{pattern: "PATCH /api/v1/groups/{id}", need: isoManage, targets: isoIDTargets,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/groups/" + f.freshGroup(t, target), body: map[string]any{"description": "changed"}, at: f.scope[target]}
			},
			expect: isoReach(http.StatusOK)},
		{pattern: "DELETE /api/v1/groups/{id}", need: isoManage, targets: isoIDTargets,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/groups/" + f.freshGroup(t, target), at: f.scope[target]}
			},
			expect: isoReach(http.StatusNoContent)},
		{pattern: "GET /api/v1/groups/{id}/members", need: isoRead, targets: isoIDTargets,
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/groups/" + f.group[target] + "/members?limit=500", at: f.scope[target]}
			},
			expect: isoReach(http.StatusOK),
			check: func(t *testing.T, f *isoFixture, p isoPrincipal, target string, _ isoCall, res testkit.Response) {
				isoListCheck(t, f, p, res, f.fixUsers, f.members[f.group[target]])
			}},
		{pattern: "PUT /api/v1/groups/{id}/members/{user_id}", need: isoManage, targets: isoMemberPairs,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				g, u, _ := strings.Cut(target, "/")
				return isoCall{path: v1 + "/groups/" + f.group[g] + "/members/" + f.freshUser(t, u, user.Active), at: f.scope[g], other: f.scope[u]}
			},
			expect: isoMembership(http.StatusNoContent, http.StatusBadRequest)},
		{pattern: "DELETE /api/v1/groups/{id}/members/{user_id}", need: isoManage, targets: isoMemberPairs,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				g, u, _ := strings.Cut(target, "/")
				uid := f.freshUser(t, u, user.Active)
				gs, us := f.scope[g], f.scope[u]
				if gs.tenant != "" && gs.tenant == us.tenant && (gs.org == "" || gs.org == us.org) {
					isoCheck(t, f.env.Server.Groups.AddMember(f.ctx, f.tscope(gs), group.ID(f.group[g]), user.ID(uid)))
				}
				return isoCall{path: v1 + "/groups/" + f.group[g] + "/members/" + uid, at: gs, other: us}
			},
			expect: isoMembership(http.StatusNoContent, http.StatusNotFound)},

		// Applications, assignments, business roles: tenant-level
		// configuration every scope reads and only tenant-wide admins change;
		// assignments and holders within the caller's reach.
		{pattern: "GET /api/v1/applications", need: isoRead, request: get(v1 + "/applications?limit=500"),
			expect: isoConst(http.StatusOK),
			check: func(t *testing.T, f *isoFixture, p isoPrincipal, _ string, _ isoCall, res testkit.Response) {
				isoListCheck(t, f, p, res, nil, []string{f.app["cfg"], f.app["b"]})
			}},
		{pattern: "POST /api/v1/applications", need: isoAdmin, config: true,
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, _ string) isoCall {
				return isoCall{path: v1 + "/applications", body: map[string]any{"name": f.next("app"), "kind": "saml",
					"roles": []any{map[string]any{"name": "viewer"}}}}
			},
			expect: isoWide(isoConst(http.StatusCreated))},
		{pattern: "GET /api/v1/applications/{id}", need: isoRead, targets: isoCfgTargets,
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/applications/" + f.app[target], at: f.scope[target]}
			},
			expect: isoReach(http.StatusOK),
			check: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string, _ isoCall, res testkit.Response) {
				isoIDIs(t, res, f.app[target])
			}},
		{pattern: "PATCH /api/v1/applications/{id}", need: isoAdmin, targets: isoCfgTargets,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/applications/" + f.freshApp(t, target), body: map[string]any{"seats": 10, "status": "inactive"}, at: f.scope[target]}
			},
			expect: isoWide(isoReach(http.StatusOK))},
		{pattern: "DELETE /api/v1/applications/{id}", need: isoAdmin, targets: isoCfgTargets,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/applications/" + f.freshApp(t, target), at: f.scope[target]}
			},
			expect: isoWide(isoReach(http.StatusNoContent))},
		{pattern: "GET /api/v1/applications/{id}/seats", need: isoRead, targets: isoCfgTargets,
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/applications/" + f.app[target] + "/seats", at: f.scope[target]}
			},
			expect: isoReach(http.StatusOK)},
		{pattern: "GET /api/v1/applications/{id}/assignments", need: isoRead, targets: isoCfgTargets,
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/applications/" + f.app[target] + "/assignments?limit=500", at: f.scope[target]}
			},
			expect: isoReach(http.StatusOK),
			check: func(t *testing.T, f *isoFixture, p isoPrincipal, target string, _ isoCall, res testkit.Response) {
				// Organization tokens see the assignments of their own users
				// and groups only.
				isoListCheck(t, f, p, res, f.fixAccess, f.assignments[f.app[target]])
			}},
		{pattern: "POST /api/v1/applications/{id}/assignments", variant: "user", need: isoManage, targets: isoAssignPairs,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				a, u, _ := strings.Cut(target, "/")
				return isoCall{path: v1 + "/applications/" + f.app[a] + "/assignments", at: f.scope[a], other: f.scope[u],
					body: map[string]any{"principal_type": "user", "principal_id": f.freshUser(t, u, user.Active), "roles": []string{"viewer"}}}
			},
			expect: isoGrant(http.StatusCreated),
			home:   func(c isoCall) isoScope { return c.other }},
		{pattern: "POST /api/v1/applications/{id}/assignments", variant: "group", need: isoManage, targets: isoAssignPairs,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				a, g, _ := strings.Cut(target, "/")
				return isoCall{path: v1 + "/applications/" + f.app[a] + "/assignments", at: f.scope[a], other: f.scope[g],
					body: map[string]any{"principal_type": "group", "principal_id": f.freshGroup(t, g), "roles": []string{}}}
			},
			expect: isoGrant(http.StatusCreated),
			home:   func(c isoCall) isoScope { return c.other }},
		{pattern: "POST /api/v1/applications/{id}/assignments", variant: "business_role", need: isoManage,
			targets: []string{"cfg/cfg", "cfg/b", "cfg/missing", "b/b", "b/cfg", "missing/cfg"},
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				a, r, _ := strings.Cut(target, "/")
				return isoCall{path: v1 + "/applications/" + f.app[a] + "/assignments", at: f.scope[a], other: f.scope[r],
					body: map[string]any{"principal_type": "business_role", "principal_id": f.freshRole(t, r), "roles": []string{"viewer"}}}
			},
			expect: func(p isoPrincipal, _ string, c isoCall) int {
				switch {
				case !p.sees(c.at):
					return http.StatusNotFound
				case !p.wide():
					return http.StatusForbidden // business roles are the operator's
				case !p.sees(c.other):
					return http.StatusBadRequest
				}
				return http.StatusCreated
			},
			home: func(c isoCall) isoScope { return isoScope{c.other.tenant, ""} }},
		{pattern: "PATCH /api/v1/applications/{id}/assignments/{assignment_id}", need: isoManage, targets: isoAssignmentTargets,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				a, u, _ := strings.Cut(target, "/")
				return isoCall{path: v1 + "/applications/" + f.app[a] + "/assignments/" + f.freshAssignment(t, a, u),
					body: map[string]any{"roles": []string{"viewer", "approver"}}, at: f.scope[a], other: f.scope[u]}
			},
			expect: isoBoth(http.StatusOK)},
		{pattern: "DELETE /api/v1/applications/{id}/assignments/{assignment_id}", need: isoManage, targets: isoAssignmentTargets,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				a, u, _ := strings.Cut(target, "/")
				return isoCall{path: v1 + "/applications/" + f.app[a] + "/assignments/" + f.freshAssignment(t, a, u), at: f.scope[a], other: f.scope[u]}
			},
			expect: isoBoth(http.StatusNoContent)},
		// The SAML configuration of SAML applications: tenant-level
		// configuration like the application itself.
		{pattern: "GET /api/v1/applications/{id}/saml", need: isoRead, targets: isoCfgTargets,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/applications/" + f.freshSAMLApp(t, target, true) + "/saml", at: f.scope[target]}
			},
			expect: isoReach(http.StatusOK),
			check: func(t *testing.T, _ *isoFixture, _ isoPrincipal, _ string, c isoCall, res testkit.Response) {
				if !strings.Contains(c.path, res.JSON(t)["application_id"].(string)) {
					t.Errorf("%s answered another application's configuration: %s", c.path, res.Body)
				}
			}},
		{pattern: "GET /api/v1/applications/{id}/saml/setup", need: isoRead, targets: isoCfgTargets,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/applications/" + f.freshSAMLApp(t, target, true) + "/saml/setup", at: f.scope[target]}
			},
			expect: isoReach(http.StatusOK),
			check: func(t *testing.T, _ *isoFixture, _ isoPrincipal, _ string, c isoCall, res testkit.Response) {
				v := res.JSON(t)
				if !strings.Contains(c.path, v["application_id"].(string)) || !strings.HasSuffix(v["test_sign_in_url"].(string), "/saml/test/"+v["application_id"].(string)) {
					t.Errorf("%s answered another application's setup: %s", c.path, res.Body)
				}
			}},
		{pattern: "PUT /api/v1/applications/{id}/saml", need: isoAdmin, targets: isoCfgTargets,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				app := f.freshSAMLApp(t, target, false)
				return isoCall{path: v1 + "/applications/" + app + "/saml", at: f.scope[target], body: map[string]any{
					"entity_id": "https://sp.example/put/" + app, "acs": []any{map[string]any{"url": "https://sp.example/acs"}}}}
			},
			expect: isoWide(isoReach(http.StatusOK))},
		{pattern: "POST /api/v1/applications/{id}/saml/metadata", need: isoAdmin, targets: isoCfgTargets,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				app := f.freshSAMLApp(t, target, false)
				return isoCall{path: v1 + "/applications/" + app + "/saml/metadata", at: f.scope[target], body: map[string]any{
					"xml": spMetadata(t, "https://sp.example/metadata/"+app, "https://sp.example/acs", nil)}}
			},
			expect: isoWide(isoReach(http.StatusOK))},
		{pattern: "DELETE /api/v1/applications/{id}/saml", need: isoAdmin, targets: isoCfgTargets,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/applications/" + f.freshSAMLApp(t, target, true) + "/saml", at: f.scope[target]}
			},
			expect: isoWide(isoReach(http.StatusNoContent))},
		// The OIDC client of OIDC applications: tenant-level configuration
		// like the application itself; no read shows a secret.
		{pattern: "GET /api/v1/applications/{id}/oidc", need: isoRead, targets: isoCfgTargets,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/applications/" + f.freshOIDCApp(t, target, true) + "/oidc", at: f.scope[target]}
			},
			expect: isoReach(http.StatusOK),
			check: func(t *testing.T, _ *isoFixture, _ isoPrincipal, _ string, c isoCall, res testkit.Response) {
				m := res.JSON(t)
				if !strings.Contains(c.path, m["application_id"].(string)) {
					t.Errorf("%s answered another application's client: %s", c.path, res.Body)
				}
				if _, ok := m["client_secret"]; ok {
					t.Errorf("%s shows a secret: %s", c.path, res.Body)
				}
			}},
		{pattern: "GET /api/v1/applications/{id}/oidc/setup", need: isoRead, targets: isoCfgTargets,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/applications/" + f.freshOIDCApp(t, target, true) + "/oidc/setup", at: f.scope[target]}
			},
			expect: isoReach(http.StatusOK),
			check: func(t *testing.T, _ *isoFixture, _ isoPrincipal, _ string, c isoCall, res testkit.Response) {
				m := res.JSON(t)
				if !strings.Contains(c.path, m["application_id"].(string)) {
					t.Errorf("%s answered another application's setup: %s", c.path, res.Body)
				}
				if _, ok := m["client_secret"]; ok {
					t.Errorf("%s shows a secret: %s", c.path, res.Body)
				}
			}},
		{pattern: "POST /api/v1/applications/{id}/oidc", need: isoAdmin, targets: isoCfgTargets,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				app := f.freshOIDCApp(t, target, false)
				return isoCall{path: v1 + "/applications/" + app + "/oidc", at: f.scope[target], body: map[string]any{
					"redirect_uris": []any{"https://rp.example/post/" + app}}}
			},
			expect: isoWide(isoReach(http.StatusCreated))},
		{pattern: "PUT /api/v1/applications/{id}/oidc", need: isoAdmin, targets: isoCfgTargets,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				app := f.freshOIDCApp(t, target, true)
				return isoCall{path: v1 + "/applications/" + app + "/oidc", at: f.scope[target], body: map[string]any{
					"redirect_uris": []any{"https://rp.example/put/" + app}}}
			},
			expect: isoWide(isoReach(http.StatusOK))},
		{pattern: "DELETE /api/v1/applications/{id}/oidc", need: isoAdmin, targets: isoCfgTargets,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/applications/" + f.freshOIDCApp(t, target, true) + "/oidc", at: f.scope[target]}
			},
			expect: isoWide(isoReach(http.StatusNoContent))},
		{pattern: "POST /api/v1/applications/{id}/oidc/secret", need: isoAdmin, targets: isoCfgTargets,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/applications/" + f.freshOIDCApp(t, target, true) + "/oidc/secret", at: f.scope[target],
					body: map[string]any{"previous_secret_valid_seconds": 60}}
			},
			expect: isoWide(isoReach(http.StatusOK))},

		{pattern: "GET /api/v1/business-roles", need: isoRead, request: get(v1 + "/business-roles?limit=500"),
			expect: isoConst(http.StatusOK),
			check: func(t *testing.T, f *isoFixture, p isoPrincipal, _ string, _ isoCall, res testkit.Response) {
				isoListCheck(t, f, p, res, nil, []string{f.role["cfg"], f.role["b"]})
			}},
		{pattern: "POST /api/v1/business-roles", need: isoAdmin, config: true,
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, _ string) isoCall {
				return isoCall{path: v1 + "/business-roles", body: map[string]any{"name": f.next("role")}}
			},
			expect: isoWide(isoConst(http.StatusCreated))},
		{pattern: "GET /api/v1/business-roles/{id}", need: isoRead, targets: isoCfgTargets,
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/business-roles/" + f.role[target], at: f.scope[target]}
			},
			expect: isoReach(http.StatusOK),
			check: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string, _ isoCall, res testkit.Response) {
				isoIDIs(t, res, f.role[target])
			}},
		{pattern: "PATCH /api/v1/business-roles/{id}", need: isoAdmin, targets: isoCfgTargets,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/business-roles/" + f.freshRole(t, target), body: map[string]any{"description": "changed"}, at: f.scope[target]}
			},
			expect: isoWide(isoReach(http.StatusOK))},
		{pattern: "DELETE /api/v1/business-roles/{id}", need: isoAdmin, targets: isoCfgTargets,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/business-roles/" + f.freshRole(t, target), at: f.scope[target]}
			},
			expect: isoWide(isoReach(http.StatusNoContent))},
		{pattern: "GET /api/v1/business-roles/{id}/holders", need: isoRead, targets: isoCfgTargets,
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/business-roles/" + f.role[target] + "/holders", at: f.scope[target]}
			},
			expect: isoReach(http.StatusOK),
			check: func(t *testing.T, f *isoFixture, p isoPrincipal, target string, _ isoCall, res testkit.Response) {
				// Organization tokens see the holders in their reach only.
				pool := map[string]bool{}
				for k := range f.fixUsers {
					pool[k] = true
				}
				for k := range f.fixGroups {
					pool[k] = true
				}
				isoListCheck(t, f, p, isoRekey(t, res, "holder_id"), pool, f.holders[f.role[target]])
			}},
		{pattern: "PUT /api/v1/business-roles/{id}/holders/{holder_type}/{holder_id}", variant: "user", need: isoManage, targets: isoAssignPairs,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				r, u, _ := strings.Cut(target, "/")
				return isoCall{path: v1 + "/business-roles/" + f.role[r] + "/holders/user/" + f.freshUser(t, u, user.Active), at: f.scope[r], other: f.scope[u]}
			},
			expect: isoGrant(http.StatusNoContent)},
		{pattern: "PUT /api/v1/business-roles/{id}/holders/{holder_type}/{holder_id}", variant: "group", need: isoManage, targets: isoAssignPairs,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				r, g, _ := strings.Cut(target, "/")
				return isoCall{path: v1 + "/business-roles/" + f.role[r] + "/holders/group/" + f.freshGroup(t, g), at: f.scope[r], other: f.scope[g]}
			},
			expect: isoGrant(http.StatusNoContent)},
		{pattern: "DELETE /api/v1/business-roles/{id}/holders/{holder_type}/{holder_id}", need: isoManage, targets: isoAssignPairs,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				r, u, _ := strings.Cut(target, "/")
				uid := f.freshUser(t, u, user.Active)
				rs, us := f.scope[r], f.scope[u]
				if rs.tenant != "" && rs.tenant == us.tenant {
					isoCheck(t, f.env.Server.Access.AddHolder(f.ctx, f.tscope(rs), access.RoleID(f.role[r]), access.Holder{Type: access.PrincipalUser, ID: uid}))
				}
				return isoCall{path: v1 + "/business-roles/" + f.role[r] + "/holders/user/" + uid, at: rs, other: us}
			},
			// A user out of reach cannot hold the role: no such holder.
			expect: isoBoth(http.StatusNoContent)},

		// Access reports.
		{pattern: "GET /api/v1/reports/app-accounts", need: isoRead, targets: isoCfgTargets,
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/reports/app-accounts?limit=500&application_id=" + f.app[target], at: f.scope[target]}
			},
			// An application's accounts span organizations. History outlives
			// deleted applications, so an unknown id is an empty report.
			expect: isoWide(isoConst(http.StatusOK)),
			check: func(t *testing.T, f *isoFixture, p isoPrincipal, target string, _ isoCall, res testkit.Response) {
				isoListCheck(t, f, p, isoRekey(t, res, "user_id"), f.fixUsers, f.accounts[f.app[target]])
			}},
		{pattern: "GET /api/v1/reports/user-permissions", need: isoRead, targets: isoIDTargets,
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/reports/user-permissions?user_id=" + f.user[target], at: f.scope[target]}
			},
			expect: func(p isoPrincipal, _ string, c isoCall) int {
				if p.wide() || p.sees(c.at) {
					return http.StatusOK // a tenant-wide caller gets an empty list for an unknown id
				}
				return http.StatusForbidden
			},
			check: func(t *testing.T, f *isoFixture, p isoPrincipal, target string, c isoCall, res testkit.Response) {
				var l struct {
					Items []struct {
						App  string `json:"application_id"`
						User string `json:"user_id"`
					} `json:"items"`
				}
				res.Decode(t, &l)
				if p.sees(c.at) != (len(l.Items) > 0) {
					t.Errorf("LEAK or loss: %d grants for %s's user %s", len(l.Items), target, f.user[target])
				}
				for _, g := range l.Items {
					if g.User != f.user[target] || !p.sees(f.objects[g.App]) {
						t.Errorf("LEAK: grant %+v", g)
					}
				}
			}},
		{pattern: "GET /api/v1/reports/access-changes", need: isoRead, targets: isoCfgTargets,
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/reports/access-changes?limit=500&since=2000-01-01T00:00:00Z&application_id=" + f.app[target], at: f.scope[target]}
			},
			expect: isoWide(isoConst(http.StatusOK)),
			check: func(t *testing.T, f *isoFixture, p isoPrincipal, target string, _ isoCall, res testkit.Response) {
				isoListCheck(t, f, p, isoRekey(t, res, "user_id"), nil, f.accounts[f.app[target]])
			}},
		// Without since, the window starts at the beginning: the same changes
		// as with an early since.
		{pattern: "GET /api/v1/reports/access-changes", variant: "default window", need: isoRead, targets: isoCfgTargets,
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/reports/access-changes?limit=500&application_id=" + f.app[target], at: f.scope[target]}
			},
			expect: isoWide(isoConst(http.StatusOK)),
			check: func(t *testing.T, f *isoFixture, p isoPrincipal, target string, c isoCall, res testkit.Response) {
				early := f.env.Do(t, http.MethodGet, c.path+"&since=2000-01-01T00:00:00Z", p.token, nil)
				isoExpect(t, early, http.StatusOK)
				if got, want := len(isoRekeyItems(t, res)), len(isoRekeyItems(t, early)); got != want {
					t.Errorf("without since the report holds %d changes, with since=2000-01-01 %d", got, want)
				}
				isoListCheck(t, f, p, isoRekey(t, res, "user_id"), nil, []string{})
			}},

		// The audit log covers the whole tenant: organization-scoped tokens
		// read none of it; tenant-wide ones only their own tenant's.
		{pattern: "GET /api/v1/audit/events", variant: "all", need: isoRead, request: get(v1 + "/audit/events?limit=500"),
			expect: isoWide(isoConst(http.StatusOK)),
			check: func(t *testing.T, f *isoFixture, p isoPrincipal, _ string, _ isoCall, res testkit.Response) {
				if n := isoAuditCheck(t, f, p, isoRekeyItems(t, res)); n == 0 {
					t.Errorf("no events")
				}
			}},
		{pattern: "GET /api/v1/audit/events", variant: "target_id", need: isoRead, targets: isoIDTargets,
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/audit/events?target_id=" + f.user[target], at: f.scope[target]}
			},
			expect: isoWide(isoConst(http.StatusOK)),
			check: func(t *testing.T, f *isoFixture, p isoPrincipal, _ string, c isoCall, res testkit.Response) {
				if n := isoAuditCheck(t, f, p, isoRekeyItems(t, res)); (n > 0) != p.sees(c.at) {
					t.Errorf("LEAK or loss: %d events about a user of %+v", n, c.at)
				}
			}},
		{pattern: "GET /api/v1/audit/export", need: isoRead, request: get(v1 + "/audit/export"),
			expect: isoWide(isoConst(http.StatusOK)),
			check: func(t *testing.T, f *isoFixture, p isoPrincipal, _ string, _ isoCall, res testkit.Response) {
				var lines []map[string]any
				for _, l := range strings.Split(strings.TrimSpace(string(res.Body)), "\n") {
					var m map[string]any
					isoCheck(t, json.Unmarshal([]byte(l), &m))
					lines = append(lines, m)
				}
				isoAuditCheck(t, f, p, lines)
			}},
		{pattern: "GET /api/v1/audit/feed", need: isoRead, request: get(v1 + "/audit/feed?limit=500"),
			expect: isoWide(isoConst(http.StatusOK)),
			check: func(t *testing.T, f *isoFixture, p isoPrincipal, _ string, _ isoCall, res testkit.Response) {
				for oid, s := range f.objects {
					if s.tenant != p.tenant && strings.Contains(string(res.Body), oid) {
						t.Errorf("LEAK: the feed names %s of tenant %s", oid, s.tenant)
					}
				}
			}},
		{pattern: "POST /api/v1/audit/verify", need: isoAdmin, request: get(v1 + "/audit/verify"),
			expect: isoWide(isoConst(http.StatusOK)),
			check: func(t *testing.T, _ *isoFixture, _ isoPrincipal, _ string, _ isoCall, res testkit.Response) {
				if ok, _ := res.JSON(t)["ok"].(bool); !ok {
					t.Errorf("audit chain does not verify: %s", res.Body)
				}
			}},
		{pattern: "GET /api/v1/audit/settings", need: isoRead, request: get(v1 + "/audit/settings"),
			expect: isoWide(isoConst(http.StatusOK))},
		{pattern: "PUT /api/v1/audit/settings", need: isoAdmin,
			request: func(*testing.T, *isoFixture, isoPrincipal, string) isoCall {
				return isoCall{path: v1 + "/audit/settings", body: map[string]any{"retention_days": 400}}
			},
			expect: isoWide(isoConst(http.StatusOK))},
		{pattern: "GET /api/v1/reports/sign-ins", need: isoRead, targets: isoCfgTargets,
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/reports/sign-ins?application_id=" + f.app[target], at: f.scope[target]}
			},
			expect: isoWide(isoConst(http.StatusOK)),
			check: func(t *testing.T, f *isoFixture, p isoPrincipal, _ string, _ isoCall, res testkit.Response) {
				isoAuditCheck(t, f, p, isoRekeyItems(t, res))
			}},

		// Signing keys are public: every role and scope reads its own
		// tenant's, and only those; tenant-wide admins rotate them.
		{pattern: "GET /api/v1/signing-keys", need: isoRead, request: get(v1 + "/signing-keys?purpose=saml&algorithm=ES256"),
			expect: isoConst(http.StatusOK),
			check: func(t *testing.T, f *isoFixture, p isoPrincipal, _ string, _ isoCall, res testkit.Response) {
				want, err := f.env.Server.Keys.Published(f.ctx, f.tenantID[p.tenant], keys.PurposeSAML, keys.ES256)
				isoCheck(t, err)
				items := isoRekeyItems(t, res)
				if len(items) != len(want) {
					t.Fatalf("%d signing keys listed, the tenant publishes %d", len(items), len(want))
				}
				for i, it := range items {
					if it["id"] != string(want[i].ID) {
						t.Errorf("LEAK or loss: signing key %d is %v, want %s of tenant %s", i, it["id"], want[i].ID, p.tenant)
					}
				}
			}},
		{pattern: "POST /api/v1/signing-keys/rotate", need: isoAdmin,
			request: func(*testing.T, *isoFixture, isoPrincipal, string) isoCall {
				return isoCall{path: v1 + "/signing-keys/rotate", body: map[string]any{"purpose": "saml", "algorithm": "ES256"}}
			},
			expect: isoWide(isoConst(http.StatusOK)),
			check: func(t *testing.T, f *isoFixture, p isoPrincipal, _ string, _ isoCall, res testkit.Response) {
				now, err := f.env.Server.Keys.Published(f.ctx, f.tenantID[p.tenant], keys.PurposeSAML, keys.ES256)
				isoCheck(t, err)
				m := res.JSON(t)
				if id, _ := oasObj(m["active"])["id"].(string); id != string(now[0].ID) {
					t.Errorf("rotation activated %s, tenant %s's active key is %s", id, p.tenant, now[0].ID)
				}
			}},

		// API tokens.
		{pattern: "GET /api/v1/tokens", need: isoAdmin, request: get(v1 + "/tokens"),
			expect: isoWide(isoConst(http.StatusOK)),
			check: func(t *testing.T, f *isoFixture, p isoPrincipal, _ string, _ isoCall, res testkit.Response) {
				isoListCheck(t, f, p, res, nil, []string{})
			}},
		{pattern: "POST /api/v1/tokens", need: isoAdmin, targets: isoBodyTargets,
			request: func(_ *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				body := map[string]any{"name": f.next("api"), "role": "read-only"}
				if target != "-" {
					body["organization_id"] = f.org[target]
				}
				return isoCall{path: v1 + "/tokens", body: body, at: f.scope[target]}
			},
			expect: isoWide(isoCreateIn(http.StatusCreated)),
			check:  isoCheckHome},
		{pattern: "DELETE /api/v1/tokens/{id}", need: isoAdmin, targets: isoIDTargets,
			request: func(t *testing.T, f *isoFixture, _ isoPrincipal, target string) isoCall {
				return isoCall{path: v1 + "/tokens/" + f.freshToken(t, target), at: f.scope[target]}
			},
			expect: isoWide(isoReach(http.StatusOK))},
	}, isoSessionRows()...)
}

// isoCheckHome checks where a created user, group or token landed: in the
// organization named in the body, else in the caller's own (or none).
func isoCheckHome(t *testing.T, f *isoFixture, p isoPrincipal, target string, c isoCall, res testkit.Response) {
	t.Helper()
	want := p.org
	if target != "-" {
		want = c.at.org
	}
	got, _ := res.JSON(t)["organization_id"].(string)
	if got != want {
		t.Errorf("organization_id = %q, want %q", got, want)
	}
}

// known returns the set of ids the test knows (a snapshot), for exact checks
// on lists.
func (f *isoFixture) known() map[string]bool {
	out := make(map[string]bool, len(f.objects))
	for k := range f.objects {
		out[k] = true
	}
	return out
}

// fixtureIn returns the ids of pool that live in s.
func (f *isoFixture) fixtureIn(pool map[string]bool, s isoScope) []string {
	var out []string
	for k := range pool {
		if f.objects[k] == s {
			out = append(out, k)
		}
	}
	return out
}

// wantIfSees is ids when the filter subject in s is in reach, else nil (an
// empty list).
func (f *isoFixture) wantIfSees(p isoPrincipal, s isoScope, ids ...string) []string {
	if !p.sees(s) {
		return nil
	}
	if ids == nil {
		return []string{}
	}
	return ids
}

var isoIDPattern = regexp.MustCompile(`\b[a-z]{3}_[0-9a-z]{26}\b`)

type isoProblem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

func isoProblemOf(t *testing.T, res testkit.Response) isoProblem {
	t.Helper()
	if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", ct)
	}
	var p isoProblem
	if err := json.Unmarshal(res.Body, &p); err != nil {
		t.Fatalf("problem body: %v: %s", err, res.Body)
	}
	if p.Status != res.Status {
		t.Errorf("problem status %d, HTTP status %d", p.Status, res.Status)
	}
	return p
}

func TestIsolationMatrix(t *testing.T) {
	rows := isoRows()
	mux := isoServeMux(t)
	testkit.EachServer(t, func(t *testing.T, env *testkit.Env) {
		start := time.Now()
		f := isoNewFixture(t, env)
		cases, twins := 0, 0
		byStatus := map[int]int{}
		for _, row := range rows {
			t.Run(row.name(), func(t *testing.T) {
				targets := row.targets
				if targets == nil {
					targets = []string{"-"}
				}
				for _, p := range f.principals {
					t.Run(p.name, func(t *testing.T) {
						// The answer for an object out of reach must be the
						// answer for one that does not exist.
						answers := map[string]string{}
						for _, target := range targets {
							cases++
							t.Run(strings.ReplaceAll(target, "/", "→"), func(t *testing.T) {
								answers[target] = isoRunCase(t, f, mux, row, p, target)
								var st int
								fmt.Sscan(answers[target], &st)
								byStatus[st]++
							})
						}
						for target, got := range answers {
							twin := isoTwin(f, p, target)
							want, ok := answers[twin]
							if !ok || twin == target || got == "" || want == "" {
								continue
							}
							twins++
							if got != want {
								t.Errorf("LEAK: %s on out-of-reach %s answers %q, on nonexistent %s %q", row.name(), target, got, twin, want)
							}
						}
					})
				}
			})
		}
		t.Logf("isolation matrix: %d rows, %d principals, %d cases in %v; answers by status: %v; %d out-of-reach answers compared with a nonexistent id's",
			len(rows), len(f.principals), cases, time.Since(start).Round(time.Millisecond), byStatus, twins)
	})
}

// isoTwin is target with every part outside p's reach (another
// organization, the tenant level for an organization token, another tenant)
// replaced by "missing": the case whose answer target's must equal, so that
// nothing tells an object out of reach from one that does not exist.
func isoTwin(f *isoFixture, p isoPrincipal, target string) string {
	parts := strings.Split(target, "/")
	for i, part := range parts {
		s := f.scope[part]
		if ten, ok := strings.CutSuffix(part, "-empty"); ok {
			s = isoScope{ten, "fresh"} // a new organization of tenant ten
		}
		if s.tenant != "" && p.tenant != "" && !p.sees(s) {
			parts[i] = "missing"
		}
	}
	return strings.Join(parts, "/")
}

// isoRunCase runs one case and returns its status and problem detail (ids
// masked) for the leak comparison.
func isoRunCase(t *testing.T, f *isoFixture, mux *http.ServeMux, row isoRow, p isoPrincipal, target string) string {
	f.dry = true
	c := row.request(t, f, p, target)
	f.dry = false
	want := isoWant(row, p, target, c)
	if want < 300 { // it will change what it addresses: give it its own
		c = row.request(t, f, p, target)
	}
	method := row.method()
	if mux != nil { // the case must exercise the route it claims to
		if _, pat := mux.Handler(httptest.NewRequest(method, c.path, nil)); pat != row.pattern {
			t.Fatalf("%s %s is routed to %q, not %q", method, c.path, pat, row.pattern)
		}
	}
	var res testkit.Response
	do := func() { res = f.env.Do(t, method, c.path, p.token, c.body) }
	if want >= 300 && method != http.MethodGet {
		f.env.Unchanged(t, do) // a refused write changes nothing
	} else {
		do()
	}
	if res.Status != want {
		t.Fatalf("%s %s as %s: status %d, want %d: %s", method, c.path, p.name, res.Status, want, res.Body)
	}
	if want >= 400 {
		pr := isoProblemOf(t, res)
		if want == http.StatusUnauthorized && res.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("401 without WWW-Authenticate")
		}
		return fmt.Sprintf("%d %s", res.Status, isoIDPattern.ReplaceAllString(pr.Detail, "<id>"))
	}
	if row.check != nil {
		row.check(t, f, p, target, c, res)
	}
	if res.Status == http.StatusCreated {
		m := res.JSON(t)
		newID, _ := m["id"].(string)
		org, _ := m["organization_id"].(string)
		if row.pattern == "POST /api/v1/organizations" {
			org = newID
		}
		if row.config {
			org = isoConfig
		}
		home := isoScope{p.tenant, org}
		if row.home != nil {
			home = row.home(c)
		}
		if _, known := f.objects[newID]; !known && newID != "" {
			f.objects[newID] = home
		}
	}
	return fmt.Sprint(res.Status)
}

// Route coverage: a route added to routes.go without rows in the matrix
// fails here.

// isoRecordingMux records the patterns Routes registers, for when Routes
// takes an interface rather than *http.ServeMux.
type isoRecordingMux struct{ patterns []string }

func (m *isoRecordingMux) Handle(pattern string, _ http.Handler) {
	m.patterns = append(m.patterns, pattern)
}
func (m *isoRecordingMux) HandleFunc(pattern string, _ func(http.ResponseWriter, *http.Request)) {
	m.patterns = append(m.patterns, pattern)
}

func isoAPI() *api.API {
	return &api.API{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now, MaxBody: 1 << 20}
}

// isoRoutesParam is the type of Routes' mux parameter.
func isoRoutesParam(t *testing.T) reflect.Type {
	m := reflect.ValueOf((*api.API).Routes)
	if m.Type().NumIn() != 2 {
		t.Fatalf("api.API.Routes has an unexpected signature %v", m.Type())
	}
	return m.Type().In(1)
}

// isoServeMux returns a ServeMux holding the API's routes, or nil when Routes
// cannot take one.
func isoServeMux(t *testing.T) *http.ServeMux {
	mux := http.NewServeMux()
	pt := isoRoutesParam(t)
	if !reflect.TypeOf(mux).AssignableTo(pt) {
		t.Logf("api.API.Routes takes %v, which *http.ServeMux does not satisfy: routing of cases is not checked", pt)
		return nil
	}
	reflect.ValueOf((*api.API).Routes).Call([]reflect.Value{reflect.ValueOf(isoAPI()), reflect.ValueOf(mux)})
	return mux
}

var (
	isoRouteLine = regexp.MustCompile(`\bmux\.Handle(?:Func)?\(\s*"([^"]+)"`)
	isoRouteCall = regexp.MustCompile(`\bmux\.Handle(?:Func)?\(`)
)

// isoRegisteredPatterns lists the patterns Routes registers: recorded
// through a Mux interface when Routes takes one, else read from routes.go.
func isoRegisteredPatterns(t *testing.T) []string {
	pt := isoRoutesParam(t)
	rec := &isoRecordingMux{}
	if pt.Kind() == reflect.Interface && reflect.TypeOf(rec).Implements(pt) {
		reflect.ValueOf((*api.API).Routes).Call([]reflect.Value{reflect.ValueOf(isoAPI()), reflect.ValueOf(rec)})
		return rec.patterns
	}
	src, err := os.ReadFile("routes.go")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range isoRouteLine.FindAllSubmatch(src, -1) {
		out = append(out, string(m[1]))
	}
	if calls := len(isoRouteCall.FindAll(src, -1)); calls != len(out) {
		t.Fatalf("routes.go registers %d routes but only %d have a literal pattern this test can read", calls, len(out))
	}
	// Each pattern read from the text must be one the mux really holds.
	if mux := isoServeMux(t); mux != nil {
		fill := strings.NewReplacer("{id}", "x", "{domain}", "x.example", "{user_id}", "x", "{operation}", "x")
		for _, p := range out {
			method, path, ok := strings.Cut(p, " ")
			if !ok {
				method, path = http.MethodGet, p
			}
			if _, got := mux.Handler(httptest.NewRequest(method, fill.Replace(path), nil)); got != p {
				t.Errorf("routes.go pattern %q: the mux routes it to %q", p, got)
			}
		}
	}
	return out
}

func TestIsolationMatrixCoversEveryRoute(t *testing.T) {
	registered := isoRegisteredPatterns(t)
	if len(registered) < 10 {
		t.Fatalf("found only %d routes: %v", len(registered), registered)
	}
	inTable := map[string]bool{}
	for _, r := range isoRows() {
		inTable[r.pattern] = true
	}
	seen := map[string]bool{}
	for _, p := range registered {
		if seen[p] {
			t.Errorf("route %q registered twice", p)
		}
		seen[p] = true
		if !inTable[p] {
			t.Errorf("route %q has no row in the isolation matrix (isoRows): add one with the access it needs and the answers it must give", p)
		}
	}
	for p := range inTable {
		if !seen[p] {
			t.Errorf("isolation matrix row %q matches no registered route", p)
		}
	}
}

// An Idempotency-Key belongs to the principal that sent it: another tenant's
// or another token's request with the same key and body is never answered
// with the first one's saved response.
func TestIsolationIdempotencyKeys(t *testing.T) {
	testkit.EachServer(t, func(t *testing.T, env *testkit.Env) {
		f := isoNewFixture(t, env)
		by := map[string]isoPrincipal{}
		for _, p := range f.principals {
			by[p.name] = p
		}
		body := map[string]any{"name": "Idempotent"}
		post := func(p isoPrincipal) (string, testkit.Response) {
			res := env.Do(t, http.MethodPost, "/api/v1/groups", p.token, body, "Idempotency-Key", "same-key")
			isoExpect(t, res, http.StatusCreated)
			return res.JSON(t)["id"].(string), res
		}
		first, _ := post(by["a-admin"])
		again, res := post(by["a-admin"])
		if again != first || res.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("same principal, same key: got %s (replayed %q), want a replay of %s", again, res.Header.Get("Idempotent-Replayed"), first)
		}
		for _, name := range []string{"b-admin", "o1-admin"} {
			other, res := post(by[name])
			if other == first || res.Header.Get("Idempotent-Replayed") != "" {
				t.Errorf("%s with the same key got %s's answer", name, "a-admin")
			}
			// The new group is the caller's own, in its own reach.
			isoExpect(t, env.Do(t, http.MethodGet, "/api/v1/groups/"+other, by[name].token, nil), http.StatusOK)
			isoRefused(t, env, http.StatusNotFound, http.MethodGet, "/api/v1/groups/"+first, by[name].token, nil)
		}
	})
}

// Helpers shared by this package's iso* tests.

// isoTXT is a DNS TXT resolver answering from a table, so domain
// verification never depends on the network.
type isoTXT struct {
	mu      sync.Mutex
	records map[string][]string
}

func (r *isoTXT) LookupTXT(_ context.Context, name string) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.records[strings.ToLower(name)]; ok {
		return v, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (r *isoTXT) set(name, value string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.records == nil {
		r.records = map[string][]string{}
	}
	r.records[strings.ToLower(name)] = []string{value}
}

// isoExpect asserts the status and returns the JSON object answered (nil
// when the body is empty).
func isoExpect(t *testing.T, res testkit.Response, status int) map[string]any {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status %d, want %d: %s", res.Status, status, res.Body)
	}
	if len(res.Body) == 0 {
		return nil
	}
	return res.JSON(t)
}

// isoRefused sends a request that must be refused with status, in
// problem+json, leaving the database unchanged. It returns the problem.
func isoRefused(t *testing.T, env *testkit.Env, status int, method, path, token string, body any, headers ...string) isoProblem {
	t.Helper()
	var res testkit.Response
	env.Unchanged(t, func() { res = env.Do(t, method, path, token, body, headers...) })
	if res.Status != status {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, res.Status, status, res.Body)
	}
	return isoProblemOf(t, res)
}

// isoCreate POSTs body to path and returns the new object's id.
func isoCreate(t *testing.T, env *testkit.Env, token, path string, body any) string {
	t.Helper()
	m := isoExpect(t, env.Do(t, http.MethodPost, path, token, body), http.StatusCreated)
	id, _ := m["id"].(string)
	if id == "" {
		t.Fatalf("POST %s answered no id: %v", path, m)
	}
	return id
}

// isoHasField reports whether the problem names field among its errors.
func isoHasField(t *testing.T, res testkit.Response, field string) bool {
	t.Helper()
	var p struct {
		Errors []struct {
			Field string `json:"field"`
		} `json:"errors"`
	}
	res.Decode(t, &p)
	for _, e := range p.Errors {
		if e.Field == field {
			return true
		}
	}
	return false
}
