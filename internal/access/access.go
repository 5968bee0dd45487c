package access

import (
	"fmt"
	"time"

	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/page"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

// AppID identifies an application; RoleID a business role; AssignmentID an
// assignment.
type (
	AppID        string
	RoleID       string
	AssignmentID string
)

// Application kinds.
const (
	KindSAML      = "saml"
	KindOIDC      = "oidc"
	KindSCIM      = "scim"
	KindBookmark  = "bookmark"
	KindDelegated = "delegated_auth"
)

var kinds = []string{KindSAML, KindOIDC, KindSCIM, KindBookmark, KindDelegated}

// Application statuses: an inactive application grants nobody access.
const (
	AppActive   = "active"
	AppInactive = "inactive"
)

// Principal types an assignment or a business role can name.
const (
	PrincipalUser         = "user"
	PrincipalGroup        = "group"
	PrincipalBusinessRole = "business_role"
)

// Via types say how a grant reaches a user.
const (
	ViaDirect       = "direct"
	ViaGroup        = "group"
	ViaBusinessRole = "business_role"
)

// Errors about access.
var (
	ErrAppNotFound        = fmt.Errorf("application %w", errkind.NotFound)
	ErrAppNameTaken       = fmt.Errorf("application name already in use: %w", errkind.Conflict)
	ErrRoleNotFound       = fmt.Errorf("business role %w", errkind.NotFound)
	ErrRoleNameTaken      = fmt.Errorf("business role name already in use: %w", errkind.Conflict)
	ErrAssignmentNotFound = fmt.Errorf("assignment %w", errkind.NotFound)
	ErrAssigned           = fmt.Errorf("this principal is already assigned to the application; change that assignment's roles instead: %w", errkind.Conflict)
	ErrHolderNotFound     = fmt.Errorf("business role holder %w", errkind.NotFound)
)

// SeatsError refuses a change that would give more users access to an
// application than it has seats.
type SeatsError struct {
	App    AppID
	Name   string
	Seats  int
	Needed int
}

func (e *SeatsError) Error() string {
	return fmt.Sprintf("application %q has %d seats and this change needs %d", e.Name, e.Seats, e.Needed)
}

// Unwrap makes a SeatsError a Conflict.
func (e *SeatsError) Unwrap() error { return errkind.Conflict }

// Application is something users sign in to.
type Application struct {
	Tenant  tenant.ID
	ID      AppID
	Name    string
	Kind    string
	Status  string
	LogoURL string
	// LaunchURL is where the portal tile of a bookmark application goes.
	LaunchURL string
	Roles     []AppRole
	Seats     int // licensed seats; 0 means unlimited
	Version   int64
	Created   time.Time
	Updated   time.Time
}

// AppRole is a role the application itself understands ("approver").
type AppRole struct {
	Name        string
	Description string
}

// NameKey is the form in which application names must be unique.
func (a *Application) NameKey() string { return user.Key(a.Name) }

// HasRole reports whether the application defines role.
func (a *Application) HasRole(role string) bool {
	for _, r := range a.Roles {
		if r.Name == role {
			return true
		}
	}
	return false
}

// BusinessRole is a tenant's own job role ("Returns clerk", "lead"),
// translated into application roles by assignments.
type BusinessRole struct {
	Tenant      tenant.ID
	ID          RoleID
	Name        string
	Description string
	Version     int64
	Created     time.Time
	Updated     time.Time
}

// NameKey is the form in which business role names must be unique.
func (r *BusinessRole) NameKey() string { return user.Key(r.Name) }

// Holder is a user or a group holding a business role.
type Holder struct {
	Type    string // user or group
	ID      string
	Created time.Time
}

// Principal is who an assignment gives access to.
type Principal struct {
	Type string // user, group or business_role
	ID   string
}

// Assignment gives a principal access to an application with some of its
// roles (none: access without a role).
type Assignment struct {
	Tenant    tenant.ID
	ID        AssignmentID
	App       AppID
	Principal Principal
	Roles     []string
	Created   time.Time
	Updated   time.Time
}

// Via is the path a grant takes to a user.
type Via struct {
	Type string // direct, group, business_role
	ID   string // group or business role id; "" for direct
}

// Grant is one (user, application, role, path) of effective access.
type Grant struct {
	User user.ID
	App  AppID
	Role string // "" for access without an application role
	Via  Via
}

// Interval is a grant held from From until To (zero To: still held).
type Interval struct {
	Grant
	From time.Time
	To   time.Time
}

// Candidate is one assignment that reaches a user, before the user's and the
// organization's status are applied.
type Candidate struct {
	App   AppID
	Roles []string
	Via   Via
}

// AppQuery filters and pages applications.
type AppQuery struct {
	page.Request
	Kind       string
	Status     string
	NamePrefix string
}

// AppSorts are the sort fields ListApplications accepts.
var AppSorts = []string{"created", "name"}

// RoleQuery pages business roles.
type RoleQuery struct {
	page.Request
	NamePrefix string
}

// RoleSorts are the sort fields ListBusinessRoles accepts.
var RoleSorts = []string{"created", "name"}

// AccountQuery asks for the accounts of an application at an instant.
type AccountQuery struct {
	page.Request // sorted by user id; Sort unused
	App          AppID
	At           time.Time
}

// Account is a user with access to an application at an instant, with every
// role and path they held then.
type Account struct {
	User   user.ID
	Grants []Interval
}

// ChangeQuery asks for the access changes of an application in [Since, Until).
type ChangeQuery struct {
	page.Request
	App   AppID
	Since time.Time
	Until time.Time
}

// Change is one grant beginning or ending.
type Change struct {
	At      time.Time
	Granted bool // false: revoked
	Grant
}

// Seats is an application's seat use.
type Seats struct {
	Licensed  int // 0: unlimited
	Used      int
	Remaining int // -1 when unlimited
}
