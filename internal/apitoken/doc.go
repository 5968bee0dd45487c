// Package apitoken owns the bearer tokens of the admin API: their roles, their
// reach (a tenant, or one organization of it), revocation and expiry.
//
// Flow: Create returns the secret once; only its HMAC-SHA256 digest under a
// key derived from the master key is stored, so the table alone lets nobody
// in. Authenticate digests a presented secret and looks the digest up.
//
// It must not import net/http, database/sql, the store or any adapter.
package apitoken
