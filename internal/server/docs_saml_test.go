package server_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	saml2 "github.com/russellhaering/gosaml2"

	"github.com/tessera-iam/tessera/internal/server"
	"github.com/tessera-iam/tessera/internal/store"
	"github.com/tessera-iam/tessera/internal/testkit"
)

// spKeys is a gosaml2 key store: one RSA key and its certificate.
type spKeys struct {
	key  *rsa.PrivateKey
	cert []byte // DER
}

func (k spKeys) GetKeyPair() (*rsa.PrivateKey, []byte, error) { return k.key, k.cert, nil }

// TestSAMLGuide runs the commands of docs/saml.md, in order, against a real
// server, as its reader would, with the application's metadata file made by
// gosaml2 (an independent SAML service provider).
func TestSAMLGuide(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "expenses.example"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	sp := &saml2.SAMLServiceProvider{ServiceProviderIssuer: "https://expenses.example/saml",
		AssertionConsumerServiceURL: "https://expenses.example/saml/acs", SignAuthnRequests: true,
		SPKeyStore: spKeys{key, der}}
	ed, err := sp.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	metadata, err := xml.MarshalIndent(ed, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	spCert := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))

	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		e := testkit.NewServer(t, db)
		res := e.Do(t, http.MethodPost, "/api/v1/groups", e.AdminToken, map[string]any{"name": "Finance"})
		if res.Status != http.StatusCreated {
			t.Fatalf("create group: %d %s", res.Status, res.Body)
		}
		group := res.JSON(t)["id"].(string)
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "expenses-metadata.xml"), append([]byte(xml.Header), metadata...), 0o600); err != nil {
			t.Fatal(err)
		}

		outs := testkit.DocRun{Env: []string{"TESSERA_URL=" + e.URL, "TENANT=" + server.DefaultTenant, "TOKEN=" + e.AdminToken,
			"GROUP=" + group}, Tools: []string{"curl", "jq"}, Dir: dir}.Run(t, "../../docs/saml.md")
		output := func(command string) string {
			t.Helper()
			for _, o := range outs {
				if strings.Contains(o.Script, command) {
					return o.Stdout
				}
			}
			t.Fatalf("docs/saml.md has no block with %q", command)
			return ""
		}
		decode := func(command string) map[string]any {
			t.Helper()
			var v map[string]any
			if err := json.Unmarshal([]byte(output(command)), &v); err != nil {
				t.Fatalf("the block with %q printed no JSON object: %v: %s", command, err, output(command))
			}
			return v
		}

		idp := e.URL + "/t/" + server.DefaultTenant + "/saml/metadata"
		if out := output("/saml/metadata\""); !strings.Contains(out, `entityID="`+idp+`"`) {
			t.Errorf("the IdP metadata block printed %.300s", out)
		}
		app := strings.TrimSpace(output(`echo "$APP"`))
		if !strings.HasPrefix(app, "app_") {
			t.Fatalf("the application block printed %q, not its id", app)
		}
		imported := decode("--data-binary @expenses-metadata.xml")
		if imported["application_id"] != app || imported["sp_certificate"] != spCert || imported["want_signed_requests"] != true ||
			len(imported["attributes"].([]any)) != 4 {
			t.Errorf("the metadata import kept no attributes or took no certificate: %v", imported)
		}
		if a := decode("/assignments\""); a["principal_id"] != group {
			t.Errorf("the assignment block answered %v", a)
		}
		setup := decode("/saml/setup\"")
		if setup["idp_entity_id"] != idp || setup["sp"].(map[string]any)["entity_id"] != "https://expenses.example/saml" {
			t.Errorf("the setup view answered %v", setup)
		}
	})
}
