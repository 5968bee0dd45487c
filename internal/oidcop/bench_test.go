package oidcop_test

import (
	"bufio"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/config"
	"github.com/tessera-iam/tessera/internal/grant"
	"github.com/tessera-iam/tessera/internal/group"
	"github.com/tessera-iam/tessera/internal/keys"
	"github.com/tessera-iam/tessera/internal/server"
	"github.com/tessera-iam/tessera/internal/store"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/testkit"
	"github.com/tessera-iam/tessera/internal/user"
)

// Each comparison alternates its two halves benchOIDCRounds times, each
// half for benchOIDCPhase: 3 s each in all.
const (
	benchOIDCRounds = 6
	benchOIDCPhase  = 500 * time.Millisecond
	// benchLoadFor is how long the out-of-process load generator runs.
	benchLoadFor = 3 * time.Second
)

// BenchmarkOIDC measures the provider's token endpoint and introspection
// over HTTP against the whole server, in one run and with the same number
// of concurrent workers (GOMAXPROCS) as the raw signing it is compared
// with:
//
//   - sign/s: raw RSA-2048 PKCS #1 v1.5 SHA-256 signatures of a 32-byte
//     digest by the tenant's active OIDC RS256 key, through its
//     crypto.Signer (what go-jose does for RS256);
//   - client_credentials: grants/s, each a POST to the token endpoint
//     (client_secret_basic, scope orders:read) answered with a JWT access
//     token (one signature);
//   - refresh/jwt and refresh/opaque: refreshes/s with rotation, each worker
//     on its own grant family, each call presenting the refresh token the
//     previous one returned (the library also signs an ID token on every
//     refresh: two signatures with JWT access tokens, one with opaque);
//   - introspect/*: introspection of a live token (client_secret_basic) per
//     process CPU-second, load generator included, and per server
//     CPU-second with the load generator in a child process.
//
// ratio = op/s ÷ sign/s, the figure the goals are about; cpu-ratio is the
// same comparison by process CPU time per operation (load generator
// included), which other load on the machine disturbs less. The halves
// alternate in short slices, so that a neighbour's load on the machine
// weighs on both alike; they run for a fixed time whatever b.N is: run it
// with -benchtime 1x. With PostgreSQL, pg-cpu-µs/op is the CPU of the
// backends serving the test database (read from /proc, the server being
// local). SQLite, the default database, in a temporary directory;
// PostgreSQL too when TESSERA_TEST_POSTGRES is set.
func BenchmarkOIDC(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchOIDC(b, testkit.OpenSQLite(b), "") })
	b.Run("postgres", func(b *testing.B) {
		u := testkit.PostgresURL(b)
		if u == "" {
			b.Skip("set TESSERA_TEST_POSTGRES")
		}
		benchOIDC(b, testkit.OpenPostgres(b, u), u)
	})
}

// benchEnv is the server under load and what the phases share.
type benchEnv struct {
	srv     *server.Server
	tenant  tenant.ID
	issuer  string
	http    *http.Client
	workers int
	pgURL   string // the PostgreSQL server, "" on SQLite
	signer  crypto.Signer
	digest  [32]byte

	machineJWT, machineOpaque *benchClient // client credentials
	webJWT, webOpaque         *benchClient // code and refresh
	user                      *user.User
}

type benchClient struct {
	cfg    *access.OIDCClient
	secret string
}

func benchOIDC(b *testing.B, db *store.DB, pgURL string) {
	ctx := context.Background()
	env := testkit.NewServer(b, db, func(c *config.Config) { c.SignInRate = 0 })
	srv := env.Server
	ten, err := srv.Tenants.TenantBySlug(ctx, slug)
	if err != nil {
		b.Fatal(err)
	}
	sc := tenant.Scope{Tenant: ten.ID}
	workers := runtime.GOMAXPROCS(0)
	e := &benchEnv{srv: srv, tenant: ten.ID, issuer: env.URL + "/t/" + slug, workers: workers, pgURL: pgURL,
		http:   &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers * 4}},
		digest: sha256.Sum256([]byte("benchmark"))}

	// A user in an organization and two groups, assigned with a role.
	org, err := srv.Tenants.CreateOrganization(ctx, sc, tenant.NewOrganization{Name: "Acme"})
	if err != nil {
		b.Fatal(err)
	}
	e.user, err = srv.Users.Create(ctx, sc, user.NewUser{Username: "ann", GivenName: "Ann", FamilyName: "Tester", DisplayName: "Ann Tester",
		Emails: []user.Email{{Value: "ann@example.com", Primary: true}}, Org: org.ID, Password: password})
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"Returns", "Buyers"} {
		g, err := srv.Groups.Create(ctx, sc, group.NewGroup{Name: name})
		if err != nil {
			b.Fatal(err)
		}
		if err := srv.Groups.AddMember(ctx, sc, g.ID, e.user.ID); err != nil {
			b.Fatal(err)
		}
	}
	machine := func(format string) func(*access.OIDCClient) {
		return func(c *access.OIDCClient) {
			c.Type, c.TokenEndpointAuthMethod = access.ClientConfidential, access.AuthClientSecretBasic
			c.GrantTypes, c.Scopes, c.RedirectURIs, c.AccessTokenFormat = []string{access.GrantClientCredentials}, []string{"orders:read"}, nil, format
		}
	}
	web := func(format string) func(*access.OIDCClient) {
		return func(c *access.OIDCClient) {
			c.Type, c.TokenEndpointAuthMethod = access.ClientConfidential, access.AuthClientSecretBasic
			c.GrantTypes = []string{access.GrantAuthorizationCode, access.GrantRefreshToken}
			c.Scopes = []string{access.ScopeOpenID, access.ScopeProfile, access.ScopeEmail, access.ScopeGroups, access.ScopeOfflineAccess}
			c.RedirectURIs, c.AccessTokenFormat = []string{"https://app.example.net/callback"}, format
		}
	}
	e.machineJWT = e.newClient(b, "machine-jwt", machine(access.TokenFormatJWT))
	e.machineOpaque = e.newClient(b, "machine-opaque", machine(access.TokenFormatOpaque))
	e.webJWT = e.newClient(b, "web-jwt", web(access.TokenFormatJWT))
	e.webOpaque = e.newClient(b, "web-opaque", web(access.TokenFormatOpaque))

	k, err := srv.Keys.Active(ctx, ten.ID, keys.PurposeOIDC, keys.RS256)
	if err != nil {
		b.Fatal(err)
	}
	e.signer = k.Key

	b.Run("client_credentials", func(b *testing.B) { e.benchClientCredentials(b) })
	b.Run("refresh/jwt", func(b *testing.B) { e.benchRefresh(b, e.webJWT) })
	b.Run("refresh/opaque", func(b *testing.B) { e.benchRefresh(b, e.webOpaque) })
	b.Run("introspect/jwt", func(b *testing.B) {
		e.benchIntrospect(b, e.machineJWT, e.clientCredentials(b, e.machineJWT))
	})
	b.Run("introspect/opaque", func(b *testing.B) {
		e.benchIntrospect(b, e.machineOpaque, e.clientCredentials(b, e.machineOpaque))
	})
	b.Run("introspect/user_jwt", func(b *testing.B) {
		rt := e.newFamily(b, e.webJWT)
		e.benchIntrospect(b, e.webJWT, e.refresh(b, e.webJWT, &rt).AccessToken)
	})
}

// newClient registers an OIDC application, assigns the user to it and
// returns the client with its secret.
func (e *benchEnv) newClient(b *testing.B, name string, adjust func(*access.OIDCClient)) *benchClient {
	ctx, sc := context.Background(), tenant.Scope{Tenant: e.tenant}
	app, err := e.srv.Access.CreateApplication(ctx, sc, access.NewApplication{Name: name, Kind: access.KindOIDC,
		Roles: []access.AppRole{{Name: "viewer"}, {Name: "editor"}}})
	if err != nil {
		b.Fatal(err)
	}
	cfg := access.DefaultOIDCClient()
	adjust(&cfg)
	c, secret, err := e.srv.Access.CreateOIDCClient(ctx, sc, app.ID, cfg)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := e.srv.Access.Assign(ctx, sc, app.ID, access.NewAssignment{
		Principal: access.Principal{Type: access.PrincipalUser, ID: string(e.user.ID)}, Roles: []string{"editor"}}); err != nil {
		b.Fatal(err)
	}
	return &benchClient{cfg: c, secret: secret}
}

// benchTokenAnswer is the token endpoint's answer.
type benchTokenAnswer struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	Error        string `json:"error"`
	Description  string `json:"error_description"`
}

// post sends a form with client_secret_basic and decodes the JSON answer.
func (e *benchEnv) post(c *benchClient, path string, form url.Values, out any) error {
	req, err := http.NewRequest(http.MethodPost, e.issuer+path, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.cfg.ClientID), url.QueryEscape(c.secret))
	res, err := e.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %d %.300s", path, res.StatusCode, body)
	}
	return json.Unmarshal(body, out)
}

var benchCCForm = url.Values{"grant_type": {"client_credentials"}, "scope": {"orders:read"}}

// clientCredentials runs one client-credentials grant and checks it.
func (e *benchEnv) clientCredentials(b *testing.B, c *benchClient) string {
	var a benchTokenAnswer
	if err := e.post(c, "/oauth2/token", benchCCForm, &a); err != nil {
		b.Fatal(err)
	}
	if a.AccessToken == "" || a.RefreshToken != "" || a.IDToken != "" {
		b.Fatalf("client credentials: %+v", a)
	}
	if c.cfg.AccessTokenFormat == access.TokenFormatJWT {
		if hdr := benchJWTHeader(a.AccessToken); !strings.Contains(hdr, `"RS256"`) || !strings.Contains(hdr, `"at+jwt"`) {
			b.Fatalf("access token header %s", hdr)
		}
	} else if !strings.HasPrefix(a.AccessToken, grant.PrefixOpaque+"_") {
		b.Fatalf("opaque access token %q", a.AccessToken)
	}
	return a.AccessToken
}

// newFamily creates a user's grant at client c directly (as a code
// exchange does) and returns its first refresh token.
func (e *benchEnv) newFamily(b *testing.B, c *benchClient) string {
	now := time.Now()
	out, err := e.srv.Grants.Issue(context.Background(), grant.Issue{Tenant: e.tenant, App: c.cfg.App, ClientID: c.cfg.ClientID,
		GrantType: access.GrantAuthorizationCode, User: e.user.ID, Scopes: c.cfg.Scopes, AuthTime: now, AMR: []string{"pwd"},
		Opaque: c.cfg.AccessTokenFormat == access.TokenFormatOpaque, AccessLifetime: benchSeconds(c.cfg.AccessTokenLifetimeSeconds),
		Refresh: true, RefreshLifetime: benchSeconds(c.cfg.RefreshTokenLifetimeSeconds)})
	if err != nil {
		b.Fatal(err)
	}
	return out.RefreshToken
}

// benchJWTHeader is the decoded header of a compact JWS ("" for anything
// else).
func benchJWTHeader(token string) string {
	hdr, _, ok := strings.Cut(token, ".")
	if !ok {
		return ""
	}
	raw, _ := base64.RawURLEncoding.DecodeString(hdr)
	return string(raw)
}

func benchSeconds(n int) time.Duration { return time.Duration(n) * time.Second }

// refresh rotates *rt and checks the answer.
func (e *benchEnv) refresh(b *testing.B, c *benchClient, rt *string) *benchTokenAnswer {
	var a benchTokenAnswer
	if err := e.post(c, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {*rt}}, &a); err != nil {
		b.Fatal(err)
	}
	if a.AccessToken == "" || a.RefreshToken == "" || a.RefreshToken == *rt {
		b.Fatalf("refresh: %+v", a)
	}
	*rt = a.RefreshToken
	return &a
}

// sign is one raw signature, the unit of the comparisons.
func (e *benchEnv) sign() error {
	_, err := e.signer.Sign(rand.Reader, e.digest[:], crypto.SHA256)
	return err
}

func (e *benchEnv) benchClientCredentials(b *testing.B) {
	e.clientCredentials(b, e.machineJWT)
	e.compare(b, "grant/s", func(int) error {
		var a benchTokenAnswer
		if err := e.post(e.machineJWT, "/oauth2/token", benchCCForm, &a); err != nil {
			return err
		}
		if a.AccessToken == "" {
			return fmt.Errorf("no access token: %+v", a)
		}
		return nil
	})
}

func (e *benchEnv) benchRefresh(b *testing.B, c *benchClient) {
	families := make([]string, e.workers)
	for i := range families {
		families[i] = e.newFamily(b, c)
	}
	// What a refresh signs: the ID token the library always adds, and the
	// access token when it is a JWT; both RS256, as the raw signatures.
	a := e.refresh(b, c, &families[0])
	if hdr := benchJWTHeader(a.IDToken); !strings.Contains(hdr, `"RS256"`) {
		b.Fatalf("ID token header %q", hdr)
	}
	if hdr := benchJWTHeader(a.AccessToken); (c.cfg.AccessTokenFormat == access.TokenFormatJWT) != strings.Contains(hdr, `"RS256"`) {
		b.Fatalf("access token %.40s…, header %q", a.AccessToken, hdr)
	}
	e.compare(b, "refresh/s", func(w int) error {
		var a benchTokenAnswer
		err := e.post(c, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {families[w]}}, &a)
		if err != nil {
			return err
		}
		if a.RefreshToken == "" || a.AccessToken == "" {
			return fmt.Errorf("refresh: %+v", a)
		}
		families[w] = a.RefreshToken
		return nil
	})
}

// compare alternates raw signing and op, and reports both rates, their
// ratio and each one's process CPU time per operation.
func (e *benchEnv) compare(b *testing.B, unit string, op func(worker int) error) {
	b.ResetTimer()
	var signs, ops, signCPU, opCPU float64
	for range benchOIDCRounds {
		n, cpu := benchPhase(b, e.workers, func(int) error { return e.sign() })
		signs, signCPU = signs+n/benchOIDCRounds, signCPU+cpu/benchOIDCRounds
		n, cpu = benchPhase(b, e.workers, op)
		ops, opCPU = ops+n/benchOIDCRounds, opCPU+cpu/benchOIDCRounds
	}
	b.StopTimer()
	b.ReportMetric(signs, "sign/s")
	b.ReportMetric(ops, unit)
	b.ReportMetric(ops/signs, "ratio")
	b.ReportMetric(signCPU*1e6, "cpu-µs/sign")
	b.ReportMetric(opCPU*1e6, "cpu-µs/op")
	b.ReportMetric(signCPU/opCPU, "cpu-ratio")
	b.ReportMetric(float64(e.workers), "workers")
}

// benchPhase runs op on workers goroutines for benchOIDCPhase and returns
// the operations per second and the process CPU seconds per operation.
func benchPhase(b *testing.B, workers int, op func(worker int) error) (rate, cpuPerOp float64) {
	var n atomic.Int64
	var wg sync.WaitGroup
	cpu0 := benchProcessCPU()
	start := time.Now()
	deadline := start.Add(benchOIDCPhase)
	for w := range workers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if err := op(w); err != nil {
					b.Error(err)
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), benchProcessCPU()-cpu0
	return float64(n.Load()) / elapsed.Seconds(), cpu.Seconds() / float64(max(n.Load(), 1))
}

// benchProcessCPU is the process's user and system CPU time so far.
func benchProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchIntrospect measures introspection of token by client c: in process
// (the load generator shares the process's CPU) and with the load
// generator in a child process, so that the process's CPU is the
// server's alone.
func (e *benchEnv) benchIntrospect(b *testing.B, c *benchClient, token string) {
	form := url.Values{"token": {token}}
	var probe struct {
		Active bool   `json:"active"`
		Sub    string `json:"sub"`
	}
	if err := e.post(c, "/oauth2/introspect", form, &probe); err != nil || !probe.Active {
		b.Fatalf("introspection: %+v %v", probe, err)
	}
	b.ResetTimer()
	var rate, cpu float64
	for range benchOIDCRounds {
		n, c1 := benchPhase(b, e.workers, func(int) error {
			var a struct {
				Active bool `json:"active"`
			}
			if err := e.post(c, "/oauth2/introspect", form, &a); err != nil {
				return err
			}
			if !a.Active {
				return fmt.Errorf("token inactive")
			}
			return nil
		})
		rate, cpu = rate+n/benchOIDCRounds, cpu+c1/benchOIDCRounds
	}
	b.StopTimer()
	b.ReportMetric(rate, "introspect/s")
	b.ReportMetric(1/cpu, "per-cpu-s")

	// The same requests from a child process: this process's CPU is then
	// the server's (and the runtime's) alone.
	e.http.CloseIdleConnections()
	cmd := exec.Command(os.Args[0], "-test.run=^TestOIDCLoadGenerator$", "-test.bench=^$", "-test.count=1")
	cmd.Env = append(os.Environ(), "TESSERA_OIDC_LOADGEN="+strings.Join([]string{e.issuer + "/oauth2/introspect",
		url.QueryEscape(c.cfg.ClientID), url.QueryEscape(c.secret), form.Encode(), strconv.Itoa(e.workers), benchLoadFor.String()}, " "))
	cmd.Stderr = os.Stderr
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	pg0 := e.pgBackendCPU(b)
	cpu0 := benchProcessCPU()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	var requests int64
	var seconds float64
	sc := bufio.NewScanner(outPipe)
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "loadgen %d requests in %f s", &requests, &seconds); err == nil {
			break
		}
	}
	_, _ = io.Copy(io.Discard, outPipe)
	if err := cmd.Wait(); err != nil || requests == 0 {
		b.Fatalf("load generator: %v (%d requests)", err, requests)
	}
	srvCPU := benchProcessCPU() - cpu0
	pg1 := e.pgBackendCPU(b)
	client := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	b.ReportMetric(float64(requests)/seconds, "child-introspect/s")
	b.ReportMetric(float64(requests)/srvCPU.Seconds(), "per-server-cpu-s")
	b.ReportMetric(client.Seconds()*1e6/float64(requests), "client-cpu-µs/op")
	if pg1 != nil {
		var pg time.Duration
		for pid, t := range pg1 {
			pg += t - pg0[pid]
		}
		b.ReportMetric(pg.Seconds()*1e6/float64(requests), "pg-cpu-µs/op")
		b.ReportMetric(float64(requests)/(srvCPU+pg).Seconds(), "per-server+pg-cpu-s")
	}
}

// pgBackendCPU returns the CPU time so far of each PostgreSQL backend
// serving this process's test databases (nil on SQLite), read from
// /proc/PID/stat: the server is on this machine.
func (e *benchEnv) pgBackendCPU(b *testing.B) map[int]time.Duration {
	if e.pgURL == "" {
		return nil
	}
	db, err := sql.Open("pgx", e.pgURL)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT pid FROM pg_stat_activity WHERE datname LIKE $1`, fmt.Sprintf("tessera\\_test\\_%d\\_%%", os.Getpid()))
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	out := map[int]time.Duration{}
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			b.Fatal(err)
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue // ended, or not on this machine
		}
		// Fields after the command's closing parenthesis: state is the
		// first, utime and stime the 12th and 13th (clock ticks of 10 ms).
		_, rest, _ := strings.Cut(string(stat), ") ")
		f := strings.Fields(rest)
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		out[pid] = time.Duration(u+s) * 10 * time.Millisecond
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return out
}

// TestOIDCLoadGenerator is BenchmarkOIDC's out-of-process load generator;
// it does nothing unless the benchmark started it.
func TestOIDCLoadGenerator(t *testing.T) {
	spec := os.Getenv("TESSERA_OIDC_LOADGEN")
	if spec == "" {
		t.Skip("started by BenchmarkOIDC only")
	}
	f := strings.Fields(spec)
	if len(f) != 6 {
		t.Fatalf("TESSERA_OIDC_LOADGEN: %q", spec)
	}
	target, body := f[0], f[3]
	id, _ := url.QueryUnescape(f[1])
	secret, _ := url.QueryUnescape(f[2])
	workers, _ := strconv.Atoi(f[4])
	d, err := time.ParseDuration(f[5])
	if err != nil || workers < 1 {
		t.Fatalf("TESSERA_OIDC_LOADGEN: %q", spec)
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers * 4}}
	var n atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for range workers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
				res, err := hc.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK || !strings.Contains(string(b), `"active":true`) {
					t.Errorf("introspection: %d %.200s", res.StatusCode, b)
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	fmt.Printf("loadgen %d requests in %f s\n", n.Load(), time.Since(start).Seconds())
}
