// Package storetest is the store conformance suite: one set of tests that
// every database Tessera supports must pass identically.
//
// It drives the store mostly through the domain services, which is how the
// rest of Tessera uses it (so each check also covers the transaction, the audit
// event and the error mapping of a real change), and through the store's own
// methods where a service adds nothing. store_test runs Run and RunConcurrency
// on SQLite and PostgreSQL through testkit.EachDB.
//
// Every sub-test works in tenants of its own, so sub-tests share one database
// without seeing each other's rows; every tenant's audit log is checked to be
// gapless when its sub-test ends.
package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/apitoken"
	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/group"
	"github.com/tessera-iam/tessera/internal/keys"
	"github.com/tessera-iam/tessera/internal/store"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
	"github.com/tessera-iam/tessera/internal/user/password"
)

// Run runs every conformance sub-test on db, one after another.
func Run(t *testing.T, db *store.DB) {
	run(t, db, []subtest{
		{"tenants", testTenants},
		{"organizations_create", testOrganizationsCreate},
		{"organizations_update_and_domains", testOrganizationsUpdate},
		{"organizations_delete", testOrganizationsDelete},
		{"organizations_list", testOrganizationsList},
		{"organizations_list_stable_while_inserting", testOrganizationsListStable},
		{"isolation_between_tenants", testTenantIsolation},
		{"isolation_between_organizations", testOrgScope},
		{"users_round_trip", testUsersRoundTrip},
		{"users_uniqueness", testUsersUniqueness},
		{"users_list", testUsersList},
		{"users_list_stable_while_inserting", testUsersListStable},
		{"users_lifecycle", testUsersLifecycle},
		{"users_noop_update_keeps_version", testUsersNoopUpdate},
		{"users_move_between_organizations", testUsersOrgMove},
		{"users_delete", testUsersDelete},
		{"passwords", testPasswords},
		{"passwords_import_and_upgrade", testPasswordImport},
		{"groups", testGroups},
		{"groups_list", testGroupsList},
		{"api_tokens", testTokens},
		{"idempotency", testIdempotency},
		{"audit", testAudit},
		{"transactions", testTransactions},
	})
}

// RunConcurrency runs the sub-tests that race writers against each other.
func RunConcurrency(t *testing.T, db *store.DB) {
	run(t, db, []subtest{
		{"blind_updates_of_one_user", testConcurrentBlindUpdates},
		{"optimistic_updates_of_one_user", testConcurrentOptimisticUpdates},
		{"same_username_created_at_once", testConcurrentSameUsername},
		{"audit_appends_in_two_tenants", testConcurrentAudit},
	})
}

type subtest struct {
	name string
	fn   func(t *testing.T, e *env)
}

func run(t *testing.T, db *store.DB, tests []subtest) {
	for _, st := range tests {
		t.Run(st.name, func(t *testing.T) { st.fn(t, newEnv(t, db)) })
	}
}

// Clock is a deterministic time source for the services: every reading is
// one tick later than the one before, so no two events share a time and
// identifiers (millisecond-ordered) sort in the order they were minted. Times
// stay at microsecond precision, which is what both databases keep.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// tick is a little over a millisecond so that readings differ in their
// microseconds as well (the store must keep them) and in the millisecond that
// identifiers carry.
const tick = time.Millisecond + time.Microsecond

// NewClock starts a clock at start (truncated to microseconds).
func NewClock(start time.Time) *Clock { return &Clock{now: start.UTC().Truncate(time.Microsecond)} }

// Now advances the clock by one tick and returns the new time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(tick)
	return c.now
}

// Peek returns the last reading without advancing.
func (c *Clock) Peek() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d).Truncate(time.Microsecond)
}

// env is one sub-test's wiring: the real store behind every domain service,
// wired as the server wires them.
type env struct {
	db      *store.DB
	clock   *Clock
	tenants *tenant.Service
	users   *user.Service
	groups  *group.Service
	tokens  *apitoken.Service
}

func newEnv(t *testing.T, db *store.DB) *env {
	t.Helper()
	mk, err := keys.ParseMasterKey(keys.GenerateMasterKey())
	if err != nil {
		t.Fatal(err)
	}
	clock := NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	e := &env{
		db:      db,
		clock:   clock,
		tenants: &tenant.Service{Store: db, Now: clock.Now},
		// The cheapest argon2id parameters Params.Validate allows.
		users:  &user.Service{Store: db, Now: clock.Now, Hasher: password.NewHasher(password.Params{Memory: 8 * 1024, Time: 1, Threads: 1}, 0)},
		groups: &group.Service{Store: db, Now: clock.Now},
		tokens: &apitoken.Service{Store: db, Now: clock.Now, Digest: mk.Digester("api-token")},
	}
	e.users.OnOrgMove = e.groups.UserMoved
	return e
}

// slug returns a fresh tenant slug.
func slug(prefix string) string { return prefix + "-" + strings.ToLower(rand.Text()[:10]) }

// newTenant creates a tenant through the service and returns its scope and a
// reader of its audit log positioned after the tenant.created event. When the
// sub-test ends, the tenant's log must be numbered 1..n without gaps.
func (e *env) newTenant(t *testing.T) (tenant.Scope, *auditLog) {
	t.Helper()
	tn, err := e.tenants.CreateTenant(t.Context(), slug("t"), "Tenant "+t.Name())
	if err != nil {
		t.Fatal(err)
	}
	log := &auditLog{db: e.db, tenant: tn.ID}
	log.expect(t, "tenant.created")
	t.Cleanup(func() { checkGapless(t, e.db, tn.ID) })
	return tenant.Scope{Tenant: tn.ID}, log
}

// org creates an organization or fails the test.
func (e *env) org(t *testing.T, sc tenant.Scope, name string, domains ...string) *tenant.Organization {
	t.Helper()
	o, err := e.tenants.CreateOrganization(t.Context(), sc, tenant.NewOrganization{Name: name, Domains: domains})
	if err != nil {
		t.Fatalf("create organization %q: %v", name, err)
	}
	return o
}

// user creates a user or fails the test.
func (e *env) user(t *testing.T, sc tenant.Scope, in user.NewUser) *user.User {
	t.Helper()
	u, err := e.users.Create(t.Context(), sc, in)
	if err != nil {
		t.Fatalf("create user %q: %v", in.Username, err)
	}
	return u
}

// group creates a group or fails the test.
func (e *env) group(t *testing.T, sc tenant.Scope, in group.NewGroup) *group.Group {
	t.Helper()
	g, err := e.groups.Create(t.Context(), sc, in)
	if err != nil {
		t.Fatalf("create group %q: %v", in.Name, err)
	}
	return g
}

// auditLog reads one tenant's audit log incrementally.
type auditLog struct {
	db     *store.DB
	tenant tenant.ID
	seen   int64
}

// next returns the events appended since the last call.
func (l *auditLog) next(t *testing.T) []audit.Event {
	t.Helper()
	evs, err := l.db.Events(context.Background(), l.tenant, l.seen, 100000)
	if err != nil {
		t.Fatalf("read audit log: %v", err)
	}
	if len(evs) > 0 {
		l.seen = evs[len(evs)-1].Seq
	}
	return evs
}

// expect checks that exactly the given actions were appended, in order,
// since the last call (none when actions is empty).
func (l *auditLog) expect(t *testing.T, actions ...string) []audit.Event {
	t.Helper()
	evs := l.next(t)
	got := make([]string, len(evs))
	for i, ev := range evs {
		got[i] = ev.Action
	}
	if !slices.Equal(got, actions) && (len(got) > 0 || len(actions) > 0) {
		t.Errorf("audit events appended = %q, want %q", got, actions)
	}
	return evs
}

// checkGapless verifies that a tenant's log is numbered 1..n.
func checkGapless(t *testing.T, db *store.DB, tn tenant.ID) {
	t.Helper()
	evs, err := db.Events(context.Background(), tn, 0, 1000000)
	if err != nil {
		t.Errorf("read audit log of %s: %v", tn, err)
		return
	}
	for i, ev := range evs {
		if ev.Seq != int64(i+1) {
			t.Errorf("audit log of %s: event %d has seq %d, want %d (gap or duplicate)", tn, i, ev.Seq, i+1)
			return
		}
		if ev.Tenant != string(tn) {
			t.Errorf("audit log of %s: event %d belongs to %s", tn, ev.Seq, ev.Tenant)
		}
	}
}

// fingerprint digests the whole database.
func fingerprint(t *testing.T, db *store.DB) string {
	t.Helper()
	fp, err := db.Fingerprint(context.Background())
	if err != nil {
		t.Fatalf("fingerprint: %v", err)
	}
	return fp
}

// unchanged runs fn and fails the test if the database differs afterwards:
// refused input must change nothing, audit log included.
func unchanged(t *testing.T, db *store.DB, fn func()) {
	t.Helper()
	before := fingerprint(t, db)
	fn()
	if after := fingerprint(t, db); after != before {
		t.Errorf("a refused change altered the database")
	}
}

// fatalIf stops the test on an unexpected error.
func fatalIf(t *testing.T, err error, what string, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(what, args...), err)
	}
}

// wantErr checks err matches target with errors.Is.
func wantErr(t *testing.T, err, target error, what string, args ...any) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error = %v, want %v", fmt.Sprintf(what, args...), err, target)
	}
}

// sameTime compares instants (the databases return UTC).
func sameTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %s, want %s", what, got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
	}
}

// deepEqual compares with reflect.DeepEqual and prints both sides.
func deepEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %#v\n want %#v", what, got, want)
	}
}

func ptr[T any](v T) *T { return &v }
