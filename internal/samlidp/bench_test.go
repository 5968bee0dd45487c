//go:build unix

package samlidp_test

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/crewjam/saml"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/config"
	"github.com/tessera-iam/tessera/internal/group"
	"github.com/tessera-iam/tessera/internal/keys"
	"github.com/tessera-iam/tessera/internal/store"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/testkit"
	"github.com/tessera-iam/tessera/internal/user"
)

// BenchmarkSSOExistingSession runs each half benchRounds times for
// benchPhase: 3 s each in all.
const (
	benchRounds = 6
	benchPhase  = 500 * time.Millisecond
)

// BenchmarkSSOExistingSession measures, in one run and with the same
// number of concurrent workers (GOMAXPROCS):
//
//   - sign/s: raw RSA-2048 PKCS #1 v1.5 SHA-256 signatures of a 32-byte
//     digest by the tenant's active SAML key, through its crypto.Signer;
//   - resp/s: SP-initiated SSO over HTTP with an existing session: an
//     unsigned AuthnRequest by the HTTP-Redirect binding in, the response
//     page with a Response out whose assertion (sign_assertion only: one
//     signature per response) carries 10 attributes;
//
// and ratio = resp/s ÷ sign/s, the figure the goal (>= 0.8) is about. The
// halves run for a fixed time whatever b.N is: run it with -benchtime 1x.
// SQLite, the default database, in a temporary directory; PostgreSQL too
// when TESSERA_TEST_POSTGRES is set.
func BenchmarkSSOExistingSession(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchSSOExistingSession(b, testkit.OpenSQLite(b)) })
	b.Run("postgres", func(b *testing.B) {
		u := testkit.PostgresURL(b)
		if u == "" {
			b.Skip("set TESSERA_TEST_POSTGRES")
		}
		benchSSOExistingSession(b, testkit.OpenPostgres(b, u))
	})
}

func benchSSOExistingSession(b *testing.B, db *store.DB) {
	ctx := context.Background()
	env := testkit.NewServer(b, db, func(c *config.Config) { c.SignInRate = 0 })
	srv := env.Server
	ten, err := srv.Tenants.TenantBySlug(ctx, slug)
	if err != nil {
		b.Fatal(err)
	}
	sc := tenant.Scope{Tenant: ten.ID}
	base := env.URL + "/t/" + slug

	// A user in an organization and two groups, assigned with a role, and
	// an application that asks for 10 attributes.
	org, err := srv.Tenants.CreateOrganization(ctx, sc, tenant.NewOrganization{Name: "Acme"})
	if err != nil {
		b.Fatal(err)
	}
	u, err := srv.Users.Create(ctx, sc, user.NewUser{Username: "ann", GivenName: "Ann", FamilyName: "Tester", DisplayName: "Ann Tester",
		Emails: []user.Email{{Value: "ann@example.com", Primary: true}}, Org: org.ID, Password: password})
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"Returns", "Buyers"} {
		g, err := srv.Groups.Create(ctx, sc, group.NewGroup{Name: name})
		if err != nil {
			b.Fatal(err)
		}
		if err := srv.Groups.AddMember(ctx, sc, g.ID, u.ID); err != nil {
			b.Fatal(err)
		}
	}
	app, err := srv.Access.CreateApplication(ctx, sc, access.NewApplication{Name: "bench", Kind: access.KindSAML,
		Roles: []access.AppRole{{Name: "approver"}}})
	if err != nil {
		b.Fatal(err)
	}
	c := access.DefaultSAMLConfig()
	c.EntityID = "https://bench.example.com/saml/metadata"
	c.ACS = []access.ACS{{Index: 0, URL: "https://bench.example.com/saml/acs", Binding: access.BindingHTTPPost, Default: true}}
	c.SignResponse, c.SignAssertion = false, true
	c.Attributes = []access.SAMLAttribute{
		{Name: "urn:oid:0.9.2342.19200300.100.1.3", FriendlyName: "mail", Source: access.SourceEmail},
		{Name: "email", Source: access.SourceEmail},
		{Name: "uid", Source: access.SourceUsername},
		{Name: "givenName", Source: access.SourceGivenName},
		{Name: "sn", Source: access.SourceFamilyName},
		{Name: "displayName", Source: access.SourceDisplayName},
		{Name: "cn", Source: access.SourceDisplayName},
		{Name: "groups", Source: access.SourceGroups},
		{Name: "roles", Source: access.SourceAppRoles},
		{Name: "organization", Source: access.SourceOrganization},
	}
	if _, err := srv.Access.SetSAMLConfig(ctx, sc, app.ID, c, 0); err != nil {
		b.Fatal(err)
	}
	if _, err := srv.Access.Assign(ctx, sc, app.ID, access.NewAssignment{
		Principal: access.Principal{Type: access.PrincipalUser, ID: string(u.ID)}, Roles: []string{"approver"}}); err != nil {
		b.Fatal(err)
	}

	// Sign in once: every request of the run rides on this session.
	jar, _ := cookiejar.New(nil)
	workers := runtime.GOMAXPROCS(0)
	client := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		Transport:     &http.Transport{MaxIdleConnsPerHost: workers * 2},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	benchSignIn(b, client, base)

	// One response, checked: ten attributes, the assertion signed, not the
	// response.
	body := benchSSO(b, client, base, c)
	raw, err := base64.StdEncoding.DecodeString(html.UnescapeString(responseField.FindStringSubmatch(body)[1]))
	if err != nil {
		b.Fatal(err)
	}
	var resp saml.Response
	if err := xml.Unmarshal(raw, &resp); err != nil || resp.Assertion == nil || len(resp.Assertion.AttributeStatements) != 1 {
		b.Fatalf("response: %v: %s", err, raw)
	}
	if n := len(resp.Assertion.AttributeStatements[0].Attributes); n != 10 || resp.Signature != nil || resp.Assertion.Signature == nil {
		b.Fatalf("response: %d attributes, response signed %v, assertion signed %v", n, resp.Signature != nil, resp.Assertion.Signature != nil)
	}

	signer, err := srv.Keys.Active(ctx, ten.ID, keys.PurposeSAML, keys.RS256)
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte("benchmark"))
	b.ResetTimer()
	// The two halves alternate in short slices, so that a neighbour's load
	// on the machine weighs on both alike.
	var signs, responses phase
	for range benchRounds {
		signs.add(benchRate(b, workers, func() error {
			_, err := signer.Key.Sign(rand.Reader, digest[:], crypto.SHA256)
			return err
		}))
		responses.add(benchRate(b, workers, func() error {
			benchSSO(b, client, base, c)
			return nil
		}))
	}
	b.StopTimer()
	b.ReportMetric(signs.rate, "sign/s")
	b.ReportMetric(responses.rate, "resp/s")
	b.ReportMetric(responses.rate/signs.rate, "ratio")
	b.ReportMetric(float64(workers), "workers")
	// The same comparison in this process's CPU time, which a busy machine
	// disturbs less than it does the rates: on PostgreSQL it leaves out the
	// database server's share.
	b.ReportMetric(signs.cpuPerOp(), "cpu-µs/sign")
	b.ReportMetric(responses.cpuPerOp(), "cpu-µs/resp")
	b.ReportMetric(signs.cpuPerOp()/responses.cpuPerOp(), "cpu-ratio")
}

// phase sums benchRounds slices of one half: the mean of their rates, and
// the operations and the process CPU time they took.
type phase struct {
	rate float64
	ops  int64
	cpu  time.Duration
}

func (p *phase) add(slice phase) {
	p.rate += slice.rate / benchRounds
	p.ops += slice.ops
	p.cpu += slice.cpu
}

func (p *phase) cpuPerOp() float64 { return float64(p.cpu.Microseconds()) / float64(p.ops) }

// processCPU is the CPU time, user and system, this process has used: the
// server's, the load generator's and the Go runtime's.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchRate runs op on workers goroutines for benchPhase and returns the
// operations per second, with the operations and the CPU time they took.
func benchRate(b *testing.B, workers int, op func() error) phase {
	var n atomic.Int64
	var wg sync.WaitGroup
	cpu := processCPU()
	start := time.Now()
	deadline := start.Add(benchPhase)
	for range workers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if err := op(); err != nil {
					b.Error(err)
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return phase{rate: float64(n.Load()) / time.Since(start).Seconds(), ops: n.Load(), cpu: processCPU() - cpu}
}

// benchSignIn signs the client in with the password form.
func benchSignIn(b *testing.B, c *http.Client, base string) {
	res, err := c.Get(base + "/login")
	if err != nil {
		b.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := csrfField.FindStringSubmatch(string(page))
	if m == nil {
		b.Fatalf("no csrf field: %.300s", page)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/login/password",
		strings.NewReader(url.Values{"csrf": {m[1]}, "login": {"ann"}, "password": {password}, "return": {"/t/" + slug + "/"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err = c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		b.Fatalf("sign-in: %d", res.StatusCode)
	}
}

// deflaters are the load generator's compressors. It shares the server's
// CPU, and a new writer at the default level costs it about a third of a
// millisecond (allocating and clearing its tables) for a 500-byte request;
// an application's choice of level changes nothing for the IdP, which
// inflates either alike.
var deflaters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed)
	return w
}}

// benchSSO sends one AuthnRequest, with a fresh ID, by the HTTP-Redirect
// binding and returns the response page.
func benchSSO(b *testing.B, c *http.Client, base string, cfg access.SAMLConfig) string {
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	ar := fmt.Sprintf(`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" `+
		`ID="_%s" Version="2.0" IssueInstant="%s" Destination="%s/saml/sso" AssertionConsumerServiceURL="%s" `+
		`ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"><saml:Issuer>%s</saml:Issuer></samlp:AuthnRequest>`,
		hex.EncodeToString(id), time.Now().UTC().Format(time.RFC3339), base, cfg.ACS[0].URL, cfg.EntityID)
	var buf bytes.Buffer
	w := deflaters.Get().(*flate.Writer)
	w.Reset(&buf)
	_, _ = w.Write([]byte(ar))
	_ = w.Close()
	deflaters.Put(w)
	res, err := c.Get(base + "/saml/sso?SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString(buf.Bytes())))
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `name="SAMLResponse"`) {
		b.Fatalf("sso: %d %.300s", res.StatusCode, body)
	}
	return string(body)
}
