package password

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"

	"github.com/zitadel/passwap"
	"github.com/zitadel/passwap/argon2"

	"github.com/tessera-iam/tessera/internal/errkind"
)

// Params are argon2id costs. Memory in KiB.
type Params struct {
	Memory  uint32
	Time    uint32
	Threads uint8
}

// DefaultParams are OWASP's argon2id minimum: 19 MiB, 2 passes, 1 lane.
func DefaultParams() Params { return Params{Memory: 19 * 1024, Time: 2, Threads: 1} }

// Bounds for the Hasher's own parameters.
const (
	minMemory  = 8 * 1024        // KiB = 8 MiB
	maxMemory  = 4 * 1024 * 1024 // KiB = 4 GiB
	maxTime    = 20
	maxThreads = 16

	saltLen = 16 // bytes
	keyLen  = 32 // bytes

	// maxPlainBytes bounds what Hash accepts and Verify considers: Policy
	// allows at most 1024 code points, which UTF-8 encodes in at most 4096
	// bytes. It also caps the work a long password causes in the SHA-crypt
	// verifiers, whose cost grows with rounds × length.
	maxPlainBytes = 4096
)

// Validate reports parameters outside sane bounds: memory 8 MiB..4 GiB,
// time 1..20, threads 1..16.
func (p Params) Validate() error {
	var errs []error
	if p.Memory < minMemory || p.Memory > maxMemory {
		errs = append(errs, errkind.Field("memory", fmt.Sprintf("must be between %d and %d KiB", minMemory, maxMemory)))
	}
	if p.Time < 1 || p.Time > maxTime {
		errs = append(errs, errkind.Field("time", fmt.Sprintf("must be between 1 and %d", maxTime)))
	}
	if p.Threads < 1 || p.Threads > maxThreads {
		errs = append(errs, errkind.Field("threads", fmt.Sprintf("must be between 1 and %d", maxThreads)))
	}
	return errors.Join(errs...)
}

// Hasher hashes new passwords with argon2id and verifies hashes of every
// Format, upgrading the ones that are not argon2id at its parameters.
// It is safe for concurrent use.
type Hasher struct {
	params  Params
	swapper *passwap.Swapper
	sem     chan struct{} // one token per running hash or verification
	dummy   string        // an argon2id hash at params that no password matches
	ops     atomic.Int64  // hashes computed, see Operations
}

// NewHasher bounds concurrent hashing/verification to maxConcurrent (<=0 means
// runtime.GOMAXPROCS(0)) so that parallel logins cannot exhaust memory
// (argon2 memory × parallel). It panics if p is invalid (see Params.Validate):
// parameters come from validated configuration.
func NewHasher(p Params, maxConcurrent int) *Hasher {
	if err := p.Validate(); err != nil {
		panic("password: NewHasher: invalid params: " + err.Error())
	}
	if maxConcurrent <= 0 {
		maxConcurrent = runtime.GOMAXPROCS(0)
	}
	primary := argon2.NewArgon2id(argon2.Params{
		Memory: p.Memory, Time: p.Time, Threads: p.Threads, KeyLen: keyLen, SaltLen: saltLen,
	}, argon2Opts())
	// The primary verifies both argon2 variants; the others are tried in order.
	swapper := passwap.NewSwapper(primary, bcryptVerifier(), pbkdf2Verifier(), shaCryptVerifier(), sshaVerifier{})

	// The same shape and cost as a real hash: a fixed salt and an all-zero tag.
	dummy := fmt.Sprintf(argon2.Format, argon2.Identifier_id, 19, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString([]byte("tessera.dummy.sa")),
		base64.RawStdEncoding.EncodeToString(make([]byte, keyLen)))

	return &Hasher{params: p, swapper: swapper, sem: make(chan struct{}, maxConcurrent), dummy: dummy}
}

// acquire waits for a slot, or returns ctx.Err() if ctx ends first (or has
// already ended, even when a slot is free).
func (h *Hasher) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hasher) release() { <-h.sem }

// Hash returns the argon2id PHC string of plain,
// "$argon2id$v=19$m=...,t=...,p=...$salt$hash", with a random 16-byte salt.
// It waits for a slot, honouring ctx. An empty plain or one over 4096 bytes is
// an errkind field error on "password".
func (h *Hasher) Hash(ctx context.Context, plain string) (string, error) {
	if plain == "" {
		return "", errkind.Field("password", "must not be empty")
	}
	if len(plain) > maxPlainBytes {
		return "", errkind.Field("password", fmt.Sprintf("must be at most %d bytes", maxPlainBytes))
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	h.ops.Add(1)
	encoded, err := h.swapper.Hash(plain)
	if err != nil {
		return "", fmt.Errorf("password: hash: %w", err)
	}
	return encoded, nil
}

// Verify checks plain against an encoded hash of any supported Format.
// ok=false, err=nil for a wrong password (and for an empty plain or one over
// 4096 bytes, which no Hash call accepts). upgraded is non-empty when the
// password was right but the hash is a legacy format or its argon2id
// parameters differ from the Hasher's (older, weaker, or since lowered by the
// operator): the caller stores it (transparent upgrade). err only for a
// malformed/unsupported hash (an errkind field error on "hash") or ctx
// cancellation (ctx.Err()).
func (h *Hasher) Verify(ctx context.Context, encoded, plain string) (ok bool, upgraded string, err error) {
	f, normal, err := identify(encoded)
	if err != nil {
		return false, "", fmt.Errorf("password: verify: %w", err)
	}
	if plain == "" || len(plain) > maxPlainBytes {
		return false, "", nil
	}
	if err := h.acquire(ctx); err != nil {
		return false, "", err
	}
	defer h.release()
	h.ops.Add(1)
	upgraded, err = h.swapper.Verify(normal, plain)
	switch {
	case err == nil:
		return true, upgraded, nil
	case errors.Is(err, passwap.ErrPasswordMismatch):
		return false, "", nil
	default:
		return false, "", fmt.Errorf("password: verify %s hash: %w", f, errors.Join(errkind.Invalid, err))
	}
}

// Dummy spends the same time as one verification against a real default hash,
// so that "no such user" takes as long as "wrong password" (account
// enumeration by timing). It runs Verify on an argon2id hash at the Hasher's
// parameters that no password matches, through the same slot.
func (h *Hasher) Dummy(ctx context.Context, plain string) {
	_, _, _ = h.Verify(ctx, h.dummy, plain)
}

// Operations returns how many password hashes h has computed so far: each
// Hash and each Verify (Dummy included) that reached the key derivation
// counts one. Tests use it to prove that sign-in paths do equal work
// (account enumeration by timing) without measuring time.
func (h *Hasher) Operations() int64 { return h.ops.Load() }

// Reused reports whether plain matches any of the previous encoded hashes
// (password history), using Verify; it stops at the first match. A malformed
// previous hash does not stop the search: its error is returned, joined with
// the others, only when nothing matched. ctx cancellation returns at once.
func (h *Hasher) Reused(ctx context.Context, plain string, previous []string) (bool, error) {
	var errs []error
	for _, enc := range previous {
		ok, _, err := h.Verify(ctx, enc, plain)
		if ctxErr := ctx.Err(); ctxErr != nil {
			return false, ctxErr
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			return true, nil
		}
	}
	return false, errors.Join(errs...)
}
