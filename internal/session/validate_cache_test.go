package session_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/keys"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/store"
)

// readHook is the real store with a hook that runs right after a session
// is read by its token, to put a revocation exactly there.
type readHook struct {
	*store.DB
	after func()
}

func (h *readHook) SessionByToken(ctx context.Context, hash string) (*session.Session, error) {
	ses, err := h.DB.SessionByToken(ctx, hash)
	if h.after != nil {
		fn := h.after
		h.after = nil
		fn()
	}
	return ses, err
}

// A session revoked while a request is reading it must not live on in the
// cache (the entry may only be as new as what the request read), nor come
// back when the request's recorded activity is written.
func testCacheForgetsSessionRevokedDuringTouch(t *testing.T, f *fixture) {
	alice := f.newUser(t, "alice")
	mk, err := keys.ParseMasterKey(keys.GenerateMasterKey())
	if err != nil {
		t.Fatal(err)
	}
	hook := &readHook{DB: f.db}
	svc := &session.Service{Store: hook, Now: f.clk.Now, Users: f.srv.Users, Seal: mk, Digest: mk.Digester("sign-in"),
		Cache: session.NewCache(100)}

	out, err := svc.SignIn(f.ctx, f.tenant, session.Attempt{Login: "alice", Password: goodPassword, Client: client})
	if err != nil || out.Token == "" {
		t.Fatalf("sign in: %+v, %v", out, err)
	}
	f.clk.Advance(2 * time.Minute) // the check records activity
	hook.after = func() {
		if n, err := svc.RevokeAll(f.ctx, f.sc, alice.ID, "", "sign out everywhere"); err != nil || n != 1 {
			t.Errorf("revoke during the read: %d, %v", n, err)
		}
	}
	if _, err := svc.Validate(f.ctx, f.tenant, out.Token); err != nil {
		t.Fatalf("the request in flight: %v", err) // it read the session before the revocation
	}
	if hook.after != nil {
		t.Fatal("the check did not read the store")
	}
	if _, err := svc.Validate(f.ctx, f.tenant, out.Token); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("revoked session still validates from the cache: %v", err)
	}
	if err := svc.FlushActivity(f.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Validate(f.ctx, f.tenant, out.Token); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("writing the recorded activity brought the revoked session back: %v", err)
	}
}

// Activity is recorded in memory and written by FlushActivity, which the
// store then keeps: the idle timeout a fresh process reads is the extended
// one.
func testActivityIsWrittenByFlush(t *testing.T, f *fixture) {
	f.newUser(t, "carol")
	out := f.mustSignIn(t, "carol", goodPassword)
	at := f.clk.Advance(5 * time.Minute)
	if _, err := f.ses.Validate(f.ctx, f.tenant, out.Token); err != nil {
		t.Fatal(err)
	}
	stored := func() *session.Session {
		t.Helper()
		ss, err := f.db.ListSessions(f.ctx, f.tenant, out.User.ID)
		if err != nil || len(ss) != 1 {
			t.Fatalf("sessions: %v, %v", ss, err)
		}
		return &ss[0]
	}
	if !stored().LastSeen.Equal(out.Session.LastSeen) {
		t.Error("a request waited on a write of its activity")
	}
	if err := f.ses.FlushActivity(f.ctx); err != nil {
		t.Fatal(err)
	}
	if s := stored(); !s.LastSeen.Equal(at) || !s.IdleUntil.After(out.Session.IdleUntil) {
		t.Errorf("after the flush: last seen %v (want %v), idle until %v", s.LastSeen, at, s.IdleUntil)
	}
}
