package samlidp

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/keys"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

// SAML names used in responses.
const (
	methodBearer = "urn:oasis:names:tc:SAML:2.0:cm:bearer" // SAML profiles §3.3
	// Authentication context classes (SAML authn context §3.4): a password
	// over TLS, or the REFEDS MFA profile when a second factor was given.
	classPassword    = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
	classUnspecified = "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"
	classMFA         = "https://refeds.org/profile/mfa"
)

// Why an answer is refused, as app.sso failure events name it.
const (
	reasonUserInactive = "user_inactive"
	reasonOrgSuspended = "organization_suspended"
	reasonNotAssigned  = "not_assigned"
	reasonMFA          = "mfa_required"
	reasonNoNameID     = "name_id_unavailable"
)

// answer is where a response goes and what it answers.
type answer struct {
	app          *access.Application
	config       *access.SAMLConfig
	acs          string // the endpoint URL, registered
	inResponseTo string // the AuthnRequest's ID; "" when unsolicited
	relayState   string
	test         bool // a test sign-in: show the response before posting it (setup.go)
	// request is the AuthnRequest's record, written in the transaction
	// that records the answer, so that a replay gets nothing; nil when
	// unsolicited or written already (a held request).
	request *session.SSORequest
}

// respond answers with an assertion about the user of ses, when the user,
// their organization and their effective access allow it now; a refusal is
// audited and shown, and nothing goes to the application.
func (h *Handler) respond(q *req, a *answer, ses *session.Session, u *user.User) error {
	now := h.Now().UTC()
	p, err := h.principal(q, u, now)
	if err != nil {
		return err
	}
	if reason := refusalReason(a.app.ID, p); reason != "" {
		return h.refuseSSO(q, ses, a, reason)
	}
	nameID, err := h.nameID(q, a, p)
	if err != nil {
		return err
	}
	if nameID.Value == "" {
		return h.refuseSSO(q, ses, a, reasonNoNameID)
	}
	attrs, err := h.attributes(q, a, p)
	if err != nil {
		return err
	}
	as := h.assertion(q.tenant, a, ses, nameID, attrs, now)
	signer, err := h.Keys.Active(q.ctx(), q.tenant.ID, keys.PurposeSAML, keys.RS256)
	if err != nil {
		return err
	}
	doc, err := h.response(q.tenant, a, as, saml.Status{StatusCode: saml.StatusCode{Value: saml.StatusSuccess}}, signer, now)
	if err != nil {
		return err
	}
	// The event is part of the answer: without it, no assertion leaves.
	details := map[string]any{"sp_entity_id": a.config.EntityID,
		"name_id_format": nameID.Format, "acs_url": a.acs, "in_response_to": a.inResponseTo}
	if a.test {
		details["test"] = true
	}
	if err := h.Sessions.RecordAnswer(q.ctx(), ses, session.SSOAnswer{Request: a.request, App: a.app.ID, Protocol: "saml",
		Details: details,
		// Single logout will need what the application knows the session by.
		Participant: &session.SSOParticipant{Tenant: q.tenant.ID, Session: ses.ID, App: a.app.ID, NameID: nameID.Value,
			NameIDFormat: nameID.Format, SessionIndex: h.sessionIndex(q.tenant, a.app.ID, ses)},
	}); err != nil {
		return replayed(err)
	}
	if a.test {
		return h.showTest(q, a, doc, nameID, attrs)
	}
	return h.post(q, a, doc)
}

// principal is the user an answer is about, with what the checks and the
// attributes read about them, once: their organization (nil when none) and
// their effective access now.
type principal struct {
	user *user.User
	org  *tenant.Organization
	ivs  []access.Interval
}

func (h *Handler) principal(q *req, u *user.User, now time.Time) (*principal, error) {
	sc := tenant.Scope{Tenant: q.tenant.ID}
	p := &principal{user: u}
	var err error
	if p.ivs, err = h.Access.PermissionsAt(q.ctx(), sc, u.ID, now); err != nil {
		return nil, err
	}
	if u.Org != "" {
		if p.org, err = h.Tenants.OrganizationStatus(q.ctx(), sc, u.Org); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// refusalReason says why the user may not use the application now, or "".
// Effective access already ends with the user's or the organization's
// status; they are checked first to say so precisely.
func refusalReason(app access.AppID, p *principal) string {
	switch {
	case p.user.Status != user.Active:
		return reasonUserInactive
	case p.org != nil && p.org.Status != tenant.OrgActive:
		return reasonOrgSuspended
	case !slices.ContainsFunc(p.ivs, func(iv access.Interval) bool { return iv.App == app }):
		return reasonNotAssigned
	}
	return ""
}

// refuseSSO records a refused sign-in to a.app and shows why.
func (h *Handler) refuseSSO(q *req, ses *session.Session, a *answer, reason string) error {
	err := h.Sessions.RecordAnswer(q.ctx(), ses, session.SSOAnswer{Request: a.request, App: a.app.ID, Protocol: "saml", Reason: reason})
	if err != nil {
		return replayed(err)
	}
	detail := map[string]string{
		reasonUserInactive: "Your account cannot sign in to applications at the moment. Ask your administrator.",
		reasonOrgSuspended: "Your organization's access to " + a.app.Name + " is suspended. Ask your administrator.",
		reasonNotAssigned:  "You do not have access to " + a.app.Name + ". Ask your administrator for access.",
		reasonMFA: a.app.Name + " requires two-step verification. Add an authenticator app or a passkey on your " +
			"Security page, sign out, then open " + a.app.Name + " again.",
		reasonNoNameID: a.app.Name + " identifies people by a detail your account does not have. Ask your administrator.",
	}[reason]
	return &refusal{status: http.StatusForbidden, title: "No access", detail: detail, portal: true}
}

// respondStatus answers a request with a failure status and no assertion
// (SAML core §3.2.2.2): top-level Responder, second-level code.
func (h *Handler) respondStatus(q *req, a *answer, code string) error {
	if a.request != nil {
		if err := h.Sessions.RecordRequest(q.ctx(), a.request); err != nil {
			return replayed(err)
		}
	}
	signer, err := h.Keys.Active(q.ctx(), q.tenant.ID, keys.PurposeSAML, keys.RS256)
	if err != nil {
		return err
	}
	st := saml.Status{StatusCode: saml.StatusCode{Value: saml.StatusResponder, StatusCode: &saml.StatusCode{Value: code}}}
	doc, err := h.response(q.tenant, a, nil, st, signer, h.Now().UTC())
	if err != nil {
		return err
	}
	return h.post(q, a, doc)
}

// assertion states who the user is to the application (SAML core §2.3.3),
// for a bearer to present at the endpoint (SAML profiles §4.1.4.2).
func (h *Handler) assertion(t *tenant.Tenant, a *answer, ses *session.Session, nameID *saml.NameID, attrs []saml.Attribute,
	now time.Time) *saml.Assertion {
	skew := time.Duration(a.config.ClockSkewSeconds) * time.Second
	until := now.Add(time.Duration(a.config.AssertionLifetimeSeconds) * time.Second)
	as := &saml.Assertion{
		ID:           newID(),
		IssueInstant: now,
		Version:      "2.0",
		Issuer:       saml.Issuer{Format: nameIDFormatEntity, Value: h.entityID(t)},
		Subject: &saml.Subject{NameID: nameID, SubjectConfirmations: []saml.SubjectConfirmation{{
			Method: methodBearer,
			// No NotBefore on a bearer confirmation (SAML profiles §4.1.4.2).
			SubjectConfirmationData: &saml.SubjectConfirmationData{InResponseTo: a.inResponseTo, NotOnOrAfter: until, Recipient: a.acs},
		}}},
		Conditions: &saml.Conditions{
			NotBefore:            now.Add(-skew),
			NotOnOrAfter:         until,
			AudienceRestrictions: []saml.AudienceRestriction{{Audience: saml.Audience{Value: a.config.EntityID}}},
		},
		AuthnStatements: []saml.AuthnStatement{{
			AuthnInstant: ses.Created.UTC(),
			SessionIndex: h.sessionIndex(t, a.app.ID, ses),
			AuthnContext: saml.AuthnContext{AuthnContextClassRef: &saml.AuthnContextClassRef{Value: authnClass(ses)}},
		}},
	}
	if len(attrs) > 0 {
		as.AttributeStatements = []saml.AttributeStatement{{Attributes: attrs}}
	}
	return as
}

func authnClass(ses *session.Session) string {
	switch {
	case ses.MFA():
		return classMFA
	case slices.Contains(ses.AMR, session.AMRPassword):
		return classPassword
	}
	return classUnspecified
}

// sessionIndex names the session to one application (SAML core §2.7.2),
// for single logout later: derived from the session id, different for
// each application so that two cannot correlate their users by it.
func (h *Handler) sessionIndex(t *tenant.Tenant, app access.AppID, ses *session.Session) string {
	return "_" + h.Pairwise.Digest("session-index/"+string(t.ID)+"/"+string(app)+"/"+string(ses.ID))
}

// response builds the Response (SAML core §3.3.3) that carries as (nil for
// a failure status), signed as the application asks: the assertion, the
// response or both, enveloped, exclusive C14N (SAML core §5.4), with the
// assertion encrypted when the application asks. A response without an
// assertion is always signed.
func (h *Handler) response(t *tenant.Tenant, a *answer, as *saml.Assertion, st saml.Status, signer *keys.Signer,
	now time.Time) ([]byte, error) {
	method := dsig.RSASHA256SignatureMethod
	if a.config.SignatureAlgorithm == access.SignatureRSASHA1 && a.config.AllowSHA1 {
		method = dsig.RSASHA1SignatureMethod
	}
	var asEl *etree.Element
	if as != nil {
		// Built once: signing canonicalizes the element in place (exclusive
		// C14N), and the signature goes into that very element, so what is
		// sent is what was digested.
		asEl = as.Element()
		if a.config.SignAssertion {
			sig, err := sign(asEl, signer, method)
			if err != nil {
				return nil, err
			}
			insertSignature(asEl, sig)
		}
		if a.config.EncryptAssertion {
			cert, err := a.config.Certificate()
			if err != nil || cert == nil {
				return nil, fmt.Errorf("application %s wants encrypted assertions but has no usable certificate: %v", a.app.ID, err)
			}
			// Signed, then encrypted (SAML core §6.2).
			if asEl, err = encrypt(asEl, cert); err != nil {
				return nil, err
			}
		}
	}
	resp := &saml.Response{ID: newID(), InResponseTo: a.inResponseTo, Version: "2.0", IssueInstant: now, Destination: a.acs,
		Issuer: &saml.Issuer{Format: nameIDFormatEntity, Value: h.entityID(t)}, Status: st}
	el := resp.Element()
	if asEl != nil {
		el.AddChild(asEl)
	}
	if a.config.SignResponse || as == nil {
		sig, err := sign(el, signer, method)
		if err != nil {
			return nil, err
		}
		insertSignature(el, sig)
	}
	return etree.NewDocumentWithRoot(el).WriteToBytes()
}

// insertSignature places an enveloped signature in el (an Assertion or a
// Response, just signed) where the schema wants it: right after the Issuer
// (the enveloped-signature transform ignores where). Exclusive C14N, done
// in place by the signing, dropped the xs namespace declarations that only
// xsi:type values use (a prefix in an attribute's value is not "visibly
// utilized"); they are put back, which no canonical form sees, so that
// the assertion stays self-contained wherever it ends up (encrypted, or
// taken out of the response by an SP).
func insertSignature(el, sig *etree.Element) {
	at := 0
	for i, c := range el.Child {
		if e, ok := c.(*etree.Element); ok && e.Tag == "Issuer" {
			at = i + 1
			break
		}
	}
	el.InsertChildAt(at, sig)
	redeclareXS(el)
}

const xsNamespace = "http://www.w3.org/2001/XMLSchema"

// redeclareXS declares the xs prefix on every element with an xsi:type in
// it that does not see a declaration.
func redeclareXS(el *etree.Element) {
	var walk func(e *etree.Element, declared bool)
	walk = func(e *etree.Element, declared bool) {
		if a := e.SelectAttr("xmlns:xs"); a != nil {
			declared = a.Value == xsNamespace
		}
		if !declared {
			if t := e.SelectAttr("xsi:type"); t != nil && strings.HasPrefix(t.Value, "xs:") {
				e.CreateAttr("xmlns:xs", xsNamespace)
				declared = true
			}
		}
		for _, c := range e.ChildElements() {
			walk(c, declared)
		}
	}
	walk(el, false)
}

// sign returns an enveloped signature of el by signer.
func sign(el *etree.Element, signer *keys.Signer, method string) (*etree.Element, error) {
	ctx, err := dsig.NewSigningContext(signer.Key, [][]byte{signer.Certificate.Raw})
	if err != nil {
		return nil, err
	}
	// An empty prefix list: not every verifier implements InclusiveNamespaces.
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := ctx.SetSignatureMethod(method); err != nil {
		return nil, err
	}
	return ctx.ConstructSignature(el, true)
}

// newID returns a SAML ID: 160 random bits (SAML core §1.3.4 asks for at
// least 128), as an xs:ID, which must not start with a digit.
func newID() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return "_" + hex.EncodeToString(b)
}

// postData is the auto-submitting form that carries a response.
type postData struct {
	ACS          string
	SAMLResponse string
	RelayState   string
	AppName      string
}

// post delivers a response by the HTTP-POST binding (SAML bindings §3.5.4):
// a form posted by a script, or by the user's click without one. The page
// may post to the endpoint's origin and nowhere else.
func (h *Handler) post(q *req, a *answer, doc []byte) error {
	u, err := url.Parse(a.acs)
	if err != nil {
		return err
	}
	setHeaders(q.w, q.nonce, u.Scheme+"://"+u.Host)
	h.render(q, http.StatusOK, "post", pageData{Title: "Signing you in", Data: postData{ACS: a.acs,
		SAMLResponse: base64.StdEncoding.EncodeToString(doc), RelayState: a.relayState, AppName: a.app.Name}})
	return nil
}
