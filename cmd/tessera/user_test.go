package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/tessera-iam/tessera/internal/server"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

// TestUserCommands: `user sign-out` ends every session of a user and says
// how many, `user reset-mfa` removes the factors, `user unlock` lifts a
// lockout; each refuses unknown tenants and users.
func TestUserCommands(t *testing.T) {
	data := t.TempDir()
	env := func(k string) string {
		return map[string]string{"TESSERA_DATA": data, "TESSERA_ARGON2_MEMORY": "8192", "TESSERA_ARGON2_TIME": "1"}[k]
	}
	tessera := func(args ...string) (string, error) {
		t.Helper()
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, &out, &errOut, env)
		return out.String(), err
	}
	// open gives the test the server the commands work on, closed after fn.
	open := func(fn func(ctx context.Context, s *server.Server, sc tenant.Scope)) {
		t.Helper()
		ctx := context.Background()
		var errOut bytes.Buffer
		s, err := openDB(ctx, "test", nil, &errOut, env, nil, nil)
		if err != nil {
			t.Fatalf("%v\n%s", err, errOut.String())
		}
		defer s.Close()
		ten, err := s.Tenants.TenantBySlug(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		fn(ctx, s, tenant.Scope{Tenant: ten.ID})
	}
	if _, err := tessera("tenant", "create", "--slug", "acme", "--name", "Acme"); err != nil {
		t.Fatal(err)
	}

	const pw = "a long enough passphrase 7"
	var uid user.ID
	var tokens []string
	open(func(ctx context.Context, s *server.Server, sc tenant.Scope) {
		u, err := s.Users.Create(ctx, sc, user.NewUser{Username: "ada", Password: pw})
		if err != nil {
			t.Fatal(err)
		}
		uid = u.ID
		for range 2 {
			out, err := s.Sessions.SignIn(ctx, sc.Tenant, session.Attempt{Login: "ada", Password: pw})
			if err != nil || out.Token == "" {
				t.Fatalf("sign-in: %+v %v", out, err)
			}
			tokens = append(tokens, out.Token)
		}
		enrol, err := s.Sessions.BeginTOTP(ctx, sc.Tenant, u, "Acme")
		if err != nil {
			t.Fatal(err)
		}
		code, err := totp.GenerateCode(enrol.Secret, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Sessions.ConfirmTOTP(ctx, sc.Tenant, u.ID, enrol.Token, code, "Phone"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Users.Transition(ctx, sc, u.ID, user.OpLock, 0); err != nil {
			t.Fatal(err)
		}
	})

	out, err := tessera("user", "sign-out", "--tenant", "acme", "--user", string(uid))
	if err != nil || out != string(uid)+"\t2 sessions ended\n" {
		t.Fatalf("user sign-out: %v %q", err, out)
	}
	out, err = tessera("user", "reset-mfa", "--tenant", "acme", "--user", string(uid))
	if err != nil || !strings.HasPrefix(out, string(uid)+"\t1 factors removed") {
		t.Fatalf("user reset-mfa: %v %q", err, out)
	}
	out, err = tessera("user", "unlock", "--tenant", "acme", "--user", string(uid))
	if err != nil || out != string(uid)+"\tunlocked\n" {
		t.Fatalf("user unlock: %v %q", err, out)
	}
	open(func(ctx context.Context, s *server.Server, sc tenant.Scope) {
		for _, tok := range tokens {
			if _, err := s.Sessions.Validate(ctx, sc.Tenant, tok); err == nil {
				t.Errorf("a session still validates after user sign-out")
			}
		}
		fs, err := s.Sessions.Factors(ctx, sc, uid)
		if err != nil || len(fs) != 0 {
			t.Errorf("factors after reset-mfa: %v %v", fs, err)
		}
		u, err := s.Users.User(ctx, sc, uid)
		if err != nil || u.Locked {
			t.Errorf("after unlock: %+v %v", u, err)
		}
		// Unlocked and without factors: the password alone signs in.
		if out, err := s.Sessions.SignIn(ctx, sc.Tenant, session.Attempt{Login: "ada", Password: pw}); err != nil || out.Token == "" {
			t.Errorf("sign-in after the commands: %+v %v", out, err)
		}
	})

	// Again: nothing left to end or remove; unlocking twice is refused.
	if out, err := tessera("user", "sign-out", "--tenant", "acme", "--user", string(uid)); err != nil || !strings.Contains(out, "\t1 sessions ended") {
		t.Errorf("second sign-out: %v %q", err, out) // the sign-in just above
	}
	if out, err := tessera("user", "reset-mfa", "--tenant", "acme", "--user", string(uid)); err != nil || !strings.Contains(out, "\t0 factors removed") {
		t.Errorf("second reset-mfa: %v %q", err, out)
	}
	for _, args := range [][]string{
		{"user", "unlock", "--tenant", "acme", "--user", string(uid)}, // not locked
		{"user", "sign-out", "--tenant", "acme"},
		{"user", "sign-out", "--user", string(uid)},
		{"user", "sign-out", "--tenant", "nope", "--user", string(uid)},
		{"user", "reset-mfa", "--tenant", "acme", "--user", "usr_missing"},
		{"user", "unlock", "--tenant", "acme", "--user", "usr_missing"},
		{"user", "frobnicate", "--tenant", "acme", "--user", string(uid)},
		{"user"},
	} {
		if out, err := tessera(args...); err == nil {
			t.Errorf("tessera %v succeeded: %q", args, out)
		}
	}
}
