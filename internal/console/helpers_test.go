package console_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/apitoken"
	"github.com/tessera-iam/tessera/internal/store"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/testkit"
)

const (
	slug          = "default"
	consoleBase   = "/t/default/console"
	sessionCookie = "tessera_console"
)

// site is a full server on a clock the test moves.
type site struct {
	*testkit.Env
	clk    *testkit.Clock
	tenant tenant.ID
}

func newSite(t *testing.T, db *store.DB) *site {
	t.Helper()
	clk := testkit.NewClock(time.Now().Truncate(time.Second))
	e := testkit.NewServerOn(t, db, clk.Now)
	ten, err := e.Server.Tenants.TenantBySlug(context.Background(), slug)
	if err != nil {
		t.Fatal(err)
	}
	return &site{Env: e, clk: clk, tenant: ten.ID}
}

// eachSite runs fn on a fresh site on each database.
func eachSite(t *testing.T, fn func(t *testing.T, s *site)) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) { fn(t, newSite(t, db)) })
}

// token issues an API token in the tenant with slug tslug.
func (s *site) token(t *testing.T, tslug string, role apitoken.Role, org tenant.OrgID) (*apitoken.Token, string) {
	t.Helper()
	tok, secret, err := s.Server.CreateToken(context.Background(), tslug, apitoken.NewToken{Name: "console " + string(role), Role: role, Org: org})
	if err != nil {
		t.Fatal(err)
	}
	return tok, secret
}

// app creates an application with the bootstrap admin token.
func (s *site) app(t *testing.T, name, kind string) string {
	t.Helper()
	res := s.Do(t, http.MethodPost, "/api/v1/applications", s.AdminToken, map[string]any{"name": name, "kind": kind})
	want(t, res.Status, http.StatusCreated, string(res.Body))
	return res.JSON(t)["id"].(string)
}

func want(t *testing.T, got, status int, body string) {
	t.Helper()
	if got != status {
		t.Fatalf("status %d, want %d:\n%s", got, status, body)
	}
}

// browser is one browser with its own cookies; it does not follow redirects.
type browser struct {
	t *testing.T
	s *site
	c *http.Client
}

func (s *site) browser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, s: s, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status  int
	header  http.Header
	body    string
	cookies []*http.Cookie
}

func (p page) setCookie(name string) *http.Cookie {
	for _, c := range p.cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// do sends a request; a POST carries what a browser sends with a form of
// the site's own page. headers are name, value pairs; an empty value
// removes the header.
func (b *browser) do(method, path string, form url.Values, headers ...string) page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.s.URL+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", b.s.URL)
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

func (b *browser) get(path string) page {
	b.t.Helper()
	return b.do(http.MethodGet, path, nil)
}

func (b *browser) post(path string, form url.Values, headers ...string) page {
	b.t.Helper()
	return b.do(http.MethodPost, path, form, headers...)
}

var csrfPattern = regexp.MustCompile(`name="csrf" value="([^"]*)"`)

// csrf opens path and returns the form token of its first form.
func (b *browser) csrf(path string) string {
	b.t.Helper()
	p := b.get(path)
	m := csrfPattern.FindStringSubmatch(p.body)
	if p.status != http.StatusOK || m == nil {
		b.t.Fatalf("no form token on %s (%d):\n%s", path, p.status, p.body)
	}
	return html.UnescapeString(m[1])
}

// signIn posts secret from the sign-in page.
func (b *browser) signIn(secret string) page {
	b.t.Helper()
	return b.post(consoleBase+"/signin", url.Values{"csrf": {b.csrf(consoleBase + "/signin")}, "token": {secret}})
}

func (b *browser) mustSignIn(secret string) {
	b.t.Helper()
	p := b.signIn(secret)
	if p.status != http.StatusSeeOther || p.header.Get("Location") != consoleBase+"/applications" || p.setCookie(sessionCookie) == nil {
		b.t.Fatalf("sign in: %d %q:\n%s", p.status, p.header.Get("Location"), p.body)
	}
}

// signedOut reports whether p sends the browser to the sign-in page.
func signedOut(p page) bool {
	return p.status == http.StatusSeeOther && p.header.Get("Location") == consoleBase+"/signin"
}

// cookie is this browser's cookie name on path.
func (b *browser) cookie(path, name string) *http.Cookie {
	u, _ := url.Parse(b.s.URL + path)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// contains fails unless body shows each of texts.
func contains(t *testing.T, body string, texts ...string) {
	t.Helper()
	body = html.UnescapeString(body)
	for _, s := range texts {
		if !strings.Contains(body, s) {
			t.Errorf("the page does not show %q", s)
		}
	}
}
