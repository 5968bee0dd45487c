package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/page"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

// workers is how many goroutines race in each concurrency test.
const workers = 16

// race starts n goroutines at once and waits for them.
func race(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

// countActions counts a tenant's events by action, and checks the log is
// gapless.
func countActions(t *testing.T, e *env, tn tenant.ID) map[string]int {
	t.Helper()
	checkGapless(t, e.db, tn)
	evs, err := e.db.Events(context.Background(), tn, 0, 1000000)
	fatalIf(t, err, "events")
	n := map[string]int{}
	for _, ev := range evs {
		n[ev.Action]++
	}
	return n
}

// testConcurrentBlindUpdates: updates without a version check all apply, in
// some order, and none is lost: the version counts them and so does the log.
func testConcurrentBlindUpdates(t *testing.T, e *env) {
	ctx := t.Context()
	sc, _ := e.newTenant(t)
	u := e.user(t, sc, user.NewUser{Username: "contended"})
	const perWorker = 10
	var ok atomic.Int64
	var mu sync.Mutex
	var errs []error
	race(workers, func(i int) {
		for j := range perWorker {
			// Distinct values: every update is a real change.
			_, err := e.users.Update(ctx, sc, u.ID, user.Patch{GivenName: ptr(fmt.Sprintf("given-%02d-%02d", i, j))}, 0)
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				continue
			}
			ok.Add(1)
		}
	})
	if len(errs) > 0 {
		t.Errorf("%d updates failed, first: %v", len(errs), errs[0])
	}
	got, err := e.db.User(ctx, sc.Tenant, u.ID)
	fatalIf(t, err, "read")
	if got.Version != 1+ok.Load() {
		t.Errorf("version = %d after %d successful updates, want %d (lost updates)", got.Version, ok.Load(), 1+ok.Load())
	}
	if n := countActions(t, e, sc.Tenant)["user.updated"]; int64(n) != ok.Load() {
		t.Errorf("%d user.updated events for %d successful updates", n, ok.Load())
	}
	if !strings.HasPrefix(got.GivenName, "given-") {
		t.Errorf("final given name %q", got.GivenName)
	}
}

// testConcurrentOptimisticUpdates: read-modify-write with If-Match and
// retry on a stale version appends every item exactly once.
func testConcurrentOptimisticUpdates(t *testing.T, e *env) {
	ctx := t.Context()
	sc, _ := e.newTenant(t)
	fatalIf(t, e.users.SetProfileSchema(ctx, sc, user.Schema{Attributes: []user.AttributeDef{{Name: "tags", Type: user.TypeStrings}}}), "schema")
	u := e.user(t, sc, user.NewUser{Username: "appended", Attributes: map[string]any{"tags": []any{}}})
	const perWorker = 3
	var stale atomic.Int64
	var mu sync.Mutex
	var errs []error
	race(workers, func(i int) {
		for j := range perWorker {
			item := fmt.Sprintf("w%02d-%d", i, j)
			for {
				cur, err := e.users.User(ctx, sc, u.ID)
				if err == nil {
					tags, _ := cur.Attributes["tags"].([]any)
					next := append(slices.Clone(tags), item)
					_, err = e.users.Update(ctx, sc, u.ID, user.Patch{Attributes: map[string]any{"tags": next}}, cur.Version)
				}
				if errors.Is(err, errkind.Precondition) {
					stale.Add(1)
					continue
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
				break
			}
		}
	})
	if len(errs) > 0 {
		t.Fatalf("%d updates failed, first: %v", len(errs), errs[0])
	}
	got, err := e.db.User(ctx, sc.Tenant, u.ID)
	fatalIf(t, err, "read")
	tags, _ := got.Attributes["tags"].([]any)
	var items []string
	for _, x := range tags {
		items = append(items, x.(string))
	}
	slices.Sort(items)
	var want []string
	for i := range workers {
		for j := range perWorker {
			want = append(want, fmt.Sprintf("w%02d-%d", i, j))
		}
	}
	sameOrder(t, "appended items", items, want)
	if got.Version != int64(1+workers*perWorker) {
		t.Errorf("version = %d, want %d", got.Version, 1+workers*perWorker)
	}
	if n := countActions(t, e, sc.Tenant)["user.updated"]; n != workers*perWorker {
		t.Errorf("%d user.updated events, want %d", n, workers*perWorker)
	}
	t.Logf("%d stale attempts retried", stale.Load())
}

// testConcurrentSameUsername: of many creates of one username (in differing
// case) at the same instant exactly one succeeds.
func testConcurrentSameUsername(t *testing.T, e *env) {
	ctx := t.Context()
	sc, _ := e.newTenant(t)
	base := "racer"
	results := make([]error, workers)
	race(workers, func(i int) {
		name := []rune(base)
		for k := range name {
			if i>>k&1 == 1 {
				name[k] = []rune(strings.ToUpper(string(name[k])))[0]
			}
		}
		_, results[i] = e.users.Create(ctx, sc, user.NewUser{Username: string(name), Emails: []user.Email{{Value: fmt.Sprintf("racer%d@example.com", i)}}})
	})
	wins := 0
	for i, err := range results {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, user.ErrUsernameTaken):
			t.Errorf("create %d: %v, want success or ErrUsernameTaken", i, err)
		}
	}
	if wins != 1 {
		t.Errorf("%d creates of one username succeeded, want exactly 1", wins)
	}
	p, err := e.users.List(ctx, sc, user.Query{UsernamePrefix: base, Request: page.Request{Limit: page.MaxLimit}})
	fatalIf(t, err, "list")
	if len(p.Items) != 1 {
		t.Errorf("%d users named %s exist", len(p.Items), base)
	}
	if n := countActions(t, e, sc.Tenant)["user.created"]; n != 1 {
		t.Errorf("%d user.created events", n)
	}
}

// testConcurrentAudit: appends racing in two tenants keep each tenant's log
// gapless, including appends whose transaction rolls back.
func testConcurrentAudit(t *testing.T, e *env) {
	ctx := t.Context()
	a, _ := e.newTenant(t)
	b, _ := e.newTenant(t)
	const perWorker = 20
	var committed [2]atomic.Int64
	var mu sync.Mutex
	var errs []error
	rollback := errors.New("rolled back on purpose")
	race(workers, func(i int) {
		w := i % 2
		tn := []tenant.ID{a.Tenant, b.Tenant}[w]
		for j := range perWorker {
			ev := audit.New(ctx, string(tn), e.clock.Now(), "test.appended", "worker", fmt.Sprint(i), map[string]any{"j": j})
			var err error
			if j%5 == 4 {
				err = e.db.InTx(ctx, func(ctx context.Context) error {
					if err := e.db.AppendEvent(ctx, ev); err != nil {
						return err
					}
					return rollback
				})
				if errors.Is(err, rollback) {
					continue
				}
			} else {
				err = e.db.AppendEvent(ctx, ev)
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				continue
			}
			committed[w].Add(1)
		}
	})
	if len(errs) > 0 {
		t.Errorf("%d appends failed, first: %v", len(errs), errs[0])
	}
	for w, tn := range []tenant.ID{a.Tenant, b.Tenant} {
		if n := countActions(t, e, tn)["test.appended"]; int64(n) != committed[w].Load() {
			t.Errorf("tenant %d holds %d events, %d were committed", w, n, committed[w].Load())
		}
	}
}
