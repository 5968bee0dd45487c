package api_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/apitoken"
	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/id"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/testkit"
)

// samlTestCerts are PEM certificates made once per test binary: "rsa" and
// "ecdsa" valid for a year, "expired" an hour past its end.
var samlTestCerts = sync.OnceValue(func() map[string]string {
	now := time.Now()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	mk := func(key crypto.Signer, from, until time.Time) string {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(now.UnixNano()), Subject: pkix.Name{CommonName: "sp.example"},
			NotBefore: from, NotAfter: until}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			panic(err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	}
	year := 365 * 24 * time.Hour
	return map[string]string{
		"rsa":     mk(rk, now.Add(-time.Hour), now.Add(year)),
		"ecdsa":   mk(ek, now.Add(-time.Hour), now.Add(year)),
		"expired": mk(rk, now.Add(-year), now.Add(-time.Hour)),
	}
})

// samlBody is a complete, valid PUT body for entity.
func samlBody(entity string) map[string]any {
	return map[string]any{
		"entity_id": entity,
		"acs": []any{
			map[string]any{"index": 0, "url": "https://sp.example/saml/acs", "binding": access.BindingHTTPPost, "default": false},
			map[string]any{"index": 5, "url": "https://eu.sp.example/saml/acs?x=1", "binding": access.BindingHTTPPost, "default": true},
		},
		"slo":            map[string]any{"url": "https://sp.example/saml/slo", "binding": access.BindingHTTPPost},
		"name_id_format": access.NameIDFormatEmail,
		"name_id_source": "email",
		"attributes": []any{
			map[string]any{"name": "urn:oid:0.9.2342.19200300.100.1.3", "friendly_name": "mail", "source": "email"},
			map[string]any{"name": "roles", "friendly_name": "", "source": "app_roles"},
			map[string]any{"name": "org", "friendly_name": "Organization", "source": "organization"},
		},
		"sign_response": true, "sign_assertion": false, "signature_algorithm": "rsa-sha256",
		"encrypt_assertion": true, "sp_certificate": samlTestCerts()["rsa"], "want_signed_requests": true,
		"clock_skew_seconds": 0, "assertion_lifetime_seconds": 900, "relay_state_default": "/dashboard",
		"allow_insecure_acs": false, "allow_sha1": false,
	}
}

// samlClone deep-copies a body through JSON.
func samlClone(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func samlWant(t testing.TB, res testkit.Response, status int) {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status %d, want %d: %s", res.Status, status, res.Body)
	}
}

func samlNewApp(t testing.TB, e *testkit.Env, name, kind string) string {
	t.Helper()
	res := e.Do(t, http.MethodPost, "/api/v1/applications", e.AdminToken, map[string]any{"name": name, "kind": kind})
	samlWant(t, res, http.StatusCreated)
	return res.JSON(t)["id"].(string)
}

func samlPath(app string) string { return "/api/v1/applications/" + app + "/saml" }

// samlFields returns the fields a problem names.
func samlFields(t testing.TB, res testkit.Response) []string {
	t.Helper()
	var p struct {
		Errors []struct {
			Field string `json:"field"`
		} `json:"errors"`
	}
	res.Decode(t, &p)
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

func samlToken(t testing.TB, e *testkit.Env, role apitoken.Role, org string) string {
	t.Helper()
	_, secret, err := e.Server.CreateToken(context.Background(), "default", apitoken.NewToken{Name: "saml " + string(role) + " " + org,
		Role: role, Org: tenant.OrgID(org)})
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

func TestSAMLConfigAPIRoundTrip(t *testing.T) {
	testkit.EachServer(t, func(t *testing.T, e *testkit.Env) {
		app := samlNewApp(t, e, "Expenses", "saml")
		samlWant(t, e.Do(t, http.MethodGet, samlPath(app), e.AdminToken, nil), http.StatusNotFound)

		body := samlBody("https://sp.example/metadata")
		put := e.Do(t, http.MethodPut, samlPath(app), e.AdminToken, body)
		samlWant(t, put, http.StatusOK)
		if put.Header.Get("ETag") != `"1"` {
			t.Errorf("ETag %q, want \"1\"", put.Header.Get("ETag"))
		}
		get := e.Do(t, http.MethodGet, samlPath(app), e.AdminToken, nil)
		samlWant(t, get, http.StatusOK)
		got := get.JSON(t)
		for _, k := range []string{"application_id", "version", "created_at", "updated_at"} {
			if got[k] == nil {
				t.Errorf("answer lacks %s: %s", k, get.Body)
			}
			delete(got, k)
		}
		if want := samlClone(t, body); !reflect.DeepEqual(got, want) {
			t.Errorf("read back\n%s\nwant\n%s", get.Body, mustMarshal(t, want))
		}
		if !strings.Contains(string(put.Body), `"application_id":"`+app+`"`) {
			t.Errorf("answer does not name the application: %s", put.Body)
		}

		// Defaults for what a body leaves out.
		minimal := e.Do(t, http.MethodPut, samlPath(app), e.AdminToken, map[string]any{"entity_id": "https://sp.example/metadata",
			"acs": []any{map[string]any{"url": "https://sp.example/saml/acs"}, map[string]any{"url": "https://sp.example/saml/acs2"}}},
			"If-Match", `"1"`)
		samlWant(t, minimal, http.StatusOK)
		m := minimal.JSON(t)
		for k, want := range map[string]any{"version": 2.0, "name_id_format": access.NameIDFormatEmail, "name_id_source": "email",
			"sign_response": true, "sign_assertion": true, "signature_algorithm": "rsa-sha256", "clock_skew_seconds": 60.0,
			"assertion_lifetime_seconds": 300.0, "encrypt_assertion": false, "sp_certificate": "", "slo": nil, "relay_state_default": ""} {
			if !reflect.DeepEqual(m[k], want) {
				t.Errorf("default %s = %v, want %v", k, m[k], want)
			}
		}
		wantACS := []any{
			map[string]any{"index": 0.0, "url": "https://sp.example/saml/acs", "binding": access.BindingHTTPPost, "default": false},
			map[string]any{"index": 1.0, "url": "https://sp.example/saml/acs2", "binding": access.BindingHTTPPost, "default": false}}
		if !reflect.DeepEqual(m["acs"], wantACS) {
			t.Errorf("acs defaults: %v", m["acs"])
		}
		if a, _ := m["attributes"].([]any); a == nil || len(a) != 0 {
			t.Errorf("attributes = %v, want []", m["attributes"])
		}
		// The persistent format brings its source.
		p := e.Do(t, http.MethodPut, samlPath(app), e.AdminToken, map[string]any{"entity_id": "https://sp.example/metadata",
			"acs": []any{map[string]any{"url": "https://sp.example/saml/acs"}}, "name_id_format": access.NameIDFormatPersistent})
		samlWant(t, p, http.StatusOK)
		if src := p.JSON(t)["name_id_source"]; src != "persistent" {
			t.Errorf("name_id_source with the persistent format = %v", src)
		}

		// The same body twice: one version.
		v := e.Do(t, http.MethodPut, samlPath(app), e.AdminToken, body)
		again := e.Do(t, http.MethodPut, samlPath(app), e.AdminToken, body)
		if v.Header.Get("ETag") != again.Header.Get("ETag") || v.Header.Get("ETag") != `"4"` {
			t.Errorf("ETags %s then %s, want \"4\" twice", v.Header.Get("ETag"), again.Header.Get("ETag"))
		}
		e.Unchanged(t, func() {
			samlWant(t, e.Do(t, http.MethodPut, samlPath(app), e.AdminToken, body, "If-Match", `"3"`), http.StatusPreconditionFailed)
			samlWant(t, e.Do(t, http.MethodPut, samlPath(app), e.AdminToken, body, "If-Match", `W/"4"`), http.StatusPreconditionFailed)
		})

		// The audit log records the change and never the certificate.
		ev := e.Do(t, http.MethodGet, "/api/v1/audit/events?action=application.saml_configured&target_id="+app, e.AdminToken, nil)
		samlWant(t, ev, http.StatusOK)
		if n := strings.Count(string(ev.Body), `"application.saml_configured"`); n != 4 {
			t.Errorf("%d application.saml_configured events, want 4: %s", n, ev.Body)
		}
		if strings.Contains(string(ev.Body), "CERTIFICATE") || !strings.Contains(string(ev.Body), `"sha256"`) {
			t.Errorf("audit events: %s", ev.Body)
		}

		samlWant(t, e.Do(t, http.MethodDelete, samlPath(app), e.AdminToken, nil), http.StatusNoContent)
		samlWant(t, e.Do(t, http.MethodGet, samlPath(app), e.AdminToken, nil), http.StatusNotFound)
		samlWant(t, e.Do(t, http.MethodDelete, samlPath(app), e.AdminToken, nil), http.StatusNotFound)
	})
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSAMLConfigAPIRefusals sends each attack on a valid configuration and
// expects a 400 naming the field, with nothing changed.
func TestSAMLConfigAPIRefusals(t *testing.T) {
	certs := samlTestCerts()
	set := func(path string, v any) func(m map[string]any) {
		return func(m map[string]any) {
			keys := strings.Split(path, ".")
			var cur any = m
			for _, k := range keys[:len(keys)-1] {
				if i, err := strconv.Atoi(k); err == nil {
					cur = cur.([]any)[i]
				} else {
					cur = cur.(map[string]any)[k]
				}
			}
			last := keys[len(keys)-1]
			if v == nil {
				delete(cur.(map[string]any), last)
				return
			}
			cur.(map[string]any)[last] = v
		}
	}
	both := func(fs ...func(map[string]any)) func(map[string]any) {
		return func(m map[string]any) {
			for _, f := range fs {
				f(m)
			}
		}
	}
	cases := []struct {
		name, field string
		edit        func(m map[string]any)
	}{
		{"javascript: ACS", "acs.1.url", set("acs.1.url", "javascript:alert(document.cookie)")},
		{"data: ACS", "acs.0.url", set("acs.0.url", "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==")},
		{"http ACS without allow", "acs.1.url", set("acs.1.url", "http://eu.sp.example/saml/acs")},
		{"ACS with user info", "acs.0.url", set("acs.0.url", "https://sp.example:443@evil.example/acs")},
		{"ACS with a fragment", "acs.0.url", set("acs.0.url", "https://sp.example/acs#frag")},
		{"duplicate index", "acs.1.index", set("acs.1.index", 0)},
		{"two defaults", "acs.1.default", set("acs.0.default", true)},
		{"redirect binding on ACS", "acs.0.binding", set("acs.0.binding", access.BindingHTTPRedirect)},
		{"no ACS", "acs", set("acs", []any{})},
		{"javascript: SLO", "slo.url", set("slo.url", "javascript:alert(1)")},
		{"SLO without a binding", "slo.binding", set("slo.binding", "")},
		{"no entity id", "entity_id", set("entity_id", "")},
		{"sha1 without allow", "signature_algorithm", set("signature_algorithm", "rsa-sha1")},
		{"nothing signed", "sign_assertion", set("sign_response", false)},
		{"encrypt without a certificate", "sp_certificate", both(set("sp_certificate", ""), set("want_signed_requests", false))},
		{"signed requests without a certificate", "sp_certificate", both(set("sp_certificate", ""), set("encrypt_assertion", false))},
		{"garbage PEM", "sp_certificate", set("sp_certificate", "-----BEGIN CERTIFICATE-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE-----\n")},
		{"expired certificate", "sp_certificate", set("sp_certificate", certs["expired"])},
		{"encryption to an ECDSA key", "sp_certificate", set("sp_certificate", certs["ecdsa"])},
		{"relay state over 80 bytes", "relay_state_default", set("relay_state_default", "/"+strings.Repeat("a", 80))},
		{"unknown name_id_source", "name_id_source", set("name_id_source", "employee_id")},
		{"undeclared profile attribute", "name_id_source", set("name_id_source", "attribute:employee_id")},
		{"unknown name_id_format", "name_id_format", set("name_id_format", "urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName")},
		{"unknown attribute source", "attributes.2.source", set("attributes.2.source", "password")},
		{"duplicate attribute name", "attributes.1.name", set("attributes.1.name", "urn:oid:0.9.2342.19200300.100.1.3")},
		{"clock skew over 300", "clock_skew_seconds", set("clock_skew_seconds", 301)},
		{"assertion lifetime under 60", "assertion_lifetime_seconds", set("assertion_lifetime_seconds", 30)},
		// The shape of the body itself.
		{"unknown member", "tenant_id", set("tenant_id", "ten_other")},
		{"read-only member", "version", set("version", 9)},
		{"wrong type", "acs.0.index", set("acs.0.index", "zero")},
	}
	testkit.EachServer(t, func(t *testing.T, e *testkit.Env) {
		app := samlNewApp(t, e, "Expenses", "saml")
		samlWant(t, e.Do(t, http.MethodPut, samlPath(app), e.AdminToken, samlBody("https://sp.example/a")), http.StatusOK)
		fresh := samlNewApp(t, e, "Travel", "saml")
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				for _, target := range []string{app, fresh} {
					body := samlClone(t, samlBody("https://sp.example/"+target))
					c.edit(body)
					e.Unchanged(t, func() {
						res := e.Do(t, http.MethodPut, samlPath(target), e.AdminToken, body)
						samlWant(t, res, http.StatusBadRequest)
						if fs := samlFields(t, res); !slices.Contains(fs, c.field) {
							t.Errorf("fields %v, want %s: %s", fs, c.field, res.Body)
						}
					})
				}
			})
		}
		// Each refusal's allowance admits what it guards.
		ok := samlBody("https://sp.example/allowed")
		ok["acs"] = []any{map[string]any{"url": "http://localhost:3000/acs"}}
		ok["allow_insecure_acs"], ok["signature_algorithm"], ok["allow_sha1"] = true, "rsa-sha1", true
		ok["encrypt_assertion"], ok["sp_certificate"] = false, certs["ecdsa"]
		ok["relay_state_default"] = strings.Repeat("r", 80)
		samlWant(t, e.Do(t, http.MethodPut, samlPath(fresh), e.AdminToken, ok), http.StatusOK)
	})
}

func TestSAMLConfigAPIAccess(t *testing.T) {
	testkit.EachServer(t, func(t *testing.T, e *testkit.Env) {
		ctx := audit.WithActor(context.Background(), audit.Actor{Type: "system", ID: "saml-test"})
		app := samlNewApp(t, e, "Expenses", "saml")
		other := samlNewApp(t, e, "Expenses EU", "saml")
		oidc := samlNewApp(t, e, "Portal", "oidc")
		const entity = "https://expenses.example/sp"
		samlWant(t, e.Do(t, http.MethodPut, samlPath(app), e.AdminToken, samlBody(entity)), http.StatusOK)

		org := uCreateOrg(t, e, "Acme")
		scoped := samlToken(t, e, apitoken.Admin, org)
		ro := samlToken(t, e, apitoken.ReadOnly, "")
		um := samlToken(t, e, apitoken.UserManager, "")
		e.Unchanged(t, func() {
			res := e.Do(t, http.MethodPut, samlPath(other), e.AdminToken, samlBody(entity))
			samlWant(t, res, http.StatusConflict)
			if !strings.Contains(string(res.Body), "entity id") {
				t.Errorf("conflict: %s", res.Body)
			}
			res = e.Do(t, http.MethodPut, samlPath(oidc), e.AdminToken, samlBody("https://portal.example"))
			samlWant(t, res, http.StatusBadRequest)
			if !strings.Contains(string(res.Body), "kind saml") {
				t.Errorf("non-saml application: %s", res.Body)
			}
			samlWant(t, e.Do(t, http.MethodPut, samlPath(app), scoped, samlBody(entity)), http.StatusForbidden)
			samlWant(t, e.Do(t, http.MethodDelete, samlPath(app), scoped, nil), http.StatusForbidden)
			for _, tok := range []string{ro, um} {
				samlWant(t, e.Do(t, http.MethodPut, samlPath(app), tok, samlBody(entity)), http.StatusForbidden)
				samlWant(t, e.Do(t, http.MethodDelete, samlPath(app), tok, nil), http.StatusForbidden)
			}
			samlWant(t, e.Do(t, http.MethodPut, samlPath(app), "", samlBody(entity)), http.StatusUnauthorized)
			samlWant(t, e.Do(t, http.MethodPut, samlPath("app_01jd0000000000000000000000"), e.AdminToken, samlBody(entity)), http.StatusNotFound)
		})
		// Every scope reads it, like the application.
		for _, tok := range []string{scoped, ro, um} {
			samlWant(t, e.Do(t, http.MethodGet, samlPath(app), tok, nil), http.StatusOK)
		}
		samlWant(t, e.Do(t, http.MethodGet, samlPath(oidc), ro, nil), http.StatusNotFound)

		// Another tenant: its applications are not found, its entity ids its own.
		tb, err := e.Server.Tenants.CreateTenant(ctx, "bravo", "Bravo")
		if err != nil {
			t.Fatal(err)
		}
		_, bTok, err := e.Server.CreateToken(ctx, "bravo", apitoken.NewToken{Name: "b admin", Role: apitoken.Admin})
		if err != nil {
			t.Fatal(err)
		}
		e.Unchanged(t, func() {
			samlWant(t, e.Do(t, http.MethodGet, samlPath(app), bTok, nil), http.StatusNotFound)
			samlWant(t, e.Do(t, http.MethodPut, samlPath(app), bTok, samlBody("https://b.example")), http.StatusNotFound)
			samlWant(t, e.Do(t, http.MethodDelete, samlPath(app), bTok, nil), http.StatusNotFound)
		})
		res := e.Do(t, http.MethodPost, "/api/v1/applications", bTok, map[string]any{"name": "Expenses", "kind": "saml"})
		samlWant(t, res, http.StatusCreated)
		bApp := res.JSON(t)["id"].(string)
		samlWant(t, e.Do(t, http.MethodPut, samlPath(bApp), bTok, samlBody(entity)), http.StatusOK)

		ta := uTenantID(t, e)
		a, c, err := e.Server.Access.AppBySAMLEntityID(ctx, ta, entity)
		if err != nil || string(a.ID) != app || string(c.App) != app {
			t.Fatalf("tenant A's lookup: %v %v %v", a, c, err)
		}
		if a, _, err := e.Server.Access.AppBySAMLEntityID(ctx, tb.ID, entity); err != nil || string(a.ID) != bApp {
			t.Fatalf("tenant B's lookup: %v %v", a, err)
		}

		// Deleting the application deletes its configuration.
		samlWant(t, e.Do(t, http.MethodDelete, "/api/v1/applications/"+app, e.AdminToken, nil), http.StatusNoContent)
		samlWant(t, e.Do(t, http.MethodGet, samlPath(app), e.AdminToken, nil), http.StatusNotFound)
		if _, _, err := e.Server.Access.AppBySAMLEntityID(ctx, ta, entity); !errors.Is(err, access.ErrUnknownSAMLEntity) {
			t.Errorf("lookup after the application was deleted: %v", err)
		}
		if _, err := e.DB.SAMLConfig(ctx, ta, access.AppID(app)); !errors.Is(err, access.ErrSAMLNotConfigured) {
			t.Errorf("the configuration row outlived its application: %v", err)
		}
		samlWant(t, e.Do(t, http.MethodPut, samlPath(other), e.AdminToken, samlBody(entity)), http.StatusOK)
		if a, _, err := e.Server.Access.AppBySAMLEntityID(ctx, tb.ID, entity); err != nil || string(a.ID) != bApp {
			t.Errorf("tenant B's lookup after tenant A's changes: %v %v", a, err)
		}
	})
}

// TestSAMLConfigOpenAPIValues keeps the document's SAML enums equal to the
// domain's.
func TestSAMLConfigOpenAPIValues(t *testing.T) {
	d := oasLoad(t)
	schema := func(name string) map[string]any {
		return d.mustDeref(t, map[string]any{"$ref": "#/components/schemas/" + name})
	}
	enum := func(s map[string]any, prop string) []string {
		var out []string
		for _, v := range oasObj(oasObj(s["properties"])[prop])["enum"].([]any) {
			out = append(out, fmt.Sprint(v))
		}
		return out
	}
	for _, s := range []string{"SAMLConfig", "SAMLConfigReplace"} {
		if got := enum(schema(s), "name_id_format"); !slices.Equal(got, access.NameIDFormats) {
			t.Errorf("%s.name_id_format: %v, the code %v", s, got, access.NameIDFormats)
		}
		if got := enum(schema(s), "signature_algorithm"); !slices.Equal(got, []string{access.SignatureRSASHA256, access.SignatureRSASHA1}) {
			t.Errorf("%s.signature_algorithm: %v", s, got)
		}
	}
	for _, s := range []string{"SAMLACS", "SAMLACSInput"} {
		if got := enum(schema(s), "binding"); !slices.Equal(got, []string{access.BindingHTTPPost}) {
			t.Errorf("%s.binding: %v", s, got)
		}
	}
	if got := enum(schema("SAMLEndpoint"), "binding"); !slices.Equal(got, []string{access.BindingHTTPPost, access.BindingHTTPRedirect}) {
		t.Errorf("SAMLEndpoint.binding: %v", got)
	}
	pattern := func(s, prop string) string {
		p, _ := oasObj(oasObj(schema(s)["properties"])[prop])["pattern"].(string)
		return p
	}
	srcs := func(fixed []string) string {
		return "^(" + strings.Join(fixed, "|") + "|attribute:[a-z][a-z0-9_]{0,63})$"
	}
	for _, s := range []string{"SAMLConfig", "SAMLConfigReplace"} {
		if got, want := pattern(s, "name_id_source"), srcs(access.NameIDSources); got != want {
			t.Errorf("%s.name_id_source pattern %q, the code allows %q", s, got, want)
		}
	}
	for _, s := range []string{"SAMLAttribute", "SAMLAttributeInput"} {
		if got, want := pattern(s, "source"), srcs(access.AttributeSources); got != want {
			t.Errorf("%s.source pattern %q, the code allows %q", s, got, want)
		}
	}
}

// freshSAMLApp makes a SAML application where target's configuration lives,
// configured or not (for the isolation matrix).
func (f *isoFixture) freshSAMLApp(t *testing.T, target string, configured bool) string {
	t.Helper()
	return f.isoFresh(fmt.Sprintf("samlapp/%s/%v", target, configured), func() string {
		s := f.scope[target]
		if s.tenant == "" {
			return id.New("app", time.Now())
		}
		a, err := f.env.Server.Access.CreateApplication(f.ctx, f.tscope(s), access.NewApplication{Name: f.next("saml"), Kind: access.KindSAML})
		isoCheck(t, err)
		f.objects[string(a.ID)] = isoScope{s.tenant, isoConfig}
		if configured {
			cfg := access.DefaultSAMLConfig()
			cfg.EntityID = "https://sp.example/" + string(a.ID)
			cfg.ACS = []access.ACS{{URL: "https://sp.example/acs", Binding: access.BindingHTTPPost}}
			_, err := f.env.Server.Access.SetSAMLConfig(f.ctx, f.tscope(s), a.ID, cfg, 0)
			isoCheck(t, err)
		}
		return string(a.ID)
	})
}
