package access

import (
	"context"
	"time"

	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/group"
	"github.com/tessera-iam/tessera/internal/page"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

// Store keeps applications, business roles, assignments and the interval
// index.
type Store interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
	audit.Appender

	User(ctx context.Context, t tenant.ID, id user.ID) (*user.User, error)
	Organization(ctx context.Context, t tenant.ID, id tenant.OrgID) (*tenant.Organization, error)
	Group(ctx context.Context, t tenant.ID, id group.ID) (*group.Group, error)

	CreateApplication(ctx context.Context, a *Application) error
	Application(ctx context.Context, t tenant.ID, id AppID) (*Application, error)
	ListApplications(ctx context.Context, t tenant.ID, q AppQuery) (page.Of[Application], error)
	// UpdateApplication applies fn to the application locked for update;
	// the lock also orders concurrent seat checks.
	UpdateApplication(ctx context.Context, t tenant.ID, id AppID, fn func(*Application) error) (*Application, error)
	DeleteApplication(ctx context.Context, t tenant.ID, id AppID) error
	// LockApplications locks the rows of ids (in id order, so concurrent
	// lockers cannot deadlock) until the transaction ends.
	LockApplications(ctx context.Context, t tenant.ID, ids []AppID) ([]Application, error)

	CreateBusinessRole(ctx context.Context, r *BusinessRole) error
	BusinessRole(ctx context.Context, t tenant.ID, id RoleID) (*BusinessRole, error)
	ListBusinessRoles(ctx context.Context, t tenant.ID, q RoleQuery) (page.Of[BusinessRole], error)
	UpdateBusinessRole(ctx context.Context, t tenant.ID, id RoleID, fn func(*BusinessRole) error) (*BusinessRole, error)
	DeleteBusinessRole(ctx context.Context, t tenant.ID, id RoleID) error
	AddHolder(ctx context.Context, t tenant.ID, r RoleID, h Holder) (bool, error)
	RemoveHolder(ctx context.Context, t tenant.ID, r RoleID, h Holder) (bool, error)
	ListHolders(ctx context.Context, t tenant.ID, r RoleID) ([]Holder, error)

	CreateAssignment(ctx context.Context, a *Assignment) error
	Assignment(ctx context.Context, t tenant.ID, id AssignmentID) (*Assignment, error)
	ListAssignments(ctx context.Context, t tenant.ID, app AppID, r page.Request) (page.Of[Assignment], error)
	UpdateAssignment(ctx context.Context, t tenant.ID, id AssignmentID, fn func(*Assignment) error) (*Assignment, error)
	DeleteAssignment(ctx context.Context, t tenant.ID, id AssignmentID) error
	// DropAppRole removes role from every assignment of app.
	DropAppRole(ctx context.Context, t tenant.ID, app AppID, role string) error

	// Candidates returns every assignment that reaches u through itself, its
	// groups, or the business roles it or its groups hold, for active
	// applications only.
	Candidates(ctx context.Context, t tenant.ID, u user.ID) ([]Candidate, error)
	// Reach expands a principal to the users it reaches now.
	Reach(ctx context.Context, t tenant.ID, p Principal) ([]user.ID, error)
	// AppPrincipals returns the distinct principals of app's assignments.
	AppPrincipals(ctx context.Context, t tenant.ID, app AppID) ([]Principal, error)
	// AppUsers returns the users an application's assignments reach and the
	// users holding open intervals on it.
	AppUsers(ctx context.Context, t tenant.ID, app AppID) ([]user.ID, error)
	// OrgUsers returns the users homed in org.
	OrgUsers(ctx context.Context, t tenant.ID, org tenant.OrgID) ([]user.ID, error)

	// LockUsers, LockGroups and LockBusinessRoles lock rows (in id order)
	// for the rest of the transaction. A change that expands a group or a
	// role to the users it reaches locks it first, as does a change to its
	// members or holders, so the expansion never misses a concurrent
	// newcomer.
	LockUsers(ctx context.Context, t tenant.ID, ids []user.ID) error
	LockGroups(ctx context.Context, t tenant.ID, ids []group.ID) error
	LockBusinessRoles(ctx context.Context, t tenant.ID, ids []RoleID) error
	// OpenIntervals returns u's grants still held.
	OpenIntervals(ctx context.Context, t tenant.ID, u user.ID) ([]Grant, error)
	OpenInterval(ctx context.Context, t tenant.ID, g Grant, at time.Time) error
	CloseInterval(ctx context.Context, t tenant.ID, g Grant, at time.Time) error
	// SeatsUsed counts the users holding an open interval on app.
	SeatsUsed(ctx context.Context, t tenant.ID, app AppID) (int, error)

	// SAMLConfig and SAMLConfigByEntityID return ErrSAMLNotConfigured when
	// there is none; PutSAMLConfig inserts or replaces (ErrSAMLEntityIDTaken
	// when another application of the tenant has the entity id);
	// DeleteSAMLConfig returns ErrSAMLNotConfigured when there was none.
	SAMLConfig(ctx context.Context, t tenant.ID, app AppID) (*SAMLConfig, error)
	SAMLConfigByEntityID(ctx context.Context, t tenant.ID, entityID string) (*SAMLConfig, error)
	PutSAMLConfig(ctx context.Context, c *SAMLConfig) error
	DeleteSAMLConfig(ctx context.Context, t tenant.ID, app AppID) error
	// OIDCClient and OIDCClientByClientID return ErrOIDCNotConfigured when
	// there is none (the latter within t only); CreateOIDCClient inserts
	// (ErrOIDCClientExists when the application has one); UpdateOIDCClient
	// rewrites settings, digests and bookkeeping, never the client id;
	// DeleteOIDCClient returns ErrOIDCNotConfigured when there was none.
	OIDCClient(ctx context.Context, t tenant.ID, app AppID) (*OIDCClient, error)
	OIDCClientByClientID(ctx context.Context, t tenant.ID, clientID string) (*OIDCClient, error)
	CreateOIDCClient(ctx context.Context, c *OIDCClient) error
	UpdateOIDCClient(ctx context.Context, c *OIDCClient) error
	DeleteOIDCClient(ctx context.Context, t tenant.ID, app AppID) error
	// Setting reads a tenant setting (the profile schema, for SAML
	// attribute sources).
	Setting(ctx context.Context, t tenant.ID, key string, dst any) (bool, error)

	AccountsAt(ctx context.Context, t tenant.ID, q AccountQuery) (page.Of[Account], error)
	PermissionsAt(ctx context.Context, t tenant.ID, u user.ID, at time.Time) ([]Interval, error)
	AccessChanges(ctx context.Context, t tenant.ID, q ChangeQuery) (page.Of[Change], error)
}
