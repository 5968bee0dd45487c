package user

import (
	"fmt"
	"slices"
	"time"

	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/page"
	"github.com/tessera-iam/tessera/internal/tenant"
)

// ID identifies a user within a tenant.
type ID string

// Status is where a user is in the lifecycle.
type Status string

// Lifecycle states: staged -> active <-> suspended; staged|active|suspended ->
// deactivated -> (reactivate) active. Locked is a separate flag.
const (
	Staged      Status = "staged"
	Active      Status = "active"
	Suspended   Status = "suspended"
	Deactivated Status = "deactivated"
)

// Sources say where an account is mastered.
const (
	SourceLocal      = "local"
	SourceFederation = "federation"
	SourceDirectory  = "directory"
	SourceSCIM       = "scim"
)

var sources = []string{SourceLocal, SourceFederation, SourceDirectory, SourceSCIM}

// Errors about users.
var (
	ErrNotFound        = fmt.Errorf("user %w", errkind.NotFound)
	ErrUsernameTaken   = fmt.Errorf("username already in use: %w", errkind.Conflict)
	ErrEmailTaken      = fmt.Errorf("email already in use: %w", errkind.Conflict)
	ErrExternalIDTaken = fmt.Errorf("external id already in use: %w", errkind.Conflict)
	ErrNoPassword      = fmt.Errorf("user has no password: %w", errkind.NotFound)
	// ErrBadCredentials never says which of login or password was wrong, nor
	// whether the account exists or is usable.
	ErrBadCredentials = fmt.Errorf("invalid credentials: %w", errkind.Unauthenticated)
)

// User is an account.
type User struct {
	Tenant      tenant.ID
	ID          ID
	Username    string
	Emails      []Email
	GivenName   string
	FamilyName  string
	DisplayName string
	Phone       string
	Locale      string
	TimeZone    string
	Attributes  map[string]any    // custom profile attributes, checked against the tenant's Schema
	ExternalIDs map[string]string // source system -> id there ("crm", "ldap", "scim")
	Org         tenant.OrgID      // home organization; "" for tenant-level users
	Source      string
	Status      Status
	Locked      bool

	PasswordChanged time.Time // zero when the user has no password
	StatusChanged   time.Time
	Version         int64
	Created         time.Time
	Updated         time.Time
}

// Email is one of a user's addresses; exactly one is primary when any exist.
type Email struct {
	Value    string
	Primary  bool
	Verified bool
}

// PrimaryEmail returns the primary address, or the zero Email.
func (u *User) PrimaryEmail() Email {
	if i := slices.IndexFunc(u.Emails, func(e Email) bool { return e.Primary }); i >= 0 {
		return u.Emails[i]
	}
	return Email{}
}

// UsernameKey and EmailKey are the normalised forms that uniqueness and
// look-ups use (see Key).
func (u *User) UsernameKey() string { return Key(u.Username) }

// EmailKey is the key of the primary email, "" when there is none.
func (u *User) EmailKey() string {
	if e := u.PrimaryEmail(); e.Value != "" {
		return Key(e.Value)
	}
	return ""
}

// Query filters and pages users.
type Query struct {
	page.Request
	Status         Status
	Org            tenant.OrgID
	Group          string // group id: members only
	Email          string // exact primary email, compared by Key
	UsernamePrefix string // compared by Key
	UpdatedSince   time.Time
}

// Sorts are the sort fields ListUsers accepts; the first is the default.
var Sorts = []string{"created", "username", "updated"}
