package api_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/crewjam/saml"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/apitoken"
	"github.com/tessera-iam/tessera/internal/testkit"
)

type samlSetupView struct {
	ApplicationID  string `json:"application_id"`
	IdPEntityID    string `json:"idp_entity_id"`
	MetadataURL    string `json:"metadata_url"`
	SSOURLRedirect string `json:"sso_url_redirect"`
	SSOURLPost     string `json:"sso_url_post"`
	SLOURL         string `json:"slo_url"`
	Certificates   []struct {
		State       string `json:"state"`
		PEM         string `json:"pem"`
		Fingerprint string `json:"fingerprint_sha256"`
		NotAfter    string `json:"not_after"`
	} `json:"certificates"`
	SP struct {
		EntityID string   `json:"entity_id"`
		ACSURLs  []string `json:"acs_urls"`
	} `json:"sp"`
	TestSignInURL string `json:"test_sign_in_url"`
}

// TestSAMLSetup: the setup view shows what the IdP really serves: its
// entity id, SSO endpoints and certificates as its metadata lists them, the
// fingerprints of those certificates, and the application's own values;
// after a rotation it shows the new pair.
func TestSAMLSetup(t *testing.T) {
	testkit.EachServer(t, func(t *testing.T, e *testkit.Env) {
		app := samlNewApp(t, e, "Expenses", access.KindSAML)
		samlWant(t, e.Do(t, http.MethodGet, samlPath(app)+"/setup", e.AdminToken, nil), http.StatusNotFound)
		samlWant(t, e.Do(t, http.MethodPut, samlPath(app), e.AdminToken, samlBody("https://sp.example/saml")), http.StatusOK)

		ro := samlToken(t, e, apitoken.ReadOnly, "")
		setup := func() samlSetupView {
			t.Helper()
			res := e.Do(t, http.MethodGet, samlPath(app)+"/setup", ro, nil)
			samlWant(t, res, http.StatusOK)
			var v samlSetupView
			res.Decode(t, &v)
			return v
		}
		v := setup()
		base := e.URL + "/t/default/saml"
		if v.ApplicationID != app || v.IdPEntityID != base+"/metadata" || v.MetadataURL != base+"/metadata" ||
			v.SSOURLRedirect != base+"/sso" || v.SSOURLPost != base+"/sso" || v.SLOURL != base+"/slo" || v.TestSignInURL != base+"/test/"+app {
			t.Errorf("setup URLs: %+v", v)
		}
		// The default endpoint (index 5) first.
		if v.SP.EntityID != "https://sp.example/saml" ||
			!slices.Equal(v.SP.ACSURLs, []string{"https://eu.sp.example/saml/acs?x=1", "https://sp.example/saml/acs"}) {
			t.Errorf("setup sp: %+v", v.SP)
		}

		// What the IdP publishes at metadata_url.
		res, err := http.Get(v.MetadataURL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		var md saml.EntityDescriptor
		if err := xml.Unmarshal(body, &md); err != nil {
			t.Fatal(err)
		}
		idp := md.IDPSSODescriptors[0]
		var published []string
		for _, kd := range idp.KeyDescriptors {
			published = append(published, kd.KeyInfo.X509Data.X509Certificates[0].Data)
		}
		if md.EntityID != v.IdPEntityID {
			t.Errorf("metadata entity id %q, setup %q", md.EntityID, v.IdPEntityID)
		}
		for _, s := range idp.SingleSignOnServices {
			want := map[string]string{access.BindingHTTPRedirect: v.SSOURLRedirect, access.BindingHTTPPost: v.SSOURLPost}[s.Binding]
			if s.Location != want {
				t.Errorf("metadata %s at %q, setup %q", s.Binding, s.Location, want)
			}
		}
		if len(v.Certificates) != 2 || v.Certificates[0].State != "active" || v.Certificates[1].State != "next" {
			t.Fatalf("setup certificates: %+v", v.Certificates)
		}
		for _, c := range v.Certificates {
			blk, _ := pem.Decode([]byte(c.PEM))
			if blk == nil {
				t.Fatalf("certificate is not PEM: %q", c.PEM)
			}
			if !slices.Contains(published, base64.StdEncoding.EncodeToString(blk.Bytes)) {
				t.Errorf("%s certificate not in the metadata", c.State)
			}
			if fp := fingerprint(blk.Bytes); c.Fingerprint != fp {
				t.Errorf("%s fingerprint %s, want %s", c.State, c.Fingerprint, fp)
			}
			if c.NotAfter == "" {
				t.Errorf("%s: no not_after", c.State)
			}
		}

		next := v.Certificates[1].Fingerprint
		samlWant(t, e.Do(t, http.MethodPost, "/api/v1/signing-keys/rotate", e.AdminToken,
			map[string]any{"purpose": "saml", "algorithm": "RS256"}), http.StatusOK)
		if after := setup(); len(after.Certificates) != 2 || after.Certificates[0].Fingerprint != next ||
			after.Certificates[1].Fingerprint == next || after.Certificates[1].State != "next" {
			t.Errorf("after a rotation: %+v", after.Certificates)
		}
	})
}

func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}
