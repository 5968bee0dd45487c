package access_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/group"
	"github.com/tessera-iam/tessera/internal/page"
	"github.com/tessera-iam/tessera/internal/server"
	"github.com/tessera-iam/tessera/internal/store"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/testkit"
	"github.com/tessera-iam/tessera/internal/user"
)

// seatEnv is a tenant with one application of a few seats and many users,
// on the real clock.
type seatEnv struct {
	t     *testing.T
	ctx   context.Context
	srv   *server.Server
	sc    tenant.Scope
	app   access.AppID
	seats int
	users []user.ID
}

func newSeatEnv(t *testing.T, db *store.DB, seats, users int) *seatEnv {
	t.Helper()
	ctx := context.Background()
	e := &seatEnv{t: t, ctx: ctx, srv: newServer(t, db, nil), seats: seats}
	tn, err := e.srv.Tenants.CreateTenant(ctx, "seats", "Seats")
	if err != nil {
		t.Fatal(err)
	}
	e.sc = tenant.Scope{Tenant: tn.ID}
	app, err := e.srv.Access.CreateApplication(ctx, e.sc, access.NewApplication{Name: "Licensed", Kind: access.KindOIDC, Seats: seats,
		Roles: []access.AppRole{{Name: "user"}}})
	if err != nil {
		t.Fatal(err)
	}
	e.app = app.ID
	for i := range users {
		u, err := e.srv.Users.Create(ctx, e.sc, user.NewUser{Username: fmt.Sprintf("seat%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		e.users = append(e.users, u.ID)
	}
	return e
}

// race runs fn(i) for i in [0, n) at once and returns each call's error.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	return errs
}

// expectExactlySeats checks that exactly seats calls won and every other
// one was refused for want of seats (never another error: a deadlock or a
// serialization failure would be a bug, not a seat refusal), and returns
// the winners.
func (e *seatEnv) expectExactlySeats(errs []error) []user.ID {
	e.t.Helper()
	var won []user.ID
	for i, err := range errs {
		var se *access.SeatsError
		switch {
		case err == nil:
			won = append(won, e.users[i])
		case errors.As(err, &se):
			if se.App != e.app || se.Seats != e.seats || se.Needed <= e.seats {
				e.t.Errorf("user %d: seats error %+v", i, se)
			}
		default:
			e.t.Errorf("user %d: %v, want success or a *access.SeatsError", i, err)
		}
	}
	if len(won) != e.seats {
		e.t.Errorf("%d of %d concurrent changes succeeded, want exactly %d (the seats)", len(won), len(errs), e.seats)
	}
	slices.Sort(won)
	return won
}

// expectHolders checks that the seat count and the index (open intervals,
// through AccountsAt now) both name exactly users, each through one grant
// (every test here gives access through a single path and role).
func (e *seatEnv) expectHolders(users []user.ID) {
	e.t.Helper()
	s, err := e.srv.Access.SeatsOf(e.ctx, e.sc, e.app)
	if err != nil {
		e.t.Fatal(err)
	}
	if s.Used != len(users) || s.Licensed != e.seats || s.Remaining != e.seats-len(users) {
		e.t.Errorf("SeatsOf = %+v, want %d used of %d", s, len(users), e.seats)
	}
	got, intervals := e.accountsNow()
	if !slices.Equal(got, users) {
		e.t.Errorf("open intervals are held by %v, want %v", got, users)
	}
	if intervals != len(users) {
		e.t.Errorf("%d open intervals, want %d", intervals, len(users))
	}
	if s.Used > e.seats || len(got) > e.seats {
		e.t.Errorf("oversold: %d seats used, %d accounts, %d licensed", s.Used, len(got), e.seats)
	}
}

// accountsNow is the users holding an open interval on the app, sorted,
// and the number of open intervals.
func (e *seatEnv) accountsNow() ([]user.ID, int) {
	e.t.Helper()
	var out []user.ID
	intervals := 0
	q := access.AccountQuery{Request: page.Request{Limit: 3}, App: e.app}
	for {
		p, err := e.srv.Access.AccountsAt(e.ctx, e.sc, q)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, a := range p.Items {
			out = append(out, a.User)
			intervals += len(a.Grants)
			for _, iv := range a.Grants {
				if !iv.To.IsZero() {
					e.t.Errorf("AccountsAt now returned a closed interval %+v", iv)
				}
			}
		}
		if p.Next == "" {
			return out, intervals
		}
		q.Cursor = p.Next
	}
}

// assignments returns the principals (type:id) assigned to the app, sorted.
func (e *seatEnv) assignments() []string {
	e.t.Helper()
	p, err := e.srv.Access.ListAssignments(e.ctx, e.sc, e.app, page.Request{Limit: 500})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, a := range p.Items {
		out = append(out, a.Principal.Type+":"+a.Principal.ID)
	}
	slices.Sort(out)
	return out
}

func userPrincipals(us []user.ID) []string {
	var out []string
	for _, u := range us {
		out = append(out, access.PrincipalUser+":"+string(u))
	}
	slices.Sort(out)
	return out
}

// TestSeatsHoldUnderConcurrentAssignment: twenty administrators each
// assign a different user to a five-seat application at the same moment.
// Exactly five win; the others are refused for seats and leave nothing
// behind.
func TestSeatsHoldUnderConcurrentAssignment(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newSeatEnv(t, db, 5, 20)
		errs := race(len(e.users), func(i int) error {
			_, err := e.srv.Access.Assign(e.ctx, e.sc, e.app, access.NewAssignment{
				Principal: access.Principal{Type: access.PrincipalUser, ID: string(e.users[i])}, Roles: []string{"user"}})
			return err
		})
		won := e.expectExactlySeats(errs)
		e.expectHolders(won)
		if got := e.assignments(); !slices.Equal(got, userPrincipals(won)) {
			t.Errorf("assignments %v, want the winners' %v", got, userPrincipals(won))
		}
	})
}

// TestSeatsHoldUnderConcurrentGroupJoins: the application is assigned to a
// group, and twenty users join it at once. Exactly five get a seat; the
// other memberships are refused with the seats error and not kept.
func TestSeatsHoldUnderConcurrentGroupJoins(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newSeatEnv(t, db, 5, 20)
		g, err := e.srv.Groups.Create(e.ctx, e.sc, group.NewGroup{Name: "Licensed users"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.srv.Access.Assign(e.ctx, e.sc, e.app, access.NewAssignment{
			Principal: access.Principal{Type: access.PrincipalGroup, ID: string(g.ID)}}); err != nil {
			t.Fatal(err)
		}
		errs := race(len(e.users), func(i int) error { return e.srv.Groups.AddMember(e.ctx, e.sc, g.ID, e.users[i]) })
		won := e.expectExactlySeats(errs)
		e.expectHolders(won)
		members, err := db.MemberIDs(e.ctx, e.sc.Tenant, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(members)
		if !slices.Equal(members, won) {
			t.Errorf("members %v, want the winners %v", members, won)
		}
	})
}

// TestSeatsHoldUnderChurn: workers assign and unassign their own users in a
// loop, competing for the seats, while a monitor keeps reading the seat
// count. The count never exceeds the seats, and at the end the index (open
// intervals) names exactly the users whose assignments survived.
func TestSeatsHoldUnderChurn(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		const seats, users, workers = 4, 16, 8
		e := newSeatEnv(t, db, seats, users)
		duration := 1500 * time.Millisecond
		if testing.Short() {
			duration = 400 * time.Millisecond
		}
		start := server.Now()
		deadline := time.Now().Add(duration)
		var granted, refused, removed atomic.Int64
		var maxUsed atomic.Int64
		stop := make(chan struct{})
		monitorDone := make(chan struct{})
		go func() { // the seat count as readers see it, all along
			defer close(monitorDone)
			for {
				select {
				case <-stop:
					return
				default:
				}
				s, err := e.srv.Access.SeatsOf(e.ctx, e.sc, e.app)
				if err != nil {
					t.Error(err)
					return
				}
				for m := maxUsed.Load(); int64(s.Used) > m && !maxUsed.CompareAndSwap(m, int64(s.Used)); m = maxUsed.Load() {
				}
				time.Sleep(time.Millisecond)
			}
		}()
		held := make([]map[user.ID]access.AssignmentID, workers)
		errs := race(workers, func(w int) error {
			r := rand.New(rand.NewPCG(uint64(w), 42))
			mine := map[user.ID]access.AssignmentID{}
			held[w] = mine
			for time.Now().Before(deadline) {
				u := e.users[w+workers*r.IntN(users/workers)] // each worker owns its own users
				if aid, ok := mine[u]; ok {
					if err := e.srv.Access.Unassign(e.ctx, e.sc, e.app, aid); err != nil {
						return fmt.Errorf("worker %d: unassign: %w", w, err)
					}
					delete(mine, u)
					removed.Add(1)
					continue
				}
				as, err := e.srv.Access.Assign(e.ctx, e.sc, e.app, access.NewAssignment{
					Principal: access.Principal{Type: access.PrincipalUser, ID: string(u)}, Roles: []string{"user"}})
				var se *access.SeatsError
				switch {
				case err == nil:
					mine[u] = as.ID
					granted.Add(1)
				case errors.As(err, &se):
					refused.Add(1)
				default:
					return fmt.Errorf("worker %d: assign: %w", w, err)
				}
			}
			return nil
		})
		close(stop)
		<-monitorDone
		failed := false
		for _, err := range errs {
			if err != nil {
				t.Error(err)
				failed = true
			}
		}
		t.Logf("%d assignments, %d refused for seats, %d removed; at most %d seats seen in use", granted.Load(), refused.Load(),
			removed.Load(), maxUsed.Load())
		if refused.Load() == 0 && !failed {
			t.Errorf("no assignment was ever refused: the churn never reached the seat limit")
		}
		if maxUsed.Load() > seats {
			t.Errorf("oversold: %d seats in use at some point, %d licensed", maxUsed.Load(), seats)
		}
		// As-of questions must not show an oversold past either: at no
		// instant did more users hold the application than it has seats.
		if most, at := e.mostAccountsSince(start); most > seats {
			t.Errorf("the index says %d users held the %d-seat application at %s", most, seats, at.Format(time.RFC3339Nano))
		}
		var want []user.ID
		for _, m := range held {
			for u := range m {
				want = append(want, u)
			}
		}
		slices.Sort(want)
		e.expectHolders(want)
		if got := e.assignments(); !slices.Equal(got, userPrincipals(want)) {
			t.Errorf("assignments %v, want %v", got, userPrincipals(want))
		}
	})
}

// mostAccountsSince replays the application's access changes since since
// and returns the largest number of users holding it at one instant.
func (e *seatEnv) mostAccountsSince(since time.Time) (int, time.Time) {
	e.t.Helper()
	var changes []access.Change
	q := access.ChangeQuery{Request: page.Request{Limit: 500}, App: e.app, Since: since}
	for {
		p, err := e.srv.Access.AccessChanges(e.ctx, e.sc, q)
		if err != nil {
			e.t.Fatal(err)
		}
		changes = append(changes, p.Items...)
		if p.Next == "" {
			break
		}
		q.Cursor = p.Next
	}
	open := map[user.ID]int{} // grants held per user
	most, mostAt := 0, time.Time{}
	for i, c := range changes {
		if c.Granted {
			open[c.User]++
		} else if open[c.User]--; open[c.User] == 0 {
			delete(open, c.User)
		}
		// Measure once every change at this instant is applied.
		if (i+1 == len(changes) || !changes[i+1].At.Equal(c.At)) && len(open) > most {
			most, mostAt = len(open), c.At
		}
	}
	return most, mostAt
}

// TestIndexFollowsRacingStatusChanges races a change that ends a user's
// access (suspending the user, or suspending their organization) against
// one that would give them access (a direct assignment, or joining an
// assigned group). Whatever the order, the index must end up as the state
// says: no open interval for a user who is suspended or whose organization
// is.
func TestIndexFollowsRacingStatusChanges(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		rounds := 40
		if testing.Short() {
			rounds = 10
		}
		e := newSeatEnv(t, db, 0, 0)
		g, err := e.srv.Groups.Create(e.ctx, e.sc, group.NewGroup{Name: "Everyone"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.srv.Access.Assign(e.ctx, e.sc, e.app, access.NewAssignment{
			Principal: access.Principal{Type: access.PrincipalGroup, ID: string(g.ID)}}); err != nil {
			t.Fatal(err)
		}
		ending := []struct {
			name string
			do   func(u *user.User) error
		}{
			{"suspend the user", func(u *user.User) error {
				_, err := e.srv.Users.Transition(e.ctx, e.sc, u.ID, user.OpSuspend, 0)
				return err
			}},
			{"suspend the organization", func(u *user.User) error {
				s := tenant.OrgSuspended
				_, err := e.srv.Tenants.UpdateOrganization(e.ctx, e.sc, u.Org, tenant.OrganizationPatch{Status: &s}, 0)
				return err
			}},
		}
		granting := []struct {
			name string
			do   func(u *user.User) error
		}{
			{"assign the user", func(u *user.User) error {
				_, err := e.srv.Access.Assign(e.ctx, e.sc, e.app, access.NewAssignment{
					Principal: access.Principal{Type: access.PrincipalUser, ID: string(u.ID)}})
				return err
			}},
			{"add the user to the assigned group", func(u *user.User) error { return e.srv.Groups.AddMember(e.ctx, e.sc, g.ID, u.ID) }},
		}
		for _, end := range ending {
			for _, grant := range granting {
				t.Run(end.name+" vs "+grant.name, func(t *testing.T) {
					stale := 0
					for i := range rounds {
						o, err := e.srv.Tenants.CreateOrganization(e.ctx, e.sc, tenant.NewOrganization{Name: fmt.Sprintf("%s %s %d", end.name, grant.name, i)})
						if err != nil {
							t.Fatal(err)
						}
						u, err := e.srv.Users.Create(e.ctx, e.sc, user.NewUser{Username: fmt.Sprintf("race-%s-%d", o.ID, i), Org: o.ID})
						if err != nil {
							t.Fatal(err)
						}
						errs := race(2, func(k int) error {
							if k == 0 {
								return end.do(u)
							}
							return grant.do(u)
						})
						for _, err := range errs {
							if err != nil {
								t.Fatalf("round %d: %v", i, err)
							}
						}
						ivs, err := e.srv.Access.PermissionsAt(e.ctx, e.sc, u.ID, time.Time{})
						if err != nil {
							t.Fatal(err)
						}
						if len(ivs) > 0 {
							stale++
							if stale == 1 {
								t.Errorf("round %d: after both committed the user cannot have access, yet the index holds %+v", i, ivs)
							}
						}
					}
					if stale > 0 {
						t.Errorf("%d of %d rounds left an open interval for a user without access", stale, rounds)
					}
				})
			}
		}
	})
}

// TestRolesStayDefinedUnderRacingRoleChanges races assigning a user with an
// application role against removing that role from the application. In
// either order the role must end up nowhere: not in the assignment, not in
// the index.
func TestRolesStayDefinedUnderRacingRoleChanges(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		rounds := 40
		if testing.Short() {
			rounds = 10
		}
		e := newSeatEnv(t, db, 0, rounds)
		stale := 0
		for i, u := range e.users {
			app, err := e.srv.Access.CreateApplication(e.ctx, e.sc, access.NewApplication{Name: fmt.Sprintf("Roles %d", i), Kind: access.KindSAML,
				Roles: []access.AppRole{{Name: "approver"}, {Name: "clerk"}}})
			if err != nil {
				t.Fatal(err)
			}
			errs := race(2, func(k int) error {
				if k == 0 {
					_, err := e.srv.Access.Assign(e.ctx, e.sc, app.ID, access.NewAssignment{
						Principal: access.Principal{Type: access.PrincipalUser, ID: string(u)}, Roles: []string{"approver"}})
					return err
				}
				roles := []access.AppRole{{Name: "clerk"}}
				_, err := e.srv.Access.UpdateApplication(e.ctx, e.sc, app.ID, access.AppPatch{Roles: &roles}, 0)
				return err
			})
			if errs[1] != nil {
				t.Fatalf("round %d: drop the role: %v", i, errs[1])
			}
			if errs[0] != nil {
				// Refused because the role was gone already: fine.
				if !errors.Is(errs[0], errkind.Invalid) {
					t.Fatalf("round %d: assign: %v", i, errs[0])
				}
				continue
			}
			p, err := e.srv.Access.ListAssignments(e.ctx, e.sc, app.ID, page.Request{})
			if err != nil {
				t.Fatal(err)
			}
			ivs, err := e.srv.Access.PermissionsAt(e.ctx, e.sc, u, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			bad := len(p.Items) != 1 || len(p.Items[0].Roles) != 0 || len(ivs) != 1 || ivs[0].Role != ""
			if bad {
				stale++
				if stale == 1 {
					t.Errorf("round %d: the application no longer defines approver, yet the assignment is %+v and the index holds %+v", i, p.Items, ivs)
				}
			}
		}
		if stale > 0 {
			t.Errorf("%d of %d rounds kept a role the application no longer defines", stale, rounds)
		}
	})
}

// TestIndexMatchesStateAfterConcurrentChanges lets several administrators
// change assignments, memberships, role holders, roles and statuses at
// once, then rebuilds effective access from the final state with the
// brute-force model and compares it with the open intervals. Refusals a
// race makes legitimate (not found, conflict, invalid, seats) are fine; a
// deadlock or serialization failure surfacing to the caller is not.
func TestIndexMatchesStateAfterConcurrentChanges(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		srv := newServer(t, db, nil)
		tn, err := srv.Tenants.CreateTenant(ctx, "mixed", "Mixed")
		if err != nil {
			t.Fatal(err)
		}
		sc := tenant.Scope{Tenant: tn.ID}
		var orgs []tenant.OrgID
		for i := range 2 {
			o, err := srv.Tenants.CreateOrganization(ctx, sc, tenant.NewOrganization{Name: fmt.Sprintf("Org %d", i)})
			if err != nil {
				t.Fatal(err)
			}
			orgs = append(orgs, o.ID)
		}
		var users []user.ID
		for i := range 10 {
			org := tenant.OrgID("")
			if i%3 != 0 {
				org = orgs[i%2]
			}
			u, err := srv.Users.Create(ctx, sc, user.NewUser{Username: fmt.Sprintf("mixed%d", i), Org: org})
			if err != nil {
				t.Fatal(err)
			}
			users = append(users, u.ID)
		}
		var groups []group.ID
		for i, org := range []tenant.OrgID{"", "", orgs[0], orgs[1]} {
			g, err := srv.Groups.Create(ctx, sc, group.NewGroup{Name: fmt.Sprintf("Group %d", i), Org: org})
			if err != nil {
				t.Fatal(err)
			}
			groups = append(groups, g.ID)
		}
		var roles []access.RoleID
		for i := range 2 {
			r, err := srv.Access.CreateBusinessRole(ctx, sc, fmt.Sprintf("Role %d", i), "")
			if err != nil {
				t.Fatal(err)
			}
			roles = append(roles, r.ID)
		}
		var apps []access.AppID
		for i := range 3 {
			a, err := srv.Access.CreateApplication(ctx, sc, access.NewApplication{Name: fmt.Sprintf("App %d", i), Kind: access.KindSAML,
				Roles: appRoles(appRolePool[:3])})
			if err != nil {
				t.Fatal(err)
			}
			apps = append(apps, a.ID)
		}

		duration := 1500 * time.Millisecond
		if testing.Short() {
			duration = 400 * time.Millisecond
		}
		deadline := time.Now().Add(duration)
		var ops, refused atomic.Int64
		var mu sync.Mutex
		var failures []string
		race(6, func(w int) error {
			r := rand.New(rand.NewPCG(uint64(w), 7))
			pickPrincipal := func() access.Principal {
				switch r.IntN(3) {
				case 0:
					return access.Principal{Type: access.PrincipalUser, ID: string(users[r.IntN(len(users))])}
				case 1:
					return access.Principal{Type: access.PrincipalGroup, ID: string(groups[r.IntN(len(groups))])}
				}
				return access.Principal{Type: access.PrincipalBusinessRole, ID: string(roles[r.IntN(len(roles))])}
			}
			someRoles := func() []string {
				pool := slices.Clone(appRolePool[:4]) // the fourth is not always defined
				r.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
				return pool[:r.IntN(3)]
			}
			for time.Now().Before(deadline) {
				app, u, g, role := apps[r.IntN(len(apps))], users[r.IntN(len(users))], groups[r.IntN(len(groups))], roles[r.IntN(len(roles))]
				var err error
				var what string
				switch r.IntN(12) {
				case 0, 1:
					what = "assign"
					_, err = srv.Access.Assign(ctx, sc, app, access.NewAssignment{Principal: pickPrincipal(), Roles: someRoles()})
				case 2:
					what = "unassign or change roles"
					var p page.Of[access.Assignment]
					if p, err = srv.Access.ListAssignments(ctx, sc, app, page.Request{Limit: 500}); err == nil && len(p.Items) > 0 {
						as := p.Items[r.IntN(len(p.Items))]
						if r.IntN(2) == 0 {
							err = srv.Access.Unassign(ctx, sc, app, as.ID)
						} else {
							_, err = srv.Access.SetAssignmentRoles(ctx, sc, app, as.ID, someRoles())
						}
					}
				case 3, 4:
					what = "add member"
					err = srv.Groups.AddMember(ctx, sc, g, u)
				case 5:
					what = "remove member"
					err = srv.Groups.RemoveMember(ctx, sc, g, u)
				case 6:
					what = "add holder"
					h := access.Holder{Type: access.PrincipalUser, ID: string(u)}
					if r.IntN(2) == 0 {
						h = access.Holder{Type: access.PrincipalGroup, ID: string(g)}
					}
					err = srv.Access.AddHolder(ctx, sc, role, h)
				case 7:
					what = "remove holder"
					h := access.Holder{Type: access.PrincipalUser, ID: string(u)}
					if r.IntN(2) == 0 {
						h = access.Holder{Type: access.PrincipalGroup, ID: string(g)}
					}
					err = srv.Access.RemoveHolder(ctx, sc, role, h)
				case 8:
					what = "suspend or unsuspend a user"
					op := user.OpSuspend
					if r.IntN(2) == 0 {
						op = user.OpUnsuspend
					}
					_, err = srv.Users.Transition(ctx, sc, u, op, 0)
				case 9:
					what = "suspend or activate an organization"
					s := tenant.OrgActive
					if r.IntN(2) == 0 {
						s = tenant.OrgSuspended
					}
					_, err = srv.Tenants.UpdateOrganization(ctx, sc, orgs[r.IntN(len(orgs))], tenant.OrganizationPatch{Status: &s}, 0)
				case 10:
					what = "activate or deactivate an application"
					s := access.AppActive
					if r.IntN(2) == 0 {
						s = access.AppInactive
					}
					_, err = srv.Access.UpdateApplication(ctx, sc, app, access.AppPatch{Status: &s}, 0)
				case 11:
					what = "change an application's roles"
					rs := appRoles(someRoles())
					_, err = srv.Access.UpdateApplication(ctx, sc, app, access.AppPatch{Roles: &rs}, 0)
				}
				ops.Add(1)
				if _, ok := classify(err); ok {
					if err != nil {
						refused.Add(1)
					}
					continue
				}
				mu.Lock()
				if len(failures) < 10 {
					failures = append(failures, fmt.Sprintf("worker %d: %s: %v", w, what, err))
				}
				mu.Unlock()
			}
			return nil
		})
		t.Logf("%d operations, %d refused", ops.Load(), refused.Load())
		for _, f := range failures {
			t.Errorf("%s", f)
		}

		// Rebuild the model from the final state and compare.
		m := newModel()
		for _, o := range orgs {
			org, err := srv.Tenants.Organization(ctx, sc, o)
			if err != nil {
				t.Fatal(err)
			}
			m.orgs[o] = org.Status == tenant.OrgActive
		}
		for _, id := range users {
			u, err := srv.Users.User(ctx, sc, id)
			if err != nil {
				t.Fatal(err)
			}
			m.users[id] = &mUser{org: u.Org, status: u.Status}
			m.userIDs = append(m.userIDs, id)
		}
		for _, id := range groups {
			members, err := db.MemberIDs(ctx, sc.Tenant, id)
			if err != nil {
				t.Fatal(err)
			}
			g := &mGroup{members: map[user.ID]bool{}}
			for _, u := range members {
				g.members[u] = true
			}
			m.groups[id] = g
		}
		for _, id := range roles {
			hs, err := srv.Access.Holders(ctx, sc, id)
			if err != nil {
				t.Fatal(err)
			}
			r := &mRole{holders: map[holder]bool{}}
			for _, h := range hs {
				r.holders[holder{h.Type, h.ID}] = true
			}
			m.roles[id] = r
		}
		for _, id := range apps {
			a, err := srv.Access.Application(ctx, sc, id)
			if err != nil {
				t.Fatal(err)
			}
			ma := &mApp{active: a.Status == access.AppActive}
			for _, r := range a.Roles {
				ma.roles = append(ma.roles, r.Name)
			}
			m.apps[id] = ma
			p, err := srv.Access.ListAssignments(ctx, sc, id, page.Request{Limit: 500})
			if err != nil {
				t.Fatal(err)
			}
			for _, as := range p.Items {
				for _, r := range as.Roles {
					if !slices.Contains(ma.roles, r) {
						t.Errorf("assignment %s of %s keeps role %q, which the application no longer defines", as.ID, id, r)
					}
				}
				m.asgs[as.ID] = &mAssignment{app: id, ptype: as.Principal.Type, pid: as.Principal.ID, roles: as.Roles}
				m.asgIDs = append(m.asgIDs, as.ID)
			}
		}
		want := m.grants()
		for _, u := range users {
			ivs, err := srv.Access.PermissionsAt(ctx, sc, u, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			var got, exp []string
			for _, iv := range ivs {
				got = append(got, fmt.Sprintf("%s %q via %s %s", iv.App, iv.Role, iv.Via.Type, iv.Via.ID))
			}
			for g := range want {
				if g.User == u {
					exp = append(exp, fmt.Sprintf("%s %q via %s %s", g.App, g.Role, g.Via.Type, g.Via.ID))
				}
			}
			slices.Sort(got)
			slices.Sort(exp)
			if !slices.Equal(got, exp) {
				st := m.users[u]
				t.Errorf("user %s (%s, organization active: %v): the index disagrees with the final state: %s", u, st.status,
					st.org == "" || m.orgs[st.org], diffStrings(got, exp))
			}
		}
	})
}
