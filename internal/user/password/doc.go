// Package password owns how Tessera stores and judges passwords: argon2id
// hashing, verification and transparent upgrade of imported hashes, and the
// tenant password policy.
//
// New passwords are hashed with argon2id (Hasher.Hash). Login calls
// Hasher.Verify with the stored hash, whatever its Format; when it returns an
// upgraded hash the caller stores it, so imported bcrypt, PBKDF2, SHA-crypt
// and SSHA hashes, and argon2 hashes at other parameters, become argon2id at
// the current parameters one login at a time. A login for an unknown account
// calls Hasher.Dummy so that it costs as much as a wrong password. Imports call
// Identify first, which refuses malformed hashes and absurd costs.
//
// Setting a password runs Policy.Check, then Hasher.Reused against the
// history the caller keeps, and reports the result with ViolationsError.
//
// A Hasher runs at most maxConcurrent hashes at a time: argon2 memory times
// parallel logins is otherwise a denial of service.
//
// The package is pure domain code: it knows no HTTP, SQL or logging, keeps no
// package-level state, never logs or returns a password, and stores nothing;
// persisting hashes, history and the breached list is the caller's job.
package password
