package login

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
	"github.com/tessera-iam/tessera/internal/web"
)

// webauthnSet holds a relying party per host: the public host, and each
// tenant's own domain. The host is the RP ID and its origin the only one
// accepted, so a passkey made on one host works nowhere else (and moving a
// tenant to another host orphans its passkeys). WebAuthn refuses IP
// addresses as RP IDs: there, passkeys are unavailable.
type webauthnSet struct {
	scheme, port, public string

	mu  sync.Mutex
	rps map[string]*webauthn.WebAuthn
}

var errNoPasskeys = fmt.Errorf("passkeys need Tessera to be reached by a domain name (set --public-url): %w", errkind.Invalid)

func newWebauthnSet(publicURL string) (*webauthnSet, error) {
	u, err := url.Parse(publicURL)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("webauthn: public URL %q has no host", publicURL)
	}
	return &webauthnSet{scheme: u.Scheme, port: u.Port(), public: u.Hostname(), rps: map[string]*webauthn.WebAuthn{}}, nil
}

// forHost returns the relying party of host (without port).
func (s *webauthnSet) forHost(host string) (*webauthn.WebAuthn, error) {
	if net.ParseIP(host) != nil {
		return nil, errNoPasskeys
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if rp, ok := s.rps[host]; ok {
		return rp, nil
	}
	origin := host
	if s.port != "" {
		origin = net.JoinHostPort(host, s.port)
	}
	rp, err := webauthn.New(&webauthn.Config{RPID: host, RPDisplayName: "Tessera", RPOrigins: []string{s.scheme + "://" + origin}})
	if err != nil {
		return nil, fmt.Errorf("webauthn: %w", err)
	}
	s.rps[host] = rp
	return rp, nil
}

// relyingParty is the relying party of the host the request came in on.
func (h *Handler) relyingParty(q *req) (*webauthn.WebAuthn, error) {
	if q.onTenantDomain() {
		return h.webauth.forHost(q.tenant.Domain)
	}
	return h.webauth.forHost(h.webauth.public)
}

// waUser presents a user and their credentials to the library. The user
// handle is the user id, a random identifier rather than an email.
type waUser struct {
	u     *user.User
	creds []webauthn.Credential
}

func (w waUser) WebAuthnID() []byte                         { return []byte(w.u.ID) }
func (w waUser) WebAuthnName() string                       { return w.u.Username }
func (w waUser) WebAuthnCredentials() []webauthn.Credential { return w.creds }
func (w waUser) WebAuthnDisplayName() string {
	if w.u.DisplayName != "" {
		return w.u.DisplayName
	}
	return w.u.Username
}

func newWAUser(u *user.User, factors []session.Factor) (waUser, error) {
	w := waUser{u: u}
	for _, f := range factors {
		if f.Kind != session.KindWebAuthn {
			continue
		}
		var c webauthn.Credential
		if err := json.Unmarshal(f.Credential, &c); err != nil {
			return w, fmt.Errorf("read credential of factor %s: %w", f.ID, err)
		}
		w.creds = append(w.creds, c)
	}
	return w, nil
}

// ceremonyTTL bounds the time between a challenge and its answer.
const ceremonyTTL = 5 * time.Minute

// beginCeremony answers the script with the options and a single-use
// ceremony token that keeps the library's session data server-side. The
// options are the library's whole CredentialCreation or CredentialAssertion,
// {"publicKey": {...}}, the shape navigator.credentials.create and get take
// and webauthn.js reads.
func (h *Handler) beginCeremony(q *req, u *user.User, mode string, options any, sd *webauthn.SessionData) error {
	raw, err := json.Marshal(sd)
	if err != nil {
		return err
	}
	tok, err := h.Sessions.IssueToken(q.ctx(), q.tenant.ID, session.PurposeWebAuthn, u.ID,
		map[string]string{"session": string(raw), "mode": mode}, ceremonyTTL)
	if err != nil {
		return err
	}
	web.JSON(q.w, http.StatusOK, map[string]any{"options": options, "ceremony": tok})
	return nil
}

// ceremonyAnswer is what the script posts back.
type ceremonyAnswer struct {
	Ceremony   string          `json:"ceremony"`
	Name       string          `json:"name"`
	Return     string          `json:"return"`
	Credential json.RawMessage `json:"credential"`
}

var errBadCeremony = fmt.Errorf("the passkey answer is not valid for this request: %w", errkind.Invalid)

// finishCeremony reads the answer and uses up its ceremony, which must be
// u's and of mode.
func (h *Handler) finishCeremony(q *req, u user.ID, mode string) (*ceremonyAnswer, *webauthn.SessionData, error) {
	var a ceremonyAnswer
	if err := json.NewDecoder(io.LimitReader(q.r.Body, 64<<10)).Decode(&a); err != nil {
		return nil, nil, errBadCeremony
	}
	tok, err := h.Sessions.ConsumeToken(q.ctx(), q.tenant.ID, session.PurposeWebAuthn, a.Ceremony)
	if err != nil {
		return nil, nil, err
	}
	if tok.User != u || tok.Data["mode"] != mode {
		return nil, nil, errBadCeremony
	}
	var sd webauthn.SessionData
	if err := json.Unmarshal([]byte(tok.Data["session"]), &sd); err != nil {
		return nil, nil, err
	}
	return &a, &sd, nil
}

// jsonFail answers the script with a problem it can show.
func jsonFail(q *req, err error) error {
	web.WriteProblem(q.w, q.r, err)
	return nil
}

func (h *Handler) signInWebAuthnBegin(q *req) error {
	rp, err := h.relyingParty(q)
	if err != nil {
		return jsonFail(q, err)
	}
	p, _, ok := h.pendingJSON(q)
	if !ok {
		return nil
	}
	wu, err := newWAUser(p.User, p.Factors)
	if err != nil {
		return err
	}
	if p.Enrol {
		opts, sd, err := rp.BeginRegistration(wu, webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementPreferred))
		if err != nil {
			return err
		}
		return h.beginCeremony(q, p.User, "register", opts, sd)
	}
	if len(wu.creds) == 0 {
		return jsonFail(q, fmt.Errorf("no passkey is registered for this account: %w", errkind.Invalid))
	}
	opts, sd, err := rp.BeginLogin(wu)
	if err != nil {
		return err
	}
	return h.beginCeremony(q, p.User, "login", opts, sd)
}

// pendingJSON is pending for the script's requests: a problem instead of a
// page when the sign-in step has expired.
func (h *Handler) pendingJSON(q *req) (*session.Pending, string, bool) {
	secret := cookieValue(q.r, pendingCookie)
	p, err := h.Sessions.PendingStep(q.ctx(), q.tenant.ID, secret)
	if err != nil {
		web.WriteProblem(q.w, q.r, err)
		return nil, "", false
	}
	return p, secret, true
}

func (h *Handler) signInWebAuthnFinish(q *req) error {
	p, secret, ok := h.pendingJSON(q)
	if !ok {
		return nil
	}
	mode := "login"
	if p.Enrol {
		mode = "register"
	}
	a, sd, err := h.finishCeremony(q, p.User.ID, mode)
	if err != nil {
		return jsonFail(q, err)
	}
	ret := h.safeReturn(q, a.Return)
	wu, err := newWAUser(p.User, p.Factors)
	if err != nil {
		return err
	}
	var out *session.Outcome
	var codes []string
	if p.Enrol {
		cred, err := h.createCredential(q, wu, sd, a.Credential)
		if err != nil {
			return jsonFail(q, err)
		}
		raw, err := json.Marshal(cred)
		if err != nil {
			return err
		}
		out, codes, err = h.Sessions.CompleteEnrolWebAuthn(q.ctx(), q.tenant.ID, secret, a.Name,
			base64.RawURLEncoding.EncodeToString(cred.ID), raw, client(q.r))
		if err != nil {
			return jsonFail(q, err)
		}
	} else {
		parsed, err := protocol.ParseCredentialRequestResponseBytes(a.Credential)
		if err != nil {
			return jsonFail(q, errBadCeremony)
		}
		rp, err := h.relyingParty(q)
		if err != nil {
			return jsonFail(q, err)
		}
		cred, err := rp.ValidateLogin(wu, *sd, parsed)
		if err != nil {
			return jsonFail(q, fmt.Errorf("the passkey was not accepted: %w", errkind.Unauthenticated))
		}
		f, err := h.Sessions.FactorByCredential(q.ctx(), q.tenant.ID, base64.RawURLEncoding.EncodeToString(cred.ID))
		if err != nil {
			return jsonFail(q, errBadCeremony)
		}
		raw, err := json.Marshal(cred)
		if err != nil {
			return err
		}
		if out, err = h.Sessions.CompleteWebAuthn(q.ctx(), q.tenant.ID, secret, f.ID, raw, client(q.r)); err != nil {
			return jsonFail(q, err)
		}
	}
	h.startSession(q, out)
	web.JSON(q.w, http.StatusOK, map[string]any{"next": ret, "codes": codes})
	return nil
}

func (h *Handler) createCredential(q *req, wu waUser, sd *webauthn.SessionData, raw json.RawMessage) (*webauthn.Credential, error) {
	parsed, err := protocol.ParseCredentialCreationResponseBytes(raw)
	if err != nil {
		return nil, errBadCeremony
	}
	rp, err := h.relyingParty(q)
	if err != nil {
		return nil, err
	}
	cred, err := rp.CreateCredential(wu, *sd, parsed)
	if err != nil {
		var pe *protocol.Error
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("the passkey was not accepted (%s): %w", pe.Type, errkind.Invalid)
		}
		return nil, fmt.Errorf("the passkey was not accepted: %w", errkind.Invalid)
	}
	return cred, nil
}

// signedInWAUser is the signed-in user with their passkeys.
func (h *Handler) signedInWAUser(q *req) (waUser, error) {
	fs, err := h.Sessions.Factors(q.ctx(), tenant.Scope{Tenant: q.tenant.ID}, q.user.ID)
	if err != nil {
		return waUser{}, err
	}
	return newWAUser(q.user, fs)
}

func (h *Handler) addWebAuthnBegin(q *req) error {
	rp, err := h.relyingParty(q)
	if err != nil {
		return jsonFail(q, err)
	}
	wu, err := h.signedInWAUser(q)
	if err != nil {
		return err
	}
	// Exclude the user's existing credentials: one authenticator, one passkey.
	opts, sd, err := rp.BeginRegistration(wu, webauthn.WithExclusions(webauthn.Credentials(wu.creds).CredentialDescriptors()),
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementPreferred))
	if err != nil {
		return err
	}
	return h.beginCeremony(q, q.user, "register", opts, sd)
}

func (h *Handler) addWebAuthnFinish(q *req) error {
	a, sd, err := h.finishCeremony(q, q.user.ID, "register")
	if err != nil {
		return jsonFail(q, err)
	}
	wu, err := h.signedInWAUser(q)
	if err != nil {
		return err
	}
	cred, err := h.createCredential(q, wu, sd, a.Credential)
	if err != nil {
		return jsonFail(q, err)
	}
	raw, err := json.Marshal(cred)
	if err != nil {
		return err
	}
	_, codes, err := h.Sessions.AddWebAuthn(q.ctx(), q.tenant.ID, q.user.ID, a.Name, base64.RawURLEncoding.EncodeToString(cred.ID), raw)
	if err != nil {
		return jsonFail(q, err)
	}
	web.JSON(q.w, http.StatusOK, map[string]any{"next": q.base() + "/security", "codes": codes})
	return nil
}
