// Package keys owns Tessera's key material: the master key that seals secrets
// at rest and the purpose-bound subkeys derived from it, and each tenant's
// signing keys for the SAML IdP and the OpenID Provider.
//
// Flow: the server loads the master key once (a file under the data directory,
// or TESSERA_MASTER_KEY), and hands a *MasterKey to the services that must seal
// secrets or compute keyed digests (API tokens, client secrets).
//
// Signing keys: per tenant, purpose (saml, oidc) and algorithm (RS256, ES256)
// there is one active key, which signs, and one next key, published (SAML
// metadata, JWKS) before it signs so that partners already trust it when a
// rotation makes it active. Service.Published creates both on first use
// (racing callers end with one of each: the store's unique index decides),
// Service.Rotate retires the active key, promotes the next one and creates a
// new next key in one transaction, and retired keys stay published for a
// grace period. Private keys are stored as PKCS #8 sealed under a context that
// names the tenant and key id, and are cached in memory once opened.
//
// It must not read files or the environment itself, nor log key material.
package keys
