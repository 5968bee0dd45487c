package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"

	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/idempotency"
	"github.com/tessera-iam/tessera/internal/web"
)

// idempotent makes a create safe to retry under an Idempotency-Key header:
// the first answer is saved and replayed for the same key and body; the same
// key with another body is refused with 422; a retry while the first request
// is still running gets 409. Server faults are not saved, so they can be retried.
func (a *API) idempotent(h func(http.ResponseWriter, *http.Request) error) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		key := r.Header.Get("Idempotency-Key")
		if key == "" {
			return h(w, r)
		}
		if len(key) > 255 {
			return errkind.Field("Idempotency-Key", "must be at most 255 characters")
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return web.ErrTooLarge
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		sum := sha256.Sum256(append([]byte(r.Method+" "+r.URL.Path+"\n"), body...))
		p := principal(r)
		rec := &idempotency.Record{Tenant: string(p.Tenant), Principal: string(p.ID), Key: key,
			Fingerprint: hex.EncodeToString(sum[:]), Created: a.Now()}
		existing, err := a.Idempotency.ReserveIdempotencyKey(r.Context(), rec)
		if err != nil {
			return err
		}
		if existing != nil {
			return replay(w, rec, existing)
		}
		rec2 := &recorder{header: http.Header{}}
		herr := h(rec2, r)
		if herr != nil {
			web.WriteProblem(rec2, r, herr)
		}
		if rec2.Code >= 500 {
			if err := a.Idempotency.ReleaseIdempotencyKey(r.Context(), rec.Tenant, rec.Principal, key); err != nil {
				a.Log.ErrorContext(r.Context(), "release idempotency key", "err", err)
			}
		} else {
			hdr, _ := json.Marshal(map[string]string{"Content-Type": rec2.header.Get("Content-Type"),
				"ETag": rec2.header.Get("ETag"), "Location": rec2.header.Get("Location")})
			rec.Status, rec.Header, rec.Body = rec2.Code, string(hdr), rec2.Body.Bytes()
			if err := a.Idempotency.CompleteIdempotencyKey(r.Context(), rec); err != nil {
				a.Log.ErrorContext(r.Context(), "save idempotent answer", "err", err)
			}
		}
		if herr != nil && rec2.Code >= 500 {
			return herr // logged and rendered once, by the error handler
		}
		copyRecorded(w, rec2.header, rec2.Code, rec2.Body.Bytes())
		return nil
	}
}

func replay(w http.ResponseWriter, rec, existing *idempotency.Record) error {
	switch {
	case existing.Fingerprint != rec.Fingerprint:
		return &web.StatusError{Status: http.StatusUnprocessableEntity, Type: "idempotency-key-reused",
			Detail: "this Idempotency-Key was used with a different request"}
	case existing.Status == 0:
		return &web.StatusError{Status: http.StatusConflict, Type: "idempotency-key-in-use",
			Detail: "a request with this Idempotency-Key is still being processed; retry later"}
	}
	var hdr map[string]string
	_ = json.Unmarshal([]byte(existing.Header), &hdr)
	h := http.Header{}
	for k, v := range hdr {
		if v != "" {
			h.Set(k, v)
		}
	}
	h.Set("Idempotent-Replayed", "true")
	copyRecorded(w, h, existing.Status, existing.Body)
	return nil
}

func copyRecorded(w http.ResponseWriter, h http.Header, status int, body []byte) {
	for k, vs := range h {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// recorder buffers a handler's answer so it can be saved before it is sent.
type recorder struct {
	header http.Header
	Code   int
	Body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.Code == 0 {
		r.Code = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.Code == 0 {
		r.Code = http.StatusOK
	}
	return r.Body.Write(b)
}
