package audit

import (
	"context"
	"time"
)

// Outcomes of an audited action.
const (
	Success = "success"
	Failure = "failure"
)

// Actor is who performed an action and from where.
type Actor struct {
	Type      string // "token", "user", "system", "cli"
	ID        string // token id, user id, or a fixed name for system actors
	ClientIP  string
	UserAgent string
	RequestID string
}

type actorKey struct{}

// WithActor returns ctx carrying a.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// maxUserAgent bounds the user agent an event keeps.
const maxUserAgent = 256

// Anonymous is the actor of a browser's request before anyone is known to
// be at it: where it came from, its user agent (cut short) and the
// request's id.
func Anonymous(clientIP, userAgent, requestID string) Actor {
	if len(userAgent) > maxUserAgent {
		userAgent = userAgent[:maxUserAgent]
	}
	return Actor{Type: "anonymous", ClientIP: clientIP, UserAgent: userAgent, RequestID: requestID}
}

// AsUser returns ctx whose actor is user id, keeping the address, agent
// and request id of the actor it had: a request acts for the user once
// their session is known.
func AsUser(ctx context.Context, id string) context.Context {
	a := ActorFrom(ctx)
	a.Type, a.ID = "user", id
	return WithActor(ctx, a)
}

// ActorFrom returns the actor in ctx, or the system actor when none was set
// (start-up bootstrap, background jobs).
func ActorFrom(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey{}).(Actor); ok {
		return a
	}
	return Actor{Type: "system", ID: "tessera"}
}

// Event is one appended audit record.
type Event struct {
	Tenant     string // tenant id; the log is kept per tenant
	Seq        int64  // position in the tenant's log, set by the store
	At         time.Time
	Actor      Actor
	Action     string // dotted verb: "user.created", "user.suspended"
	TargetType string // "user", "group", ...
	TargetID   string
	Outcome    string
	// Details summarises the change (changed field names, old and new status).
	// Never secrets: no passwords, hashes or tokens.
	Details map[string]any
}

// New builds a successful event for action on a target, actor taken from ctx.
func New(ctx context.Context, tenant string, at time.Time, action, targetType, targetID string, details map[string]any) *Event {
	return &Event{
		Tenant: tenant, At: at, Actor: ActorFrom(ctx), Action: action,
		TargetType: targetType, TargetID: targetID, Outcome: Success, Details: details,
	}
}

// Appender is what a domain store offers to write audit events inside the
// transaction of the change they record.
type Appender interface {
	AppendEvent(ctx context.Context, e *Event) error
}
