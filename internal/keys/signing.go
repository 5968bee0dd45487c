package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/id"
	"github.com/tessera-iam/tessera/internal/tenant"
)

// SigningKeyID identifies a signing key; it is also the key's "kid" in a JWKS.
type SigningKeyID string

// Purposes: which protocol signs with a key. Each purpose has its own keys,
// so rotating the OIDC keys never touches what SAML partners trust.
const (
	PurposeSAML = "saml"
	PurposeOIDC = "oidc"
)

// Algorithms (JWA names, RFC 7518 §3.1).
const (
	RS256 = "RS256" // RSASSA-PKCS1-v1_5 with SHA-256, RSA-2048
	ES256 = "ES256" // ECDSA with P-256 and SHA-256
)

// States of a signing key. A tenant has, per purpose and algorithm, exactly
// one active key (signing now) and one next key (published, not yet used),
// so that verifiers that fetch metadata or a JWKS already know the next key
// when it starts signing. Retired keys stay published for a grace period.
const (
	StateNext    = "next"
	StateActive  = "active"
	StateRetired = "retired"
)

// Purposes, Algorithms and States list the accepted values.
var (
	Purposes   = []string{PurposeSAML, PurposeOIDC}
	Algorithms = []string{RS256, ES256}
	States     = []string{StateNext, StateActive, StateRetired}
)

// RetiredGrace is how long a retired key stays published, for verifiers
// that cached it with what it signed shortly before a rotation.
const RetiredGrace = 24 * time.Hour

// certificateYears is the validity of a signing certificate. SAML partners
// pin the certificate from metadata and seldom check its dates; rotation,
// not expiry, is how keys are replaced.
const certificateYears = 10

// Errors about signing keys.
var (
	// ErrSigningKeyTaken: the tenant already has a key in that state (active
	// or next) for the purpose and algorithm; another caller won a race.
	ErrSigningKeyTaken = fmt.Errorf("signing key slot already taken: %w", errkind.Conflict)
	// ErrSigningKeyNotFound: no such signing key.
	ErrSigningKeyNotFound = fmt.Errorf("signing key %w", errkind.NotFound)
	// ErrRotateScope: rotation changes what every partner of the tenant
	// trusts, so an organization-scoped caller may not do it.
	ErrRotateScope = fmt.Errorf("only a tenant-wide caller may rotate signing keys: %w", errkind.Denied)
)

// SigningKey is one key pair with its self-signed certificate. Its key
// material never changes; only its state and the times of its changes do.
type SigningKey struct {
	Tenant      tenant.ID
	ID          SigningKeyID
	Purpose     string
	Algorithm   string
	State       string
	Certificate []byte // DER, self-signed X.509
	Sealed      []byte // PKCS #8 private key sealed with the master key (see sealContext)
	Created     time.Time
	Activated   time.Time // zero until the key becomes active
	Retired     time.Time // zero until the key is retired
}

// ParseCertificate parses the key's certificate.
func (k *SigningKey) ParseCertificate() (*x509.Certificate, error) {
	return x509.ParseCertificate(k.Certificate)
}

// Fingerprint is the SHA-256 digest of the certificate as SAML consoles show
// it: upper-case hex pairs separated by colons.
func (k *SigningKey) Fingerprint() string {
	sum := sha256.Sum256(k.Certificate)
	var b strings.Builder
	for i, c := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", c)
	}
	return b.String()
}

// Signer signs with a tenant's active key.
type Signer struct {
	ID          SigningKeyID
	Key         crypto.Signer // *rsa.PrivateKey or *ecdsa.PrivateKey
	Certificate *x509.Certificate
	SigningKey  SigningKey
}

// Rotation is the outcome of Rotate.
type Rotation struct {
	Retired SigningKey // the key that was active
	Active  SigningKey // the key that was next
	Next    SigningKey // the new next key
}

// Store keeps signing keys.
type Store interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
	audit.Appender

	// SigningKeys returns the tenant's keys for purpose and algorithm that
	// are active or next, or were retired after retiredAfter.
	SigningKeys(ctx context.Context, t tenant.ID, purpose, algorithm string, retiredAfter time.Time) ([]SigningKey, error)
	// CreateSigningKey inserts k. When k is active or next and the tenant
	// already has a key in that state for its purpose and algorithm, it
	// inserts nothing and returns ErrSigningKeyTaken, without aborting the
	// surrounding transaction.
	CreateSigningKey(ctx context.Context, k *SigningKey) error
	// LockSigningKeys returns the active and next keys for purpose and
	// algorithm, locked until the transaction ends.
	LockSigningKeys(ctx context.Context, t tenant.ID, purpose, algorithm string) ([]SigningKey, error)
	// UpdateSigningKey applies fn to the locked key and stores its state,
	// activation and retirement times.
	UpdateSigningKey(ctx context.Context, t tenant.ID, id SigningKeyID, fn func(*SigningKey) error) (*SigningKey, error)
}

// Service keeps each tenant's signing keys: creates them on first use,
// rotates them, and opens the active one for signing.
type Service struct {
	Store  Store
	Now    func() time.Time
	Master *MasterKey
	// Grace is how long a retired key stays published; zero means
	// RetiredGrace.
	Grace time.Duration

	mu sync.Mutex
	// parsed caches opened private keys by tenant and key id: the key
	// material of an id never changes, so a cached entry never goes stale.
	parsed map[cacheKey]*Signer
	// active caches Active's answers for activeFor; rotations through this
	// service count in gen, and an answer read across one is not kept.
	active map[slotKey]activeEntry
	// published caches Published's answers the same way: verifiers ask
	// for the published keys at every signature they check.
	publishedKeys map[slotKey]publishedEntry
	gen           uint64
}

type publishedEntry struct {
	keys  []SigningKey
	until time.Time
}

type cacheKey struct {
	tenant tenant.ID
	id     SigningKeyID
}

type slotKey struct {
	tenant             tenant.ID
	purpose, algorithm string
}

type activeEntry struct {
	signer *Signer
	until  time.Time
}

// activeFor is how long Active and Published reuse the keys they read:
// every signature (and every check of one) would otherwise read the keys,
// which change only at rotation. A rotation through this service shows at
// once, one by another node within activeFor, which is harmless: the key
// it activates was published as the next key long before, and the key it
// retired stays published for the grace period, far longer.
const activeFor = 5 * time.Second

// maxCached bounds the cache; past it the cache starts over (a few
// keys per tenant are in use at a time, so this is far beyond need).
const maxCached = 4096

func validate(purpose, algorithm string) error {
	var errs []error
	if !slices.Contains(Purposes, purpose) {
		errs = append(errs, errkind.Field("purpose", "must be saml or oidc"))
	}
	if !slices.Contains(Algorithms, algorithm) {
		errs = append(errs, errkind.Field("algorithm", "must be RS256 or ES256"))
	}
	return errors.Join(errs...)
}

func (s *Service) grace() time.Duration {
	if s.Grace > 0 {
		return s.Grace
	}
	return RetiredGrace
}

// Published returns the keys a verifier should know for purpose and
// algorithm: the active one first, then the next one, then keys retired
// within the grace period, most recently retired first. The first call for
// a tenant creates the active and next keys; callers racing on it (several
// nodes, several requests) end with exactly one of each.
func (s *Service) Published(ctx context.Context, t tenant.ID, purpose, algorithm string) ([]SigningKey, error) {
	if err := validate(purpose, algorithm); err != nil {
		return nil, err
	}
	slot, now := slotKey{t, purpose, algorithm}, s.Now()
	s.mu.Lock()
	e, gen := s.publishedKeys[slot], s.gen
	s.mu.Unlock()
	if e.keys != nil && now.Before(e.until) {
		return slices.Clone(e.keys), nil
	}
	ks, err := s.publishedOrCreated(ctx, t, purpose, algorithm)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.gen == gen {
		if s.publishedKeys == nil || len(s.publishedKeys) >= maxCached {
			s.publishedKeys = map[slotKey]publishedEntry{}
		}
		s.publishedKeys[slot] = publishedEntry{keys: slices.Clone(ks), until: now.Add(activeFor)}
	}
	s.mu.Unlock()
	return ks, nil
}

// publishedOrCreated reads the published keys, creating the active and
// next ones on first use.
func (s *Service) publishedOrCreated(ctx context.Context, t tenant.ID, purpose, algorithm string) ([]SigningKey, error) {
	ks, err := s.published(ctx, t, purpose, algorithm)
	if err != nil {
		return nil, err
	}
	if complete(ks) {
		return ks, nil
	}
	now := s.Now()
	for _, state := range []string{StateActive, StateNext} {
		if slices.ContainsFunc(ks, func(k SigningKey) bool { return k.State == state }) {
			continue
		}
		k, err := s.generate(t, purpose, algorithm, state, now)
		if err != nil {
			return nil, err
		}
		// A unique index allows one active and one next key: a caller that
		// loses the race inserts nothing and reads the winner's below.
		if err := s.Store.CreateSigningKey(ctx, k); err != nil && !errors.Is(err, ErrSigningKeyTaken) {
			return nil, fmt.Errorf("create %s signing key: %w", purpose, err)
		}
	}
	if ks, err = s.published(ctx, t, purpose, algorithm); err != nil {
		return nil, err
	}
	if !complete(ks) {
		return nil, fmt.Errorf("signing keys of tenant %s for %s %s are incomplete after creation", t, purpose, algorithm)
	}
	return ks, nil
}

// published reads the keys in their published order.
func (s *Service) published(ctx context.Context, t tenant.ID, purpose, algorithm string) ([]SigningKey, error) {
	ks, err := s.Store.SigningKeys(ctx, t, purpose, algorithm, s.Now().Add(-s.grace()))
	if err != nil {
		return nil, fmt.Errorf("read signing keys: %w", err)
	}
	rank := map[string]int{StateActive: 0, StateNext: 1, StateRetired: 2}
	slices.SortStableFunc(ks, func(a, b SigningKey) int {
		if d := rank[a.State] - rank[b.State]; d != 0 {
			return d
		}
		return b.Retired.Compare(a.Retired)
	})
	return ks, nil
}

// complete reports whether ks holds an active and a next key.
func complete(ks []SigningKey) bool {
	return len(ks) >= 2 && ks[0].State == StateActive && ks[1].State == StateNext
}

// Active returns the signer of the tenant's active key for purpose and
// algorithm, creating the tenant's keys on first use. What it read serves
// again for activeFor.
func (s *Service) Active(ctx context.Context, t tenant.ID, purpose, algorithm string) (*Signer, error) {
	slot := slotKey{t, purpose, algorithm}
	now := s.Now()
	s.mu.Lock()
	e, gen := s.active[slot], s.gen
	s.mu.Unlock()
	if e.signer != nil && now.Before(e.until) {
		out := *e.signer
		return &out, nil
	}
	ks, err := s.Published(ctx, t, purpose, algorithm)
	if err != nil {
		return nil, err
	}
	signer, err := s.signer(ks[0])
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.gen == gen {
		if s.active == nil || len(s.active) >= maxCached {
			s.active = map[slotKey]activeEntry{}
		}
		s.active[slot] = activeEntry{signer: signer, until: now.Add(activeFor)}
	}
	s.mu.Unlock()
	out := *signer
	return &out, nil
}

// signer opens k's private key, from the cache when it was opened before.
func (s *Service) signer(k SigningKey) (*Signer, error) {
	ck := cacheKey{k.Tenant, k.ID}
	s.mu.Lock()
	cached := s.parsed[ck]
	s.mu.Unlock()
	if cached != nil {
		out := *cached
		out.SigningKey = k // current state and times
		return &out, nil
	}
	der, err := s.Master.Open(k.Sealed, sealContext(k.Tenant, k.ID))
	if err != nil {
		return nil, fmt.Errorf("open signing key %s: %w", k.ID, err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	clear(der)
	if err != nil {
		return nil, fmt.Errorf("parse signing key %s: %w", k.ID, err)
	}
	key, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("signing key %s: %T cannot sign", k.ID, priv)
	}
	cert, err := k.ParseCertificate()
	if err != nil {
		return nil, fmt.Errorf("parse certificate of signing key %s: %w", k.ID, err)
	}
	if !samePublicKey(key.Public(), cert.PublicKey) {
		return nil, fmt.Errorf("signing key %s does not match its certificate", k.ID)
	}
	out := &Signer{ID: k.ID, Key: key, Certificate: cert, SigningKey: k}
	s.mu.Lock()
	if s.parsed == nil || len(s.parsed) >= maxCached {
		s.parsed = map[cacheKey]*Signer{}
	}
	s.parsed[ck] = out
	s.mu.Unlock()
	copied := *out
	return &copied, nil
}

func samePublicKey(a, b crypto.PublicKey) bool {
	ka, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ka.Equal(b)
}

// Rotate makes the next key active, retires the active one (it stays
// published for the grace period) and creates a new next key, in one
// transaction. Only a tenant-wide caller may rotate.
func (s *Service) Rotate(ctx context.Context, sc tenant.Scope, purpose, algorithm string) (*Rotation, error) {
	if !sc.TenantWide() {
		return nil, ErrRotateScope
	}
	if err := validate(purpose, algorithm); err != nil {
		return nil, err
	}
	t := sc.Tenant
	// There must be an active and a next key to rotate.
	if _, err := s.Published(ctx, t, purpose, algorithm); err != nil {
		return nil, err
	}
	now := s.Now()
	// Generated outside the transaction: RSA key generation takes long
	// enough to matter while holding SQLite's only write lock.
	fresh, err := s.generate(t, purpose, algorithm, StateNext, now)
	if err != nil {
		return nil, err
	}
	var out Rotation
	err = s.Store.InTx(ctx, func(ctx context.Context) error {
		cur, err := s.Store.LockSigningKeys(ctx, t, purpose, algorithm)
		if err != nil {
			return err
		}
		var active, next *SigningKey
		for i := range cur {
			switch cur[i].State {
			case StateActive:
				active = &cur[i]
			case StateNext:
				next = &cur[i]
			}
		}
		if active == nil || next == nil {
			return fmt.Errorf("no active and next signing key to rotate: %w", errkind.Conflict)
		}
		// Order matters for the unique index: free "active" before the
		// next key takes it, and "next" before the new key takes it.
		retired, err := s.Store.UpdateSigningKey(ctx, t, active.ID, func(k *SigningKey) error {
			k.State, k.Retired = StateRetired, now
			return nil
		})
		if err != nil {
			return err
		}
		promoted, err := s.Store.UpdateSigningKey(ctx, t, next.ID, func(k *SigningKey) error {
			k.State, k.Activated = StateActive, now
			return nil
		})
		if err != nil {
			return err
		}
		if err := s.Store.CreateSigningKey(ctx, fresh); err != nil {
			return err
		}
		out = Rotation{Retired: *retired, Active: *promoted, Next: *fresh}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(t), now, "signing_key.rotated", "tenant", string(t), map[string]any{
			"purpose": purpose, "algorithm": algorithm, "activated_key_id": string(promoted.ID),
			"retired_key_id": string(retired.ID), "next_key_id": string(fresh.ID)}))
	})
	if err != nil {
		return nil, fmt.Errorf("rotate %s %s signing keys: %w", purpose, algorithm, err)
	}
	s.mu.Lock()
	delete(s.active, slotKey{t, purpose, algorithm})
	delete(s.publishedKeys, slotKey{t, purpose, algorithm})
	s.gen++
	s.mu.Unlock()
	return &out, nil
}

// sealContext binds a sealed private key to its tenant and key id: copied
// to another row or tenant, it does not open.
func sealContext(t tenant.ID, k SigningKeyID) string {
	return "tenant/" + string(t) + "/signing-key/" + string(k)
}

// generate makes a key pair and its self-signed certificate, the private
// key sealed.
func (s *Service) generate(t tenant.ID, purpose, algorithm, state string, now time.Time) (*SigningKey, error) {
	var priv crypto.Signer
	var sigAlg x509.SignatureAlgorithm
	var err error
	switch algorithm {
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
		sigAlg = x509.SHA256WithRSA
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		sigAlg = x509.ECDSAWithSHA256
	default:
		return nil, errkind.Field("algorithm", "must be RS256 or ES256")
	}
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", algorithm, err)
	}
	k := &SigningKey{Tenant: t, ID: SigningKeyID(id.New("sgk", now)), Purpose: purpose, Algorithm: algorithm,
		State: state, Created: now}
	if state == StateActive {
		k.Activated = now
	}
	// RFC 5280 §4.1.2.2: a positive serial of at most 20 octets; 128
	// random bits make it unique without a counter.
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	serial.Add(serial, big.NewInt(1))
	name := pkix.Name{CommonName: "Tessera " + string(t) + " " + purpose + " signing"}
	tmpl := &x509.Certificate{
		SerialNumber:       serial,
		Subject:            name,
		Issuer:             name,
		NotBefore:          now.Add(-5 * time.Minute).Truncate(time.Second), // tolerate verifiers' clock skew
		NotAfter:           now.AddDate(certificateYears, 0, 0).Truncate(time.Second),
		KeyUsage:           x509.KeyUsageDigitalSignature,
		SignatureAlgorithm: sigAlg,
	}
	k.Certificate, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		return nil, fmt.Errorf("create certificate: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("encode %s key: %w", algorithm, err)
	}
	k.Sealed = s.Master.Seal(der, sealContext(t, k.ID))
	clear(der)
	return k, nil
}
