package api

import (
	"encoding/pem"
	"fmt"
	"net/http"
	"time"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/keys"
	"github.com/tessera-iam/tessera/internal/web"
)

// The setup view of a SAML application: exactly what the application's
// administrator must paste into it. The URLs come from access.SAMLIdP,
// the same code the IdP serves them by, on the server's public URL; the
// certificates are the tenant's active SAML signing key and the next one
// (to be trusted before a rotation makes it sign).

type samlSetupCertJSON struct {
	State       string `json:"state"` // active | next
	PEM         string `json:"pem"`
	Fingerprint string `json:"fingerprint_sha256"`
	NotAfter    string `json:"not_after"`
}

type samlSetupSPJSON struct {
	EntityID string   `json:"entity_id"`
	ACSURLs  []string `json:"acs_urls"`
}

type samlSetupJSON struct {
	ApplicationID  string              `json:"application_id"`
	IdPEntityID    string              `json:"idp_entity_id"`
	MetadataURL    string              `json:"metadata_url"`
	SSOURLRedirect string              `json:"sso_url_redirect"`
	SSOURLPost     string              `json:"sso_url_post"`
	SLOURL         string              `json:"slo_url"`
	Certificates   []samlSetupCertJSON `json:"certificates"`
	SP             samlSetupSPJSON     `json:"sp"`
	TestSignInURL  string              `json:"test_sign_in_url"`
}

func (a *API) showApplicationSAMLSetup(w http.ResponseWriter, r *http.Request) error {
	sc := scope(r)
	c, err := a.Access.SAMLConfig(r.Context(), sc, access.AppID(r.PathValue("id")))
	if err != nil {
		return err
	}
	t, err := a.Tenants.Tenant(r.Context(), sc.Tenant)
	if err != nil {
		return err
	}
	ks, err := a.Keys.Published(r.Context(), sc.Tenant, keys.PurposeSAML, keys.RS256)
	if err != nil {
		return err
	}
	idp := access.NewSAMLIdP(a.PublicURL, t.Slug)
	v := samlSetupJSON{ApplicationID: string(c.App), IdPEntityID: idp.EntityID(), MetadataURL: idp.Metadata(),
		SSOURLRedirect: idp.SSO(), SSOURLPost: idp.SSO(), SLOURL: idp.SLO(), Certificates: []samlSetupCertJSON{},
		SP: samlSetupSPJSON{EntityID: c.EntityID, ACSURLs: []string{}}, TestSignInURL: idp.TestSignIn(c.App)}
	for _, k := range ks {
		if k.State != keys.StateActive && k.State != keys.StateNext {
			continue // retired: still published for a grace period, but nothing to paste
		}
		cert, err := k.ParseCertificate()
		if err != nil {
			return fmt.Errorf("certificate of signing key %s: %w", k.ID, err)
		}
		v.Certificates = append(v.Certificates, samlSetupCertJSON{State: k.State,
			PEM:         string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.Certificate})),
			Fingerprint: k.Fingerprint(), NotAfter: cert.NotAfter.UTC().Format(time.RFC3339)})
	}
	// The default endpoint first: it is the one IdP-initiated sign-ins use.
	if d := c.DefaultACS(); d.URL != "" {
		v.SP.ACSURLs = append(v.SP.ACSURLs, d.URL)
	}
	for _, acs := range c.ACS {
		if len(v.SP.ACSURLs) == 0 || acs.URL != v.SP.ACSURLs[0] {
			v.SP.ACSURLs = append(v.SP.ACSURLs, acs.URL)
		}
	}
	web.JSON(w, http.StatusOK, v)
	return nil
}
