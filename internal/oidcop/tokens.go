package oidcop

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/grant"
	"github.com/tessera-iam/tessera/internal/keys"
	"github.com/tessera-iam/tessera/internal/tenant"
)

// signingAlgorithms are the algorithms the provider signs with, each with
// its own rotating keys: those a client may choose (RS256, the default,
// which OIDC Core §15.1 requires of every relying party, or ES256).
var signingAlgorithms = access.SigningAlgorithms

// joseAlgorithms is signingAlgorithms for go-jose: what a token the
// provider signed may be signed with.
func joseAlgorithms() []jose.SignatureAlgorithm {
	out := make([]jose.SignatureAlgorithm, len(signingAlgorithms))
	for i, a := range signingAlgorithms {
		out[i] = jose.SignatureAlgorithm(a)
	}
	return out
}

// tokenCodec is the library's Crypto, which it asks for two things. It
// "encrypts" tokenID + ":" + subject into a bearer token: storage's token
// id already is the finished token (a signed JWT or an opaque value), so
// Encrypt returns it. And it "encrypts" an authorization request's id into
// the code: Encrypt returns a fresh 256-bit secret instead, which storage
// keeps only as a digest (SaveAuthCode), so a code tells nothing about its
// request. Decrypt hands a presented token back to storage, which checks
// it (signature, record, access).
type tokenCodec struct{}

var _ op.Crypto = tokenCodec{}

func (tokenCodec) Encrypt(s string) (string, error) {
	token, _, ok := strings.Cut(s, ":")
	if !ok {
		return grant.NewSecret(prefixCode), nil
	}
	if token == "" {
		return "", errors.New("oidcop: empty token id")
	}
	return token, nil
}

// prefixCode marks authorization codes.
const prefixCode = "tac"

func (tokenCodec) Decrypt(token string) (string, error) {
	if strings.ContainsRune(token, ':') || len(token) > maxTokenLength || token == "" {
		return "", errors.New("oidcop: not a token")
	}
	return token + ":", nil
}

// maxTokenLength bounds what is parsed as a token: the request header
// limit, so that a JWT with many groups still works.
const maxTokenLength = 64 << 10

// signingKey is a tenant's active key as the library signs with it.
type signingKey struct {
	s   *keys.Signer
	alg string
}

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm {
	return jose.SignatureAlgorithm(k.alg)
}
func (k signingKey) Key() any   { return k.s.Key }
func (k signingKey) ID() string { return string(k.s.ID) }

// publicKey is a published key in the JWKS.
type publicKey struct {
	id  string
	alg string
	pub any
}

func (k publicKey) ID() string                         { return k.id }
func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.SignatureAlgorithm(k.alg) }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return k.pub }

// publishedKeys lists the tenant's active, next and recently retired OIDC
// keys of the algorithms algs (the next key is published before it signs).
func (h *Handler) publishedKeys(ctx context.Context, t tenant.ID, algs ...string) ([]publicKey, error) {
	var out []publicKey
	for _, alg := range algs {
		ks, err := h.Keys.Published(ctx, t, keys.PurposeOIDC, alg)
		if err != nil {
			return nil, err
		}
		for _, k := range ks {
			pub, err := h.publicKeyOf(k)
			if err != nil {
				return nil, err
			}
			out = append(out, publicKey{id: string(k.ID), alg: alg, pub: pub})
		}
	}
	return out, nil
}

// publicKeyOf parses k's certificate's public key once: a key id's
// material never changes, so the parsed key never goes stale.
func (h *Handler) publicKeyOf(k keys.SigningKey) (any, error) {
	if pub, ok := h.parsedKeys.Load(k.ID); ok {
		return pub, nil
	}
	cert, err := x509.ParseCertificate(k.Certificate)
	if err != nil {
		return nil, err
	}
	h.parsedKeys.Store(k.ID, cert.PublicKey)
	return cert.PublicKey, nil
}

// accessClaims are an access token's claims (RFC 9068 §2.2).
type accessClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience []string `json:"aud"`
	Expiry   int64    `json:"exp"`
	IssuedAt int64    `json:"iat"`
	ID       string   `json:"jti"`
	ClientID string   `json:"client_id"`
	Scope    string   `json:"scope,omitempty"`
	AuthTime int64    `json:"auth_time,omitempty"`
	AMR      []string `json:"amr,omitempty"`
	Roles    []string `json:"roles,omitempty"`
	Groups   []string `json:"groups,omitempty"`
}

// accessJWTType is the JWT type of access tokens (RFC 9068 §2.1), which
// keeps an ID token from passing as one.
const accessJWTType = "at+jwt"

// mintJWT signs claims as a JWT of type typ with the tenant's active key
// of alg.
func (h *Handler) mintJWT(ctx context.Context, t tenant.ID, alg, typ string, c any) (string, error) {
	s, err := h.Keys.Active(ctx, t, keys.PurposeOIDC, alg)
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: jose.JSONWebKey{Key: s.Key, KeyID: string(s.ID)}},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// accessID turns a presented access token into what the grant service
// knows it by: an opaque token as it is, a JWT by its jti once its
// signature (by one of the tenant's published keys), type, issuer and
// expiry check out.
func (h *Handler) accessID(ctx context.Context, info *reqInfo, token string) (string, error) {
	if strings.HasPrefix(token, grant.PrefixOpaque+"_") {
		return token, nil
	}
	jws, err := jose.ParseSignedCompact(token, joseAlgorithms())
	if err != nil || len(jws.Signatures) != 1 {
		return "", grant.ErrTokenInvalid
	}
	hdr := jws.Signatures[0].Protected
	if typ, _ := hdr.ExtraHeaders[jose.HeaderType].(string); typ != accessJWTType {
		return "", grant.ErrTokenInvalid
	}
	if !slices.Contains(signingAlgorithms, hdr.Algorithm) {
		return "", grant.ErrTokenInvalid
	}
	pubs, err := h.publishedKeys(ctx, info.tenant.ID, hdr.Algorithm)
	if err != nil {
		return "", err
	}
	i := slices.IndexFunc(pubs, func(k publicKey) bool { return k.id == hdr.KeyID && k.alg == hdr.Algorithm })
	if i < 0 {
		return "", grant.ErrTokenInvalid
	}
	payload, err := jws.Verify(pubs[i].pub)
	if err != nil {
		return "", grant.ErrTokenInvalid
	}
	var c accessClaims
	if err := json.Unmarshal(payload, &c); err != nil || !h.ownIssuer(c.Issuer, info.tenant) || c.ID == "" ||
		!h.Now().Before(time.Unix(c.Expiry, 0)) {
		return "", grant.ErrTokenInvalid
	}
	return c.ID, nil
}
