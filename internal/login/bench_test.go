package login_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/tessera-iam/tessera/internal/config"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/testkit"
	"github.com/tessera-iam/tessera/internal/user"
)

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// BenchmarkSignInVsArgon2 measures, in one run, the rate of full sign-ins
// (form post of the password to the session cookie, over HTTP, on SQLite)
// and the raw rate of argon2id at the same parameters with the same
// parallelism, and reports their ratio. The production parameters apply
// (19 MiB, t=2, p=1), not the test suite's cheap ones.
func BenchmarkSignInVsArgon2(b *testing.B) {
	env := testkit.NewServer(b, testkit.OpenSQLite(b), func(c *config.Config) {
		d := config.Default()
		c.Argon2Memory, c.Argon2Time, c.Argon2Threads = d.Argon2Memory, d.Argon2Time, d.Argon2Threads
		c.SignInRate = 0 // one client address posts everything here
	})
	ctx := context.Background()
	tn, err := env.Server.Tenants.TenantBySlug(ctx, "default")
	if err != nil {
		b.Fatal(err)
	}
	sc := tenant.Scope{Tenant: tn.ID}
	u, err := env.Server.Users.Create(ctx, sc, user.NewUser{Username: "bench", Status: user.Active})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := env.Server.Users.SetPassword(ctx, sc, u.ID, "correct horse battery staple"); err != nil {
		b.Fatal(err)
	}
	workers := runtime.GOMAXPROCS(0)
	const window = 5 * time.Second

	// Raw argon2id, one hash per operation, workers in parallel.
	d := config.Default()
	raw := rate(workers, window, func() error {
		argon2.IDKey([]byte("correct horse battery staple"), []byte("0123456789abcdef"), uint32(d.Argon2Time),
			uint32(d.Argon2Memory), uint8(d.Argon2Threads), 32)
		return nil
	})

	// Sign-ins: each worker is a browser with its own cookies and CSRF token.
	clients := make(chan *browser, workers)
	for range workers {
		br, err := newBrowser(env.URL)
		if err != nil {
			b.Fatal(err)
		}
		clients <- br
	}
	signIns := rate(workers, window, func() error {
		br := <-clients
		defer func() { clients <- br }()
		return br.signIn("bench", "correct horse battery staple")
	})
	b.ReportMetric(raw, "argon2id/s")
	b.ReportMetric(signIns, "sign-ins/s")
	b.ReportMetric(signIns/raw, "ratio")
	b.ReportMetric(float64(workers), "workers")
}

// rate runs op from workers goroutines for about d and returns operations
// per second; it fails the benchmark on the first error.
func rate(workers int, d time.Duration, op func() error) float64 {
	var n atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	start := time.Now()
	deadline := start.Add(d)
	for range workers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if err := op(); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		panic(err)
	}
	return float64(n.Load()) / time.Since(start).Seconds()
}

type browser struct {
	base   string
	client *http.Client
	csrf   string
}

func newBrowser(base string) (*browser, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	res, err := c.Get(base + "/t/default/login")
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := csrfField.FindSubmatch(body)
	if m == nil {
		return nil, errNoCSRF
	}
	return &browser{base: base, client: c, csrf: string(m[1])}, nil
}

type benchError string

func (e benchError) Error() string { return string(e) }

const (
	errNoCSRF     = benchError("no csrf field on the login page")
	errNoSignedIn = benchError("sign-in did not redirect with a session cookie")
)

// signIn posts the password form and expects the redirect that carries the
// new session cookie.
func (br *browser) signIn(login, pw string) error {
	res, err := br.client.PostForm(br.base+"/t/default/login/password", url.Values{"csrf": {br.csrf}, "login": {login},
		"password": {pw}, "return": {"/t/default/"}})
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		return errNoSignedIn
	}
	for _, c := range res.Cookies() {
		if c.Name == "tessera_session" && c.Value != "" {
			return nil
		}
	}
	return errNoSignedIn
}
