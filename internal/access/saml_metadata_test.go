package access_test

import (
	"errors"
	"testing"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/store"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/testkit"
)

// spMetadata is the metadata of a service provider that signs its requests
// with an ECDSA key and receives assertions encrypted to an RSA one.
func spMetadata(entity string) access.SPMetadata {
	return access.SPMetadata{EntityID: entity,
		ACS: []access.ACS{{Index: 2, URL: "https://sp.example/artifact", Binding: "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact"},
			{Index: 4, URL: "https://sp.example/md/acs", Binding: access.BindingHTTPPost, Default: true}},
		SLO:          []access.SAMLEndpoint{{URL: "https://sp.example/md/slo", Binding: access.BindingHTTPPost}},
		SigningCerts: []string{samlCerts()["ecdsa"]}, EncryptionCerts: []string{samlCerts()["rsa"]},
		AuthnRequestsSigned: true, WantAssertionsSigned: true,
		NameIDFormats: []string{"urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName", access.NameIDFormatTransient}}
}

func TestImportSAMLMetadata(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newSAMLEnv(t, db)
		svc := e.srv.Access

		// A first configuration: the metadata, and defaults for the rest.
		app := e.app(t, e.ta, access.KindSAML)
		c, err := svc.ImportSAMLMetadata(e.ctx, e.ta, app, spMetadata("https://sp.example/md"), 0)
		if err != nil {
			t.Fatal(err)
		}
		want := access.DefaultSAMLConfig()
		want.EntityID = "https://sp.example/md"
		want.ACS = []access.ACS{{Index: 4, URL: "https://sp.example/md/acs", Binding: access.BindingHTTPPost, Default: true}}
		want.SLO = &access.SAMLEndpoint{URL: "https://sp.example/md/slo", Binding: access.BindingHTTPPost}
		want.SPCertificate, want.WantSignedRequests = samlCerts()["ecdsa"], true
		want.NameIDFormat, want.NameIDSource = access.NameIDFormatTransient, access.SourceTransient
		got := *c
		got.Tenant, got.App, got.Version, got.Created, got.Updated = "", "", 0, want.Created, want.Updated
		if mustJSON(t, got) != mustJSON(t, want) || c.Version != 1 {
			t.Errorf("imported\n%s\nwant\n%s", mustJSON(t, got), mustJSON(t, want))
		}

		// An application that encrypts its assertions needs the encryption
		// certificate; one certificate cannot serve both when requests are
		// signed with another: refused, nothing changed.
		enc := e.app(t, e.ta, access.KindSAML)
		cfg := goodSAML("https://sp.example/enc")
		if _, err := svc.SetSAMLConfig(e.ctx, e.ta, enc, cfg, 0); err != nil {
			t.Fatal(err)
		}
		before := e.fingerprint(t)
		if _, err := svc.ImportSAMLMetadata(e.ctx, e.ta, enc, spMetadata("https://sp.example/enc"), 0); !hasField(err, "sp_certificate") {
			t.Errorf("separate certificates with encryption and signed requests: %v", err)
		}
		if e.fingerprint(t) != before {
			t.Errorf("a refused import changed the database")
		}
		md := spMetadata("https://sp.example/enc")
		md.AuthnRequestsSigned, md.SLO = false, nil
		c, err = svc.ImportSAMLMetadata(e.ctx, e.ta, enc, md, 1)
		if err != nil {
			t.Fatal(err)
		}
		if c.SPCertificate != samlCerts()["rsa"] || c.WantSignedRequests || c.SLO != nil || !c.EncryptAssertion ||
			mustJSON(t, c.Attributes) != mustJSON(t, cfg.Attributes) || c.RelayStateDefault != "/start" || c.Version != 2 {
			t.Errorf("import over a configuration: %s", mustJSON(t, c))
		}
		if _, err := svc.ImportSAMLMetadata(e.ctx, e.ta, enc, md, 1); !errors.Is(err, errkind.Precondition) {
			t.Errorf("stale If-Match: %v", err)
		}

		// Organization-scoped callers, other kinds, other tenants.
		org := tenant.Scope{Tenant: e.ta.Tenant, Org: "org_x"}
		if _, err := svc.ImportSAMLMetadata(e.ctx, org, app, md, 0); !errors.Is(err, errkind.Denied) {
			t.Errorf("organization scope: %v", err)
		}
		if _, err := svc.ImportSAMLMetadata(e.ctx, e.ta, e.app(t, e.ta, access.KindOIDC), md, 0); !errors.Is(err, access.ErrNotSAMLApp) {
			t.Errorf("an oidc application: %v", err)
		}
		if _, err := svc.ImportSAMLMetadata(e.ctx, e.tb, app, md, 0); !errors.Is(err, access.ErrAppNotFound) {
			t.Errorf("another tenant's application: %v", err)
		}
	})
}

func TestCheckSAMLMetadataURL(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newSAMLEnv(t, db)
		svc := e.srv.Access
		app := e.app(t, e.ta, access.KindSAML)
		check := func(sc tenant.Scope, app access.AppID, raw string) error {
			return svc.CheckSAMLMetadataURL(e.ctx, sc, app, raw)
		}
		if err := check(e.ta, app, "https://sp.example/md"); err != nil {
			t.Errorf("https: %v", err)
		}
		for _, raw := range []string{"http://sp.example/md", "ftp://sp.example/md", "https://user:pw@sp.example/md", "/md", ""} {
			if err := check(e.ta, app, raw); !hasField(err, "url") {
				t.Errorf("%q: %v", raw, err)
			}
		}
		cfg := goodSAML("https://sp.example/dev")
		cfg.AllowInsecureACS = true
		if _, err := svc.SetSAMLConfig(e.ctx, e.ta, app, cfg, 0); err != nil {
			t.Fatal(err)
		}
		if err := check(e.ta, app, "http://sp.example/md"); err != nil {
			t.Errorf("http with allow_insecure_acs: %v", err)
		}
		if err := check(tenant.Scope{Tenant: e.ta.Tenant, Org: "org_x"}, app, "https://sp.example/md"); !errors.Is(err, errkind.Denied) {
			t.Errorf("organization scope: %v", err)
		}
		if err := check(e.tb, app, "https://sp.example/md"); !errors.Is(err, access.ErrAppNotFound) {
			t.Errorf("another tenant's application: %v", err)
		}
		if err := check(e.ta, e.app(t, e.ta, access.KindOIDC), "https://sp.example/md"); !errors.Is(err, access.ErrNotSAMLApp) {
			t.Errorf("an oidc application: %v", err)
		}
	})
}
