package access_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
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
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/server"
	"github.com/tessera-iam/tessera/internal/store"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/testkit"
	"github.com/tessera-iam/tessera/internal/user"
)

// samlCerts are test certificates, made once per test binary.
var samlCerts = sync.OnceValue(func() map[string]string {
	now := time.Now()
	rsa2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
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
		"rsa":     mk(rsa2048, now.Add(-time.Hour), now.Add(year)),
		"expired": mk(rsa2048, now.Add(-2*year), now.Add(-time.Hour)),
		"ecdsa":   mk(p256, now.Add(-time.Hour), now.Add(year)),
		"rsa1024": mk(rsa1024, now.Add(-time.Hour), now.Add(year)),
		"ed25519": mk(ed, now.Add(-time.Hour), now.Add(year)),
	}
})

// goodSAML is a valid configuration using every member.
func goodSAML(entity string) access.SAMLConfig {
	c := access.DefaultSAMLConfig()
	c.EntityID = entity
	c.ACS = []access.ACS{{Index: 0, URL: "https://sp.example/acs", Binding: access.BindingHTTPPost},
		{Index: 7, URL: "https://sp.example/acs2?tenant=a", Binding: access.BindingHTTPPost, Default: true}}
	c.SLO = &access.SAMLEndpoint{URL: "https://sp.example/slo", Binding: access.BindingHTTPRedirect}
	c.Attributes = []access.SAMLAttribute{{Name: "urn:oid:0.9.2342.19200300.100.1.3", FriendlyName: "mail", Source: access.SourceEmail},
		{Name: "roles", Source: access.SourceAppRoles}, {Name: "groups", Source: access.SourceGroups}}
	c.EncryptAssertion, c.WantSignedRequests, c.SPCertificate = true, true, samlCerts()["rsa"]
	c.RelayStateDefault = "/start"
	return c
}

type samlEnv struct {
	srv  *server.Server
	db   *store.DB
	ctx  context.Context
	ta   tenant.Scope
	tb   tenant.Scope
	seq  int
	clk  *testkit.Clock
	apps map[string]access.AppID
}

func newSAMLEnv(t *testing.T, db *store.DB) *samlEnv {
	t.Helper()
	clk := testkit.NewClock(time.Time{})
	clk.Set(time.Now())
	e := &samlEnv{srv: newServer(t, db, clk.Now), db: db, clk: clk, apps: map[string]access.AppID{},
		ctx: audit.WithActor(context.Background(), audit.Actor{Type: "system", ID: "saml-test"})}
	for i, slug := range []string{"alpha", "bravo"} {
		ten, err := e.srv.Tenants.CreateTenant(e.ctx, slug, strings.ToUpper(slug))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			e.ta = tenant.Scope{Tenant: ten.ID}
		} else {
			e.tb = tenant.Scope{Tenant: ten.ID}
		}
	}
	return e
}

func (e *samlEnv) app(t *testing.T, sc tenant.Scope, kind string) access.AppID {
	t.Helper()
	e.seq++
	a, err := e.srv.Access.CreateApplication(e.ctx, sc, access.NewApplication{Name: fmt.Sprintf("app %d (%s)", e.seq, kind), Kind: kind})
	if err != nil {
		t.Fatal(err)
	}
	return a.ID
}

func (e *samlEnv) fingerprint(t *testing.T) string {
	t.Helper()
	fp, err := e.db.Fingerprint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

func hasField(err error, field string) bool {
	return slices.ContainsFunc(errkind.Fields(err), func(f *errkind.FieldError) bool { return f.Field == field })
}

func TestSAMLConfigRoundTrip(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newSAMLEnv(t, db)
		app := e.app(t, e.ta, access.KindSAML)
		if _, err := e.srv.Access.SAMLConfig(e.ctx, e.ta, app); !errors.Is(err, access.ErrSAMLNotConfigured) {
			t.Fatalf("before any: %v, want ErrSAMLNotConfigured", err)
		}
		in := goodSAML("https://sp.example/metadata")
		in.SPCertificate = "\n  " + strings.ReplaceAll(in.SPCertificate, "\n", "\r\n") + "  \n" // normalised on the way in
		got, err := e.srv.Access.SetSAMLConfig(e.ctx, e.ta, app, in, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got.Version != 1 || got.App != app || got.Tenant != e.ta.Tenant || got.SPCertificate != samlCerts()["rsa"] {
			t.Errorf("set: version %d app %s tenant %s, certificate normalised %v", got.Version, got.App, got.Tenant, got.SPCertificate == samlCerts()["rsa"])
		}
		read, err := e.srv.Access.SAMLConfig(e.ctx, tenant.Scope{Tenant: e.ta.Tenant, Org: "org_any"}, app) // any scope reads it
		if err != nil {
			t.Fatal(err)
		}
		want := goodSAML("https://sp.example/metadata")
		want.Tenant, want.App, want.Version, want.Created, want.Updated = e.ta.Tenant, app, 1, read.Created, read.Updated
		if a, b := mustJSON(t, read), mustJSON(t, want); a != b {
			t.Errorf("read back\n%s\nwant\n%s", a, b)
		}
		if read.DefaultACS().Index != 7 {
			t.Errorf("default ACS %+v, want index 7", read.DefaultACS())
		}
		if _, ok := read.ACSByURL("https://sp.example/acs2"); ok {
			t.Errorf("ACSByURL matched a prefix")
		}
		if cert, err := read.Certificate(); err != nil || cert.Subject.CommonName != "sp.example" {
			t.Errorf("certificate: %v %v", cert, err)
		}

		// The same configuration again changes nothing, not even the version.
		before := e.fingerprint(t)
		again, err := e.srv.Access.SetSAMLConfig(e.ctx, e.ta, app, goodSAML("https://sp.example/metadata"), 1)
		if err != nil || again.Version != 1 {
			t.Fatalf("same again: %+v %v", again, err)
		}
		if e.fingerprint(t) != before {
			t.Errorf("setting the same configuration changed the database")
		}
		// A change bumps the version; a stale If-Match is refused.
		e.clk.Advance(time.Minute)
		next := goodSAML("https://sp.example/metadata")
		next.SLO, next.Attributes = nil, nil
		changed, err := e.srv.Access.SetSAMLConfig(e.ctx, e.ta, app, next, 1)
		if err != nil || changed.Version != 2 || changed.SLO != nil || len(changed.Attributes) != 0 || !changed.Created.Equal(read.Created) ||
			!changed.Updated.After(read.Updated) {
			t.Fatalf("change: %+v %v", changed, err)
		}
		if _, err := e.srv.Access.SetSAMLConfig(e.ctx, e.ta, app, goodSAML("https://sp.example/metadata"), 1); !errors.Is(err, errkind.Precondition) {
			t.Errorf("stale If-Match: %v", err)
		}
		other := e.app(t, e.ta, access.KindSAML)
		if _, err := e.srv.Access.SetSAMLConfig(e.ctx, e.ta, other, goodSAML("https://other.example"), 3); !errors.Is(err, errkind.Precondition) {
			t.Errorf("If-Match on no configuration: %v", err)
		}

		// The audit log has the change without the certificate's body.
		evs, err := db.Events(context.Background(), e.ta.Tenant, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, ev := range evs {
			if ev.Action != "application.saml_configured" {
				continue
			}
			n++
			b, _ := json.Marshal(ev.Details)
			if strings.Contains(string(b), "CERTIFICATE") || strings.Contains(string(b), strings.Split(samlCerts()["rsa"], "\n")[1]) {
				t.Errorf("the audit event carries the certificate: %s", b)
			}
			if !strings.Contains(string(b), `"sha256":"`) || ev.TargetID != string(app) {
				t.Errorf("audit event %s: %s", ev.TargetID, b)
			}
		}
		if n != 2 {
			t.Errorf("%d application.saml_configured events, want 2 (the no-op writes none)", n)
		}

		if err := e.srv.Access.DeleteSAMLConfig(e.ctx, e.ta, app); err != nil {
			t.Fatal(err)
		}
		if err := e.srv.Access.DeleteSAMLConfig(e.ctx, e.ta, app); !errors.Is(err, access.ErrSAMLNotConfigured) {
			t.Errorf("second delete: %v", err)
		}
		if _, err := e.srv.Access.SAMLConfig(e.ctx, e.ta, app); !errors.Is(err, access.ErrSAMLNotConfigured) {
			t.Errorf("after delete: %v", err)
		}
	})
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSAMLConfigRefusals(t *testing.T) {
	certs := samlCerts()
	cases := []struct {
		name  string
		field string
		edit  func(c *access.SAMLConfig)
	}{
		{"no entity id", "entity_id", func(c *access.SAMLConfig) { c.EntityID = "" }},
		{"entity id too long", "entity_id", func(c *access.SAMLConfig) { c.EntityID = "https://sp.example/" + strings.Repeat("e", 1010) }},
		{"entity id with a space", "entity_id", func(c *access.SAMLConfig) { c.EntityID = "https://sp.example/ x" }},
		{"no ACS", "acs", func(c *access.SAMLConfig) { c.ACS = nil }},
		{"javascript: ACS", "acs.1.url", func(c *access.SAMLConfig) { c.ACS[1].URL = "javascript:alert(document.domain)" }},
		{"JavaScript: ACS, mixed case", "acs.0.url", func(c *access.SAMLConfig) { c.ACS[0].URL = "JaVaScRiPt://sp.example/%0aalert(1)" }},
		{"data: ACS", "acs.0.url", func(c *access.SAMLConfig) { c.ACS[0].URL = "data:text/html,<script>alert(1)</script>" }},
		{"http ACS without allow", "acs.1.url", func(c *access.SAMLConfig) { c.ACS[1].URL = "http://sp.example/acs" }},
		{"ACS with user info", "acs.0.url", func(c *access.SAMLConfig) { c.ACS[0].URL = "https://sp.example@evil.example/acs" }},
		{"ACS with a fragment", "acs.0.url", func(c *access.SAMLConfig) { c.ACS[0].URL = "https://sp.example/acs#x" }},
		{"relative ACS", "acs.0.url", func(c *access.SAMLConfig) { c.ACS[0].URL = "/acs" }},
		{"scheme-relative ACS", "acs.0.url", func(c *access.SAMLConfig) { c.ACS[0].URL = "//evil.example/acs" }},
		{"ACS with a backslash", "acs.0.url", func(c *access.SAMLConfig) { c.ACS[0].URL = `https://sp.example\@evil.example/` }},
		{"ACS with a newline", "acs.0.url", func(c *access.SAMLConfig) { c.ACS[0].URL = "https://sp.example/acs\n" }},
		{"ACS without a host", "acs.0.url", func(c *access.SAMLConfig) { c.ACS[0].URL = "https:///acs" }},
		{"duplicate index", "acs.1.index", func(c *access.SAMLConfig) { c.ACS[1].Index = 0 }},
		{"negative index", "acs.0.index", func(c *access.SAMLConfig) { c.ACS[0].Index = -1 }},
		{"index over unsignedShort", "acs.0.index", func(c *access.SAMLConfig) { c.ACS[0].Index = 65536 }},
		{"two defaults", "acs.1.default", func(c *access.SAMLConfig) { c.ACS[0].Default = true }},
		{"redirect binding on ACS", "acs.0.binding", func(c *access.SAMLConfig) { c.ACS[0].Binding = access.BindingHTTPRedirect }},
		{"artifact binding on ACS", "acs.0.binding", func(c *access.SAMLConfig) {
			c.ACS[0].Binding = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact"
		}},
		{"javascript: SLO", "slo.url", func(c *access.SAMLConfig) { c.SLO.URL = "javascript:alert(1)" }},
		{"SLO with user info", "slo.url", func(c *access.SAMLConfig) { c.SLO.URL = "https://u:p@sp.example/slo" }},
		{"SOAP SLO", "slo.binding", func(c *access.SAMLConfig) { c.SLO.Binding = "urn:oasis:names:tc:SAML:2.0:bindings:SOAP" }},
		{"unknown name id format", "name_id_format", func(c *access.SAMLConfig) { c.NameIDFormat = "urn:oasis:names:tc:SAML:2.0:nameid-format:kerberos" }},
		{"unknown name id source", "name_id_source", func(c *access.SAMLConfig) { c.NameIDSource = "password" }},
		{"attribute source without a name", "name_id_source", func(c *access.SAMLConfig) { c.NameIDSource = "attribute:" }},
		{"undeclared profile attribute", "name_id_source", func(c *access.SAMLConfig) { c.NameIDSource = "attribute:badge_number" }},
		{"persistent format from the email", "name_id_source", func(c *access.SAMLConfig) { c.NameIDFormat = access.NameIDFormatPersistent }},
		{"persistent source in the email format", "name_id_source", func(c *access.SAMLConfig) { c.NameIDSource = access.SourcePersistent }},
		{"transient format from the username", "name_id_source", func(c *access.SAMLConfig) {
			c.NameIDFormat, c.NameIDSource = access.NameIDFormatTransient, access.SourceUsername
		}},
		{"email format from the username", "name_id_source", func(c *access.SAMLConfig) { c.NameIDSource = access.SourceUsername }},
		{"attribute without a name", "attributes.1.name", func(c *access.SAMLConfig) { c.Attributes[1].Name = "" }},
		{"attribute name with a control character", "attributes.1.name", func(c *access.SAMLConfig) { c.Attributes[1].Name = "ro\x00les" }},
		{"duplicate attribute name", "attributes.2.name", func(c *access.SAMLConfig) { c.Attributes[2].Name = "roles" }},
		{"unknown attribute source", "attributes.2.source", func(c *access.SAMLConfig) { c.Attributes[2].Source = "password_hash" }},
		{"transient as an attribute source", "attributes.0.source", func(c *access.SAMLConfig) { c.Attributes[0].Source = access.SourceTransient }},
		{"friendly name too long", "attributes.0.friendly_name", func(c *access.SAMLConfig) { c.Attributes[0].FriendlyName = strings.Repeat("f", 257) }},
		{"nothing signed", "sign_assertion", func(c *access.SAMLConfig) { c.SignResponse, c.SignAssertion = false, false }},
		{"sha1 without allow", "signature_algorithm", func(c *access.SAMLConfig) { c.SignatureAlgorithm = access.SignatureRSASHA1 }},
		{"unknown algorithm", "signature_algorithm", func(c *access.SAMLConfig) { c.SignatureAlgorithm = "hmac-sha256" }},
		{"encrypt without a certificate", "sp_certificate", func(c *access.SAMLConfig) { c.SPCertificate, c.WantSignedRequests = "", false }},
		{"signed requests without a certificate", "sp_certificate", func(c *access.SAMLConfig) { c.SPCertificate, c.EncryptAssertion = "", false }},
		{"garbage PEM", "sp_certificate", func(c *access.SAMLConfig) {
			c.SPCertificate = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"
		}},
		{"not PEM at all", "sp_certificate", func(c *access.SAMLConfig) { c.SPCertificate = "MIIB..." }},
		{"a private key", "sp_certificate", func(c *access.SAMLConfig) {
			c.SPCertificate = strings.ReplaceAll(c.SPCertificate, "CERTIFICATE", "PRIVATE KEY")
		}},
		{"text before the certificate", "sp_certificate", func(c *access.SAMLConfig) { c.SPCertificate = "subject=CN=sp\n" + c.SPCertificate }},
		{"two certificates", "sp_certificate", func(c *access.SAMLConfig) { c.SPCertificate += certs["ecdsa"] }},
		{"expired certificate", "sp_certificate", func(c *access.SAMLConfig) { c.SPCertificate = certs["expired"] }},
		{"RSA 1024", "sp_certificate", func(c *access.SAMLConfig) { c.SPCertificate = certs["rsa1024"] }},
		{"Ed25519 key", "sp_certificate", func(c *access.SAMLConfig) { c.SPCertificate = certs["ed25519"] }},
		{"encryption to an ECDSA key", "sp_certificate", func(c *access.SAMLConfig) { c.SPCertificate = certs["ecdsa"] }},
		{"negative clock skew", "clock_skew_seconds", func(c *access.SAMLConfig) { c.ClockSkewSeconds = -1 }},
		{"clock skew over 300", "clock_skew_seconds", func(c *access.SAMLConfig) { c.ClockSkewSeconds = 301 }},
		{"assertion lifetime under 60", "assertion_lifetime_seconds", func(c *access.SAMLConfig) { c.AssertionLifetimeSeconds = 59 }},
		{"assertion lifetime over 3600", "assertion_lifetime_seconds", func(c *access.SAMLConfig) { c.AssertionLifetimeSeconds = 3601 }},
		{"relay state over 80 bytes", "relay_state_default", func(c *access.SAMLConfig) { c.RelayStateDefault = strings.Repeat("r", 81) }},
		{"relay state of 41 two-byte runes", "relay_state_default", func(c *access.SAMLConfig) { c.RelayStateDefault = strings.Repeat("é", 41) }},
		{"relay state with a newline", "relay_state_default", func(c *access.SAMLConfig) { c.RelayStateDefault = "/a\r\nSet-Cookie: x" }},
	}
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newSAMLEnv(t, db)
		app := e.app(t, e.ta, access.KindSAML)
		if _, err := e.srv.Access.SetSAMLConfig(e.ctx, e.ta, app, goodSAML("https://sp.example/keep"), 0); err != nil {
			t.Fatal(err)
		}
		fresh := e.app(t, e.ta, access.KindSAML)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				for _, target := range []access.AppID{app, fresh} { // replacing one, and setting the first
					cfg := goodSAML("https://sp.example/" + string(target))
					c.edit(&cfg)
					before := e.fingerprint(t)
					_, err := e.srv.Access.SetSAMLConfig(e.ctx, e.ta, target, cfg, 0)
					if !errors.Is(err, errkind.Invalid) || !hasField(err, c.field) {
						t.Errorf("err = %v, want a field error on %s", err, c.field)
					}
					if e.fingerprint(t) != before {
						t.Errorf("a refused configuration changed the database")
					}
				}
			})
		}
		// What the refusals guard is otherwise fine: http with the allowance,
		// sha1 with its, ECDSA for signed requests, an 80-byte relay state.
		ok := goodSAML("https://sp.example/allowed")
		ok.ACS[0].URL, ok.SLO.URL, ok.AllowInsecureACS = "http://localhost:8080/acs", "http://localhost:8080/slo", true
		ok.SignatureAlgorithm, ok.AllowSHA1 = access.SignatureRSASHA1, true
		ok.EncryptAssertion, ok.SPCertificate = false, certs["ecdsa"]
		ok.RelayStateDefault = strings.Repeat("r", 80)
		ok.NameIDFormat, ok.NameIDSource = access.NameIDFormatPersistent, access.SourcePersistent
		if _, err := e.srv.Access.SetSAMLConfig(e.ctx, e.ta, fresh, ok, 0); err != nil {
			t.Errorf("allowed configuration refused: %v", err)
		}
	})
}

func TestSAMLConfigRules(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newSAMLEnv(t, db)
		acc := e.srv.Access
		a1, a2 := e.app(t, e.ta, access.KindSAML), e.app(t, e.ta, access.KindSAML)
		oidc := e.app(t, e.ta, access.KindOIDC)
		b1 := e.app(t, e.tb, access.KindSAML)
		const entity = "https://shared.example/sp"

		if _, err := acc.SetSAMLConfig(e.ctx, e.ta, oidc, goodSAML(entity), 0); !errors.Is(err, access.ErrNotSAMLApp) || !errors.Is(err, errkind.Invalid) {
			t.Errorf("oidc application: %v", err)
		}
		if _, err := acc.SetSAMLConfig(e.ctx, e.ta, "app_missing", goodSAML(entity), 0); !errors.Is(err, access.ErrAppNotFound) {
			t.Errorf("missing application: %v", err)
		}
		if _, err := acc.SetSAMLConfig(e.ctx, e.tb, a1, goodSAML(entity), 0); !errors.Is(err, access.ErrAppNotFound) {
			t.Errorf("another tenant's application: %v", err)
		}
		if _, err := acc.SAMLConfig(e.ctx, e.tb, a1); !errors.Is(err, access.ErrAppNotFound) {
			t.Errorf("reading another tenant's application: %v", err)
		}
		org := tenant.Scope{Tenant: e.ta.Tenant, Org: "org_x"}
		if _, err := acc.SetSAMLConfig(e.ctx, org, a1, goodSAML(entity), 0); !errors.Is(err, errkind.Denied) {
			t.Errorf("organization scope: %v", err)
		}
		if err := acc.DeleteSAMLConfig(e.ctx, org, a1); !errors.Is(err, errkind.Denied) {
			t.Errorf("organization scope delete: %v", err)
		}

		if _, err := acc.SetSAMLConfig(e.ctx, e.ta, a1, goodSAML(entity), 0); err != nil {
			t.Fatal(err)
		}
		before := e.fingerprint(t)
		if _, err := acc.SetSAMLConfig(e.ctx, e.ta, a2, goodSAML(entity), 0); !errors.Is(err, access.ErrSAMLEntityIDTaken) || !errors.Is(err, errkind.Conflict) {
			t.Errorf("entity id of another application: %v", err)
		}
		if e.fingerprint(t) != before {
			t.Errorf("the refused conflict changed the database")
		}
		// Entity ids are exact strings: another case is another entity.
		if _, err := acc.SetSAMLConfig(e.ctx, e.ta, a2, goodSAML(strings.ToUpper(entity)), 0); err != nil {
			t.Errorf("entity id differing in case: %v", err)
		}
		// Another tenant may use the same entity id.
		if _, err := acc.SetSAMLConfig(e.ctx, e.tb, b1, goodSAML(entity), 0); err != nil {
			t.Errorf("same entity id in another tenant: %v", err)
		}

		app, cfg, err := acc.AppBySAMLEntityID(e.ctx, e.ta.Tenant, entity)
		if err != nil || app.ID != a1 || cfg.App != a1 || cfg.EntityID != entity {
			t.Fatalf("lookup in tenant A: %v %v %v", app, cfg, err)
		}
		if app, _, err := acc.AppBySAMLEntityID(e.ctx, e.tb.Tenant, entity); err != nil || app.ID != b1 {
			t.Errorf("lookup in tenant B: %v %v", app, err)
		}
		for _, miss := range []string{"https://shared.example/sp/", "https://shared.example/", "", strings.Repeat("x", 2000)} {
			if _, _, err := acc.AppBySAMLEntityID(e.ctx, e.ta.Tenant, miss); !errors.Is(err, access.ErrUnknownSAMLEntity) || !errors.Is(err, errkind.NotFound) {
				t.Errorf("lookup of %q: %v", miss, err)
			}
		}
		if err := acc.DeleteSAMLConfig(e.ctx, e.tb, b1); err != nil {
			t.Fatal(err)
		}
		if _, _, err := acc.AppBySAMLEntityID(e.ctx, e.tb.Tenant, entity); !errors.Is(err, access.ErrUnknownSAMLEntity) {
			t.Errorf("tenant B's lookup after its configuration went: %v (tenant A's must not answer)", err)
		}

		// Deleting the application deletes its configuration and frees its entity id.
		if err := acc.DeleteApplication(e.ctx, e.ta, a1); err != nil {
			t.Fatal(err)
		}
		if _, _, err := acc.AppBySAMLEntityID(e.ctx, e.ta.Tenant, entity); !errors.Is(err, access.ErrUnknownSAMLEntity) {
			t.Errorf("lookup after the application was deleted: %v", err)
		}
		if _, err := db.SAMLConfig(e.ctx, e.ta.Tenant, a1); !errors.Is(err, access.ErrSAMLNotConfigured) {
			t.Errorf("the configuration outlived its application: %v", err)
		}
		if _, err := acc.SetSAMLConfig(e.ctx, e.ta, a2, goodSAML(entity), 0); err != nil {
			t.Errorf("reusing the entity id of a deleted application: %v", err)
		}
	})
}

// TestSAMLConfigProfileAttributes: attribute: sources name attributes of the
// tenant's profile schema, as user.Service keeps it.
func TestSAMLConfigProfileAttributes(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newSAMLEnv(t, db)
		app := e.app(t, e.ta, access.KindSAML)
		cfg := goodSAML("https://sp.example/attrs")
		cfg.NameIDFormat, cfg.NameIDSource = access.NameIDFormatUnspecified, "attribute:employee_number"
		cfg.Attributes = append(cfg.Attributes, access.SAMLAttribute{Name: "costCenter", Source: "attribute:cost_center"})
		_, err := e.srv.Access.SetSAMLConfig(e.ctx, e.ta, app, cfg, 0)
		if !hasField(err, "name_id_source") || !hasField(err, "attributes.3.source") {
			t.Fatalf("undeclared attributes: %v", err)
		}
		if err := e.srv.Users.SetProfileSchema(e.ctx, e.ta, user.Schema{Attributes: []user.AttributeDef{
			{Name: "employee_number", Type: user.TypeString}, {Name: "cost_center", Type: user.TypeInteger}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.srv.Access.SetSAMLConfig(e.ctx, e.ta, app, cfg, 0); err != nil {
			t.Errorf("declared attributes: %v", err)
		}
		// Tenant B's schema is its own.
		b := e.app(t, e.tb, access.KindSAML)
		if _, err := e.srv.Access.SetSAMLConfig(e.ctx, e.tb, b, cfg, 0); !hasField(err, "name_id_source") {
			t.Errorf("tenant B used tenant A's schema: %v", err)
		}
	})
}

// TestSAMLConfigConcurrentEntityIDs: applications racing for one entity id
// end with exactly one holder.
func TestSAMLConfigConcurrentEntityIDs(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newSAMLEnv(t, db)
		const n = 6
		apps := make([]access.AppID, n)
		for i := range apps {
			apps[i] = e.app(t, e.ta, access.KindSAML)
		}
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range apps {
			wg.Go(func() {
				_, errs[i] = e.srv.Access.SetSAMLConfig(e.ctx, e.ta, apps[i], goodSAML("https://race.example"), 0)
			})
		}
		wg.Wait()
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, access.ErrSAMLEntityIDTaken):
				t.Errorf("app %d: %v, want success or ErrSAMLEntityIDTaken", i, err)
			}
		}
		if won != 1 {
			t.Errorf("%d applications got the entity id, want 1", won)
		}
	})
}
