package audit

import (
	"errors"
	"strings"
	"time"

	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/page"
)

// Actions the sign-in and single sign-on features append, named here so the
// sign-in report can find them before those features exist. Both use the
// user as the actor, the application as the target (TargetType
// TargetApplication, TargetID its id) and Outcome for success or failure.
const (
	// ActionSignIn is a sign-in attempt at the login pages, for an
	// application when one started it.
	ActionSignIn = "session.sign_in"
	// ActionSSO is an assertion (SAML) or token (OIDC) issued to an
	// application for a signed-in user, or refused.
	ActionSSO = "app.sso"
	// ActionSLO is a single logout reaching an application (SAML profiles
	// §4.4), or failing to.
	ActionSLO = "app.slo"
	// TargetApplication is the target type of events about an application.
	TargetApplication = "application"
)

// SignInActions are the actions the sign-in report lists.
var SignInActions = []string{ActionSignIn, ActionSSO}

// Query filters and pages the System Log. Events come in seq order
// (ascending unless Desc); the only sort is "seq".
type Query struct {
	page.Request
	ActorType  string
	ActorID    string
	TargetType string
	TargetID   string
	// Action is an exact action ("user.created"), or a prefix when it ends
	// with a dot ("user." lists every user action).
	Action  string
	Actions []string // any of these exactly (reports)
	Outcome string   // Success or Failure
	Since   time.Time
	Until   time.Time // exclusive
}

// Sorts are the sort fields the System Log accepts.
var Sorts = []string{"seq"}

// maxFilter bounds filter values: longer ones cannot match anything stored
// by Tessera, and would only cost.
const maxFilter = 512

// Normalize applies defaults and checks the query, naming the bad field.
func (q *Query) Normalize() error {
	var errs []error
	if err := q.Request.Normalize(Sorts...); err != nil {
		errs = append(errs, err)
	}
	for _, f := range [...]struct{ name, v string }{{"actor_type", q.ActorType}, {"actor_id", q.ActorID},
		{"target_type", q.TargetType}, {"target_id", q.TargetID}, {"action", q.Action}} {
		if len(f.v) > maxFilter {
			errs = append(errs, errkind.Field(f.name, "is too long"))
		}
	}
	if q.Action == "." {
		errs = append(errs, errkind.Field("action", `must be an action such as "user.created" or a prefix such as "user."`))
	}
	switch q.Outcome {
	case "", Success, Failure:
	default:
		errs = append(errs, errkind.Field("outcome", "must be success or failure"))
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		errs = append(errs, errkind.Field("until", "must be after since"))
	}
	return errors.Join(errs...)
}

// ActionPrefix reports the prefix an Action filter stands for, if it is one.
func (q *Query) ActionPrefix() (string, bool) {
	if strings.HasSuffix(q.Action, ".") {
		return q.Action, true
	}
	return "", false
}
