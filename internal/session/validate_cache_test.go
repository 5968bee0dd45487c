package session_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/keys"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/store"
	"github.com/tessera-iam/tessera/internal/tenant"
)

// touchHook is the real store with a hook that runs right after a session's
// activity is written, to put a revocation exactly there.
type touchHook struct {
	*store.DB
	after func()
}

func (h *touchHook) TouchSession(ctx context.Context, t tenant.ID, id session.ID, lastSeen, idleUntil time.Time) error {
	err := h.DB.TouchSession(ctx, t, id, lastSeen, idleUntil)
	if h.after != nil {
		fn := h.after
		h.after = nil
		fn()
	}
	return err
}

// A session revoked while a request is extending it must not live on in
// the cache: the entry written after the touch may only be as new as what
// the request read.
func testCacheForgetsSessionRevokedDuringTouch(t *testing.T, f *fixture) {
	alice := f.newUser(t, "alice")
	mk, err := keys.ParseMasterKey(keys.GenerateMasterKey())
	if err != nil {
		t.Fatal(err)
	}
	hook := &touchHook{DB: f.db}
	svc := &session.Service{Store: hook, Now: f.clk.Now, Users: f.srv.Users, Seal: mk, Digest: mk.Digester("sign-in"),
		Cache: session.NewCache(100)}

	out, err := svc.SignIn(f.ctx, f.tenant, session.Attempt{Login: "alice", Password: goodPassword, Client: client})
	if err != nil || out.Token == "" {
		t.Fatalf("sign in: %+v, %v", out, err)
	}
	if _, err := svc.Validate(f.ctx, f.tenant, out.Token); err != nil { // cached
		t.Fatal(err)
	}
	f.clk.Advance(2 * time.Minute) // the next check writes activity
	hook.after = func() {
		if n, err := svc.RevokeAll(f.ctx, f.sc, alice.ID, "", "sign out everywhere"); err != nil || n != 1 {
			t.Errorf("revoke during the touch: %d, %v", n, err)
		}
	}
	if _, err := svc.Validate(f.ctx, f.tenant, out.Token); err != nil {
		t.Fatalf("the request in flight: %v", err) // it read the session before the revocation
	}
	if hook.after != nil {
		t.Fatal("the check wrote no activity")
	}
	if _, err := svc.Validate(f.ctx, f.tenant, out.Token); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("revoked session still validates: %v", err)
	}

	// The same with a session first read from the store.
	out, err = svc.SignIn(f.ctx, f.tenant, session.Attempt{Login: "alice", Password: goodPassword, Client: client})
	if err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(2 * time.Minute)
	hook.after = func() {
		if _, err := svc.RevokeAll(f.ctx, f.sc, alice.ID, "", "sign out everywhere"); err != nil {
			t.Error(err)
		}
	}
	if _, err := svc.Validate(f.ctx, f.tenant, out.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Validate(f.ctx, f.tenant, out.Token); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("revoked session (first read from the store) still validates: %v", err)
	}
}
