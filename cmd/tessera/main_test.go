package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var tokenPattern = regexp.MustCompile(`tsk_[A-Za-z0-9_-]{43}`)

// syncBuffer is written by the server goroutine and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// serveOnce runs `tessera serve` until it answers /readyz, returns its
// stdout, then stops it and checks the shutdown was clean.
func serveOnce(t *testing.T, data string, check func(base string)) string {
	t.Helper()
	addr := freeAddr(t)
	env := map[string]string{"TESSERA_DATA": data, "TESSERA_ARGON2_MEMORY": "8192", "TESSERA_ARGON2_TIME": "1"}
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--listen", addr}, &stdout, &stderr, func(k string) string { return env[k] })
	}()
	base := "http://" + addr
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := http.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("server did not become ready: %v\nstderr: %s", err, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	check(base)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve returned %v", err)
	}
	return stdout.String()
}

func get(t *testing.T, url, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func TestServeBootstrapsOnceAndTokenCommandWorks(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	var bootstrap string
	first := serveOnce(t, data, func(base string) {})
	if bootstrap = tokenPattern.FindString(first); bootstrap == "" {
		t.Fatalf("first start printed no bootstrap token:\n%s", first)
	}
	// The CLI issues a token against the same data directory.
	var out, errOut bytes.Buffer
	env := func(k string) string { return map[string]string{"TESSERA_DATA": data}[k] }
	if err := run(context.Background(), []string{"admin", "token", "create", "--tenant", "default", "--role", "read-only"}, &out, &errOut, env); err != nil {
		t.Fatalf("admin token create: %v\n%s", err, errOut.String())
	}
	cliToken := strings.TrimSpace(out.String())
	if !tokenPattern.MatchString(cliToken) || cliToken != tokenPattern.FindString(out.String()) {
		t.Fatalf("admin token create printed %q, want exactly one token", out.String())
	}
	second := serveOnce(t, data, func(base string) {
		for _, tok := range []string{bootstrap, cliToken} {
			if code := get(t, base+"/api/v1/tenant", tok); code != http.StatusOK {
				t.Errorf("token from %s: GET /api/v1/tenant = %d", map[bool]string{true: "bootstrap", false: "cli"}[tok == bootstrap], code)
			}
		}
		if code := get(t, base+"/api/v1/tenant", cliToken[:len(cliToken)-1]+"x"); code != http.StatusUnauthorized {
			t.Errorf("altered token: %d, want 401", code)
		}
	})
	if tokenPattern.MatchString(second) {
		t.Fatalf("second start printed a token again:\n%s", second)
	}
}

func TestCommandErrors(t *testing.T) {
	data := t.TempDir()
	env := func(k string) string { return map[string]string{"TESSERA_DATA": data}[k] }
	for _, args := range [][]string{
		{},
		{"bogus"},
		{"admin", "token", "create"},
		{"admin", "token", "create", "--tenant", "nope", "--role", "admin"},
		{"admin", "token", "create", "--tenant", "default", "--role", "superuser"},
		{"serve", "--listen", "not-an-address"},
		{"serve", "--log-level", "loud", "--database-url", "mysql://x"},
		{"tenant", "create", "--slug", "Bad Slug", "--name", "x"},
	} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), args, &out, &errOut, env); err == nil {
			t.Errorf("tessera %v succeeded; want an error", args)
		}
		if tokenPattern.MatchString(out.String()) {
			t.Errorf("tessera %v printed a token despite failing", args)
		}
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, &out, &out, env); err != nil || !strings.HasPrefix(out.String(), "tessera ") {
		t.Errorf("version: %q %v", out.String(), err)
	}
}
