package server_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/testkit"
)

// get fetches path from the test server as if the browser had asked for
// host.
func get(t *testing.T, e *testkit.Env, host, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	res, err := e.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestTenantOwnDomain(t *testing.T) {
	testkit.EachServer(t, func(t *testing.T, e *testkit.Env) {
		ctx := context.Background()
		other, err := e.Server.Tenants.CreateTenant(ctx, "other", "Other")
		if err != nil {
			t.Fatal(err)
		}
		res := e.Do(t, http.MethodPut, "/api/v1/tenant/domain", e.AdminToken, map[string]any{"domain": "Login.Acme.Example."})
		if res.Status != http.StatusOK || res.JSON(t)["domain"] != "login.acme.example" {
			t.Fatalf("set domain: %d %s", res.Status, res.Body)
		}

		// The tenant's pages answer on its domain, with or without /t/{slug}.
		for _, path := range []string{"/login", "/t/default/login"} {
			code, body := get(t, e, "login.acme.example", path)
			if code != http.StatusOK || !strings.Contains(body, `action="/t/default/login"`) {
				t.Errorf("GET %s on the tenant's domain: %d", path, code)
			}
		}
		// Another tenant's pages do not.
		if code, _ := get(t, e, "login.acme.example", "/t/other/login"); code != http.StatusNotFound {
			t.Errorf("another tenant's page on this domain: %d, want 404", code)
		}
		// Unknown hosts are served like the public one.
		if code, _ := get(t, e, "unknown.example", "/t/other/login"); code != http.StatusOK {
			t.Errorf("unknown host: %d", code)
		}
		// One host, one tenant.
		if _, err := e.Server.Tenants.SetTenantDomain(ctx, other.ID, "login.acme.example", 0); !errors.Is(err, errkind.Conflict) {
			t.Errorf("second tenant on the same domain: %v, want a conflict", err)
		}
		for _, bad := range []string{"localhost", "10.0.0.1", "acme", "-x.example", "a b.example"} {
			res := e.Do(t, http.MethodPut, "/api/v1/tenant/domain", e.AdminToken, map[string]any{"domain": bad})
			if res.Status != http.StatusBadRequest {
				t.Errorf("domain %q: %d, want 400", bad, res.Status)
			}
		}
		if res := e.Do(t, http.MethodPut, "/api/v1/tenant/domain", e.AdminToken, map[string]any{"domain": nil}); res.Status != http.StatusOK ||
			res.JSON(t)["domain"] != nil {
			t.Fatalf("remove domain: %d %s", res.Status, res.Body)
		}
		if code, body := get(t, e, "login.acme.example", "/login"); code == http.StatusOK && strings.Contains(body, "/t/default/login") {
			t.Error("a removed domain still serves the tenant")
		}
	})
}
