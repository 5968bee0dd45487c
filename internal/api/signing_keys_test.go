package api_test

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/testkit"
)

type sgkKey struct {
	ID          string  `json:"id"`
	Purpose     string  `json:"purpose"`
	Algorithm   string  `json:"algorithm"`
	State       string  `json:"state"`
	Certificate string  `json:"certificate"`
	Fingerprint string  `json:"fingerprint_sha256"`
	CreatedAt   string  `json:"created_at"`
	ActivatedAt *string `json:"activated_at"`
	RetiredAt   *string `json:"retired_at"`
	NotAfter    string  `json:"not_after"`
}

func sgkList(t *testing.T, e *testkit.Env, tok, query string) []sgkKey {
	t.Helper()
	res := e.Do(t, http.MethodGet, "/api/v1/signing-keys?"+query, tok, nil)
	if res.Status != http.StatusOK {
		t.Fatalf("list signing keys: %d %s", res.Status, res.Body)
	}
	var l struct {
		Items []sgkKey `json:"items"`
	}
	res.Decode(t, &l)
	return l.Items
}

func sgkStatesOf(ks []sgkKey) []string {
	var out []string
	for _, k := range ks {
		out = append(out, k.State)
	}
	return out
}

func sgkToken(t *testing.T, e *testkit.Env, body map[string]any) string {
	t.Helper()
	res := e.Do(t, http.MethodPost, "/api/v1/tokens", e.AdminToken, body)
	if res.Status != http.StatusCreated {
		t.Fatalf("create token: %d %s", res.Status, res.Body)
	}
	tok := res.JSON(t)["secret"].(string)
	e.Do(t, http.MethodGet, "/api/v1/tenant", tok, nil) // its first use is a write
	return tok
}

func TestSigningKeysAPI(t *testing.T) {
	testkit.EachServer(t, func(t *testing.T, e *testkit.Env) {
		admin := e.AdminToken
		ro := sgkToken(t, e, map[string]any{"name": "reader", "role": "read-only"})
		org := e.Do(t, http.MethodPost, "/api/v1/organizations", admin, map[string]any{"name": "Acme"}).JSON(t)["id"].(string)
		scoped := sgkToken(t, e, map[string]any{"name": "acme admin", "role": "admin", "organization_id": org})

		// The first read creates the active and the next key; the next one
		// is published before it signs anything.
		const saml = "purpose=saml&algorithm=RS256"
		first := sgkList(t, e, ro, saml)
		if got := sgkStatesOf(first); !slices.Equal(got, []string{"active", "next"}) {
			t.Fatalf("states %v, want active and next", got)
		}
		for _, k := range first {
			block, rest := pem.Decode([]byte(k.Certificate))
			if block == nil || block.Type != "CERTIFICATE" || len(strings.TrimSpace(string(rest))) != 0 {
				t.Fatalf("certificate is not one PEM block: %q", k.Certificate)
			}
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(block.Bytes)
			var hex []string
			for _, b := range sum {
				hex = append(hex, fmt.Sprintf("%02X", b))
			}
			if k.Fingerprint != strings.Join(hex, ":") {
				t.Errorf("fingerprint %s, want %s", k.Fingerprint, strings.Join(hex, ":"))
			}
			if na, err := time.Parse(time.RFC3339, k.NotAfter); err != nil || !na.Equal(cert.NotAfter) {
				t.Errorf("not_after %s, certificate %v", k.NotAfter, cert.NotAfter)
			}
			if k.Purpose != "saml" || k.Algorithm != "RS256" || k.RetiredAt != nil {
				t.Errorf("key %+v", k)
			}
			if strings.Contains(k.Certificate, "PRIVATE") {
				t.Errorf("the answer holds a private key")
			}
		}
		if first[0].ActivatedAt == nil || first[1].ActivatedAt != nil {
			t.Errorf("activated_at: active %v, next %v", first[0].ActivatedAt, first[1].ActivatedAt)
		}
		// Public keys: every role and scope of the tenant reads the same.
		for _, tok := range []string{admin, scoped} {
			if got := sgkList(t, e, tok, saml); got[0].ID != first[0].ID || got[1].ID != first[1].ID {
				t.Errorf("another caller sees %v, want %s %s", got, first[0].ID, first[1].ID)
			}
		}

		// Refusals change nothing.
		rotate := func(tok string, body any) testkit.Response {
			return e.Do(t, http.MethodPost, "/api/v1/signing-keys/rotate", tok, body)
		}
		body := map[string]any{"purpose": "saml", "algorithm": "RS256"}
		for _, c := range []struct {
			name   string
			tok    string
			body   any
			status int
			fields []string
		}{
			{"read-only", ro, body, http.StatusForbidden, nil},
			{"organization admin", scoped, body, http.StatusForbidden, nil},
			{"bad purpose and algorithm", admin, map[string]any{"purpose": "ldap", "algorithm": "HS256"}, http.StatusBadRequest, []string{"purpose", "algorithm"}},
			{"missing algorithm", admin, map[string]any{"purpose": "saml"}, http.StatusBadRequest, []string{"algorithm"}},
			{"unknown member", admin, map[string]any{"purpose": "saml", "algorithm": "RS256", "force": true}, http.StatusBadRequest, []string{"force"}},
			{"no token", "", body, http.StatusUnauthorized, nil},
		} {
			var res testkit.Response
			e.Unchanged(t, func() { res = rotate(c.tok, c.body) })
			if res.Status != c.status {
				t.Errorf("%s: %d %s, want %d", c.name, res.Status, res.Body, c.status)
				continue
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("%s: Content-Type %q", c.name, ct)
			}
			var p struct {
				Errors []struct{ Field string } `json:"errors"`
			}
			_ = json.Unmarshal(res.Body, &p)
			var fields []string
			for _, f := range p.Errors {
				fields = append(fields, f.Field)
			}
			if c.fields != nil && !slices.Equal(fields, c.fields) {
				t.Errorf("%s: fields %v, want %v", c.name, fields, c.fields)
			}
		}
		for _, q := range []string{"", "purpose=saml", "purpose=SAML&algorithm=RS256", saml + "&state=active"} {
			if res := e.Do(t, http.MethodGet, "/api/v1/signing-keys?"+q, ro, nil); res.Status != http.StatusBadRequest {
				t.Errorf("GET ?%s: %d %s, want 400", q, res.Status, res.Body)
			}
		}

		// Rotation: next becomes active, active is retired and stays
		// published, a new next key appears.
		res := rotate(admin, body)
		if res.Status != http.StatusOK {
			t.Fatalf("rotate: %d %s", res.Status, res.Body)
		}
		var rot struct{ Retired, Active, Next sgkKey }
		res.Decode(t, &rot)
		if rot.Retired.ID != first[0].ID || rot.Active.ID != first[1].ID || rot.Next.ID == first[0].ID || rot.Next.ID == first[1].ID {
			t.Fatalf("rotation %s/%s/%s from %s/%s", rot.Retired.ID, rot.Active.ID, rot.Next.ID, first[0].ID, first[1].ID)
		}
		if rot.Retired.State != "retired" || rot.Retired.RetiredAt == nil || rot.Active.State != "active" || rot.Active.ActivatedAt == nil ||
			rot.Next.State != "next" {
			t.Errorf("rotation states %+v", rot)
		}
		after := sgkList(t, e, ro, saml)
		if got := []string{after[0].ID, after[1].ID, after[2].ID}; len(after) != 3 || !slices.Equal(got, []string{rot.Active.ID, rot.Next.ID, rot.Retired.ID}) ||
			!slices.Equal(sgkStatesOf(after), []string{"active", "next", "retired"}) {
			t.Errorf("after rotation %v %v", got, sgkStatesOf(after))
		}
		// Other purposes and algorithms are untouched.
		if oidc := sgkList(t, e, ro, "purpose=oidc&algorithm=ES256"); len(oidc) != 2 {
			t.Errorf("oidc keys %v", sgkStatesOf(oidc))
		}

		// Audited, with the key ids.
		ev := e.Do(t, http.MethodGet, "/api/v1/audit/events?action=signing_key.rotated", admin, nil)
		var events struct {
			Items []struct {
				TargetType string         `json:"target_type"`
				TargetID   string         `json:"target_id"`
				Details    map[string]any `json:"details"`
			} `json:"items"`
		}
		ev.Decode(t, &events)
		if len(events.Items) != 1 {
			t.Fatalf("%d signing_key.rotated events: %s", len(events.Items), ev.Body)
		}
		d := events.Items[0].Details
		if events.Items[0].TargetType != "tenant" || d["purpose"] != "saml" || d["algorithm"] != "RS256" ||
			d["retired_key_id"] != rot.Retired.ID || d["activated_key_id"] != rot.Active.ID || d["next_key_id"] != rot.Next.ID {
			t.Errorf("event %+v", events.Items[0])
		}
	})
}
