package storetest

import (
	"encoding/json"
	"maps"
	"testing"

	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/group"
	"github.com/tessera-iam/tessera/internal/user"
)

func testAudit(t *testing.T, e *env) {
	sc, log := e.newTenant(t)
	actor := audit.Actor{Type: "token", ID: "tok_admin", ClientIP: "192.0.2.7", UserAgent: "curl/8.0 \"quoted\"", RequestID: "req-ü-1"}
	ctx := audit.WithActor(t.Context(), actor)

	// A service change records who did it, when, to what, and a summary.
	g, err := e.groups.Create(ctx, sc, group.NewGroup{Name: "Auditors", Description: "secret-free"})
	fatalIf(t, err, "create group")
	evs := log.expect(t, "group.created")
	if len(evs) == 1 {
		ev := evs[0]
		sameTime(t, "event time", ev.At, g.Created)
		ev.At = g.Created
		deepEqual(t, "group.created event", ev, audit.Event{
			Tenant: string(sc.Tenant), Seq: 2, At: g.Created, Actor: actor, Action: "group.created",
			TargetType: "group", TargetID: string(g.ID), Outcome: audit.Success,
			Details: map[string]any{"name": "Auditors", "organization_id": ""},
		})
	}
	// Without an actor in the context the system is the actor.
	u := e.user(t, sc, user.NewUser{Username: "someone"})
	evs = log.expect(t, "user.created")
	if len(evs) == 1 && evs[0].Actor != (audit.Actor{Type: "system", ID: "tessera"}) {
		t.Errorf("actor without context = %+v", evs[0].Actor)
	}

	// Direct appends: any details round-trip as JSON (numbers come back as
	// written, as json.Number); nil stays nil; a failure outcome is kept.
	at := e.clock.Now()
	for _, ev := range []*audit.Event{
		{Tenant: string(sc.Tenant), At: at, Actor: actor, Action: "session.failed", TargetType: "user", TargetID: string(u.ID),
			Outcome: audit.Failure, Details: map[string]any{"reason": "bad password", "attempt": 3.0, "nested": map[string]any{"a": []any{"b"}}}},
		{Tenant: string(sc.Tenant), At: at, Actor: actor, Action: "system.noop", Outcome: audit.Success},
	} {
		fatalIf(t, e.db.AppendEvent(ctx, ev), "append")
		want := *ev
		if want.Details != nil {
			want.Details = maps.Clone(want.Details)
			want.Details["attempt"] = json.Number("3")
		}
		got := log.expect(t, ev.Action)
		if len(got) == 1 {
			if ev.Seq != got[0].Seq {
				t.Errorf("AppendEvent set seq %d, stored %d", ev.Seq, got[0].Seq)
			}
			sameTime(t, "appended time", got[0].At, want.At)
			got[0].At = want.At
			deepEqual(t, "appended event", got[0], want)
		}
	}

	// Reading from a position with a limit pages through the log.
	all, err := e.db.Events(ctx, sc.Tenant, 0, 1000)
	fatalIf(t, err, "events")
	for after := int64(0); after < int64(len(all)); after++ {
		evs, err := e.db.Events(ctx, sc.Tenant, after, 2)
		fatalIf(t, err, "events after %d", after)
		want := all[after:min(after+2, int64(len(all)))]
		if len(evs) != len(want) || evs[0].Seq != after+1 {
			t.Errorf("events after %d limit 2: got %d starting %d", after, len(evs), evs[0].Seq)
		}
	}
	if evs, err := e.db.Events(ctx, sc.Tenant, int64(len(all)), 10); err != nil || len(evs) != 0 {
		t.Errorf("events after the end = %v, %v", evs, err)
	}
	// Each tenant numbers its own log from 1.
	other, olog := e.newTenant(t)
	e.user(t, other, user.NewUser{Username: "someone"})
	if evs := olog.expect(t, "user.created"); len(evs) == 1 && evs[0].Seq != 2 {
		t.Errorf("second event of a new tenant has seq %d", evs[0].Seq)
	}
}
