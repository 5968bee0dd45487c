package testkit

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/config"
	"github.com/tessera-iam/tessera/internal/server"
	"github.com/tessera-iam/tessera/internal/store"
)

// Env is a full Tessera server behind httptest, with the bootstrap tenant
// and its admin token.
type Env struct {
	URL        string
	AdminToken string
	Server     *server.Server
	DB         *store.DB
	Client     *http.Client
}

// FastArgon2 are test-only argon2id costs: the rules are the same, the
// hashing cheaper, so suites stay fast.
func FastArgon2(cfg *config.Config) {
	cfg.Argon2Memory, cfg.Argon2Time, cfg.Argon2Threads = 8*1024, 1, 1
}

// NewServer starts the whole server on db (already migrated) and bootstraps
// it. Options may adjust the configuration.
func NewServer(t testing.TB, db *store.DB, options ...func(*config.Config)) *Env {
	t.Helper()
	return NewServerOn(t, db, nil, options...)
}

// NewServerOn is NewServer with every service on the clock now (nil: the
// real one), such as a Clock's Now.
func NewServerOn(t testing.TB, db *store.DB, now func() time.Time, options ...func(*config.Config)) *Env {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	FastArgon2(&cfg)
	// Listen first, so the public URL (links in mail, the WebAuthn relying
	// party) is the test server's own. "localhost" rather than 127.0.0.1: a
	// browser treats it as a secure context, and WebAuthn refuses IP hosts.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.PublicURL = "http://localhost:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	for _, o := range options {
		o(&cfg)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := server.New(context.Background(), cfg, log, db, now)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.CloseMail() })
	var out bytes.Buffer
	if err := s.Bootstrap(context.Background(), &out); err != nil {
		t.Fatal(err)
	}
	tok := ""
	for _, f := range strings.Fields(out.String()) {
		if strings.HasPrefix(f, "tsk_") {
			tok = f
			break
		}
	}
	if tok == "" {
		t.Fatalf("bootstrap printed no token: %q", out.String())
	}
	hs := httptest.NewUnstartedServer(s.Handler())
	hs.Listener.Close()
	hs.Listener = ln
	hs.Start()
	t.Cleanup(hs.Close)
	return &Env{URL: cfg.PublicURL, AdminToken: tok, Server: s, DB: db, Client: &http.Client{Timeout: 30 * time.Second}}
}

// EachServer runs fn against a fresh full server on each database.
func EachServer(t *testing.T, fn func(t *testing.T, e *Env)) {
	EachDB(t, func(t *testing.T, db *store.DB) { fn(t, NewServer(t, db)) })
}

// Response is a decoded answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic value.
func (r Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

// Decode decodes the body into v.
func (r Response) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %T: %v: %s", v, err, r.Body)
	}
}

// Do sends a request with token (none when empty). body may be nil, a
// string or []byte (sent as is), or any value (sent as JSON). headers are
// name, value pairs.
func (e *Env) Do(t testing.TB, method, path, token string, body any, headers ...string) Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := e.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return Response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// Fingerprint digests all data, to assert a request changed nothing.
func (e *Env) Fingerprint(t testing.TB) string {
	t.Helper()
	fp, err := e.DB.Fingerprint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

// Unchanged runs fn and fails the test if the data changed.
func (e *Env) Unchanged(t testing.TB, fn func()) {
	t.Helper()
	before := e.Fingerprint(t)
	fn()
	if after := e.Fingerprint(t); after != before {
		t.Errorf("the request changed the database")
	}
}
