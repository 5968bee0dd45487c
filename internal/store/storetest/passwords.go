package storetest

import (
	"slices"
	"strings"
	"testing"

	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/user"
	"github.com/tessera-iam/tessera/internal/user/password"
)

// hashes returns the current hash then every kept earlier one.
func hashes(t *testing.T, e *env, u *user.User) []string {
	t.Helper()
	hs, err := e.db.PasswordHashes(t.Context(), u.Tenant, u.ID, 100)
	fatalIf(t, err, "password hashes of %s", u.Username)
	return hs
}

func testPasswords(t *testing.T, e *env) {
	ctx := t.Context()
	sc, log := e.newTenant(t)
	pol := password.Policy{MinLength: 8, MaxLength: 64, HistoryCount: 2}
	fatalIf(t, e.users.SetPasswordPolicy(ctx, sc, pol), "set policy")
	log.expect(t, "tenant.password_policy_updated")
	got, err := e.users.PasswordPolicy(ctx, sc.Tenant)
	fatalIf(t, err, "read policy")
	deepEqual(t, "policy read back", got, pol)

	u, err := e.users.Create(ctx, sc, user.NewUser{Username: "pw.user", Emails: []user.Email{{Value: "pw@example.com"}}, Password: "first secret 1"})
	fatalIf(t, err, "create with a password")
	evs := log.expect(t, "user.created")
	if len(evs) == 1 && evs[0].Details["password"] != true {
		t.Errorf("user.created details = %v, want password: true", evs[0].Details)
	}
	stored, err := e.users.User(ctx, sc, u.ID)
	fatalIf(t, err, "read")
	sameTime(t, "password changed at creation", stored.PasswordChanged, u.Created)
	// What Create returns is what was stored (its version is the ETag a
	// client sends back with If-Match).
	sameUser(t, "user created with a password, read back", stored, u)
	hs := hashes(t, e, u)
	if len(hs) != 1 || !strings.HasPrefix(hs[0], "$argon2id$") {
		t.Fatalf("hashes after create = %q", hs)
	}

	// Each change pushes the current hash into the history, which keeps
	// HistoryCount entries.
	before := stored
	for i, plain := range []string{"second secret 2", "third secret 3", "fourth secret 4"} {
		prev := hs
		out, err := e.users.SetPassword(ctx, sc, u.ID, plain)
		fatalIf(t, err, "set password %d", i)
		log.expect(t, "user.password_set")
		hs = hashes(t, e, u)
		want := min(len(prev)+1, 1+pol.HistoryCount)
		if len(hs) != want || !slices.Equal(hs[1:], prev[:want-1]) || hs[0] == prev[0] {
			t.Errorf("after set %d: hashes %q, before %q; want the new one then the %d newest earlier", i, hs, prev, want-1)
		}
		stored, err = e.users.User(ctx, sc, u.ID)
		fatalIf(t, err, "read")
		// The change time is part of the user, so the version moves with it.
		sameUser(t, "user after a password change, read back", stored, out)
		if stored.Version != before.Version+1 || !stored.PasswordChanged.After(before.PasswordChanged) {
			t.Errorf("after set %d: version %d, password changed %s; before %d, %s", i, stored.Version,
				stored.PasswordChanged, before.Version, before.PasswordChanged)
		}
		before = stored
	}
	lastChange := stored.PasswordChanged

	// Reuse of the current and the previous password is refused, and so is
	// a password the policy forbids; nothing changes.
	unchanged(t, e.db, func() {
		for _, plain := range []string{"fourth secret 4", "third secret 3", "short"} {
			_, err := e.users.SetPassword(ctx, sc, u.ID, plain)
			wantErr(t, err, errkind.Invalid, "set password %q", plain)
		}
		_, err := e.users.SetPassword(ctx, sc, "usr_nosuchuser", "a fine new password")
		wantErr(t, err, user.ErrNotFound, "set the password of an unknown user")
	})
	log.expect(t)

	// Checking passwords: every failure is the same error and changes nothing.
	ok := func(login, plain string) {
		t.Helper()
		got, err := e.users.CheckPassword(ctx, sc.Tenant, login, plain)
		if err != nil || got.ID != u.ID {
			t.Errorf("check %q: %v, %v; want user %s", login, got, err, u.ID)
		}
	}
	bad := func(what, login, plain string) {
		t.Helper()
		_, err := e.users.CheckPassword(ctx, sc.Tenant, login, plain)
		wantErr(t, err, user.ErrBadCredentials, "check with %s", what)
	}
	unchanged(t, e.db, func() {
		ok("PW.USER", "fourth secret 4")
		ok("pw@EXAMPLE.com", "fourth secret 4")
		bad("a wrong password", "pw.user", "third secret 3")
		bad("an unknown user", "nobody", "fourth secret 4")
		bad("an empty password", "pw.user", "")
	})
	e.user(t, sc, user.NewUser{Username: "no-password"})
	log.expect(t, "user.created")
	bad("a user without a password", "no-password", "anything at all")

	for _, lock := range []struct{ on, off user.Op }{{user.OpSuspend, user.OpUnsuspend}, {user.OpLock, user.OpUnlock}} {
		_, err := e.users.Transition(ctx, sc, u.ID, lock.on, 0)
		fatalIf(t, err, "%s", lock.on)
		bad("the right password of a user after "+string(lock.on), "pw.user", "fourth secret 4")
		_, err = e.users.Transition(ctx, sc, u.ID, lock.off, 0)
		fatalIf(t, err, "%s", lock.off)
		ok("pw.user", "fourth secret 4")
		log.expect(t, "user."+string(lock.on), "user."+string(lock.off))
	}
	stored, err = e.users.User(ctx, sc, u.ID)
	fatalIf(t, err, "read")
	sameTime(t, "password changed after checks", stored.PasswordChanged, lastChange)
}

func testPasswordImport(t *testing.T, e *env) {
	ctx := t.Context()
	sc, log := e.newTenant(t)
	u := e.user(t, sc, user.NewUser{Username: "legacy"})
	log.expect(t, "user.created")
	legacy := bcryptHash(t, "legacy password 1")

	unchanged(t, e.db, func() {
		for _, h := range []string{"", "plaintext", "$2b$04$short", "$1$md5$crypt"} {
			_, err := e.users.ImportPasswordHash(ctx, sc, u.ID, h)
			wantErr(t, err, errkind.Invalid, "import %q", h)
		}
		_, err := e.users.Create(ctx, sc, user.NewUser{Username: "both", Password: "a long password", PasswordHash: legacy})
		wantErr(t, err, errkind.Invalid, "create with a password and a hash")
	})
	log.expect(t)

	imp, err := e.users.ImportPasswordHash(ctx, sc, u.ID, legacy)
	fatalIf(t, err, "import")
	log.expect(t, "user.password_imported")
	if hs := hashes(t, e, u); len(hs) != 1 || hs[0] != legacy {
		t.Fatalf("hashes after import = %q", hs)
	}
	stored, err := e.users.User(ctx, sc, u.ID)
	fatalIf(t, err, "read")
	sameUser(t, "user after import, read back", stored, imp)
	if stored.Version != u.Version+1 {
		t.Errorf("version after import = %d, want %d", stored.Version, u.Version+1)
	}

	unchanged(t, e.db, func() {
		_, err := e.users.CheckPassword(ctx, sc.Tenant, "legacy", "wrong password")
		wantErr(t, err, user.ErrBadCredentials, "wrong password against a bcrypt hash")
	})
	// The right password upgrades the hash in place: no history, same change time, no event.
	_, err = e.users.CheckPassword(ctx, sc.Tenant, "legacy", "legacy password 1")
	fatalIf(t, err, "check against bcrypt")
	hs := hashes(t, e, u)
	if len(hs) != 1 || !strings.HasPrefix(hs[0], "$argon2id$") {
		t.Fatalf("after a successful check the hashes are %q; want one $argon2id$ hash", hs)
	}
	after, err := e.users.User(ctx, sc, u.ID)
	fatalIf(t, err, "read")
	sameTime(t, "password changed after upgrade", after.PasswordChanged, stored.PasswordChanged)
	if after.Version != stored.Version {
		t.Errorf("the upgrade changed the user's version")
	}
	log.expect(t)
	// The upgraded hash verifies, and is not upgraded again.
	unchanged(t, e.db, func() {
		_, err := e.users.CheckPassword(ctx, sc.Tenant, "LEGACY", "legacy password 1")
		fatalIf(t, err, "check against the upgraded hash")
		_, err = e.users.CheckPassword(ctx, sc.Tenant, "legacy", "legacy password 2")
		wantErr(t, err, user.ErrBadCredentials, "wrong password against the upgraded hash")
	})

	// UpgradePasswordHash only replaces the hash it was computed from: a
	// password changed meanwhile wins.
	current := hs[0]
	unchanged(t, e.db, func() {
		fatalIf(t, e.db.UpgradePasswordHash(ctx, sc.Tenant, u.ID, legacy, "$argon2id$stale-upgrade"), "stale upgrade")
	})
	if got := hashes(t, e, u); got[0] != current {
		t.Errorf("a stale upgrade replaced the current hash: %q", got)
	}
	newer := bcryptHash(t, "changed meanwhile")
	fatalIf(t, e.db.SetPassword(ctx, sc.Tenant, u.ID, newer, e.clock.Now(), 0), "set password")
	fatalIf(t, e.db.UpgradePasswordHash(ctx, sc.Tenant, u.ID, current, "$argon2id$lost-race"), "racing upgrade")
	if got := hashes(t, e, u); len(got) != 1 || got[0] != newer {
		t.Errorf("an upgrade racing a password change won: %q", got)
	}
	fatalIf(t, e.db.UpgradePasswordHash(ctx, sc.Tenant, u.ID, newer, current), "upgrade of the current hash")
	if got := hashes(t, e, u); got[0] != current {
		t.Errorf("an upgrade of the current hash did not apply: %q", got)
	}

	// A hash can be imported at creation as well, and is upgraded the same way.
	c, err := e.users.Create(ctx, sc, user.NewUser{Username: "imported", PasswordHash: bcryptHash(t, "imported password")})
	fatalIf(t, err, "create with a hash")
	log.expect(t, "user.created")
	stored, err = e.users.User(ctx, sc, c.ID)
	fatalIf(t, err, "read")
	sameTime(t, "password changed at creation", stored.PasswordChanged, c.Created)
	sameUser(t, "user created with a hash, read back", stored, c)
	_, err = e.users.CheckPassword(ctx, sc.Tenant, "imported", "imported password")
	fatalIf(t, err, "check imported at creation")
	if hs := hashes(t, e, c); !strings.HasPrefix(hs[0], "$argon2id$") {
		t.Errorf("hash imported at creation not upgraded: %q", hs)
	}
	// A staged user's right password is still refused.
	e.user(t, sc, user.NewUser{Username: "staged", Status: user.Staged, PasswordHash: bcryptHash(t, "staged password")})
	log.expect(t, "user.created")
	_, err = e.users.CheckPassword(ctx, sc.Tenant, "staged", "staged password")
	wantErr(t, err, user.ErrBadCredentials, "a staged user's password")
}
