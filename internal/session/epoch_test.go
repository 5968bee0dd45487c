package session_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/keys"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/store"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
	"github.com/tessera-iam/tessera/internal/user/password"
)

// A CLI command is another process on the same SQLite file: the serving
// process's session cache must learn of the sessions it ends.
func TestCacheLearnsOfSessionsEndedByAnotherProcess(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tessera.db")
	open := func() *store.DB {
		db, err := store.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		return db
	}
	mk, err := keys.ParseMasterKey(keys.GenerateMasterKey())
	if err != nil {
		t.Fatal(err)
	}
	service := func(db *store.DB) *session.Service {
		users := &user.Service{Store: db, Now: time.Now, Hasher: password.NewHasher(password.Params{Memory: 8 * 1024, Time: 1, Threads: 1}, 2)}
		return &session.Service{Store: db, Now: time.Now, Users: users, Seal: mk,
			Digest: mk.Digester("sign-in"), Cache: session.NewCache(100)}
	}
	serving, cli := service(open()), service(open())

	tn, err := (&tenant.Service{Store: serving.Store.(*store.DB), Now: time.Now}).CreateTenant(ctx, "acme", "Acme")
	if err != nil {
		t.Fatal(err)
	}
	sc := tenant.Scope{Tenant: tn.ID}
	u, err := serving.Users.Create(ctx, sc, user.NewUser{Username: "ada", Status: user.Active})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := serving.Users.SetPassword(ctx, sc, u.ID, "correct horse battery staple"); err != nil {
		t.Fatal(err)
	}
	out, err := serving.SignIn(ctx, tn.ID, session.Attempt{Login: "ada", Password: "correct horse battery staple"})
	if err != nil {
		t.Fatal(err)
	}
	tok := out.Token
	if _, err := serving.Validate(ctx, tn.ID, tok); err != nil { // now cached
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	serving.WatchEpoch(wctx, 5*time.Millisecond)
	if n, err := cli.RevokeAll(ctx, sc, u.ID, "", "cli"); err != nil || n != 1 {
		t.Fatalf("revoke from the other process: %d, %v", n, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := serving.Validate(ctx, tn.ID, tok)
		if errors.Is(err, session.ErrNoSession) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the serving process still accepts a session another process ended: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
