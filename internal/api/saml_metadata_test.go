package api_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"encoding/xml"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	saml2 "github.com/russellhaering/gosaml2"
	"github.com/russellhaering/gosaml2/types"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/api"
	"github.com/tessera-iam/tessera/internal/testkit"
)

// spKeyStore is a gosaml2 key store: one RSA key and its certificate.
type spKeyStore struct {
	key  *rsa.PrivateKey
	cert []byte // DER
}

func (k spKeyStore) GetKeyPair() (*rsa.PrivateKey, []byte, error) { return k.key, k.cert, nil }

func (k spKeyStore) pem() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.cert}))
}

// spKeys is the service providers' key, made once per test binary.
var spKeys = sync.OnceValue(func() spKeyStore {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(now.UnixNano()), Subject: pkix.Name{CommonName: "sp.example"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	return spKeyStore{key: key, cert: der}
})

// spMetadata is the metadata gosaml2, an independent SAML implementation,
// publishes for a service provider with entity id entity and ACS acs,
// signing its requests with spKeys; adjust may change it before it is
// written.
func spMetadata(t testing.TB, entity, acs string, adjust func(*types.EntityDescriptor)) string {
	t.Helper()
	sp := &saml2.SAMLServiceProvider{ServiceProviderIssuer: entity, AssertionConsumerServiceURL: acs,
		SignAuthnRequests: true, SPKeyStore: spKeys(), SPSigningKeyStore: spKeys()}
	ed, err := sp.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	if adjust != nil {
		adjust(ed)
	}
	b, err := xml.MarshalIndent(ed, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return xml.Header + string(b)
}

func mdPath(app string) string { return samlPath(app) + "/metadata" }

var asMetadata = []string{"Content-Type", "application/samlmetadata+xml"}

func TestImportSAMLMetadata(t *testing.T) {
	testkit.EachServer(t, func(t *testing.T, e *testkit.Env) {
		app := samlNewApp(t, e, "Expenses", access.KindSAML)
		md := spMetadata(t, "https://sp.example/saml", "https://sp.example/saml/acs", nil)

		res := e.Do(t, http.MethodPost, mdPath(app), e.AdminToken, md, asMetadata...)
		samlWant(t, res, http.StatusOK)
		var got map[string]any
		res.Decode(t, &got)
		if res.Header.Get("ETag") != `"1"` || got["version"] != 1.0 {
			t.Errorf("ETag %q, version %v, want 1", res.Header.Get("ETag"), got["version"])
		}
		wantACS := []any{map[string]any{"index": 1.0, "url": "https://sp.example/saml/acs", "binding": access.BindingHTTPPost, "default": false}}
		switch {
		case got["entity_id"] != "https://sp.example/saml":
			t.Errorf("entity_id %v", got["entity_id"])
		case fmt.Sprint(got["acs"]) != fmt.Sprint(wantACS):
			t.Errorf("acs %v, want %v", got["acs"], wantACS)
		case got["sp_certificate"] != spKeys().pem():
			t.Errorf("sp_certificate %v, want the SP's", got["sp_certificate"])
		case got["want_signed_requests"] != true || got["sign_assertion"] != true || got["sign_response"] != true:
			t.Errorf("signatures: %s", res.Body)
		case got["slo"] != nil || got["name_id_format"] != access.NameIDFormatEmail || got["name_id_source"] != "email":
			t.Errorf("defaults: %s", res.Body)
		}
		if show := e.Do(t, http.MethodGet, samlPath(app), e.AdminToken, nil); string(show.Body) != string(res.Body) {
			t.Errorf("GET answers %s, the import answered %s", show.Body, res.Body)
		}

		// The same metadata again changes nothing; in JSON, under If-Match.
		again := e.Do(t, http.MethodPost, mdPath(app), e.AdminToken, map[string]any{"xml": md}, "If-Match", `"1"`)
		samlWant(t, again, http.StatusOK)
		if again.Header.Get("ETag") != `"1"` {
			t.Errorf("an identical import made version %s", again.Header.Get("ETag"))
		}
		e.Unchanged(t, func() {
			samlWant(t, e.Do(t, http.MethodPost, mdPath(app), e.AdminToken, md, append(asMetadata, "If-Match", `"7"`)...),
				http.StatusPreconditionFailed)
		})

		// What metadata does not say stays as configured: attributes,
		// relay state, clock skew. What it says replaces.
		body := samlBody("https://old.example/saml")
		body["encrypt_assertion"], body["want_signed_requests"] = false, false
		samlWant(t, e.Do(t, http.MethodPut, samlPath(app), e.AdminToken, body), http.StatusOK)
		md2 := spMetadata(t, "https://sp.example/v2", "https://sp.example/v2/acs", func(ed *types.EntityDescriptor) {
			sp := ed.SPSSODescriptor
			sp.AuthnRequestsSigned = false
			sp.NameIDFormats = []string{"urn:example:unknown", access.NameIDFormatPersistent}
			sp.SingleLogoutServices = []types.Endpoint{{Binding: "urn:oasis:names:tc:SAML:2.0:bindings:SOAP", Location: "https://sp.example/soap"},
				{Binding: access.BindingHTTPRedirect, Location: "https://sp.example/v2/slo"}}
			sp.AssertionConsumerServices = append(sp.AssertionConsumerServices,
				types.IndexedEndpoint{Binding: "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact", Location: "https://sp.example/art", Index: 2},
				types.IndexedEndpoint{Binding: access.BindingHTTPPost, Location: "https://eu.sp.example/v2/acs", Index: 3})
		})
		res = e.Do(t, http.MethodPost, mdPath(app), e.AdminToken, md2, "Content-Type", "application/xml")
		samlWant(t, res, http.StatusOK)
		res.Decode(t, &got)
		if got["entity_id"] != "https://sp.example/v2" || len(got["acs"].([]any)) != 2 ||
			fmt.Sprint(got["slo"]) != fmt.Sprint(map[string]any{"url": "https://sp.example/v2/slo", "binding": access.BindingHTTPRedirect}) ||
			got["name_id_format"] != access.NameIDFormatPersistent || got["name_id_source"] != access.SourcePersistent ||
			got["want_signed_requests"] != false || got["sign_assertion"] != true {
			t.Errorf("imported: %s", res.Body)
		}
		if fmt.Sprint(got["attributes"]) != fmt.Sprint(body["attributes"]) || got["relay_state_default"] != "/dashboard" ||
			got["clock_skew_seconds"] != 0.0 || got["assertion_lifetime_seconds"] != 900.0 || got["version"] != 3.0 {
			t.Errorf("the import did not keep what metadata does not say: %s", res.Body)
		}
		var ev struct {
			Items []any `json:"items"`
		}
		e.Do(t, http.MethodGet, "/api/v1/audit/events?action=application.saml_configured&target_id="+app, e.AdminToken, nil).Decode(t, &ev)
		if len(ev.Items) != 3 {
			t.Errorf("%d application.saml_configured events, want 3 (import, PUT, import)", len(ev.Items))
		}
	})
}

func TestImportSAMLMetadataRefusals(t *testing.T) {
	md := func(adjust func(*types.EntityDescriptor)) string {
		return spMetadata(t, "https://sp.example/saml", "https://sp.example/saml/acs", adjust)
	}
	good := md(nil)
	body := strings.TrimPrefix(good, xml.Header)
	entity := func(id string) string {
		return strings.Replace(body, `entityID="https://sp.example/saml"`, `entityID="`+id+`"`, 1)
	}
	const nsMD = "urn:oasis:names:tc:SAML:2.0:metadata"
	cases := []struct {
		name   string
		body   any
		header []string
		status int
		field  string
	}{
		{"not XML", "hello", asMetadata, 400, "body"},
		{"cut short", good[:len(good)/2], asMetadata, 400, "body"},
		{"DTD with an entity", `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "https://evil.example/acs">]>` + body, asMetadata, 400, "body"},
		{"DTD in JSON", map[string]any{"xml": `<!DOCTYPE x SYSTEM "file:///etc/passwd">` + body}, nil, 400, "xml"},
		{"oversize", good + "<!--" + strings.Repeat("x", 256<<10) + "-->", asMetadata, 400, "body"},
		{"oversize in JSON", map[string]any{"xml": good + strings.Repeat(" ", 256<<10)}, nil, 400, "xml"},
		{"not metadata", `<AuthnRequest xmlns="urn:oasis:names:tc:SAML:2.0:protocol"/>`, asMetadata, 400, "body"},
		{"no namespace", `<EntityDescriptor entityID="x"/>`, asMetadata, 400, "body"},
		{"two entities", `<EntitiesDescriptor xmlns="` + nsMD + `">` + entity("https://a.example") + entity("https://b.example") + `</EntitiesDescriptor>`,
			asMetadata, 400, "body"},
		{"no SPSSODescriptor", md(func(ed *types.EntityDescriptor) { ed.SPSSODescriptor = nil }), asMetadata, 400, "body"},
		{"not SAML 2.0", md(func(ed *types.EntityDescriptor) {
			ed.SPSSODescriptor.ProtocolSupportEnumeration = "urn:oasis:names:tc:SAML:1.1:protocol"
		}),
			asMetadata, 400, "body"},
		{"expired", md(func(ed *types.EntityDescriptor) { ed.ValidUntil = time.Now().Add(-time.Hour) }), asMetadata, 400, "body"},
		{"bad certificate", strings.Replace(good, `#">MII`, `#">!!!MII`, 1), asMetadata, 400, "body"},
		{"http ACS", md(func(ed *types.EntityDescriptor) {
			ed.SPSSODescriptor.AssertionConsumerServices[0].Location = "http://sp.example/acs"
		}),
			asMetadata, 400, "acs.0.url"},
		{"artifact ACS only", md(func(ed *types.EntityDescriptor) {
			ed.SPSSODescriptor.AssertionConsumerServices[0].Binding = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact"
		}), asMetadata, 400, "acs"},
		{"no ACS", md(func(ed *types.EntityDescriptor) { ed.SPSSODescriptor.AssertionConsumerServices = nil }), asMetadata, 400, "acs"},
		{"unknown name id formats", md(func(ed *types.EntityDescriptor) {
			ed.SPSSODescriptor.NameIDFormats = []string{"urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName"}
		}), asMetadata, 400, "name_id_format"},
		{"no entity id", entity(""), asMetadata, 400, "entity_id"},
		{"url and xml", map[string]any{"url": "https://sp.example/md", "xml": good}, nil, 400, "url"},
		{"neither", map[string]any{}, nil, 400, "url"},
		{"unknown member", map[string]any{"uri": "https://sp.example/md"}, nil, 400, "uri"},
		{"http url", map[string]any{"url": "http://sp.example/md"}, nil, 400, "url"},
		{"file url", map[string]any{"url": "file:///etc/passwd"}, nil, 400, "url"},
		{"loopback url", map[string]any{"url": "https://127.0.0.1:1/md"}, nil, 400, "url"},
		{"localhost url", map[string]any{"url": "https://localhost:1/md"}, nil, 400, "url"},
		{"link-local url", map[string]any{"url": "https://169.254.169.254/latest/meta-data"}, nil, 400, "url"},
		{"private url", map[string]any{"url": "https://[::ffff:10.0.0.1]/md"}, nil, 400, "url"},
		{"form", "url=https://sp.example/md", []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, ""},
	}
	testkit.EachServer(t, func(t *testing.T, e *testkit.Env) {
		app := samlNewApp(t, e, "Expenses", access.KindSAML)
		samlWant(t, e.Do(t, http.MethodPost, mdPath(app), e.AdminToken, good, asMetadata...), http.StatusOK)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				e.Unchanged(t, func() {
					res := e.Do(t, http.MethodPost, mdPath(app), e.AdminToken, c.body, c.header...)
					samlWant(t, res, c.status)
					if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
						t.Errorf("Content-Type %q", ct)
					}
					if fields := samlFields(t, res); c.field != "" && !slices.Contains(fields, c.field) {
						t.Errorf("fields %v, want %s: %s", fields, c.field, res.Body)
					}
				})
			})
		}
		oidc := samlNewApp(t, e, "CRM", access.KindOIDC)
		e.Unchanged(t, func() {
			samlWant(t, e.Do(t, http.MethodPost, mdPath(oidc), e.AdminToken, good, asMetadata...), http.StatusBadRequest)
			samlWant(t, e.Do(t, http.MethodPost, mdPath(oidc), e.AdminToken, map[string]any{"url": "https://sp.example/md"}), http.StatusBadRequest)
			samlWant(t, e.Do(t, http.MethodPost, mdPath("app_missing"), e.AdminToken, map[string]any{"url": "https://sp.example/md"}), http.StatusNotFound)
		})
	})
}

// TestImportSAMLMetadataFromURL fetches metadata from an https server. The
// test server listens on loopback, which production refuses: this API is
// built with Outbound allowing private addresses and trusting the server.
func TestImportSAMLMetadataFromURL(t *testing.T) {
	good := spMetadata(t, "https://sp.example/saml", "https://sp.example/saml/acs", nil)
	sp := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/metadata":
			w.Header().Set("Content-Type", "application/samlmetadata+xml")
			_, _ = w.Write([]byte(good))
		case "/big":
			_, _ = w.Write([]byte(good + "<!--" + strings.Repeat("x", 256<<10) + "-->"))
		case "/moved":
			http.Redirect(w, r, "/metadata", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	sp.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake of the untrusting client
	sp.StartTLS()
	t.Cleanup(sp.Close)
	roots := sp.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs

	testkit.EachServer(t, func(t *testing.T, e *testkit.Env) {
		serve := func(out api.Outbound) *testkit.Env {
			s := e.Server
			a := &api.API{Tenants: s.Tenants, Users: s.Users, Groups: s.Groups, Tokens: s.Tokens, Access: s.Access, Audit: s.Audit,
				Sessions: s.Sessions, Keys: s.Keys, Idempotency: e.DB, Log: slog.New(slog.DiscardHandler), Now: time.Now, MaxBody: 1 << 20,
				PublicURL: e.URL, Outbound: out}
			mux := http.NewServeMux()
			a.Routes(mux)
			hs := httptest.NewServer(mux)
			t.Cleanup(hs.Close)
			env := *e
			env.URL = hs.URL
			return &env
		}
		app := samlNewApp(t, e, "Expenses", access.KindSAML)
		lab := serve(api.Outbound{AllowPrivate: true, RootCAs: roots})
		for _, c := range []struct{ path, detail string }{
			{"/missing", "answered HTTP 404"},
			{"/moved", "redirect"},
			{"/big", "more than 256 KiB"},
		} {
			lab.Unchanged(t, func() {
				res := lab.Do(t, http.MethodPost, mdPath(app), e.AdminToken, map[string]any{"url": sp.URL + c.path})
				samlWant(t, res, http.StatusBadRequest)
				if !slices.Contains(samlFields(t, res), "url") || !strings.Contains(string(res.Body), c.detail) {
					t.Errorf("%s: %s", c.path, res.Body)
				}
			})
		}
		// Without the test's roots, the server's certificate is not trusted;
		// without AllowPrivate, its address is refused before connecting.
		for _, c := range []struct {
			out    api.Outbound
			detail string
		}{
			{api.Outbound{AllowPrivate: true}, "not trusted"},
			{api.Outbound{RootCAs: roots}, "loopback, private or link-local"},
		} {
			env := serve(c.out)
			env.Unchanged(t, func() {
				res := env.Do(t, http.MethodPost, mdPath(app), e.AdminToken, map[string]any{"url": sp.URL + "/metadata"})
				samlWant(t, res, http.StatusBadRequest)
				if !strings.Contains(string(res.Body), c.detail) {
					t.Errorf("allow private %v: %s", c.out.AllowPrivate, res.Body)
				}
			})
		}

		res := lab.Do(t, http.MethodPost, mdPath(app), e.AdminToken, map[string]any{"url": sp.URL + "/metadata"})
		samlWant(t, res, http.StatusOK)
		if got := res.JSON(t); got["entity_id"] != "https://sp.example/saml" || got["sp_certificate"] != spKeys().pem() {
			t.Errorf("imported from %s: %s", sp.URL, res.Body)
		}
	})
}
