package web

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/tessera-iam/tessera/internal/errkind"
)

// Problem is an RFC 9457 problem details document.
type Problem struct {
	Type      string         `json:"type"`
	Title     string         `json:"title"`
	Status    int            `json:"status"`
	Detail    string         `json:"detail,omitempty"`
	Instance  string         `json:"instance,omitempty"`
	RequestID string         `json:"request_id,omitempty"`
	Errors    []FieldProblem `json:"errors,omitempty"` // one per invalid input field
}

// FieldProblem names an invalid field (dotted JSON path or query parameter).
type FieldProblem struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// Errors from the HTTP layer itself.
var (
	ErrTooLarge         = errors.New("request body too large")
	ErrUnsupportedMedia = errors.New("unsupported media type: send application/json")
)

// StatusError is an error with a chosen status and client-safe text, for the
// rare answers no error kind covers (an idempotency key reused with another
// body is 422).
type StatusError struct {
	Status int
	Type   string
	Detail string
}

func (e *StatusError) Error() string { return e.Detail }

// ProblemFor maps err to the problem a client is shown: errkind decides the
// status; 5xx never shows err's text.
func ProblemFor(err error) Problem {
	var se *StatusError
	kinds := []struct {
		kind   error
		status int
		typ    string
	}{
		{errkind.Invalid, http.StatusBadRequest, "invalid-request"},
		{errkind.Unauthenticated, http.StatusUnauthorized, "unauthenticated"},
		{errkind.Denied, http.StatusForbidden, "forbidden"},
		{errkind.NotFound, http.StatusNotFound, "not-found"},
		{errkind.Conflict, http.StatusConflict, "conflict"},
		{errkind.Precondition, http.StatusPreconditionFailed, "precondition-failed"},
		{ErrTooLarge, http.StatusRequestEntityTooLarge, "too-large"},
		{ErrUnsupportedMedia, http.StatusUnsupportedMediaType, "unsupported-media-type"},
	}
	p := Problem{Status: http.StatusInternalServerError, Type: "internal-error", Detail: "internal error; quote the request id when reporting it"}
	if errors.As(err, &se) {
		p.Status, p.Type, p.Detail = se.Status, se.Type, se.Detail
	} else {
		for _, k := range kinds {
			if errors.Is(err, k.kind) {
				p.Status, p.Type, p.Detail = k.status, k.typ, clientText(err)
				break
			}
		}
	}
	p.Type = "urn:tessera:problem:" + p.Type
	p.Title = http.StatusText(p.Status)
	if p.Status < 500 {
		for _, f := range errkind.Fields(err) {
			p.Errors = append(p.Errors, FieldProblem{Field: f.Field, Detail: f.Message})
		}
		if len(p.Errors) > 0 {
			p.Detail = "the request has invalid fields; see errors"
		}
	}
	return p
}

// clientText drops the trailing ": <kind>" that wrapping adds, which says
// nothing the status does not.
func clientText(err error) string {
	s := err.Error()
	for _, k := range []error{errkind.Invalid, errkind.Unauthenticated, errkind.Denied, errkind.NotFound, errkind.Conflict, errkind.Precondition} {
		s = strings.TrimSuffix(s, ": "+k.Error())
	}
	return s
}

// WriteProblem writes err as problem+json.
func WriteProblem(w http.ResponseWriter, r *http.Request, err error) Problem {
	p := ProblemFor(err)
	p.Instance = r.URL.Path
	p.RequestID = RequestID(r.Context())
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="tessera"`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
	return p
}

// Errors adapts handlers that return errors, mapping each error once and
// logging only server faults.
type Errors struct{ Log *slog.Logger }

// Handle wraps h.
func (e Errors) Handle(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			if p := WriteProblem(w, r, err); p.Status >= 500 {
				e.Log.ErrorContext(r.Context(), "request failed", "err", err)
			}
		}
	})
}
