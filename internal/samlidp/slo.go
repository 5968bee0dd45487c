package samlidp

import (
	"bytes"
	"compress/flate"
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
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
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/keys"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/tenant"
)

// Single logout (SAML profiles §4.4) at /saml/slo, front channel only:
//
//   - An application sends a signed LogoutRequest (Redirect or POST
//     binding). When it names the browser's current session (its NameID,
//     and a SessionIndex when it gives any, as recorded when the
//     application received its assertion), the session ends and the
//     logout goes on to the session's other participants.
//   - Each participant with an SLO endpoint gets a signed LogoutRequest
//     through the browser and answers with a LogoutResponse at /saml/slo;
//     the chain's state is kept server-side, held under a single-use secret
//     that travels as the RelayState, with the id of the request sent
//     (InResponseTo must match).
//   - The initiating application finally gets a signed LogoutResponse:
//     Success, with PartialLogout under it when a participant failed.
//   - Signing out at the portal (login's /logout) hands the ended session
//     over to /saml/logout/start, which runs the same chain and ends on a
//     signed-out page.

// Kinds of requests the logout keeps in the session domain's request store.
const (
	kindSLORequest = "slo_request" // an application's LogoutRequest, waiting for its browser's cookie
	kindSLOChain   = "slo_chain"   // a LogoutRequest Tessera sent to a participant, waiting for its answer
)

// Who started a logout, as app.slo events say.
const (
	initiatedBySP  = "sp"
	initiatedByIdP = "idp"
)

// Reasons of failed app.slo events.
const (
	reasonNoSession   = "no_matching_session"
	reasonNotSuccess  = "status_not_success"
	reasonUnreachable = "endpoint_unusable"
)

// sloURL is the tenant's single logout endpoint, for both bindings.
func (h *Handler) sloURL(t *tenant.Tenant) string {
	return access.NewSAMLIdP(h.PublicURL, t.Slug).SLO()
}

// sloRefusal refuses a logout message; like every refusal it is a page for
// the person at the browser, and nothing goes to the application.
func sloRefusal(why string) error {
	return refuse(http.StatusBadRequest, "Invalid logout request",
		"The application sent a logout message Tessera does not accept: "+why+". Tell the application's administrator.")
}

var errLogoutStale = refuse(http.StatusBadRequest, "Logout expired",
	"This logout has expired or was already completed. Close the browser to be sure you are signed out everywhere.")

// logoutMessage is a LogoutRequest or LogoutResponse that passed every
// check, with the application that sent it.
type logoutMessage struct {
	app        *access.Application
	config     *access.SAMLConfig
	relayState string
	request    *saml.LogoutRequest
	indexes    []string // the request's SessionIndex values (SAML core §3.7.1)
	response   *saml.LogoutResponse
}

// checkLogout parses and checks a logout message. Unlike an AuthnRequest,
// a logout message must always be signed (SAML profiles §4.4.4.1,
// §4.4.4.2), with the application's certificate.
func (h *Handler) checkLogout(q *req, m *message, isResponse bool) (*logoutMessage, error) {
	if len(m.xml) > maxRequestXML {
		return nil, errTooLarge
	}
	if len(m.relayState) > access.MaxRelayStateLength {
		return nil, sloRefusal(fmt.Sprintf("its RelayState is longer than %d bytes", access.MaxRelayStateLength))
	}
	want := "LogoutRequest"
	if isResponse {
		want = "LogoutResponse"
	}
	root, err := parseXML(m.xml, want, sloRefusal)
	if err != nil {
		return nil, err
	}
	issuer := logoutIssuer(root)
	if issuer == "" {
		return nil, sloRefusal("it names no issuer")
	}
	app, cfg, err := h.Access.AppBySAMLEntityID(q.ctx(), q.tenant.ID, issuer)
	if errors.Is(err, access.ErrUnknownSAMLEntity) {
		return nil, refuse(http.StatusBadRequest, "Unknown application",
			"The application that sent you here is not registered with "+q.tenant.Name+". Tell the application's administrator.")
	}
	if err != nil {
		return nil, err
	}
	cert, err := cfg.Certificate()
	if err != nil || cert == nil {
		return nil, sloRefusal("Tessera has no certificate of the application to check its signature with")
	}
	now := h.Now()
	signed := root
	switch m.binding {
	case access.BindingHTTPRedirect:
		if m.sigAlg == "" || len(m.signature) == 0 {
			return nil, sloRefusal("it is not signed")
		}
		err = verifyQuery(m, cert, cfg.AllowSHA1, now)
	default:
		// Only what the signature covers is read from here on (XSW).
		signed, err = verifyEnveloped(root, cert, cfg.AllowSHA1, now)
	}
	if errors.Is(err, errUnsigned) {
		return nil, sloRefusal("it is not signed")
	}
	if err != nil {
		return nil, sloRefusal("its signature is not valid")
	}
	if logoutIssuer(signed) != cfg.EntityID {
		return nil, sloRefusal("its signed issuer is not the application")
	}
	lm := &logoutMessage{app: app, config: cfg, relayState: m.relayState}
	b, err := etree.NewDocumentWithRoot(signed.Copy()).WriteToBytes()
	if err != nil {
		return nil, err
	}
	var (
		id, version, destination string
		issued                   time.Time
	)
	if isResponse {
		lm.response = &saml.LogoutResponse{}
		if err := xml.Unmarshal(b, lm.response); err != nil {
			return nil, sloRefusal("its elements do not match the SAML schema")
		}
		r := lm.response
		id, version, destination, issued = r.ID, r.Version, r.Destination, r.IssueInstant
	} else {
		lm.request = &saml.LogoutRequest{}
		if err := xml.Unmarshal(b, lm.request); err != nil {
			return nil, sloRefusal("its elements do not match the SAML schema")
		}
		r := lm.request
		id, version, destination, issued = r.ID, r.Version, r.Destination, r.IssueInstant
		if r.NameID == nil || r.NameID.Value == "" {
			return nil, sloRefusal("it names no user") // SAML core §3.7.1: the identifier is required
		}
		skew := time.Duration(cfg.ClockSkewSeconds) * time.Second
		if r.NotOnOrAfter != nil && !now.Add(-skew).Before(*r.NotOnOrAfter) {
			return nil, sloRefusal("it has expired")
		}
		for _, c := range signed.ChildElements() {
			if c.Tag == "SessionIndex" && c.NamespaceURI() == nsProtocol {
				lm.indexes = append(lm.indexes, c.Text())
			}
		}
	}
	skew := time.Duration(cfg.ClockSkewSeconds) * time.Second
	switch {
	case version != "2.0":
		return nil, sloRefusal("it is not SAML 2.0")
	case id == "" || len(id) > maxRequestID:
		return nil, sloRefusal("its ID is missing or too long")
	case issued.IsZero() || issued.After(now.Add(skew)) || issued.Add(maxRequestAge+skew).Before(now):
		return nil, sloRefusal("its IssueInstant is missing, in the future or too old")
	case destination != h.sloURL(q.tenant):
		// SAML bindings §3.4.5.2, §3.5.5.2: a signed message names where
		// it was sent.
		return nil, sloRefusal("it was addressed to another destination")
	}
	return lm, nil
}

// logoutIssuer is the value of el's Issuer child, "" when there is none or
// it is not an entity id (SAML profiles §4.4.4.1).
func logoutIssuer(el *etree.Element) string {
	for _, c := range el.ChildElements() {
		if c.Tag == "Issuer" && c.NamespaceURI() == "urn:oasis:names:tc:SAML:2.0:assertion" {
			if f := c.SelectAttrValue("Format", ""); f != "" && f != nameIDFormatEntity {
				return ""
			}
			return strings.TrimSpace(c.Text())
		}
	}
	return ""
}

// sloRedirect receives a logout message by the HTTP-Redirect binding.
func (h *Handler) sloRedirect(q *req) error {
	m, param, err := readRedirect(q.r, sloInbound)
	if err != nil {
		return err
	}
	return h.slo(q, m, param == "SAMLResponse")
}

// sloPost receives a logout message by the HTTP-POST binding.
func (h *Handler) sloPost(q *req) error {
	m, param, err := readPost(q.w, q.r, sloInbound)
	if err != nil {
		return err
	}
	return h.slo(q, m, param == "SAMLResponse")
}

func (h *Handler) slo(q *req, m *message, isResponse bool) error {
	lm, err := h.checkLogout(q, m, isResponse)
	if err != nil {
		return err
	}
	if isResponse {
		return h.logoutAnswered(q, lm)
	}
	return h.logoutRequested(q, lm)
}

// logoutRequested starts a logout an application asked for. Its request
// id is accepted once. A GET (Redirect binding) brings the browser's
// SameSite=Lax cookie; a cross-site POST does not, so the request is held
// and the browser sent on to /saml/slo/continue, a same-site GET.
func (h *Handler) logoutRequested(q *req, lm *logoutMessage) error {
	r := lm.request
	skew := time.Duration(lm.config.ClockSkewSeconds) * time.Second
	indexes, err := json.Marshal(lm.indexes)
	if err != nil {
		return err
	}
	rec := &session.SSORequest{Tenant: q.tenant.ID, App: lm.app.ID, ID: r.ID, Expires: r.IssueInstant.Add(maxRequestAge + skew),
		Data: map[string]string{"kind": kindSLORequest, "name_id": r.NameID.Value, "session_indexes": string(indexes),
			"relay_state": lm.relayState}}
	if lm.config.SLO == nil || !postable(lm.config.SLO.URL, lm.config.AllowInsecureACS) {
		return sloRefusal("the application has no single logout endpoint registered to answer to")
	}
	if q.r.Method == http.MethodGet {
		if err := h.Sessions.RecordRequest(q.ctx(), rec); err != nil {
			return replayedLogout(err)
		}
		return h.endSession(q, rec)
	}
	if until := h.Now().Add(holdFor); until.After(rec.Expires) {
		rec.Expires = until
	}
	secret, err := h.Sessions.HoldRequest(q.ctx(), rec)
	if err != nil {
		return replayedLogout(err)
	}
	http.Redirect(q.w, q.r, q.base()+"/saml/slo/continue?request="+url.QueryEscape(secret), http.StatusSeeOther)
	return nil
}

func replayedLogout(err error) error {
	if errors.Is(err, session.ErrReplay) {
		return sloRefusal("this logout request was already received")
	}
	return err
}

// sloContinue picks up a LogoutRequest that came by POST, now with the
// browser's cookie.
func (h *Handler) sloContinue(q *req) error {
	rec, err := h.Sessions.TakeRequest(q.ctx(), q.tenant.ID, q.r.URL.Query().Get("request"))
	if errors.Is(err, session.ErrTokenInvalid) {
		return errLogoutStale
	}
	if err != nil {
		return err
	}
	if rec.Data["kind"] != kindSLORequest {
		return errLogoutStale
	}
	return h.endSession(q, rec)
}

// endSession ends the browser's session when the LogoutRequest rec names
// it, then propagates the logout. A request that names no session of this
// browser (none, another user, an older session) ends nothing and is
// answered Success all the same: the application's user is signed out
// here, and the answer does not tell the application anything about other
// sessions (SAML profiles §4.4.3.3 leaves the IdP this choice).
func (h *Handler) endSession(q *req, rec *session.SSORequest) error {
	var indexes []string
	if err := json.Unmarshal([]byte(rec.Data["session_indexes"]), &indexes); err != nil {
		return err
	}
	c := &chain{initiator: rec.App, initiatorRequest: rec.ID, initiatorRelay: rec.Data["relay_state"], initiatedBy: initiatedBySP}
	ses, _, err := h.signedIn(q)
	if err != nil {
		return err
	}
	var parts []session.SSOParticipant
	matched := false
	if ses != nil {
		if parts, err = h.Sessions.SSOParticipants(q.ctx(), q.tenant.ID, ses.ID); err != nil {
			return err
		}
		matched = slices.ContainsFunc(parts, func(p session.SSOParticipant) bool {
			return p.App == rec.App && p.NameID == rec.Data["name_id"] && (len(indexes) == 0 || slices.Contains(indexes, p.SessionIndex))
		})
	}
	if !matched {
		var sid session.ID
		if ses != nil {
			sid = ses.ID
		}
		if err := h.Sessions.RecordSLO(q.ctx(), q.tenant.ID, sid, rec.App, initiatedBySP, reasonNoSession, nil); err != nil {
			return err
		}
		return h.finish(q, c)
	}
	if err := h.Sessions.SignOut(q.ctx(), ses); err != nil {
		return err
	}
	h.clearSessionCookie(q)
	if err := h.Sessions.RecordSLO(q.ctx(), q.tenant.ID, ses.ID, rec.App, initiatedBySP, "", nil); err != nil {
		return err
	}
	c.session, c.user = ses.ID, string(ses.User)
	for _, p := range parts {
		if p.App != rec.App {
			c.remaining = append(c.remaining, p.App)
		}
	}
	return h.propagate(q, c)
}

// logoutStart runs the logout of a session ended at the portal's sign-out,
// which hands it over with a single-use secret (see
// session.Service.HandOverLogout).
func (h *Handler) logoutStart(q *req) error {
	ses, err := h.Sessions.TakeLogout(q.ctx(), q.tenant.ID, q.r.URL.Query().Get("logout"))
	if errors.Is(err, session.ErrTokenInvalid) {
		return h.signedOut(q, false)
	}
	if err != nil {
		return err
	}
	h.clearSessionCookie(q)
	parts, err := h.Sessions.SSOParticipants(q.ctx(), q.tenant.ID, ses.ID)
	if err != nil {
		return err
	}
	c := &chain{session: ses.ID, user: string(ses.User), initiatedBy: initiatedByIdP}
	for _, p := range parts {
		c.remaining = append(c.remaining, p.App)
	}
	return h.propagate(q, c)
}

// logoutAnswered continues the chain with a participant's LogoutResponse:
// it must answer the request Tessera sent it (InResponseTo), under the
// secret that request was held by (the RelayState), once.
func (h *Handler) logoutAnswered(q *req, lm *logoutMessage) error {
	rec, err := h.Sessions.HeldRequest(q.ctx(), q.tenant.ID, lm.relayState)
	if errors.Is(err, session.ErrTokenInvalid) {
		return errLogoutStale
	}
	if err != nil {
		return err
	}
	if rec.Data["kind"] != kindSLOChain || rec.App != lm.app.ID || rec.ID != lm.response.InResponseTo {
		return sloRefusal("it does not answer the logout request Tessera sent")
	}
	if _, err := h.Sessions.TakeRequest(q.ctx(), q.tenant.ID, lm.relayState); errors.Is(err, session.ErrTokenInvalid) {
		return errLogoutStale
	} else if err != nil {
		return err
	}
	c := chainFrom(rec.Data)
	status := lm.response.Status.StatusCode.Value
	reason := ""
	if status != saml.StatusSuccess {
		c.partial, reason = true, reasonNotSuccess
	} else if sub := lm.response.Status.StatusCode.StatusCode; sub != nil && sub.Value == saml.StatusPartialLogout {
		c.partial = true // it could not tell every one of its own participants
	}
	if err := h.Sessions.RecordSLO(q.ctx(), q.tenant.ID, c.session, lm.app.ID, c.initiatedBy, reason,
		map[string]any{"status": truncate(status, 200)}); err != nil {
		return err
	}
	return h.propagate(q, c)
}

// chain is a logout on its way through the session's participants.
type chain struct {
	session          session.ID
	user             string
	initiator        access.AppID // "" when the user signed out at Tessera
	initiatorRequest string
	initiatorRelay   string
	initiatedBy      string
	remaining        []access.AppID
	partial          bool // a participant could not be reached or did not succeed
}

func (c *chain) data() map[string]string {
	ids := make([]string, len(c.remaining))
	for i, a := range c.remaining {
		ids[i] = string(a)
	}
	d := map[string]string{"kind": kindSLOChain, "session": string(c.session), "user": c.user, "initiator": string(c.initiator),
		"initiator_request": c.initiatorRequest, "initiator_relay": c.initiatorRelay, "initiated_by": c.initiatedBy,
		"remaining": strings.Join(ids, ",")}
	if c.partial {
		d["partial"] = "true"
	}
	return d
}

func chainFrom(d map[string]string) *chain {
	c := &chain{session: session.ID(d["session"]), user: d["user"], initiator: access.AppID(d["initiator"]),
		initiatorRequest: d["initiator_request"], initiatorRelay: d["initiator_relay"], initiatedBy: d["initiated_by"],
		partial: d["partial"] == "true"}
	for a := range strings.SplitSeq(d["remaining"], ",") {
		if a != "" {
			c.remaining = append(c.remaining, access.AppID(a))
		}
	}
	return c
}

// propagate sends the browser to the next participant with an SLO
// endpoint, or finishes. Participants without one cannot be told and are
// passed over.
func (h *Handler) propagate(q *req, c *chain) error {
	parts, err := h.Sessions.SSOParticipants(q.ctx(), q.tenant.ID, c.session)
	if err != nil {
		return err
	}
	for len(c.remaining) > 0 {
		id := c.remaining[0]
		c.remaining = c.remaining[1:]
		i := slices.IndexFunc(parts, func(p session.SSOParticipant) bool { return p.App == id })
		if i < 0 {
			continue
		}
		app, cfg, err := h.sloTarget(q, id)
		if err != nil {
			return err
		}
		if cfg == nil || cfg.SLO == nil {
			continue
		}
		// Without its certificate, the participant's answer could not be
		// verified: it is not asked.
		if cert, err := cfg.Certificate(); err != nil || cert == nil || !postable(cfg.SLO.URL, cfg.AllowInsecureACS) {
			c.partial = true
			if err := h.Sessions.RecordSLO(q.ctx(), q.tenant.ID, c.session, id, c.initiatedBy, reasonUnreachable, nil); err != nil {
				return err
			}
			continue
		}
		return h.sendLogoutRequest(q, c, app, cfg, &parts[i])
	}
	if err := h.Sessions.RemoveSSOParticipants(q.ctx(), q.tenant.ID, c.session); err != nil {
		return err
	}
	return h.finish(q, c)
}

// sloTarget loads a participant as it is now; nil config when it is gone
// or no longer a SAML application.
func (h *Handler) sloTarget(q *req, id access.AppID) (*access.Application, *access.SAMLConfig, error) {
	sc := tenant.Scope{Tenant: q.tenant.ID}
	app, err := h.Access.Application(q.ctx(), sc, id)
	if errors.Is(err, errkind.NotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	cfg, err := h.Access.SAMLConfig(q.ctx(), sc, id)
	if errors.Is(err, errkind.NotFound) || (err == nil && app.Kind != access.KindSAML) {
		return nil, nil, nil
	}
	return app, cfg, err
}

// sendLogoutRequest asks participant p to end its session (SAML core
// §3.7.1), naming the user and session as its assertion did; the chain
// waits for the answer under a fresh secret.
func (h *Handler) sendLogoutRequest(q *req, c *chain, app *access.Application, cfg *access.SAMLConfig,
	p *session.SSOParticipant) error {
	now := h.Now().UTC()
	until := now.Add(holdFor)
	lr := &saml.LogoutRequest{ID: newID(), Version: "2.0", IssueInstant: now, NotOnOrAfter: &until, Destination: cfg.SLO.URL,
		Issuer:       &saml.Issuer{Format: nameIDFormatEntity, Value: h.entityID(q.tenant)},
		NameID:       &saml.NameID{Format: p.NameIDFormat, Value: p.NameID},
		SessionIndex: &saml.SessionIndex{Value: p.SessionIndex}}
	secret, err := h.Sessions.HoldRequest(q.ctx(), &session.SSORequest{Tenant: q.tenant.ID, App: app.ID, ID: lr.ID,
		Data: c.data(), Expires: until})
	if err != nil {
		return err
	}
	return h.sendLogout(q, app, cfg, "SAMLRequest", secret, func(sig *etree.Element) *etree.Element {
		lr.Signature = sig
		return lr.Element()
	})
}

// finish answers the application that started the logout, if one did and
// can be answered, or shows that the user is signed out.
func (h *Handler) finish(q *req, c *chain) error {
	if c.initiator == "" {
		return h.signedOut(q, c.partial)
	}
	app, cfg, err := h.sloTarget(q, c.initiator)
	if err != nil {
		return err
	}
	if cfg == nil || cfg.SLO == nil || !postable(cfg.SLO.URL, cfg.AllowInsecureACS) {
		return h.signedOut(q, c.partial)
	}
	// SAML core §3.7.3.2: PartialLogout when not every participant could
	// be told.
	st := saml.Status{StatusCode: saml.StatusCode{Value: saml.StatusSuccess}}
	if c.partial {
		st.StatusCode.StatusCode = &saml.StatusCode{Value: saml.StatusPartialLogout}
	}
	resp := &saml.LogoutResponse{ID: newID(), InResponseTo: c.initiatorRequest, Version: "2.0", IssueInstant: h.Now().UTC(),
		Destination: cfg.SLO.URL, Issuer: &saml.Issuer{Format: nameIDFormatEntity, Value: h.entityID(q.tenant)}, Status: st}
	return h.sendLogout(q, app, cfg, "SAMLResponse", c.initiatorRelay, func(sig *etree.Element) *etree.Element {
		resp.Signature = sig
		return resp.Element()
	})
}

// signedOut shows the end of a logout.
func (h *Handler) signedOut(q *req, partial bool) error {
	d := pageData{Title: "Signed out", Detail: "You are signed out.", Portal: q.base() + "/"}
	if partial {
		d.Detail = "You are signed out of Tessera, but some applications could not be told. Close the browser to be sure you are signed out everywhere."
	}
	h.render(q, http.StatusOK, "signed_out", d)
	return nil
}

// sloPostData is the auto-submitting form that carries a logout message.
type sloPostData struct {
	URL, Field, Message, RelayState, AppName string
}

// sendLogout sends a logout message, signed, to the application's SLO
// endpoint by its binding: on the Redirect binding the query is signed
// (SAML bindings §3.4.4.1), on the POST binding the XML (enveloped,
// exclusive C14N). build returns the message with the signature given (nil:
// unsigned).
func (h *Handler) sendLogout(q *req, app *access.Application, cfg *access.SAMLConfig, field, relayState string,
	build func(sig *etree.Element) *etree.Element) error {
	signer, err := h.Keys.Active(q.ctx(), q.tenant.ID, keys.PurposeSAML, keys.RS256)
	if err != nil {
		return err
	}
	method, hash := dsig.RSASHA256SignatureMethod, crypto.SHA256
	if cfg.SignatureAlgorithm == access.SignatureRSASHA1 && cfg.AllowSHA1 {
		method, hash = dsig.RSASHA1SignatureMethod, crypto.SHA1
	}
	if cfg.SLO.Binding == access.BindingHTTPRedirect {
		doc, err := etree.NewDocumentWithRoot(build(nil)).WriteToBytes()
		if err != nil {
			return err
		}
		compressed, err := deflate(doc)
		if err != nil {
			return err
		}
		query := field + "=" + url.QueryEscape(base64.StdEncoding.EncodeToString(compressed))
		if relayState != "" {
			query += "&RelayState=" + url.QueryEscape(relayState)
		}
		query += "&SigAlg=" + url.QueryEscape(method)
		d := hash.New()
		d.Write([]byte(query))
		sig, err := signer.Key.Sign(rand.Reader, d.Sum(nil), hash)
		if err != nil {
			return err
		}
		query += "&Signature=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sig))
		sep := "?"
		if strings.Contains(cfg.SLO.URL, "?") {
			sep = "&"
		}
		http.Redirect(q.w, q.r, cfg.SLO.URL+sep+query, http.StatusSeeOther)
		return nil
	}
	sig, err := sign(build(nil), signer, method)
	if err != nil {
		return err
	}
	doc, err := etree.NewDocumentWithRoot(build(sig)).WriteToBytes()
	if err != nil {
		return err
	}
	u, err := url.Parse(cfg.SLO.URL)
	if err != nil {
		return err
	}
	setHeaders(q.w, q.nonce, u.Scheme+"://"+u.Host)
	h.render(q, http.StatusOK, "slo_post", pageData{Title: "Signing you out", Data: sloPostData{URL: cfg.SLO.URL, Field: field,
		Message: base64.StdEncoding.EncodeToString(doc), RelayState: relayState, AppName: app.Name}})
	return nil
}

// clearSessionCookie deletes the session cookie the login pages set (same
// name, path and attributes).
func (h *Handler) clearSessionCookie(q *req) {
	http.SetCookie(q.w, &http.Cookie{Name: session.CookieName, Path: q.base() + "/", MaxAge: -1, HttpOnly: true,
		Secure: strings.HasPrefix(h.PublicURL, "https://"), SameSite: http.SameSiteLaxMode})
}

// deflate compresses b for the HTTP-Redirect binding (SAML bindings
// §3.4.4.1: DEFLATE, RFC 1951).
func deflate(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
