package access_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/config"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/group"
	"github.com/tessera-iam/tessera/internal/page"
	"github.com/tessera-iam/tessera/internal/server"
	"github.com/tessera-iam/tessera/internal/store"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/testkit"
	"github.com/tessera-iam/tessera/internal/user"
)

// Reproduce a failure with the seed it logs:
//
//	go test ./internal/access -run 'TestRandomAccessMatchesReplay/sqlite' -seed 12345
//
// (or TESSERA_ACCESS_SEED=12345). -ops and -seeds change the run's size.
var (
	seedFlag  = flag.Uint64("seed", 0, "TestRandomAccessMatchesReplay: run only this seed (default: random seeds; env TESSERA_ACCESS_SEED)")
	opsFlag   = flag.Int("ops", 0, "TestRandomAccessMatchesReplay: operations per run (default 400, 150 with -short)")
	seedsFlag = flag.Int("seeds", 0, "TestRandomAccessMatchesReplay: seeds per database (default 3 on SQLite, 2 on PostgreSQL)")
)

// TestRandomAccessMatchesReplay drives the real services through long random
// sequences of changes with a controlled clock, keeps an independent
// brute-force model of who may use what, and then checks the interval index
// (PermissionsAt, AccountsAt, AccessChanges) against the model's history at
// every recorded instant and at random instants between them.
func TestRandomAccessMatchesReplay(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		clk := testkit.NewClock(time.Time{})
		srv := newServer(t, db, clk.Now)
		for i, seed := range randomSeeds(t, db.Dialect()) {
			t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
				t.Logf("seed %d (reproduce: go test ./internal/access -run 'TestRandomAccessMatchesReplay/%s' -seed %d)", seed, db.Dialect(), seed)
				clk.Set(time.Date(2031, 1, 1+i, 8, 0, 0, 0, time.UTC))
				runRandom(t, srv, clk, seed)
			})
		}
	})
}

func randomSeeds(t *testing.T, d store.Dialect) []uint64 {
	if *seedFlag != 0 {
		return []uint64{*seedFlag}
	}
	if s := os.Getenv("TESSERA_ACCESS_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("TESSERA_ACCESS_SEED: %v", err)
		}
		return []uint64{n}
	}
	n := 3
	if d == store.Postgres {
		n = 2
	}
	if *seedsFlag > 0 {
		n = *seedsFlag
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = rand.Uint64()%1_000_000_000 + 1 // short enough to type
	}
	return out
}

func opsPerRun() int {
	switch {
	case *opsFlag > 0:
		return *opsFlag
	case testing.Short():
		return 150
	}
	return 400
}

// newServer builds the full server (services and hooks as production wires
// them) on db with the clock now.
func newServer(t testing.TB, db *store.DB, now func() time.Time) *server.Server {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	testkit.FastArgon2(&cfg)
	s, err := server.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), db, now)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// ---------------------------------------------------------------------------
// The model: plain maps, and effective access computed from the rules alone.

type holder struct{ typ, id string }

type mUser struct {
	org     tenant.OrgID
	status  user.Status
	deleted bool
}

type mGroup struct {
	org     tenant.OrgID
	members map[user.ID]bool
	deleted bool
}

type mRole struct {
	holders map[holder]bool
	deleted bool
}

type mApp struct {
	active  bool
	roles   []string
	seats   int
	deleted bool
}

type mAssignment struct {
	app     access.AppID
	ptype   string
	pid     string
	roles   []string
	deleted bool
}

type model struct {
	orgs   map[tenant.OrgID]bool // id -> active
	users  map[user.ID]*mUser
	groups map[group.ID]*mGroup
	roles  map[access.RoleID]*mRole
	apps   map[access.AppID]*mApp
	asgs   map[access.AssignmentID]*mAssignment
	// Creation order, for reproducible random picks (never map order).
	orgIDs   []tenant.OrgID
	userIDs  []user.ID
	groupIDs []group.ID
	roleIDs  []access.RoleID
	appIDs   []access.AppID
	asgIDs   []access.AssignmentID
}

func newModel() *model {
	return &model{orgs: map[tenant.OrgID]bool{}, users: map[user.ID]*mUser{}, groups: map[group.ID]*mGroup{},
		roles: map[access.RoleID]*mRole{}, apps: map[access.AppID]*mApp{}, asgs: map[access.AssignmentID]*mAssignment{}}
}

func (m *model) clone() *model {
	c := newModel()
	for k, v := range m.orgs {
		c.orgs[k] = v
	}
	for k, v := range m.users {
		u := *v
		c.users[k] = &u
	}
	for k, v := range m.groups {
		g := *v
		g.members = map[user.ID]bool{}
		for u := range v.members {
			g.members[u] = true
		}
		c.groups[k] = &g
	}
	for k, v := range m.roles {
		r := *v
		r.holders = map[holder]bool{}
		for h := range v.holders {
			r.holders[h] = true
		}
		c.roles[k] = &r
	}
	for k, v := range m.apps {
		a := *v
		a.roles = slices.Clone(v.roles)
		c.apps[k] = &a
	}
	for k, v := range m.asgs {
		a := *v
		a.roles = slices.Clone(v.roles)
		c.asgs[k] = &a
	}
	c.orgIDs = slices.Clone(m.orgIDs)
	c.userIDs = slices.Clone(m.userIDs)
	c.groupIDs = slices.Clone(m.groupIDs)
	c.roleIDs = slices.Clone(m.roleIDs)
	c.appIDs = slices.Clone(m.appIDs)
	c.asgIDs = slices.Clone(m.asgIDs)
	return c
}

func (m *model) userLive(id string) bool {
	u, ok := m.users[user.ID(id)]
	return ok && !u.deleted
}

func (m *model) groupLive(id string) bool {
	g, ok := m.groups[group.ID(id)]
	return ok && !g.deleted
}

func (m *model) roleLive(id string) bool {
	r, ok := m.roles[access.RoleID(id)]
	return ok && !r.deleted
}

func (m *model) appLive(id access.AppID) bool {
	a, ok := m.apps[id]
	return ok && !a.deleted
}

func (m *model) principalLive(typ, id string) bool {
	switch typ {
	case access.PrincipalUser:
		return m.userLive(id)
	case access.PrincipalGroup:
		return m.groupLive(id)
	case access.PrincipalBusinessRole:
		return m.roleLive(id)
	}
	return false
}

// assignmentOf finds the live assignment of a principal to an app.
func (m *model) assignmentOf(app access.AppID, typ, id string) (access.AssignmentID, bool) {
	for _, aid := range m.asgIDs {
		a := m.asgs[aid]
		if !a.deleted && a.app == app && a.ptype == typ && a.pid == id {
			return aid, true
		}
	}
	return "", false
}

// dropPrincipal ends the assignments and holdings naming a deleted principal.
func (m *model) dropPrincipal(typ, id string) {
	for _, a := range m.asgs {
		if a.ptype == typ && a.pid == id {
			a.deleted = true
		}
	}
	if typ == access.PrincipalUser || typ == access.PrincipalGroup {
		for _, r := range m.roles {
			delete(r.holders, holder{typ, id})
		}
	}
}

// grants is the brute-force answer to "who may use what, and through what,
// in this state": every assignment expanded to the users it reaches, kept
// only for usable users (existing, active, in an active organization or
// none) of active applications.
func (m *model) grants() map[access.Grant]bool {
	out := map[access.Grant]bool{}
	usable := func(id user.ID) bool {
		u, ok := m.users[id]
		if !ok || u.deleted || u.status != user.Active {
			return false
		}
		return u.org == "" || m.orgs[u.org]
	}
	for _, aid := range m.asgIDs {
		a := m.asgs[aid]
		if a.deleted {
			continue
		}
		app := m.apps[a.app]
		if app.deleted || !app.active {
			continue
		}
		var roles []string
		for _, r := range a.roles {
			if slices.Contains(app.roles, r) {
				roles = append(roles, r)
			}
		}
		if len(roles) == 0 {
			roles = []string{""}
		}
		var via access.Via
		reached := map[user.ID]bool{}
		membersOf := func(g string) {
			if gr, ok := m.groups[group.ID(g)]; ok && !gr.deleted {
				for u := range gr.members {
					reached[u] = true
				}
			}
		}
		switch a.ptype {
		case access.PrincipalUser:
			via = access.Via{Type: access.ViaDirect}
			reached[user.ID(a.pid)] = true
		case access.PrincipalGroup:
			via = access.Via{Type: access.ViaGroup, ID: a.pid}
			membersOf(a.pid)
		case access.PrincipalBusinessRole:
			via = access.Via{Type: access.ViaBusinessRole, ID: a.pid}
			if r, ok := m.roles[access.RoleID(a.pid)]; ok && !r.deleted {
				for h := range r.holders {
					if h.typ == access.PrincipalUser {
						reached[user.ID(h.id)] = true
					} else {
						membersOf(h.id)
					}
				}
			}
		}
		for u := range reached {
			if !usable(u) {
				continue
			}
			for _, r := range roles {
				out[access.Grant{User: u, App: a.app, Role: r, Via: via}] = true
			}
		}
	}
	return out
}

// seatsUsed counts the users with any grant on each application.
func seatsUsed(gs map[access.Grant]bool) map[access.AppID]int {
	seen := map[access.Grant]bool{}
	out := map[access.AppID]int{}
	for g := range gs {
		k := access.Grant{User: g.User, App: g.App}
		if !seen[k] {
			seen[k] = true
			out[g.App]++
		}
	}
	return out
}

// overSeats reports whether some application has more users than seats.
func (m *model) overSeats() bool {
	used := seatsUsed(m.grants())
	for id, a := range m.apps {
		if !a.deleted && a.seats > 0 && used[id] > a.seats {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// Outcomes: the model predicts each call's, the service must agree.

type outcome int

const (
	outOK outcome = iota
	outNotFound
	outConflict
	outInvalid
	outSeats
)

func (o outcome) String() string {
	return [...]string{"ok", "not found", "conflict", "invalid", "seats"}[o]
}

func classify(err error) (outcome, bool) {
	var se *access.SeatsError
	switch {
	case err == nil:
		return outOK, true
	case errors.As(err, &se):
		return outSeats, true
	case errors.Is(err, errkind.NotFound):
		return outNotFound, true
	case errors.Is(err, errkind.Conflict):
		return outConflict, true
	case errors.Is(err, errkind.Invalid):
		return outInvalid, true
	}
	return 0, false
}

// step is one generated operation: what the model expects, the state it
// leads to when it succeeds, and the call to the real service.
type step struct {
	desc string
	want outcome
	next *model       // nil: the state does not change
	call func() error // may record created ids in next
}

type opRecord struct {
	at   time.Time
	desc string
	got  outcome
}

// snapshot is the model's effective access from at until the next one.
type snapshot struct {
	at     time.Time
	grants map[access.Grant]bool
}

type randomRun struct {
	t      *testing.T
	ctx    context.Context
	srv    *server.Server
	clk    *testkit.Clock
	r      *rand.Rand
	seed   uint64
	sc     tenant.Scope
	m      *model
	names  map[string]string // id -> short label for messages
	counts map[string]int
	ops    []opRecord
	snaps  []snapshot
}

func (rr *randomRun) label(prefix, id string) string {
	rr.counts[prefix]++
	l := fmt.Sprintf("%s%d", prefix, rr.counts[prefix])
	rr.names[id] = l
	return l
}

func (rr *randomRun) n(id string) string {
	if l, ok := rr.names[id]; ok {
		return l
	}
	if id == "" {
		return "-"
	}
	return id
}

func (rr *randomRun) grantString(g access.Grant) string {
	role := g.Role
	if role == "" {
		role = `""`
	}
	via := g.Via.Type
	if g.Via.ID != "" {
		via += ":" + rr.n(g.Via.ID)
	}
	return fmt.Sprintf("%s %s role=%s via=%s", rr.n(string(g.User)), rr.n(string(g.App)), role, via)
}

func (rr *randomRun) fatalf(format string, args ...any) {
	rr.t.Helper()
	rr.fatalfAt(len(rr.ops)-1, format, args...)
}

// fatalfAt fails showing the operations around op #focus.
func (rr *randomRun) fatalfAt(focus int, format string, args ...any) {
	rr.t.Helper()
	var b strings.Builder
	from, to := max(focus-10, 0), min(focus+4, len(rr.ops))
	for i := from; i < to; i++ {
		o := rr.ops[i]
		fmt.Fprintf(&b, "\n  #%d %s %s -> %s", i, o.at.Format(time.RFC3339Nano), o.desc, o.got)
	}
	rr.t.Fatalf("seed %d: %s\noperations #%d to #%d:%s", rr.seed, fmt.Sprintf(format, args...), from, to-1, b.String())
}

// opAt is the number of the last operation at or before at (-1: none).
func (rr *randomRun) opAt(at time.Time) int {
	i, found := slices.BinarySearchFunc(rr.ops, at, func(o opRecord, t time.Time) int { return o.at.Compare(t) })
	if !found {
		i--
	}
	return i
}

// instant names a time, and the operation made at it if any.
func (rr *randomRun) instant(at time.Time) string {
	if at.IsZero() {
		return "(open)"
	}
	s := at.Format(time.RFC3339Nano)
	if i := rr.opAt(at); i >= 0 && rr.ops[i].at.Equal(at) {
		s += fmt.Sprintf(" [op #%d %s]", i, rr.ops[i].desc)
	} else {
		s += fmt.Sprintf(" [after op #%d]", i)
	}
	return s
}

func (rr *randomRun) must(err error, what string) {
	rr.t.Helper()
	if err != nil {
		rr.t.Fatalf("seed %d: %s: %v", rr.seed, what, err)
	}
}

func (rr *randomRun) tick() time.Time {
	return rr.clk.Advance(time.Duration(1+rr.r.IntN(1000)) * time.Millisecond)
}

func (rr *randomRun) record() {
	rr.snaps = append(rr.snaps, snapshot{at: rr.clk.Now(), grants: rr.m.grants()})
}

var appRolePool = []string{"viewer", "editor", "admin", "approver", "clerk"}

func runRandom(t *testing.T, srv *server.Server, clk *testkit.Clock, seed uint64) {
	start := time.Now()
	rr := &randomRun{t: t, ctx: context.Background(), srv: srv, clk: clk, seed: seed,
		r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), m: newModel(),
		names: map[string]string{}, counts: map[string]int{}}
	tn, err := srv.Tenants.CreateTenant(rr.ctx, fmt.Sprintf("rnd-%d", seed), "Random")
	rr.must(err, "create tenant")
	rr.sc = tenant.Scope{Tenant: tn.ID}
	rr.setup()
	rr.record()
	nops := opsPerRun()
	outcomes := map[outcome]int{}
	for i := 0; i < nops; i++ {
		rr.tick()
		st := rr.generate()
		if st.want == outOK && st.next != nil && st.next.overSeats() {
			st.want = outSeats
		}
		err := st.call()
		got, known := classify(err)
		rr.ops = append(rr.ops, opRecord{at: rr.clk.Now(), desc: st.desc, got: got})
		if !known {
			rr.fatalf("op #%d %s: unexpected error: %v", i, st.desc, err)
		}
		if got != st.want {
			rr.fatalf("op #%d %s: got %s (%v), the model expects %s", i, st.desc, got, err, st.want)
		}
		outcomes[got]++
		if got == outOK && st.next != nil {
			rr.m = st.next
		}
		rr.record()
	}
	genTime := time.Since(start)
	rr.verify()
	t.Logf("seed %d: %d operations %v; %s; generation %v, verification %v", seed, nops, outcomes, rr.stats(),
		genTime.Round(time.Millisecond), (time.Since(start) - genTime).Round(time.Millisecond))
}

// stats says how much the run exercised: intervals by path, roleless
// grants, the largest state.
func (rr *randomRun) stats() string {
	byVia := map[string]int{}
	n, roleless, most := 0, 0, 0
	for g, rs := range rr.runs() {
		n += len(rs)
		byVia[g.Via.Type] += len(rs)
		if g.Role == "" {
			roleless += len(rs)
		}
	}
	for _, s := range rr.snaps {
		most = max(most, len(s.grants))
	}
	return fmt.Sprintf("%d intervals %v (%d without a role), at most %d grants at once", n, byVia, roleless, most)
}

// setup creates the starting universe: organizations, users (some with no
// organization, some staged), tenant-wide and organization groups, business
// roles and applications with a few roles (one with seats). No access yet.
func (rr *randomRun) setup() {
	norgs := 2 + rr.r.IntN(2)
	for range norgs {
		rr.tick()
		rr.createOrg()
	}
	for range 12 {
		rr.tick()
		rr.createUserNow()
	}
	for range 5 {
		rr.tick()
		rr.createGroupNow()
	}
	for range 4 {
		rr.tick()
		rr.createRoleNow()
	}
	for i := range 4 {
		rr.tick()
		seats := 0
		if i == 0 {
			seats = 3 + rr.r.IntN(4)
		}
		rr.createAppNow(seats)
	}
}

func (rr *randomRun) createOrg() {
	o, err := rr.srv.Tenants.CreateOrganization(rr.ctx, rr.sc, tenant.NewOrganization{Name: fmt.Sprintf("Org %d", len(rr.m.orgIDs)+1)})
	rr.must(err, "create organization")
	rr.m.orgs[o.ID] = true
	rr.m.orgIDs = append(rr.m.orgIDs, o.ID)
	rr.label("o", string(o.ID))
}

func (rr *randomRun) randomOrgOrNone() tenant.OrgID {
	if rr.r.IntN(3) == 0 {
		return ""
	}
	return rr.m.orgIDs[rr.r.IntN(len(rr.m.orgIDs))]
}

func (rr *randomRun) newUserInput() user.NewUser {
	status := user.Active
	if rr.r.IntN(8) == 0 {
		status = user.Staged
	}
	return user.NewUser{Username: fmt.Sprintf("user%d", len(rr.m.userIDs)+1), Org: rr.randomOrgOrNone(), Status: status}
}

func addUser(m *model, id user.ID, in user.NewUser) {
	m.users[id] = &mUser{org: in.Org, status: in.Status}
	m.userIDs = append(m.userIDs, id)
}

func (rr *randomRun) createUserNow() {
	in := rr.newUserInput()
	u, err := rr.srv.Users.Create(rr.ctx, rr.sc, in)
	rr.must(err, "create user")
	addUser(rr.m, u.ID, in)
	rr.label("u", string(u.ID))
}

func (rr *randomRun) newGroupInput() group.NewGroup {
	org := tenant.OrgID("")
	if rr.r.IntN(5) < 3 {
		org = rr.m.orgIDs[rr.r.IntN(len(rr.m.orgIDs))]
	}
	return group.NewGroup{Name: fmt.Sprintf("Group %d", len(rr.m.groupIDs)+1), Org: org}
}

func addGroup(m *model, id group.ID, in group.NewGroup) {
	m.groups[id] = &mGroup{org: in.Org, members: map[user.ID]bool{}}
	m.groupIDs = append(m.groupIDs, id)
}

func (rr *randomRun) createGroupNow() {
	in := rr.newGroupInput()
	g, err := rr.srv.Groups.Create(rr.ctx, rr.sc, in)
	rr.must(err, "create group")
	addGroup(rr.m, g.ID, in)
	rr.label("g", string(g.ID))
}

func addRole(m *model, id access.RoleID) {
	m.roles[id] = &mRole{holders: map[holder]bool{}}
	m.roleIDs = append(m.roleIDs, id)
}

func (rr *randomRun) createRoleNow() {
	r, err := rr.srv.Access.CreateBusinessRole(rr.ctx, rr.sc, fmt.Sprintf("Role %d", len(rr.m.roleIDs)+1), "")
	rr.must(err, "create business role")
	addRole(rr.m, r.ID)
	rr.label("r", string(r.ID))
}

func (rr *randomRun) randomAppRoles() []string {
	pool := slices.Clone(appRolePool)
	rr.r.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
	return pool[:rr.r.IntN(4)]
}

func appRoles(names []string) []access.AppRole {
	out := make([]access.AppRole, len(names))
	for i, n := range names {
		out[i] = access.AppRole{Name: n}
	}
	return out
}

func addApp(m *model, id access.AppID, roles []string, seats int) {
	m.apps[id] = &mApp{active: true, roles: slices.Clone(roles), seats: seats}
	m.appIDs = append(m.appIDs, id)
}

func (rr *randomRun) createAppNow(seats int) {
	roles := rr.randomAppRoles()
	a, err := rr.srv.Access.CreateApplication(rr.ctx, rr.sc, access.NewApplication{Name: fmt.Sprintf("App %d", len(rr.m.appIDs)+1),
		Kind: access.KindSAML, Roles: appRoles(roles), Seats: seats})
	rr.must(err, "create application")
	addApp(rr.m, a.ID, roles, seats)
	rr.label("app", string(a.ID))
}

// ---------------------------------------------------------------------------
// Picking: mostly live entities, now and then a deleted one (to check the
// refusal), always from creation-ordered lists so a seed replays exactly.

func pickFrom[T comparable](r *rand.Rand, all []T, live func(T) bool) (T, bool) {
	var zero T
	if len(all) == 0 {
		return zero, false
	}
	if r.IntN(25) == 0 {
		return all[r.IntN(len(all))], true
	}
	var ls []T
	for _, x := range all {
		if live(x) {
			ls = append(ls, x)
		}
	}
	if len(ls) == 0 {
		return all[r.IntN(len(all))], true
	}
	return ls[r.IntN(len(ls))], true
}

func (rr *randomRun) pickUser() user.ID {
	u, _ := pickFrom(rr.r, rr.m.userIDs, func(id user.ID) bool { return rr.m.userLive(string(id)) })
	return u
}

func (rr *randomRun) pickGroup() group.ID {
	g, _ := pickFrom(rr.r, rr.m.groupIDs, func(id group.ID) bool { return rr.m.groupLive(string(id)) })
	return g
}

func (rr *randomRun) pickRole() (access.RoleID, bool) {
	return pickFrom(rr.r, rr.m.roleIDs, func(id access.RoleID) bool { return rr.m.roleLive(string(id)) })
}

func (rr *randomRun) pickApp() access.AppID {
	a, _ := pickFrom(rr.r, rr.m.appIDs, rr.m.appLive)
	return a
}

func (rr *randomRun) pickPrincipal() (access.Principal, bool) {
	switch rr.r.IntN(3) {
	case 0:
		return access.Principal{Type: access.PrincipalUser, ID: string(rr.pickUser())}, true
	case 1:
		return access.Principal{Type: access.PrincipalGroup, ID: string(rr.pickGroup())}, true
	}
	r, ok := rr.pickRole()
	return access.Principal{Type: access.PrincipalBusinessRole, ID: string(r)}, ok
}

// pickAssignment picks a live assignment (or, rarely, a removed one).
func (rr *randomRun) pickAssignment() (access.AssignmentID, bool) {
	return pickFrom(rr.r, rr.m.asgIDs, func(id access.AssignmentID) bool { return !rr.m.asgs[id].deleted })
}

// assignmentRoles picks some of an application's roles; now and then an
// unknown or repeated one, which must be refused.
func (rr *randomRun) assignmentRoles(app access.AppID) (roles []string, bad bool) {
	var defined []string
	if a, ok := rr.m.apps[app]; ok {
		defined = slices.Clone(a.roles)
	}
	rr.r.Shuffle(len(defined), func(i, j int) { defined[i], defined[j] = defined[j], defined[i] })
	roles = defined[:rr.r.IntN(len(defined)+1)]
	switch rr.r.IntN(30) {
	case 0:
		return append(roles, "no-such-role"), true
	case 1:
		if len(roles) > 0 {
			return append(roles, roles[0]), true
		}
	}
	return roles, false
}

func (rr *randomRun) principalString(p access.Principal) string {
	return p.Type + ":" + rr.n(p.ID)
}

// ---------------------------------------------------------------------------
// Operations.

type opKind struct {
	weight int
	gen    func(rr *randomRun) (step, bool)
}

var opKinds = []opKind{
	{18, (*randomRun).opAssign},
	{6, (*randomRun).opSetRoles},
	{6, (*randomRun).opUnassign},
	{16, (*randomRun).opAddMember},
	{5, (*randomRun).opRemoveMember},
	{10, (*randomRun).opAddHolder},
	{4, (*randomRun).opRemoveHolder},
	{9, (*randomRun).opTransition},
	{2, (*randomRun).opDeleteUser},
	{2, (*randomRun).opMoveUser},
	{2, (*randomRun).opCreateUser},
	{4, (*randomRun).opOrgStatus},
	{4, (*randomRun).opAppStatus},
	{4, (*randomRun).opAppRoles},
	{2, (*randomRun).opAppSeats},
	{1, (*randomRun).opCreateApp},
	{1, (*randomRun).opDeleteApp},
	{1, (*randomRun).opCreateGroup},
	{1, (*randomRun).opDeleteGroup},
	{1, (*randomRun).opCreateRole},
	{1, (*randomRun).opDeleteRole},
}

func (rr *randomRun) generate() step {
	total := 0
	for _, k := range opKinds {
		total += k.weight
	}
	for {
		n := rr.r.IntN(total)
		for _, k := range opKinds {
			if n < k.weight {
				if st, ok := k.gen(rr); ok {
					return st
				}
				break
			}
			n -= k.weight
		}
	}
}

func (rr *randomRun) opAssign() (step, bool) {
	app := rr.pickApp()
	p, ok := rr.pickPrincipal()
	if !ok || app == "" || p.ID == "" {
		return step{}, false
	}
	roles, bad := rr.assignmentRoles(app)
	st := step{desc: fmt.Sprintf("assign %s to %s roles=%v", rr.principalString(p), rr.n(string(app)), roles)}
	_, exists := rr.m.assignmentOf(app, p.Type, p.ID)
	switch {
	case !rr.m.appLive(app):
		st.want = outNotFound
	case !rr.m.principalLive(p.Type, p.ID) || bad:
		st.want = outInvalid
	case exists:
		st.want = outConflict
	default:
		st.next = rr.m.clone()
	}
	next := st.next
	if next != nil {
		// In the model before the call, for the seats prediction; under
		// its real id once the service has given one.
		next.asgs[pendingID] = &mAssignment{app: app, ptype: p.Type, pid: p.ID, roles: slices.Clone(roles)}
		next.asgIDs = append(next.asgIDs, pendingID)
	}
	st.call = func() error {
		as, err := rr.srv.Access.Assign(rr.ctx, rr.sc, app, access.NewAssignment{Principal: p, Roles: slices.Clone(roles)})
		if err == nil && next != nil {
			next.asgs[as.ID] = next.asgs[pendingID]
			delete(next.asgs, pendingID)
			next.asgIDs[len(next.asgIDs)-1] = as.ID
			rr.label("asg", string(as.ID))
		}
		return err
	}
	return st, true
}

const pendingID = access.AssignmentID("pending")

func (rr *randomRun) opSetRoles() (step, bool) {
	aid, ok := rr.pickAssignment()
	if !ok {
		return step{}, false
	}
	a := rr.m.asgs[aid]
	roles, bad := rr.assignmentRoles(a.app)
	st := step{desc: fmt.Sprintf("set roles of %s (%s on %s) to %v", rr.n(string(aid)), rr.principalString(access.Principal{Type: a.ptype, ID: a.pid}),
		rr.n(string(a.app)), roles)}
	switch {
	case a.deleted:
		st.want = outNotFound
	case bad:
		st.want = outInvalid
	default:
		st.next = rr.m.clone()
		st.next.asgs[aid].roles = slices.Clone(roles)
	}
	st.call = func() error {
		_, err := rr.srv.Access.SetAssignmentRoles(rr.ctx, rr.sc, a.app, aid, slices.Clone(roles))
		return err
	}
	return st, true
}

func (rr *randomRun) opUnassign() (step, bool) {
	aid, ok := rr.pickAssignment()
	if !ok {
		return step{}, false
	}
	a := rr.m.asgs[aid]
	st := step{desc: fmt.Sprintf("unassign %s (%s on %s)", rr.n(string(aid)), rr.principalString(access.Principal{Type: a.ptype, ID: a.pid}), rr.n(string(a.app)))}
	if a.deleted {
		st.want = outNotFound
	} else {
		st.next = rr.m.clone()
		st.next.asgs[aid].deleted = true
	}
	st.call = func() error { return rr.srv.Access.Unassign(rr.ctx, rr.sc, a.app, aid) }
	return st, true
}

// pickMember picks a user for group g: usually one who may join it.
func (rr *randomRun) pickMember(g group.ID) user.ID {
	if gr := rr.m.groups[g]; gr.org != "" && rr.r.IntN(8) != 0 {
		var fit []user.ID
		for _, id := range rr.m.userIDs {
			if u := rr.m.users[id]; !u.deleted && u.org == gr.org {
				fit = append(fit, id)
			}
		}
		if len(fit) > 0 {
			return fit[rr.r.IntN(len(fit))]
		}
	}
	return rr.pickUser()
}

func (rr *randomRun) opAddMember() (step, bool) {
	g := rr.pickGroup()
	if g == "" {
		return step{}, false
	}
	u := rr.pickMember(g)
	gr, mu := rr.m.groups[g], rr.m.users[u]
	st := step{desc: fmt.Sprintf("add %s to %s", rr.n(string(u)), rr.n(string(g)))}
	switch {
	case gr.deleted || mu.deleted:
		st.want = outNotFound
	case gr.org != "" && mu.org != gr.org:
		st.want = outInvalid
	case gr.members[u]:
		// already a member: nothing changes
	default:
		st.next = rr.m.clone()
		st.next.groups[g].members[u] = true
	}
	st.call = func() error { return rr.srv.Groups.AddMember(rr.ctx, rr.sc, g, u) }
	return st, true
}

func (rr *randomRun) opRemoveMember() (step, bool) {
	g := rr.pickGroup()
	if g == "" {
		return step{}, false
	}
	gr := rr.m.groups[g]
	var u user.ID
	if ms := sortedMembers(gr); len(ms) > 0 && rr.r.IntN(6) != 0 {
		u = ms[rr.r.IntN(len(ms))]
	} else {
		u = rr.pickUser()
	}
	mu := rr.m.users[u]
	st := step{desc: fmt.Sprintf("remove %s from %s", rr.n(string(u)), rr.n(string(g)))}
	switch {
	case gr.deleted || mu.deleted || !gr.members[u]:
		st.want = outNotFound
	default:
		st.next = rr.m.clone()
		delete(st.next.groups[g].members, u)
	}
	st.call = func() error { return rr.srv.Groups.RemoveMember(rr.ctx, rr.sc, g, u) }
	return st, true
}

func sortedMembers(g *mGroup) []user.ID {
	var out []user.ID
	for u := range g.members {
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}

func (rr *randomRun) pickHolder() holder {
	if rr.r.IntN(2) == 0 {
		return holder{access.PrincipalUser, string(rr.pickUser())}
	}
	return holder{access.PrincipalGroup, string(rr.pickGroup())}
}

func (rr *randomRun) opAddHolder() (step, bool) {
	r, ok := rr.pickRole()
	if !ok {
		return step{}, false
	}
	h := rr.pickHolder()
	mr := rr.m.roles[r]
	st := step{desc: fmt.Sprintf("give %s to %s:%s", rr.n(string(r)), h.typ, rr.n(h.id))}
	switch {
	case mr.deleted:
		st.want = outNotFound
	case !rr.m.principalLive(h.typ, h.id):
		st.want = outInvalid
	case mr.holders[h]:
	default:
		st.next = rr.m.clone()
		st.next.roles[r].holders[h] = true
	}
	st.call = func() error {
		return rr.srv.Access.AddHolder(rr.ctx, rr.sc, r, access.Holder{Type: h.typ, ID: h.id})
	}
	return st, true
}

func (rr *randomRun) opRemoveHolder() (step, bool) {
	r, ok := rr.pickRole()
	if !ok {
		return step{}, false
	}
	mr := rr.m.roles[r]
	var h holder
	if hs := sortedHolders(mr); len(hs) > 0 && rr.r.IntN(6) != 0 {
		h = hs[rr.r.IntN(len(hs))]
	} else {
		h = rr.pickHolder()
	}
	st := step{desc: fmt.Sprintf("take %s from %s:%s", rr.n(string(r)), h.typ, rr.n(h.id))}
	switch {
	case mr.deleted || !mr.holders[h]:
		// A deleted user or group holds nothing either.
		st.want = outNotFound
	default:
		st.next = rr.m.clone()
		delete(st.next.roles[r].holders, h)
	}
	st.call = func() error {
		return rr.srv.Access.RemoveHolder(rr.ctx, rr.sc, r, access.Holder{Type: h.typ, ID: h.id})
	}
	return st, true
}

func sortedHolders(r *mRole) []holder {
	var out []holder
	for h := range r.holders {
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b holder) int { return strings.Compare(a.typ+"/"+a.id, b.typ+"/"+b.id) })
	return out
}

// transitions is the lifecycle as the product describes it.
var transitions = []struct {
	op   user.Op
	from []user.Status
	to   user.Status
}{
	{user.OpActivate, []user.Status{user.Staged}, user.Active},
	{user.OpSuspend, []user.Status{user.Active}, user.Suspended},
	{user.OpUnsuspend, []user.Status{user.Suspended}, user.Active},
	{user.OpDeactivate, []user.Status{user.Staged, user.Active, user.Suspended}, user.Deactivated},
	{user.OpReactivate, []user.Status{user.Deactivated}, user.Active},
}

func (rr *randomRun) opTransition() (step, bool) {
	u := rr.pickUser()
	if u == "" {
		return step{}, false
	}
	mu := rr.m.users[u]
	tr := transitions[rr.r.IntN(len(transitions))]
	if rr.r.IntN(5) != 0 {
		// Mostly a legal one, leaning toward active users (or most
		// would sit deactivated): weights 3 back to active, 2 suspend,
		// 1 deactivate.
		var legal []int
		for i, x := range transitions {
			if slices.Contains(x.from, mu.status) {
				w := map[user.Status]int{user.Active: 3, user.Suspended: 2, user.Deactivated: 1}[x.to]
				for range w {
					legal = append(legal, i)
				}
			}
		}
		if len(legal) > 0 {
			tr = transitions[legal[rr.r.IntN(len(legal))]]
		}
	}
	st := step{desc: fmt.Sprintf("%s %s (%s)", tr.op, rr.n(string(u)), mu.status)}
	switch {
	case mu.deleted:
		st.want = outNotFound
	case !slices.Contains(tr.from, mu.status):
		st.want = outConflict
	default:
		st.next = rr.m.clone()
		st.next.users[u].status = tr.to
	}
	st.call = func() error {
		_, err := rr.srv.Users.Transition(rr.ctx, rr.sc, u, tr.op, 0)
		return err
	}
	return st, true
}

func (rr *randomRun) opDeleteUser() (step, bool) {
	u := rr.pickUser()
	if u == "" {
		return step{}, false
	}
	mu := rr.m.users[u]
	st := step{desc: fmt.Sprintf("delete %s (%s)", rr.n(string(u)), mu.status)}
	switch {
	case mu.deleted:
		st.want = outNotFound
	case mu.status != user.Deactivated:
		st.want = outConflict
	default:
		st.next = rr.m.clone()
		st.next.users[u].deleted = true
		for _, g := range st.next.groups {
			delete(g.members, u)
		}
		st.next.dropPrincipal(access.PrincipalUser, string(u))
	}
	st.call = func() error { return rr.srv.Users.Delete(rr.ctx, rr.sc, u) }
	return st, true
}

// opMoveUser moves a user to another organization (or to tenant level): the
// user leaves the groups of every other organization.
func (rr *randomRun) opMoveUser() (step, bool) {
	u := rr.pickUser()
	if u == "" {
		return step{}, false
	}
	mu := rr.m.users[u]
	to := rr.randomOrgOrNone()
	st := step{desc: fmt.Sprintf("move %s from %s to %s", rr.n(string(u)), rr.n(string(mu.org)), rr.n(string(to)))}
	switch {
	case mu.deleted:
		st.want = outNotFound
	case mu.org == to:
	default:
		st.next = rr.m.clone()
		st.next.users[u].org = to
		for _, g := range st.next.groups {
			if g.org != "" && g.org != to {
				delete(g.members, u)
			}
		}
	}
	st.call = func() error {
		_, err := rr.srv.Users.Update(rr.ctx, rr.sc, u, user.Patch{Org: &to}, 0)
		return err
	}
	return st, true
}

func (rr *randomRun) opCreateUser() (step, bool) {
	if countLive(rr.m.userIDs, func(id user.ID) bool { return rr.m.userLive(string(id)) }) >= 16 {
		return step{}, false
	}
	in := rr.newUserInput()
	st := step{desc: fmt.Sprintf("create user %s in %s (%s)", in.Username, rr.n(string(in.Org)), in.Status), next: rr.m.clone()}
	next := st.next
	st.call = func() error {
		u, err := rr.srv.Users.Create(rr.ctx, rr.sc, in)
		if err == nil {
			addUser(next, u.ID, in)
			rr.label("u", string(u.ID))
		}
		return err
	}
	return st, true
}

func (rr *randomRun) opOrgStatus() (step, bool) {
	o := rr.m.orgIDs[rr.r.IntN(len(rr.m.orgIDs))]
	status := tenant.OrgActive
	if rr.r.IntN(5) == 0 {
		status = tenant.OrgSuspended
	}
	st := step{desc: fmt.Sprintf("set %s %s", rr.n(string(o)), status)}
	if active := status == tenant.OrgActive; rr.m.orgs[o] != active {
		st.next = rr.m.clone()
		st.next.orgs[o] = active
	}
	st.call = func() error {
		_, err := rr.srv.Tenants.UpdateOrganization(rr.ctx, rr.sc, o, tenant.OrganizationPatch{Status: &status}, 0)
		return err
	}
	return st, true
}

func (rr *randomRun) updateApp(app access.AppID, desc string, p access.AppPatch, apply func(*model)) step {
	st := step{desc: desc}
	if !rr.m.appLive(app) {
		st.want = outNotFound
	} else if apply != nil {
		st.next = rr.m.clone()
		apply(st.next)
	}
	st.call = func() error {
		_, err := rr.srv.Access.UpdateApplication(rr.ctx, rr.sc, app, p, 0)
		return err
	}
	return st
}

func (rr *randomRun) opAppStatus() (step, bool) {
	app := rr.pickApp()
	if app == "" {
		return step{}, false
	}
	status := access.AppActive
	if rr.r.IntN(5) == 0 {
		status = access.AppInactive
	}
	var apply func(*model)
	if a := rr.m.apps[app]; a.active != (status == access.AppActive) {
		apply = func(m *model) { m.apps[app].active = status == access.AppActive }
	}
	return rr.updateApp(app, fmt.Sprintf("set %s %s", rr.n(string(app)), status), access.AppPatch{Status: &status}, apply), true
}

// opAppRoles replaces an application's role list; the roles it drops leave
// every assignment (re-adding one later does not bring it back).
func (rr *randomRun) opAppRoles() (step, bool) {
	app := rr.pickApp()
	if app == "" {
		return step{}, false
	}
	roles := rr.randomAppRoles()
	if a := rr.m.apps[app]; len(a.roles) > 0 && rr.r.IntN(3) == 0 {
		roles = slices.Clone(a.roles[:len(a.roles)-1]) // just drop the last one
	}
	var apply func(*model)
	if old := rr.m.apps[app].roles; !slices.Equal(old, roles) {
		apply = func(m *model) {
			m.apps[app].roles = slices.Clone(roles)
			for _, a := range m.asgs {
				if a.app == app {
					a.roles = slices.DeleteFunc(a.roles, func(r string) bool { return !slices.Contains(roles, r) })
				}
			}
		}
	}
	ar := appRoles(roles)
	return rr.updateApp(app, fmt.Sprintf("set roles of %s to %v (were %v)", rr.n(string(app)), roles, rr.m.apps[app].roles),
		access.AppPatch{Roles: &ar}, apply), true
}

func (rr *randomRun) opAppSeats() (step, bool) {
	app := rr.pickApp()
	if app == "" {
		return step{}, false
	}
	seats := 0
	if rr.r.IntN(2) == 0 {
		seats = 1 + rr.r.IntN(8)
	}
	var apply func(*model)
	if rr.m.apps[app].seats != seats {
		apply = func(m *model) { m.apps[app].seats = seats }
	}
	return rr.updateApp(app, fmt.Sprintf("set seats of %s to %d (used %d)", rr.n(string(app)), seats, seatsUsed(rr.m.grants())[app]),
		access.AppPatch{Seats: &seats}, apply), true
}

// countLive counts the ids still alive.
func countLive[T any](ids []T, live func(T) bool) int {
	n := 0
	for _, id := range ids {
		if live(id) {
			n++
		}
	}
	return n
}

func (rr *randomRun) opCreateApp() (step, bool) {
	if countLive(rr.m.appIDs, rr.m.appLive) >= 6 {
		return step{}, false
	}
	roles := rr.randomAppRoles()
	seats := 0
	if rr.r.IntN(3) == 0 {
		seats = 2 + rr.r.IntN(5)
	}
	name := fmt.Sprintf("App %d", len(rr.m.appIDs)+1)
	st := step{desc: fmt.Sprintf("create application %q roles=%v seats=%d", name, roles, seats), next: rr.m.clone()}
	next := st.next
	st.call = func() error {
		a, err := rr.srv.Access.CreateApplication(rr.ctx, rr.sc, access.NewApplication{Name: name, Kind: access.KindOIDC,
			Roles: appRoles(roles), Seats: seats})
		if err == nil {
			addApp(next, a.ID, roles, seats)
			rr.label("app", string(a.ID))
		}
		return err
	}
	return st, true
}

func (rr *randomRun) opDeleteApp() (step, bool) {
	if countLive(rr.m.appIDs, rr.m.appLive) <= 3 {
		return step{}, false
	}
	app := rr.pickApp()
	st := step{desc: "delete " + rr.n(string(app))}
	if !rr.m.appLive(app) {
		st.want = outNotFound
	} else {
		st.next = rr.m.clone()
		st.next.apps[app].deleted = true
		for _, a := range st.next.asgs {
			if a.app == app {
				a.deleted = true
			}
		}
	}
	st.call = func() error { return rr.srv.Access.DeleteApplication(rr.ctx, rr.sc, app) }
	return st, true
}

func (rr *randomRun) opCreateGroup() (step, bool) {
	if countLive(rr.m.groupIDs, func(id group.ID) bool { return rr.m.groupLive(string(id)) }) >= 7 {
		return step{}, false
	}
	in := rr.newGroupInput()
	st := step{desc: fmt.Sprintf("create group %q in %s", in.Name, rr.n(string(in.Org))), next: rr.m.clone()}
	next := st.next
	st.call = func() error {
		g, err := rr.srv.Groups.Create(rr.ctx, rr.sc, in)
		if err == nil {
			addGroup(next, g.ID, in)
			rr.label("g", string(g.ID))
		}
		return err
	}
	return st, true
}

func (rr *randomRun) opDeleteGroup() (step, bool) {
	if countLive(rr.m.groupIDs, func(id group.ID) bool { return rr.m.groupLive(string(id)) }) <= 3 {
		return step{}, false
	}
	g := rr.pickGroup()
	st := step{desc: "delete " + rr.n(string(g))}
	if !rr.m.groupLive(string(g)) {
		st.want = outNotFound
	} else {
		st.next = rr.m.clone()
		st.next.groups[g].deleted = true
		st.next.groups[g].members = map[user.ID]bool{}
		st.next.dropPrincipal(access.PrincipalGroup, string(g))
	}
	st.call = func() error { return rr.srv.Groups.Delete(rr.ctx, rr.sc, g) }
	return st, true
}

func (rr *randomRun) opCreateRole() (step, bool) {
	if countLive(rr.m.roleIDs, func(id access.RoleID) bool { return rr.m.roleLive(string(id)) }) >= 6 {
		return step{}, false
	}
	name := fmt.Sprintf("Role %d", len(rr.m.roleIDs)+1)
	st := step{desc: fmt.Sprintf("create business role %q", name), next: rr.m.clone()}
	next := st.next
	st.call = func() error {
		r, err := rr.srv.Access.CreateBusinessRole(rr.ctx, rr.sc, name, "")
		if err == nil {
			addRole(next, r.ID)
			rr.label("r", string(r.ID))
		}
		return err
	}
	return st, true
}

func (rr *randomRun) opDeleteRole() (step, bool) {
	if countLive(rr.m.roleIDs, func(id access.RoleID) bool { return rr.m.roleLive(string(id)) }) <= 2 {
		return step{}, false
	}
	r, _ := rr.pickRole()
	st := step{desc: "delete " + rr.n(string(r))}
	if !rr.m.roleLive(string(r)) {
		st.want = outNotFound
	} else {
		st.next = rr.m.clone()
		st.next.roles[r].deleted = true
		st.next.roles[r].holders = map[holder]bool{}
		st.next.dropPrincipal(access.PrincipalBusinessRole, string(r))
	}
	st.call = func() error { return rr.srv.Access.DeleteBusinessRole(rr.ctx, rr.sc, r) }
	return st, true
}

// ---------------------------------------------------------------------------
// Verification.

// run is one stretch [from, to) during which the model held a grant; a zero
// to means it is still held.
type run struct{ from, to time.Time }

// runs replays the snapshots into the intervals the index should hold.
func (rr *randomRun) runs() map[access.Grant][]run {
	out := map[access.Grant][]run{}
	open := map[access.Grant]time.Time{}
	for _, s := range rr.snaps {
		for g, from := range open {
			if !s.grants[g] {
				out[g] = append(out[g], run{from, s.at})
				delete(open, g)
			}
		}
		for g := range s.grants {
			if _, ok := open[g]; !ok {
				open[g] = s.at
			}
		}
	}
	for g, from := range open {
		out[g] = append(out[g], run{from: from})
	}
	return out
}

// stateAt is the model's state at instant at: the last snapshot at or before it.
func (rr *randomRun) stateAt(at time.Time) map[access.Grant]bool {
	i, found := slices.BinarySearchFunc(rr.snaps, at, func(s snapshot, t time.Time) int { return s.at.Compare(t) })
	if !found {
		i--
	}
	if i < 0 {
		return map[access.Grant]bool{}
	}
	return rr.snaps[i].grants
}

// runsFrom is when the earliest of gs began its stretch covering at.
func runsFrom(runs map[access.Grant][]run, gs map[access.Grant]bool, at time.Time) time.Time {
	var out time.Time
	for g := range gs {
		if r, ok := runAt(runs[g], at); ok && (out.IsZero() || r.from.Before(out)) {
			out = r.from
		}
	}
	return out
}

func runAt(runs []run, at time.Time) (run, bool) {
	for _, r := range runs {
		if !r.from.After(at) && (r.to.IsZero() || r.to.After(at)) {
			return r, true
		}
	}
	return run{}, false
}

// instants are every snapshot's instant, one random instant between each
// two, and a few before the start and after the end.
func (rr *randomRun) instants() []time.Time {
	first, last := rr.snaps[0].at, rr.snaps[len(rr.snaps)-1].at
	out := []time.Time{first.Add(-time.Hour), first.Add(-time.Microsecond)}
	for i, s := range rr.snaps {
		out = append(out, s.at)
		if i+1 < len(rr.snaps) {
			if gap := rr.snaps[i+1].at.Sub(s.at) / time.Microsecond; gap > 1 {
				out = append(out, s.at.Add(time.Duration(1+rr.r.Int64N(int64(gap-1)))*time.Microsecond))
			}
		}
	}
	return append(out, last.Add(time.Microsecond), last.Add(time.Hour))
}

func (rr *randomRun) verify() {
	runs := rr.runs()
	var errs []string
	focus := -1
	reported := map[string]bool{}
	// report keeps the first disagreements, once each (key), and the
	// earliest operation involved, to show the history around it.
	report := func(key string, op int, format string, args ...any) {
		if key != "" && reported[key] || len(errs) >= 15 {
			return
		}
		reported[key] = true
		errs = append(errs, fmt.Sprintf(format, args...))
		if focus < 0 || op < focus {
			focus = op
		}
	}
	// check compares the intervals the index returned for one question
	// with the model: same grants, no duplicates, and each interval exactly
	// the model's stretch that covers the instant.
	check := func(what string, at time.Time, got []access.Interval, want map[access.Grant]bool) {
		op := rr.opAt(at)
		seen := map[access.Grant]bool{}
		for _, iv := range got {
			g := iv.Grant
			if seen[g] {
				report(fmt.Sprint(what, g, iv.From), op, "%s at %s: %s listed twice", what, rr.instant(at), rr.grantString(g))
				continue
			}
			seen[g] = true
			if !want[g] {
				report(fmt.Sprint(what, g, iv.From), op, "%s at %s: extra %s, held [%s, %s)", what, rr.instant(at), rr.grantString(g),
					rr.instant(iv.From), rr.instant(iv.To))
				continue
			}
			r, _ := runAt(runs[g], at)
			if !iv.From.Equal(r.from) || !iv.To.Equal(r.to) {
				first := rr.opAt(r.from)
				if !iv.From.Equal(r.from) {
					first = min(first, rr.opAt(iv.From))
				} else if !r.to.IsZero() {
					first = rr.opAt(r.to)
				}
				report(fmt.Sprint(what, g, iv.From), first, "%s at %s: %s held\n      [%s,\n       %s)\n    the model says\n      [%s,\n       %s)",
					what, rr.instant(at), rr.grantString(g), rr.instant(iv.From), rr.instant(iv.To), rr.instant(r.from), rr.instant(r.to))
			}
		}
		for g := range want {
			if !seen[g] {
				r, _ := runAt(runs[g], at)
				report(fmt.Sprint(what, g, r.from, "missing"), op, "%s at %s: missing %s (the model holds it from %s)", what, rr.instant(at),
					rr.grantString(g), rr.instant(r.from))
			}
		}
	}
	for _, at := range rr.instants() {
		state := rr.stateAt(at)
		op := rr.opAt(at)
		byUser := map[user.ID]map[access.Grant]bool{}
		byApp := map[access.AppID]map[user.ID]map[access.Grant]bool{}
		for g := range state {
			if byUser[g.User] == nil {
				byUser[g.User] = map[access.Grant]bool{}
			}
			byUser[g.User][g] = true
			if byApp[g.App] == nil {
				byApp[g.App] = map[user.ID]map[access.Grant]bool{}
			}
			if byApp[g.App][g.User] == nil {
				byApp[g.App][g.User] = map[access.Grant]bool{}
			}
			byApp[g.App][g.User][g] = true
		}
		for _, u := range rr.m.userIDs {
			got, err := rr.srv.Access.PermissionsAt(rr.ctx, rr.sc, u, at)
			rr.must(err, "permissions at")
			check("PermissionsAt("+rr.n(string(u))+")", at, got, byUser[u])
		}
		for _, app := range rr.m.appIDs {
			accounts := rr.accountsAt(app, at)
			var users []user.ID
			for _, acc := range accounts {
				users = append(users, acc.User)
				for _, iv := range acc.Grants {
					if iv.User != acc.User || iv.App != app {
						report("", op, "AccountsAt(%s) at %s: account %s holds a foreign interval %s", rr.n(string(app)), rr.instant(at),
							rr.n(string(acc.User)), rr.grantString(iv.Grant))
					}
				}
				check("AccountsAt("+rr.n(string(app))+")", at, acc.Grants, byApp[app][acc.User])
			}
			if !slices.IsSorted(users) || len(slices.Compact(slices.Clone(users))) != len(users) {
				report("", op, "AccountsAt(%s) at %s: accounts not sorted or repeated: %v", rr.n(string(app)), rr.instant(at), users)
			}
			for u := range byApp[app] {
				if !slices.Contains(users, u) {
					report(fmt.Sprint(app, u, "missing", rr.opAt(runsFrom(runs, byApp[app][u], at))), op, "AccountsAt(%s) at %s: missing account %s",
						rr.n(string(app)), rr.instant(at), rr.n(string(u)))
				}
			}
		}
		if len(errs) >= 15 {
			break
		}
	}
	rr.verifyChanges(runs, report)
	rr.verifyNow(report)
	if len(errs) > 0 {
		rr.fatalfAt(max(focus, 0), "the interval index disagrees with the replay:\n  %s", strings.Join(errs, "\n  "))
	}
}

// accountsAt walks every page (small ones, to cross page boundaries). The
// history of a deleted application stays answerable.
func (rr *randomRun) accountsAt(app access.AppID, at time.Time) []access.Account {
	var out []access.Account
	q := access.AccountQuery{Request: page.Request{Limit: 2}, App: app, At: at}
	for {
		p, err := rr.srv.Access.AccountsAt(rr.ctx, rr.sc, q)
		rr.must(err, "accounts at")
		out = append(out, p.Items...)
		if p.Next == "" {
			return out
		}
		q.Cursor = p.Next
	}
}

// verifyChanges compares AccessChanges over the whole run with the grants
// the replay says began and ended.
func (rr *randomRun) verifyChanges(runs map[access.Grant][]run, report func(string, int, string, ...any)) {
	since := rr.snaps[0].at.Add(-time.Hour)
	until := rr.snaps[len(rr.snaps)-1].at.Add(time.Microsecond)
	key := func(c access.Change) string {
		return fmt.Sprintf("%s %v %s", c.At.Format(time.RFC3339Nano), c.Granted, rr.grantString(c.Grant))
	}
	for _, app := range rr.m.appIDs {
		var want []string
		for g, rs := range runs {
			if g.App != app {
				continue
			}
			for _, r := range rs {
				want = append(want, key(access.Change{At: r.from, Granted: true, Grant: g}))
				if !r.to.IsZero() {
					want = append(want, key(access.Change{At: r.to, Granted: false, Grant: g}))
				}
			}
		}
		var got []string
		var last access.Change
		q := access.ChangeQuery{Request: page.Request{Limit: 7}, App: app, Since: since, Until: until}
		for {
			p, err := rr.srv.Access.AccessChanges(rr.ctx, rr.sc, q)
			rr.must(err, "access changes")
			for _, c := range p.Items {
				if c.At.Before(last.At) {
					report("", rr.opAt(c.At), "AccessChanges(%s): %s listed after %s", rr.n(string(app)), key(c), key(last))
				}
				last = c
				got = append(got, key(c))
			}
			if p.Next == "" {
				break
			}
			q.Cursor = p.Next
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			report("", len(rr.ops)-1, "AccessChanges(%s): %s", rr.n(string(app)), diffStrings(got, want))
		}
	}
}

// verifyNow checks the questions asked about the present, and the
// configuration the model tracks (assignments after dropped roles, holders).
func (rr *randomRun) verifyNow(report func(string, int, string, ...any)) {
	final := rr.snaps[len(rr.snaps)-1].grants
	used := seatsUsed(final)
	for _, u := range rr.m.userIDs {
		got, err := rr.srv.Access.PermissionsAt(rr.ctx, rr.sc, u, time.Time{})
		rr.must(err, "permissions now")
		var gs []string
		for _, iv := range got {
			gs = append(gs, rr.grantString(iv.Grant))
		}
		var want []string
		for g := range final {
			if g.User == u {
				want = append(want, rr.grantString(g))
			}
		}
		slices.Sort(gs)
		slices.Sort(want)
		if !slices.Equal(gs, want) {
			report("", len(rr.ops)-1, "PermissionsAt(%s) now: %s", rr.n(string(u)), diffStrings(gs, want))
		}
	}
	for _, app := range rr.m.appIDs {
		if !rr.m.appLive(app) {
			continue
		}
		s, err := rr.srv.Access.SeatsOf(rr.ctx, rr.sc, app)
		rr.must(err, "seats")
		if a := rr.m.apps[app]; s.Used != used[app] || s.Licensed != a.seats {
			report("", len(rr.ops)-1, "SeatsOf(%s) = %+v, the model says %d used of %d", rr.n(string(app)), s, used[app], a.seats)
		}
		p, err := rr.srv.Access.ListAssignments(rr.ctx, rr.sc, app, page.Request{Limit: 500})
		rr.must(err, "list assignments")
		var got, want []string
		for _, as := range p.Items {
			got = append(got, fmt.Sprintf("%s:%s %v", as.Principal.Type, rr.n(as.Principal.ID), sortedCopy(as.Roles)))
		}
		for _, aid := range rr.m.asgIDs {
			if a := rr.m.asgs[aid]; !a.deleted && a.app == app {
				want = append(want, fmt.Sprintf("%s:%s %v", a.ptype, rr.n(a.pid), sortedCopy(a.roles)))
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			report("", len(rr.ops)-1, "ListAssignments(%s): %s", rr.n(string(app)), diffStrings(got, want))
		}
	}
	for _, r := range rr.m.roleIDs {
		if !rr.m.roleLive(string(r)) {
			continue
		}
		hs, err := rr.srv.Access.Holders(rr.ctx, rr.sc, r)
		rr.must(err, "holders")
		var got, want []string
		for _, h := range hs {
			got = append(got, h.Type+":"+rr.n(h.ID))
		}
		for _, h := range sortedHolders(rr.m.roles[r]) {
			want = append(want, h.typ+":"+rr.n(h.id))
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			report("", len(rr.ops)-1, "Holders(%s): %s", rr.n(string(r)), diffStrings(got, want))
		}
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	if c == nil {
		c = []string{}
	}
	return c
}

// diffStrings describes what got has that want lacks and the reverse; both
// sorted.
func diffStrings(got, want []string) string {
	var extra, missing []string
	for _, g := range got {
		if _, ok := slices.BinarySearch(want, g); !ok {
			extra = append(extra, g)
		}
	}
	for _, w := range want {
		if _, ok := slices.BinarySearch(got, w); !ok {
			missing = append(missing, w)
		}
	}
	if len(extra) == 0 && len(missing) == 0 {
		var twice []string
		for i := 1; i < len(got); i++ {
			if got[i] == got[i-1] {
				twice = append(twice, got[i])
			}
		}
		return fmt.Sprintf("listed more than once: %q", twice)
	}
	return fmt.Sprintf("extra %q; missing %q", extra, missing)
}
