package login_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/config"
	"github.com/tessera-iam/tessera/internal/mail"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/store"
	"github.com/tessera-iam/tessera/internal/testkit"
	"github.com/tessera-iam/tessera/internal/user"
)

// Security tests of the hosted sign-in pages: each one attacks through the
// HTTP surface a browser sees, and also runs the legitimate variant, so that
// a defence that refused everything would fail them too.

const (
	loginPath    = "/t/" + slug + "/login"
	passwordPath = "/t/" + slug + "/login/password"
	forgotPath   = "/t/" + slug + "/login/forgot"
	revokeAll    = "/t/" + slug + "/security/sessions/revoke-all"
)

// A form posted from another site (or without its token) neither signs in
// nor changes anything: the token must match this browser's cookie, and
// POSTs the browser marks as cross-origin are refused even with a good one.
func TestCSRFRefusesForgedPosts(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		s := newSite(t, db)
		alice := s.newUser(t, "alice")
		victim := s.visitor(t)
		token := victim.csrf()
		otherToken := s.visitor(t).csrf() // a pair the attacker can get for themselves
		if otherToken == token {
			t.Fatal("two browsers got the same form token")
		}
		forged := []struct {
			name    string
			from    *visitor
			csrf    string
			headers []string
			ours    bool // refused by the form token check (our page), else by CrossOriginProtection
		}{
			{"no token", victim, "", nil, true},
			{"wrong token", victim, strings.Repeat("A", 43), nil, true},
			{"token of another browser's cookie", victim, otherToken, nil, true},
			{"token without the cookie", s.visitor(t), token, nil, true},
			{"token in the header of another browser", victim, "", []string{"X-CSRF-Token", otherToken}, true},
			{"Sec-Fetch-Site cross-site", victim, token, []string{"Sec-Fetch-Site", "cross-site"}, false},
			{"Sec-Fetch-Site same-site", victim, token, []string{"Sec-Fetch-Site", "same-site"}, false},
			{"Origin of another site", victim, token, []string{"Sec-Fetch-Site", "", "Origin", "https://evil.example"}, false},
			{"Origin null", victim, token, []string{"Sec-Fetch-Site", "", "Origin", "null"}, false},
		}
		for _, c := range forged {
			before := s.hashes()
			p := c.from.post(passwordPath, signInForm(c.csrf, "alice", goodPassword, home), c.headers...)
			if p.status != http.StatusForbidden {
				t.Errorf("%s: %d, want 403", c.name, p.status)
			}
			if p.setCookie(sessionCookie) != nil || c.from.cookie(sessionCookie) != "" {
				t.Errorf("%s: a session cookie was set", c.name)
			}
			if c.ours && !strings.Contains(p.body, "Page expired") {
				t.Errorf("%s: not the expired-form page:\n%s", c.name, p.body)
			}
			if n := s.hashes() - before; n != 0 {
				t.Errorf("%s: the password was checked (%d hashes): the forged post reached the sign-in", c.name, n)
			}
		}

		// The same post from the site's own page signs in.
		p := victim.post(passwordPath, signInForm(token, "alice", goodPassword, home))
		tok := p.sessionSet()
		if p.status != http.StatusSeeOther || p.header.Get("Location") != home || tok == "" {
			t.Fatalf("legitimate sign-in: %d to %q, session %q", p.status, p.header.Get("Location"), tok)
		}
		if ses := s.validate(t, tok); ses == nil || ses.User != alice.ID {
			t.Fatalf("the new session is not alice's: %+v", ses)
		}

		// Signed in: forged posts to a page that changes things are refused
		// and the session lives on.
		token = field(t, csrfPattern, victim.get("/t/"+slug+"/security").body)
		for _, c := range []struct {
			name    string
			path    string
			form    url.Values
			headers []string
		}{
			{"revoke-all without token", revokeAll, url.Values{}, nil},
			{"revoke-all with another browser's token", revokeAll, url.Values{"csrf": {otherToken}}, nil},
			{"revoke-all cross-site", revokeAll, url.Values{"csrf": {token}}, []string{"Sec-Fetch-Site", "cross-site"}},
			{"revoke-all from another origin", revokeAll, url.Values{"csrf": {token}}, []string{"Sec-Fetch-Site", "", "Origin", "https://evil.example"}},
			{"sign-out without token", "/t/" + slug + "/logout", url.Values{}, nil},
		} {
			if p := victim.post(c.path, c.form, c.headers...); p.status != http.StatusForbidden {
				t.Errorf("%s: %d, want 403", c.name, p.status)
			}
			if s.validate(t, tok) == nil {
				t.Fatalf("%s: the session ended", c.name)
			}
		}
		if p := victim.get(home); p.status != http.StatusOK || !strings.Contains(p.body, "Sign out") {
			t.Fatalf("portal after the forged posts: %d", p.status)
		}
		// With the token, from the page, it works.
		p = victim.post(revokeAll, url.Values{"csrf": {token}})
		if p.status != http.StatusOK || !strings.Contains(p.body, "Signed out everywhere") {
			t.Fatalf("legitimate sign-out everywhere: %d:\n%s", p.status, p.body)
		}
		if s.validate(t, tok) != nil {
			t.Fatal("the session is still valid after signing out everywhere")
		}
	})
}

// A sign-in never adopts a session id the browser brought: an
// attacker-chosen value, another user's real session, or the browser's own
// earlier session are all replaced by a new id, and the old one ends.
func TestSignInGivesAFreshSession(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		s := newSite(t, db)
		alice := s.newUser(t, "alice")
		s.newUser(t, "mallory")

		check := func(name, planted string, p page) string {
			t.Helper()
			got := p.sessionSet()
			if p.status != http.StatusSeeOther || got == "" {
				t.Fatalf("%s: sign-in %d, session %q", name, p.status, got)
			}
			if got == planted {
				t.Fatalf("%s: the sign-in kept the planted session id", name)
			}
			if ses := s.validate(t, got); ses == nil || ses.User != alice.ID {
				t.Fatalf("%s: the new session is not alice's: %+v", name, ses)
			}
			return got
		}

		// An attacker-chosen value of the right shape.
		b := s.visitor(t)
		planted := "AttackerChosenSessionIdAttackerChosenSessio"
		if len(planted) != 43 {
			t.Fatal("planted id of the wrong length")
		}
		b.plant(sessionCookie, planted)
		check("attacker-chosen", planted, b.signIn("alice", goodPassword, ""))
		if s.validate(t, planted) != nil {
			t.Fatal("the planted id became a session")
		}

		// The attacker's own real session, planted into the victim's browser.
		attacker := s.visitor(t)
		mallorys := attacker.mustSignIn("mallory")
		victim := s.visitor(t)
		victim.plant(sessionCookie, mallorys)
		if p := victim.get("/t/" + slug + "/profile"); p.status != http.StatusOK || !strings.Contains(p.body, "mallory") {
			t.Fatalf("the planted session does not work before the sign-in (%d): the test plants nothing", p.status)
		}
		got := check("another user's session", mallorys, victim.signIn("alice", goodPassword, ""))
		if victim.cookie(sessionCookie) != got {
			t.Fatal("the browser does not hold the new session")
		}
		if s.validate(t, mallorys) != nil {
			t.Error("the session the browser held before the sign-in lives on")
		}

		// A browser already signed in gets a new id; the old one ends.
		b = s.visitor(t)
		first := b.mustSignIn("alice")
		second := check("signed in again", first, b.signIn("alice", goodPassword, ""))
		if s.validate(t, first) != nil {
			t.Error("the earlier session of the browser still validates")
		}
		if s.validate(t, second) == nil {
			t.Error("the new session does not validate")
		}
	})
}

// Return URLs that leave the tenant's pages, by any spelling, end at the
// portal; the tenant's own pages, as a path or an absolute URL on the public
// origin, are kept as a path. The sign-in pages never carry the bad value on.
func TestReturnURLCannotLeaveTheTenant(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		s := newSite(t, db)
		s.newUser(t, "alice")
		hostPort := strings.TrimPrefix(s.url, "http://")
		evil := []struct{ ret, marker string }{
			{"https://evil.example/", "evil.example"},
			{"//evil.example/", "evil.example"},
			{"/\\evil.example", "evil.example"},
			{"\\\\evil.example", "evil.example"},
			{"/\\/evil.example/t/default/", "evil.example"},
			{"javascript:alert(1)", "alert(1)"},
			{"JavaScript://%0aalert(1)", "alert(1)"},
			{"data:text/html,<script>alert(1)</script>", "alert(1)"},
			{"/t/other/", "/t/other/"},
			{"/t/defaultx/", "/t/defaultx/"},
			{"/t/default/../other/", "other/"},
			{"/t/default/%2e%2e/x", "%2e%2e"},
			{"/t/default/%2E%2E/%2E%2E/t/other/", "other/"},
			{"http://" + hostPort + ".evil.example/t/default/", "evil.example"},
			{"http://" + hostPort + "@evil.example/t/default/", "evil.example"},
			{"https://user@" + hostPort + "/t/default/", "user@"},
			{"http://user:pw@" + hostPort + "/t/default/security", "user:pw@"},
			{"https://" + hostPort + "/t/default/", "https://"}, // the public origin is http
			{"http://evil.example" + "/t/default/", "evil.example"},
			{"/t/default/\r\nSet-Cookie: x=1", "Set-Cookie"},
		}
		for _, c := range evil {
			b := s.visitor(t)
			// The page's hidden field, from the link and from the identifier step.
			p := b.get(loginPath + "?return=" + url.QueryEscape(c.ret))
			if got := field(t, returnPattern, p.body); got != home {
				t.Errorf("%q: sign-in page carries return %q", c.ret, got)
			}
			if strings.Contains(p.body, c.marker) {
				t.Errorf("%q: the sign-in page contains %q", c.ret, c.marker)
			}
			token := field(t, csrfPattern, p.body)
			p = b.post(loginPath, url.Values{"csrf": {token}, "login": {"alice"}, "return": {c.ret}})
			if p.status != http.StatusOK || field(t, returnPattern, p.body) != home || strings.Contains(p.body, c.marker) {
				t.Errorf("%q: password page %d carries return %q", c.ret, p.status, field(t, returnPattern, p.body))
			}
			// The sign-in itself.
			p = b.post(passwordPath, signInForm(token, "alice", goodPassword, c.ret))
			if p.status != http.StatusSeeOther || p.header.Get("Location") != home {
				t.Errorf("%q: sign-in sends the browser to %q (%d), want %q", c.ret, p.header.Get("Location"), p.status, home)
			}
		}

		for _, c := range []struct{ ret, want string }{
			{"/t/default/security", "/t/default/security"},
			{s.url + "/t/default/profile?x=1", "/t/default/profile?x=1"},
			{"/t/default/profile?tab=a%2Fb", "/t/default/profile?tab=a%2Fb"},
		} {
			b := s.visitor(t)
			if got := field(t, returnPattern, b.get(loginPath+"?return="+url.QueryEscape(c.ret)).body); got != c.want {
				t.Errorf("%q: sign-in page carries return %q, want %q", c.ret, got, c.want)
			}
			p := b.signIn("alice", goodPassword, c.ret)
			if p.status != http.StatusSeeOther || p.header.Get("Location") != c.want {
				t.Errorf("%q: sign-in sends the browser to %q (%d), want %q", c.ret, p.header.Get("Location"), p.status, c.want)
				continue
			}
			if p := b.get(c.want); p.status != http.StatusOK {
				t.Errorf("%q: the kept return page answers %d", c.want, p.status)
			}
		}
	})
}

// The answers to a password never tell whether the account exists or may
// sign in: unknown login, wrong password, suspended and locked users with the
// right password, and a user without a password all get the same page.
func TestSignInAnswersDoNotTellAccountsApart(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		s := newSite(t, db)
		s.newUser(t, "alice")
		s.transition(t, s.newUser(t, "sam"), user.OpSuspend)
		s.transition(t, s.newUser(t, "lou"), user.OpLock)
		s.newUserWithoutPassword(t, "nopass")
		attempts := []struct{ name, login, password string }{
			{"unknown login", "nobody", goodPassword},
			{"unknown email", "nobody@example.com", goodPassword},
			{"known login, wrong password", "alice", wrongPassword},
			{"known email, wrong password", "alice@example.com", wrongPassword},
			{"suspended user, right password", "sam", goodPassword},
			{"locked user, right password", "lou", goodPassword},
			{"user without password", "nopass", goodPassword},
		}
		var want string
		for i, a := range attempts {
			b := s.visitor(t)
			p := b.signIn(a.login, a.password, "")
			if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "The username or password is not right.") {
				t.Errorf("%s: %d:\n%s", a.name, p.status, p.body)
			}
			if !strings.Contains(p.body, a.login) {
				t.Errorf("%s: the page does not echo the login: the normalization proves nothing", a.name)
			}
			got := normalized(p, a.login)
			if i == 0 {
				want = got
			} else if got != want {
				t.Errorf("%s answers differently from %s:\n%s\n---\n%s", a.name, attempts[0].name, got, want)
			}
		}
		// The legitimate attempt does differ.
		if p := s.visitor(t).signIn("alice", goodPassword, ""); p.status != http.StatusSeeOther {
			t.Errorf("right password: %d", p.status)
		}

		// The identifier step looks nothing up.
		var first string
		for i, login := range []string{"alice", "nobody", "sam", "lou"} {
			b := s.visitor(t)
			p := b.post(loginPath, url.Values{"csrf": {b.csrf()}, "login": {login}, "return": {home}})
			if p.status != http.StatusOK || !strings.Contains(p.body, `name="password"`) {
				t.Fatalf("identifier step for %s: %d", login, p.status)
			}
			got := normalized(p, login)
			if i == 0 {
				first = got
			} else if got != first {
				t.Errorf("identifier step for %s differs from alice:\n%s\n---\n%s", login, got, first)
			}
		}
	})
}

// "Forgot password" answers the same for every login; only an account that
// exists (and may recover) gets mail.
func TestForgotPasswordDoesNotTellAccountsApart(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		s := newSite(t, db)
		s.newUser(t, "alice")
		s.transition(t, s.newUser(t, "sam"), user.OpSuspend)
		var want string
		for i, login := range []string{"nobody", "nobody@example.com", "sam", "alice", "alice@example.com"} {
			b := s.visitor(t)
			p := b.post(forgotPath, url.Values{"csrf": {b.csrf()}, "login": {login}})
			if p.status != http.StatusOK || !strings.Contains(p.body, "If an account matches") {
				t.Fatalf("forgot %s: %d:\n%s", login, p.status, p.body)
			}
			got := normalized(p, login)
			if i == 0 {
				want = got
			} else if got != want {
				t.Errorf("forgot %s answers differently from an unknown login:\n%s\n---\n%s", login, got, want)
			}
		}
		// Alice's two mails arrive; then flush the queue (every message
		// enqueued by the requests above is delivered once it returns) and
		// make sure nothing else was sent.
		s.mails(t, "alice@example.com", mail.KindPasswordReset, 2)
		if err := s.srv.CloseMail(); err != nil {
			t.Fatal(err)
		}
		all := s.srv.Mailbox.Messages("")
		if len(all) != 2 {
			for _, m := range all {
				t.Logf("mail to %s: %s", m.To, m.Kind)
			}
			t.Fatalf("%d mails, want alice's 2", len(all))
		}
	})
}

// Timing is not measured (it is noisy); the work is counted instead. Every
// refused password costs exactly one password hash, the same as a right
// one, whether or not the account exists; the steps that look nothing up
// cost none.
func TestSignInDoesEqualWorkForEveryAccount(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		s := newSite(t, db)
		s.newUser(t, "alice")
		s.transition(t, s.newUser(t, "sam"), user.OpSuspend)
		s.transition(t, s.newUser(t, "lou"), user.OpLock)
		s.newUserWithoutPassword(t, "nopass")
		for _, a := range []struct {
			name, login, password string
			status                int
		}{
			{"unknown login", "nobody", wrongPassword, http.StatusUnauthorized},
			{"known login, wrong password", "alice", wrongPassword, http.StatusUnauthorized},
			{"known login, right password", "alice", goodPassword, http.StatusSeeOther},
			{"suspended user", "sam", goodPassword, http.StatusUnauthorized},
			{"locked user", "lou", goodPassword, http.StatusUnauthorized},
			{"user without password", "nopass", goodPassword, http.StatusUnauthorized},
		} {
			b := s.visitor(t)
			token := b.csrf()
			before := s.hashes()
			p := b.post(passwordPath, signInForm(token, a.login, a.password, ""))
			if n := s.hashes() - before; p.status != a.status || n != 1 {
				t.Errorf("%s: %d after %d password hashes, want %d after exactly 1", a.name, p.status, n, a.status)
			}
		}
		for _, login := range []string{"alice", "nobody"} {
			b := s.visitor(t)
			token := b.csrf()
			before := s.hashes()
			b.post(loginPath, url.Values{"csrf": {token}, "login": {login}})
			b.post(forgotPath, url.Values{"csrf": {token}, "login": {login}})
			if n := s.hashes() - before; n != 0 {
				t.Errorf("identifier and forgot steps for %s: %d password hashes, want 0", login, n)
			}
		}
	})
}

// Guessing one account's password slows down from the third failure in a
// row (the first two are free), whatever address the guesses come from and
// whether or not the account exists; a throttled attempt is refused
// unchecked, even with the right password.
func TestPasswordGuessingIsThrottledPerAccount(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		s := newClockedSite(t, db)
		s.newUser(t, "alice")
		attempt := func(login, password string) page {
			t.Helper()
			return s.visitor(t).signIn(login, password, "") // a new address every time
		}
		// Two failures are free: the third attempt is checked.
		for range 2 {
			if p := attempt("alice", wrongPassword); p.status != http.StatusUnauthorized {
				t.Fatalf("failure: %d", p.status)
			}
		}
		if p := attempt("alice", goodPassword); p.status != http.StatusSeeOther {
			t.Fatalf("right password after two failures: %d", p.status)
		}

		throttled := map[string]string{}
		for _, c := range []struct {
			login   string
			finally int
		}{{"alice", http.StatusSeeOther}, {"nobody", http.StatusUnauthorized}} {
			for range 3 {
				if p := attempt(c.login, wrongPassword); p.status != http.StatusUnauthorized {
					t.Fatalf("%s: failure: %d", c.login, p.status)
				}
			}
			before := s.hashes()
			p := attempt(c.login, goodPassword)
			if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") != "2" || p.sessionSet() != "" ||
				!strings.Contains(p.body, "Too many failed attempts. Wait 1 second") {
				t.Fatalf("%s: right password right after three failures: %d, Retry-After %q:\n%s",
					c.login, p.status, p.header.Get("Retry-After"), p.body)
			}
			if n := s.hashes() - before; n != 0 {
				t.Errorf("%s: a throttled attempt was checked (%d hashes)", c.login, n)
			}
			throttled[c.login] = normalized(p, c.login)
			s.clk.Advance(999 * time.Millisecond)
			if p := attempt(c.login, goodPassword); p.status != http.StatusTooManyRequests {
				t.Fatalf("%s: 999 ms later: %d", c.login, p.status)
			}
			s.clk.Advance(time.Millisecond)
			if p := attempt(c.login, goodPassword); p.status != c.finally {
				t.Fatalf("%s: once the delay passed: %d, want %d", c.login, p.status, c.finally)
			}
		}
		if throttled["alice"] != throttled["nobody"] {
			t.Errorf("the throttled answer tells accounts apart:\n%s\n---\n%s", throttled["alice"], throttled["nobody"])
		}
	})
}

// At the policy's threshold of failures in a row the account locks; after
// that the right password is refused exactly like a wrong one. Unknown
// logins lock nothing, and other accounts are unaffected.
func TestLockoutAtThePolicyThreshold(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		s := newClockedSite(t, db)
		ctx := context.Background()
		bob := s.newUser(t, "bob")
		s.newUser(t, "alice")
		p, err := s.srv.Sessions.Policy(ctx, s.tenant)
		if err != nil {
			t.Fatal(err)
		}
		p.LockoutThreshold = 3
		if err := s.srv.Sessions.SetPolicy(ctx, s.scope(), p); err != nil {
			t.Fatal(err)
		}
		var wrong string
		for n := 1; n <= 3; n++ {
			if s.user(t, bob.ID).Locked {
				t.Fatalf("locked after %d failures", n-1)
			}
			p := s.visitor(t).signIn("bob", wrongPassword, "")
			if p.status != http.StatusUnauthorized {
				t.Fatalf("failure %d: %d", n, p.status)
			}
			wrong = normalized(p, "bob")
		}
		if !s.user(t, bob.ID).Locked {
			t.Fatal("not locked after 3 failures with a threshold of 3")
		}
		for _, wait := range []time.Duration{time.Second, time.Hour} {
			s.clk.Advance(wait)
			p := s.visitor(t).signIn("bob", goodPassword, "")
			if p.status != http.StatusUnauthorized || p.sessionSet() != "" {
				t.Fatalf("locked account with the right password: %d", p.status)
			}
			if got := normalized(p, "bob"); got != wrong {
				t.Errorf("a locked account answers differently from a wrong password:\n%s\n---\n%s", got, wrong)
			}
		}
		// An unknown login: the same failures, throttled the same, nothing locks.
		for range 5 {
			s.clk.Advance(time.Minute)
			if p := s.visitor(t).signIn("nobody", wrongPassword, ""); p.status != http.StatusUnauthorized {
				t.Fatalf("unknown login: %d", p.status)
			}
		}
		if p := s.visitor(t).signIn("alice", goodPassword, ""); p.status != http.StatusSeeOther {
			t.Fatalf("another account after the lockout: %d", p.status)
		}
	})
}

// One address may post the sign-in forms 20 times in a burst; then it is
// refused ("Slow down") before anything is checked, even with the right
// password, while other addresses carry on. A token a second comes back.
func TestPerAddressRateLimit(t *testing.T) {
	// 60 a minute, the default: bursts of 20, a token a second.
	s := newClockedSite(t, testkit.OpenSQLite(t), func(c *config.Config) { c.SignInRate = 60 })
	s.newUser(t, "alice")
	b := s.visitor(t)
	token := b.csrf()
	for i := 1; i <= 20; i++ {
		if p := b.post(loginPath, url.Values{"csrf": {token}, "login": {"alice"}}); p.status != http.StatusOK {
			t.Fatalf("post %d: %d", i, p.status)
		}
	}
	before := s.hashes()
	for _, c := range []struct {
		path string
		form url.Values
	}{
		{loginPath, url.Values{"csrf": {token}, "login": {"alice"}}},
		{passwordPath, signInForm(token, "alice", goodPassword, "")},
		{forgotPath, url.Values{"csrf": {token}, "login": {"alice"}}},
	} {
		p := b.post(c.path, c.form)
		if p.status != http.StatusTooManyRequests || !strings.Contains(p.body, "Slow down") || p.header.Get("Retry-After") != "60" {
			t.Errorf("%s after the burst: %d, Retry-After %q", c.path, p.status, p.header.Get("Retry-After"))
		}
		if p.sessionSet() != "" {
			t.Errorf("%s after the burst set a session", c.path)
		}
	}
	if n := s.hashes() - before; n != 0 {
		t.Errorf("refused posts checked a password (%d hashes)", n)
	}
	if p := s.visitor(t).signIn("alice", goodPassword, ""); p.status != http.StatusSeeOther {
		t.Errorf("another address: %d", p.status)
	}
	s.clk.Advance(time.Second)
	if p := b.post(passwordPath, signInForm(token, "alice", goodPassword, "")); p.status != http.StatusSeeOther {
		t.Errorf("a second later: %d", p.status)
	}
	if p := b.post(loginPath, url.Values{"csrf": {token}, "login": {"alice"}}); p.status != http.StatusTooManyRequests {
		t.Errorf("the token that came back was used twice: %d", p.status)
	}
}

// checkPageHeaders asserts the headers every page carries.
func checkPageHeaders(t *testing.T, name string, h http.Header) {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	for _, d := range []string{"frame-ancestors 'none'", "default-src 'none'", "form-action 'self'", "base-uri 'none'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("%s: Content-Security-Policy %q lacks %q", name, csp, d)
		}
	}
	for k, v := range map[string]string{"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
		"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} {
		if got := h.Get(k); got != v {
			t.Errorf("%s: %s %q, want %q", name, k, got, v)
		}
	}
}

func checkCookie(t *testing.T, c *http.Cookie, name string, secure bool) {
	t.Helper()
	if c == nil {
		t.Fatalf("no %s cookie set", name)
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != home || c.Secure != secure || c.Domain != "" || c.MaxAge != 0 {
		t.Errorf("%s cookie: HttpOnly %v, SameSite %v, Path %q, Secure %v, Domain %q, MaxAge %d; want HttpOnly, Lax, %q, Secure %v, host-only, browser session",
			name, c.HttpOnly, c.SameSite, c.Path, c.Secure, c.Domain, c.MaxAge, home, secure)
	}
}

// The session and form cookies are HttpOnly, SameSite=Lax, scoped to the
// tenant's pages, and Secure when the public URL is https; every page forbids
// framing, referrers and caching.
func TestCookiesAndPageHeaders(t *testing.T) {
	t.Run("http", func(t *testing.T) {
		s := newSite(t, testkit.OpenSQLite(t))
		s.newUser(t, "alice")
		b := s.visitor(t)
		p := b.get(loginPath)
		checkPageHeaders(t, "sign-in page", p.header)
		checkCookie(t, p.setCookie(csrfCookie), csrfCookie, false)
		token := field(t, csrfPattern, p.body)

		p = b.post(passwordPath, signInForm("", "alice", goodPassword, ""))
		checkPageHeaders(t, "expired form", p.header)
		p = b.post(passwordPath, signInForm(token, "alice", wrongPassword, ""))
		checkPageHeaders(t, "wrong password", p.header)
		p = b.post(passwordPath, signInForm(token, "alice", goodPassword, ""))
		checkCookie(t, p.setCookie(sessionCookie), sessionCookie, false)
		for _, path := range []string{home, "/t/" + slug + "/security", "/t/" + slug + "/profile", forgotPath,
			"/t/" + slug + "/login/reset?token=x"} {
			checkPageHeaders(t, path, b.get(path).header)
		}
	})
	t.Run("https", func(t *testing.T) {
		env := testkit.NewServer(t, testkit.OpenSQLite(t), func(c *config.Config) { c.PublicURL = "https://id.example.com" })
		h := env.Server.Handler()
		s := finishSite(t, env.URL, env.Server, nil)
		s.newUser(t, "alice")
		var cookies []*http.Cookie
		send := func(method, path string, form url.Values) *http.Response {
			var r *http.Request
			if form != nil {
				r = httptest.NewRequest(method, "https://id.example.com"+path, strings.NewReader(form.Encode()))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.Header.Set("Origin", "https://id.example.com")
				r.Header.Set("Sec-Fetch-Site", "same-origin")
			} else {
				r = httptest.NewRequest(method, "https://id.example.com"+path, nil)
			}
			for _, c := range cookies {
				r.AddCookie(c)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			return w.Result()
		}
		res := send(http.MethodGet, loginPath, nil)
		checkPageHeaders(t, "https sign-in page", res.Header)
		var csrf *http.Cookie
		for _, c := range res.Cookies() {
			if c.Name == csrfCookie {
				csrf = c
			}
		}
		checkCookie(t, csrf, csrfCookie, true)
		cookies = append(cookies, &http.Cookie{Name: csrf.Name, Value: csrf.Value})
		body := new(strings.Builder)
		if _, err := io.Copy(body, res.Body); err != nil {
			t.Fatal(err)
		}
		res = send(http.MethodPost, passwordPath, signInForm(field(t, csrfPattern, body.String()), "alice", goodPassword, ""))
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("https sign-in: %d", res.StatusCode)
		}
		var ses *http.Cookie
		for _, c := range res.Cookies() {
			if c.Name == sessionCookie {
				ses = c
			}
		}
		checkCookie(t, ses, sessionCookie, true)
	})
}

// A reset link works once: the used link, and a link past its expiry, open
// a page that says the link expired, and posting them changes nothing.
func TestResetLinkIsSingleUse(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		s := newClockedSite(t, db)
		s.newUser(t, "alice")
		const newPassword, otherPassword = "amber-lantern-meadow-58", "copper-willow-thistle-91"
		b := s.visitor(t)
		forgot := func(n int) string {
			t.Helper()
			if p := b.post(forgotPath, url.Values{"csrf": {b.csrf()}, "login": {"alice"}}); p.status != http.StatusOK {
				t.Fatalf("forgot: %d", p.status)
			}
			return s.linkPath(t, s.mails(t, "alice@example.com", mail.KindPasswordReset, n)[0])
		}
		expired := func(name string, p page) {
			t.Helper()
			if p.status != http.StatusBadRequest || !strings.Contains(p.body, "Link expired") || strings.Contains(p.body, `name="password"`) {
				t.Errorf("%s: %d, want the link-expired page:\n%s", name, p.status, p.body)
			}
		}
		reset := func(token, password string) page {
			t.Helper()
			return b.post("/t/"+slug+"/login/reset", url.Values{"csrf": {b.csrf()}, "token": {token}, "password": {password}})
		}

		link := forgot(1)
		p := b.get(link)
		if p.status != http.StatusOK || !strings.Contains(p.body, `name="password"`) {
			t.Fatalf("reset page: %d", p.status)
		}
		token := field(t, tokenPattern, p.body)
		if p := b.get(link); p.status != http.StatusOK {
			t.Fatalf("opening the link twice (a mail scanner) used it up: %d", p.status)
		}
		if p := reset(token, newPassword); p.status != http.StatusOK || !strings.Contains(p.body, "Password changed") {
			t.Fatalf("reset: %d:\n%s", p.status, p.body)
		}
		expired("used link", b.get(link))
		expired("used token posted again", reset(token, otherPassword))
		for pw, want := range map[string]int{goodPassword: http.StatusUnauthorized, otherPassword: http.StatusUnauthorized,
			newPassword: http.StatusSeeOther} {
			if p := s.visitor(t).signIn("alice", pw, ""); p.status != want {
				t.Errorf("sign-in with %s after the reset: %d, want %d", pw, p.status, want)
			}
		}

		// Past its expiry.
		link = forgot(2)
		token = field(t, tokenPattern, b.get(link).body)
		s.clk.Advance(session.ResetTTL + time.Second)
		expired("expired link", b.get(link))
		expired("expired token posted", reset(token, otherPassword))
		expired("made-up token", b.get("/t/"+slug+"/login/reset?token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
		if p := s.visitor(t).signIn("alice", newPassword, ""); p.status != http.StatusSeeOther {
			t.Errorf("an expired link changed the password: %d", p.status)
		}
	})
}

// Opening an unlock link (as mail scanners do) unlocks nothing: only the
// page's button, a POST with the form token, does.
func TestUnlockLinkNeedsThePost(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		s := newSite(t, db)
		carol := s.newUser(t, "carol")
		s.transition(t, carol, user.OpLock)
		b := s.visitor(t)
		if p := b.post(forgotPath, url.Values{"csrf": {b.csrf()}, "login": {"carol"}}); p.status != http.StatusOK {
			t.Fatalf("forgot: %d", p.status)
		}
		link := s.linkPath(t, s.mails(t, "carol@example.com", mail.KindAccountUnlock, 1)[0])
		var token string
		for _, method := range []string{http.MethodGet, http.MethodGet, http.MethodHead} {
			p := b.do(method, link, nil)
			if p.status != http.StatusOK {
				t.Fatalf("%s unlock link: %d", method, p.status)
			}
			if method == http.MethodGet {
				token = field(t, tokenPattern, p.body)
			}
			if !s.user(t, carol.ID).Locked {
				t.Fatalf("%s of the unlock link unlocked the account", method)
			}
		}
		if p := s.visitor(t).signIn("carol", goodPassword, ""); p.status != http.StatusUnauthorized {
			t.Fatalf("locked carol signs in: %d", p.status)
		}
		unlockPath := "/t/" + slug + "/login/unlock"
		if p := b.post(unlockPath, url.Values{"token": {token}}); p.status != http.StatusForbidden || !s.user(t, carol.ID).Locked {
			t.Fatalf("unlock without the form token: %d, locked %v", p.status, s.user(t, carol.ID).Locked)
		}
		p := b.post(unlockPath, url.Values{"csrf": {b.csrf()}, "token": {token}})
		if p.status != http.StatusOK || !strings.Contains(p.body, "Account unlocked") || s.user(t, carol.ID).Locked {
			t.Fatalf("unlock: %d, locked %v:\n%s", p.status, s.user(t, carol.ID).Locked, p.body)
		}
		if p := s.visitor(t).signIn("carol", goodPassword, ""); p.status != http.StatusSeeOther {
			t.Fatalf("carol after the unlock: %d", p.status)
		}
		if p := b.post(unlockPath, url.Values{"csrf": {b.csrf()}, "token": {token}}); p.status != http.StatusBadRequest ||
			!strings.Contains(p.body, "Link expired") {
			t.Errorf("unlock link used twice: %d", p.status)
		}
	})
}
