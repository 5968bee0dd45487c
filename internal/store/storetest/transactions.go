package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/group"
	"github.com/tessera-iam/tessera/internal/id"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

func testTransactions(t *testing.T, e *env) {
	ctx := t.Context()
	sc, log := e.newTenant(t)
	base := e.user(t, sc, user.NewUser{Username: "base"})
	g := e.group(t, sc, group.NewGroup{Name: "Base"})
	log.next(t)
	boom := errors.New("boom")

	// writeEverything touches every table through nested store calls (each
	// of which opens its own InTx, joining the outer one) and through
	// services; it reports what it created.
	var created struct {
		tenant tenant.ID
		org    tenant.OrgID
		user   user.ID
		group  group.ID
	}
	// It returns errors rather than failing the test: t.FailNow inside fn
	// would leave the transaction open.
	writeEverything := func(ctx context.Context) error {
		now := e.clock.Now()
		tn := &tenant.Tenant{ID: tenant.ID(id.New("ten", now)), Slug: slug("tx"), Name: "Tx", Version: 1, Created: now, Updated: now}
		if err := e.db.CreateTenant(ctx, tn); err != nil {
			return fmt.Errorf("create tenant: %w", err)
		}
		created.tenant = tn.ID
		o, err := e.tenants.CreateOrganization(ctx, sc, tenant.NewOrganization{Name: "Tx org", Domains: []string{"tx.example"}})
		if err != nil {
			return fmt.Errorf("create organization: %w", err)
		}
		created.org = o.ID
		u, err := e.users.Create(ctx, sc, user.NewUser{Username: "tx-user", Org: o.ID, ExternalIDs: map[string]string{"crm": "tx"}})
		if err != nil {
			return fmt.Errorf("create user: %w", err)
		}
		created.user = u.ID
		gr, err := e.groups.Create(ctx, sc, group.NewGroup{Name: "Tx group", Org: o.ID})
		if err != nil {
			return fmt.Errorf("create group: %w", err)
		}
		created.group = gr.ID
		_, err = e.users.Update(ctx, sc, base.ID, user.Patch{GivenName: ptr("Changed")}, 0)
		if err == nil {
			_, err = e.groups.Update(ctx, sc, g.ID, group.Patch{Description: ptr("changed")}, 0)
		}
		for _, step := range []error{
			err,
			e.db.SetPassword(ctx, sc.Tenant, u.ID, "hash-1", now, 3),
			e.db.SetPassword(ctx, sc.Tenant, base.ID, "hash-2", now, 3),
			e.groups.AddMember(ctx, sc, gr.ID, u.ID),
			e.groups.AddMember(ctx, sc, g.ID, base.ID),
			e.db.PutSetting(ctx, sc.Tenant, "tx_setting", map[string]int{"a": 1}),
			e.db.AppendEvent(ctx, audit.New(ctx, string(tn.ID), now, "tenant.created", "tenant", string(tn.ID), nil)),
		} {
			if step != nil {
				return step
			}
		}
		return nil
	}
	checkNothing := func(what string) {
		t.Helper()
		if _, err := e.db.Tenant(ctx, created.tenant); !errors.Is(err, tenant.ErrNotFound) {
			t.Errorf("%s: tenant survived: %v", what, err)
		}
		if _, err := e.db.Organization(ctx, sc.Tenant, created.org); !errors.Is(err, tenant.ErrOrgNotFound) {
			t.Errorf("%s: organization survived: %v", what, err)
		}
		if _, err := e.db.User(ctx, sc.Tenant, created.user); !errors.Is(err, user.ErrNotFound) {
			t.Errorf("%s: user survived: %v", what, err)
		}
		if _, err := e.db.Group(ctx, sc.Tenant, created.group); !errors.Is(err, group.ErrNotFound) {
			t.Errorf("%s: group survived: %v", what, err)
		}
		if u, err := e.db.User(ctx, sc.Tenant, base.ID); err != nil || u.GivenName != "" || u.Version != 1 {
			t.Errorf("%s: update of the existing user survived: %+v, %v", what, u, err)
		}
		if _, err := e.db.PasswordHashes(ctx, sc.Tenant, base.ID, 5); !errors.Is(err, user.ErrNoPassword) {
			t.Errorf("%s: password survived: %v", what, err)
		}
		log.expect(t)
	}

	// An error rolls back every write, including the audit events.
	unchanged(t, e.db, func() {
		err := e.db.InTx(ctx, func(ctx context.Context) error {
			if err := writeEverything(ctx); err != nil {
				t.Errorf("write: %v", err)
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Errorf("InTx returned %v, want the error of fn", err)
		}
	})
	checkNothing("after an error")

	// A panic rolls back and panics on.
	unchanged(t, e.db, func() {
		defer func() {
			if p := recover(); p != "kaboom" {
				t.Errorf("recovered %v, want the panic value re-raised", p)
			}
		}()
		_ = e.db.InTx(ctx, func(ctx context.Context) error {
			if err := writeEverything(ctx); err != nil {
				t.Errorf("write: %v", err)
			}
			panic("kaboom")
		})
		t.Errorf("InTx returned after a panic")
	})
	checkNothing("after a panic")

	// A failing service call inside an outer transaction undoes the outer
	// transaction's earlier writes too when the error is passed on.
	unchanged(t, e.db, func() {
		err := e.db.InTx(ctx, func(ctx context.Context) error {
			if _, err := e.users.Update(ctx, sc, base.ID, user.Patch{GivenName: ptr("First")}, 0); err != nil {
				return err
			}
			_, err := e.users.Create(ctx, sc, user.NewUser{Username: "BASE"})
			return err
		})
		if !errors.Is(err, user.ErrUsernameTaken) {
			t.Errorf("outer transaction returned %v, want ErrUsernameTaken", err)
		}
	})
	checkNothing("after a failing nested service call")

	// The database is still usable (the connection was released), and
	// the same writes commit when fn succeeds.
	err := e.db.InTx(ctx, writeEverything)
	fatalIf(t, err, "commit")
	if _, err := e.db.User(ctx, sc.Tenant, created.user); err != nil {
		t.Errorf("committed user missing: %v", err)
	}
	if u, err := e.db.User(ctx, sc.Tenant, base.ID); err != nil || u.GivenName != "Changed" {
		t.Errorf("committed update missing: %+v, %v", u, err)
	}
	log.expect(t, "organization.created", "user.created", "group.created", "user.updated", "group.updated",
		"group.member_added", "group.member_added")
	t.Cleanup(func() { checkGapless(t, e.db, created.tenant) })
}
