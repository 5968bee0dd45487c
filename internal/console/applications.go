package console

import (
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/keys"
	"github.com/tessera-iam/tessera/internal/page"
)

// The applications and their setup views: what an application's
// administrator pastes into it. The URLs come from access (NewSAMLIdP,
// NewOIDCEndpoints), the same code the protocols serve them by and the REST
// setup endpoint shows them from; the certificates are the tenant's
// published SAML signing keys.

// appsPerPage bounds one page of the list.
const appsPerPage = 100

type appsData struct {
	Apps []access.Application
	Next string // the next page's cursor, "" on the last
}

func (h *Handler) listApplications(q *req) error {
	res, err := h.Access.ListApplications(q.ctx(), q.scope(), access.AppQuery{
		Request: page.Request{Limit: appsPerPage, Cursor: q.r.URL.Query().Get("cursor"), Sort: "name"}})
	if err != nil {
		return err
	}
	h.render(q, http.StatusOK, "applications", pageData{Title: "Applications", Data: appsData{Apps: res.Items, Next: res.Next}})
	return nil
}

type appData struct {
	App  *access.Application
	SAML *samlSetup // kind saml with its SAML settings
	OIDC *oidcSetup // kind oidc with its client
}

type samlSetup struct {
	IdP          access.SAMLIdP
	TestSignIn   string
	Certificates []certView
	SPEntityID   string
	ACS          []string
}

type certView struct {
	State       string
	PEM         string
	Fingerprint string
	NotAfter    string
}

type oidcSetup struct {
	Client    *access.OIDCClient
	Endpoints access.OIDCEndpoints
	// PreviousExpires is when the rotated-out secret stops working, "" when
	// there is none.
	PreviousExpires string
}

func (h *Handler) showApplication(q *req) error {
	app, err := h.Access.Application(q.ctx(), q.scope(), access.AppID(q.r.PathValue("app")))
	if err != nil {
		return err
	}
	d := appData{App: app}
	switch app.Kind {
	case access.KindSAML:
		d.SAML, err = h.samlSetup(q, app.ID)
	case access.KindOIDC:
		d.OIDC, err = h.oidcSetup(q, app.ID)
	}
	if err != nil {
		return err
	}
	h.render(q, http.StatusOK, "application", pageData{Title: app.Name, Data: d})
	return nil
}

// samlSetup is the SAML setup view of app, nil while it has no SAML
// settings.
func (h *Handler) samlSetup(q *req, app access.AppID) (*samlSetup, error) {
	c, err := h.Access.SAMLConfig(q.ctx(), q.scope(), app)
	if errors.Is(err, access.ErrSAMLNotConfigured) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	ks, err := h.Keys.Published(q.ctx(), q.tenant.ID, keys.PurposeSAML, keys.RS256)
	if err != nil {
		return nil, err
	}
	idp := access.NewSAMLIdP(h.PublicURL, q.tenant.Slug)
	v := &samlSetup{IdP: idp, TestSignIn: idp.TestSignIn(app), SPEntityID: c.EntityID}
	for _, k := range ks {
		if k.State != keys.StateActive && k.State != keys.StateNext {
			continue // retired: still published for a while, but nothing to paste
		}
		cv, err := certOf(&k)
		if err != nil {
			return nil, err
		}
		v.Certificates = append(v.Certificates, cv)
	}
	for _, acs := range c.ACS {
		v.ACS = append(v.ACS, acs.URL)
	}
	return v, nil
}

func certOf(k *keys.SigningKey) (certView, error) {
	cert, err := k.ParseCertificate()
	if err != nil {
		return certView{}, fmt.Errorf("certificate of signing key %s: %w", k.ID, err)
	}
	return certView{State: k.State, PEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.Certificate})),
		Fingerprint: k.Fingerprint(), NotAfter: when(cert.NotAfter)}, nil
}

// oidcSetup is the OIDC setup view of app, nil while it has no client.
func (h *Handler) oidcSetup(q *req, app access.AppID) (*oidcSetup, error) {
	c, err := h.Access.OIDCClient(q.ctx(), q.scope(), app)
	if errors.Is(err, access.ErrOIDCNotConfigured) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	v := &oidcSetup{Client: c, Endpoints: access.NewOIDCEndpoints(access.OIDCIssuer(h.PublicURL, q.tenant.Slug))}
	if h.Now().Before(c.PreviousSecretExpires) {
		v.PreviousExpires = when(c.PreviousSecretExpires)
	}
	return v, nil
}

// when shows a time to an administrator: to the minute, in UTC.
func when(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// A new client secret: a confirmation page, then a POST that rotates and
// shows the secret once, on a page no cache keeps (every page is no-store).
// The old secret keeps working for the overlap chosen, so the application
// can be redeployed without downtime.

// overlap is a choice of how long the rotated-out secret keeps working.
type overlap struct {
	Seconds int
	Label   string
	Default bool
}

var overlaps = []overlap{
	{0, "Stop working at once", false},
	{3600, "1 hour", false},
	{86400, "1 day", true},
	{access.MaxSecretOverlapSeconds, "7 days", false},
}

type secretData struct {
	App      *access.Application
	Client   *access.OIDCClient
	Overlaps []overlap
	Secret   string // set once, on the page after the rotation
	// PreviousExpires is when the old secret stops working, "" when at once.
	PreviousExpires string
}

// secretTarget returns app and its client, if the signed-in token may give
// it a new secret.
func (h *Handler) secretTarget(q *req) (*access.Application, *access.OIDCClient, error) {
	if err := q.allowChange(); err != nil {
		return nil, nil, err
	}
	app, err := h.Access.Application(q.ctx(), q.scope(), access.AppID(q.r.PathValue("app")))
	if err != nil {
		return nil, nil, err
	}
	c, err := h.Access.OIDCClient(q.ctx(), q.scope(), app.ID)
	if err != nil {
		return nil, nil, err
	}
	if c.Type != access.ClientConfidential {
		return nil, nil, access.ErrOIDCPublicClient
	}
	return app, c, nil
}

func (h *Handler) confirmSecretRotation(q *req) error {
	app, c, err := h.secretTarget(q)
	if err != nil {
		return err
	}
	h.render(q, http.StatusOK, "secret_confirm", pageData{Title: "Generate a new client secret",
		Data: secretData{App: app, Client: c, Overlaps: overlaps}})
	return nil
}

func (h *Handler) rotateClientSecret(q *req) error {
	app, _, err := h.secretTarget(q)
	if err != nil {
		return err
	}
	keep, err := strconv.Atoi(q.r.PostFormValue("previous_valid_seconds"))
	if err != nil || !slices.ContainsFunc(overlaps, func(o overlap) bool { return o.Seconds == keep }) {
		return errkind.Field("previous_valid_seconds", "choose how long the old secret keeps working")
	}
	c, secret, err := h.Access.RotateOIDCClientSecret(q.ctx(), q.scope(), app.ID, keep)
	if err != nil {
		return err
	}
	d := secretData{App: app, Client: c, Secret: secret}
	if !c.PreviousSecretExpires.IsZero() {
		d.PreviousExpires = when(c.PreviousSecretExpires)
	}
	h.render(q, http.StatusOK, "secret", pageData{Title: "New client secret", Data: d})
	return nil
}
