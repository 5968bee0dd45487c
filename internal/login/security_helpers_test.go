package login_test

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/config"
	"github.com/tessera-iam/tessera/internal/mail"
	"github.com/tessera-iam/tessera/internal/server"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/store"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/testkit"
	"github.com/tessera-iam/tessera/internal/user"
)

const (
	slug          = "default"
	home          = "/t/default/"
	goodPassword  = "violet-pumpkin-orbit-73"
	wrongPassword = "not-the-password-at-all"

	sessionCookie = "tessera_session"
	csrfCookie    = "tessera_csrf"
)

// trustedProxies makes the test client (on loopback) a trusted proxy, so
// that each simulated browser can name its own address in X-Forwarded-For:
// the per-address limiter then sees separate clients, and only the test of
// the limiter itself shares one address.
const trustedProxies = "127.0.0.1,::1"

// site is a running server with the bootstrap tenant "default".
type site struct {
	url    string
	srv    *server.Server
	tenant tenant.ID
	clk    *testkit.Clock // nil: the real clock
	ips    atomic.Int32
}

// newSite starts the full server (testkit.NewServer) on the real clock.
func newSite(t *testing.T, db *store.DB) *site {
	t.Helper()
	env := testkit.NewServer(t, db, func(c *config.Config) { c.TrustedProxies = trustedProxies })
	return finishSite(t, env.URL, env.Server, nil)
}

// newClockedSite starts a server whose every service (and the per-address
// limiter) runs on a clock the test advances. Options adjust the
// configuration.
func newClockedSite(t *testing.T, db *store.DB, options ...func(*config.Config)) *site {
	t.Helper()
	clk := testkit.NewClock(time.Now().Truncate(time.Second))
	env := testkit.NewServerOn(t, db, clk.Now, append([]func(*config.Config){func(c *config.Config) { c.TrustedProxies = trustedProxies }},
		options...)...)
	return finishSite(t, env.URL, env.Server, clk)
}

func finishSite(t *testing.T, u string, srv *server.Server, clk *testkit.Clock) *site {
	t.Helper()
	ten, err := srv.Tenants.TenantBySlug(context.Background(), slug)
	if err != nil {
		t.Fatal(err)
	}
	return &site{url: u, srv: srv, tenant: ten.ID, clk: clk}
}

func (s *site) scope() tenant.Scope { return tenant.Scope{Tenant: s.tenant} }

// newUser creates an active user name (email name@example.com) with
// goodPassword.
func (s *site) newUser(t *testing.T, name string) *user.User {
	t.Helper()
	u := s.newUserWithoutPassword(t, name)
	if _, err := s.srv.Users.SetPassword(context.Background(), s.scope(), u.ID, goodPassword); err != nil {
		t.Fatal(err)
	}
	return u
}

func (s *site) newUserWithoutPassword(t *testing.T, name string) *user.User {
	t.Helper()
	u, err := s.srv.Users.Create(context.Background(), s.scope(), user.NewUser{Username: name,
		Emails: []user.Email{{Value: name + "@example.com", Primary: true}}})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (s *site) transition(t *testing.T, u *user.User, op user.Op) {
	t.Helper()
	if _, err := s.srv.Users.Transition(context.Background(), s.scope(), u.ID, op, 0); err != nil {
		t.Fatalf("%s %s: %v", op, u.Username, err)
	}
}

func (s *site) user(t *testing.T, id user.ID) *user.User {
	t.Helper()
	u, err := s.srv.Users.User(context.Background(), s.scope(), id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// validate returns the session that token belongs to, or nil when it is
// not (or no longer) a session.
func (s *site) validate(t *testing.T, token string) *session.Session {
	t.Helper()
	ses, err := s.srv.Sessions.Validate(context.Background(), s.tenant, token)
	if err != nil {
		if !errors.Is(err, session.ErrNoSession) {
			t.Fatalf("validate: %v", err)
		}
		return nil
	}
	return ses
}

// hashes is how many password hashes the server computed so far.
func (s *site) hashes() int64 { return s.srv.Users.Hasher.Operations() }

// mails waits until at least n mails of kind to addr were delivered, and
// returns them (newest first). The queue delivers asynchronously: the loop
// polls for the condition rather than assuming how long delivery takes.
func (s *site) mails(t *testing.T, addr, kind string, n int) []mail.Delivered {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got []mail.Delivered
		for _, d := range s.srv.Mailbox.Messages(slug) {
			if strings.Contains(d.To, addr) && d.Kind == kind {
				got = append(got, d)
			}
		}
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d %s mails to %s, want %d", len(got), kind, addr, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var linkPattern = regexp.MustCompile(`https?://[^\s"<>]+/login/[a-z-]+\?token=[^\s"<>]+`)

// linkPath is the path (with query) of the link in a mail.
func (s *site) linkPath(t *testing.T, d mail.Delivered) string {
	t.Helper()
	link := linkPattern.FindString(d.Text)
	if !strings.HasPrefix(link, s.url+"/t/"+slug+"/") {
		t.Fatalf("no link to this site in the mail: %q", d.Text)
	}
	return strings.TrimPrefix(link, s.url)
}

// browser is one browser: its own cookies and its own network address.
type visitor struct {
	t  *testing.T
	s  *site
	c  *http.Client
	ip string
}

func (s *site) visitor(t *testing.T) *visitor {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	n := s.ips.Add(1)
	return &visitor{t: t, s: s, ip: fmt.Sprintf("198.51.%d.%d", 100+n/250, 1+n%250), c: &http.Client{
		Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// page is an answer.
type page struct {
	status  int
	header  http.Header
	body    string
	cookies []*http.Cookie
}

// setCookie returns the cookie name the answer set, or nil.
func (p page) setCookie(name string) *http.Cookie {
	for _, c := range p.cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// sessionSet is the session token the answer set ("" when none).
func (p page) sessionSet() string {
	if c := p.setCookie(sessionCookie); c != nil && c.MaxAge >= 0 {
		return c.Value
	}
	return ""
}

func (b *visitor) do(method, path string, form url.Values, headers ...string) page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.s.url+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("X-Forwarded-For", b.ip)
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		// What a browser sends with a form posted from the site's own page.
		req.Header.Set("Origin", b.s.url)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return page{status: res.StatusCode, header: res.Header, body: string(raw), cookies: res.Cookies()}
}

func (b *visitor) get(path string, headers ...string) page {
	b.t.Helper()
	return b.do(http.MethodGet, path, nil, headers...)
}

func (b *visitor) post(path string, form url.Values, headers ...string) page {
	b.t.Helper()
	return b.do(http.MethodPost, path, form, headers...)
}

var (
	csrfPattern   = regexp.MustCompile(`name="csrf" value="([^"]*)"`)
	returnPattern = regexp.MustCompile(`name="return" value="([^"]*)"`)
	tokenPattern  = regexp.MustCompile(`name="token" value="([^"]*)"`)
)

// field is the value of the first hidden field that pattern matches.
func field(t *testing.T, pattern *regexp.Regexp, body string) string {
	t.Helper()
	m := pattern.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no field %s in the page:\n%s", pattern, body)
	}
	return html.UnescapeString(m[1])
}

// csrf opens the sign-in page and returns the form token it carries.
func (b *visitor) csrf() string {
	b.t.Helper()
	p := b.get("/t/" + slug + "/login")
	if p.status != http.StatusOK {
		b.t.Fatalf("sign-in page: %d", p.status)
	}
	return field(b.t, csrfPattern, p.body)
}

// cookie is the value of this browser's cookie name on the tenant's pages.
func (b *visitor) cookie(name string) string {
	u, _ := url.Parse(b.s.url + home)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// plant puts a cookie into the browser as another site (or an attacker with
// a foothold on a sibling host) could.
func (b *visitor) plant(name, value string) {
	u, _ := url.Parse(b.s.url + home)
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: home}})
}

// signInForm is the password step's form.
func signInForm(csrf, login, password, ret string) url.Values {
	v := url.Values{"login": {login}, "password": {password}, "return": {ret}}
	if csrf != "" {
		v.Set("csrf", csrf)
	}
	return v
}

// signIn posts the password step from the sign-in page, as a browser does.
func (b *visitor) signIn(login, password, ret string) page {
	b.t.Helper()
	return b.post("/t/"+slug+"/login/password", signInForm(b.csrf(), login, password, ret))
}

// mustSignIn signs in and returns the session token.
func (b *visitor) mustSignIn(login string) string {
	b.t.Helper()
	p := b.signIn(login, goodPassword, "")
	tok := p.sessionSet()
	if p.status != http.StatusSeeOther || tok == "" {
		b.t.Fatalf("sign in %s: %d, session %q:\n%s", login, p.status, tok, p.body)
	}
	return tok
}

var (
	noncePattern = regexp.MustCompile(`nonce="[^"]*"|'nonce-[^']*'`)
	csrfValues   = regexp.MustCompile(`name="csrf" value="[^"]*"`)
)

// normalized is an answer without what differs by design between any two
// answers (the form token, the style nonce, the date) and without the login
// the user typed, which the page echoes: what is left must not depend on
// whether or how the account exists.
func normalized(p page, login string) string {
	body := csrfValues.ReplaceAllString(p.body, `name="csrf" value="CSRF"`)
	body = noncePattern.ReplaceAllString(body, "NONCE")
	if login != "" {
		body = strings.ReplaceAll(body, html.EscapeString(login), "LOGIN")
	}
	var hs []string
	for k, vs := range p.header {
		switch k {
		case "Date", "Content-Length", "X-Request-Id":
			continue
		}
		for _, v := range vs {
			hs = append(hs, k+": "+noncePattern.ReplaceAllString(v, "NONCE"))
		}
	}
	slices.Sort(hs)
	return fmt.Sprintf("%d\n%s\n\n%s", p.status, strings.Join(hs, "\n"), body)
}
