package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tessera-iam/tessera/internal/errkind"
)

func TestClientIPBelievesOnlyTrustedProxies(t *testing.T) {
	trusted, err := ParseProxies("10.0.0.0/8, 192.0.2.7")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, remote, xff string
		proxies           Proxies
		want              string
	}{
		{"no proxies configured: header ignored", "203.0.113.9:5000", "198.51.100.1", nil, "203.0.113.9"},
		{"untrusted peer cannot spoof", "203.0.113.9:5000", "198.51.100.1", trusted, "203.0.113.9"},
		{"trusted proxy: client is the hop before it", "10.1.2.3:5000", "198.51.100.1", trusted, "198.51.100.1"},
		{"chain of trusted proxies", "10.1.2.3:5000", "198.51.100.1, 192.0.2.7, 10.9.9.9", trusted, "198.51.100.1"},
		{"spoofed left-most entry is not believed", "10.1.2.3:5000", "1.1.1.1, 198.51.100.1", trusted, "198.51.100.1"},
		{"garbage hop stops the walk", "10.1.2.3:5000", "198.51.100.1, not-an-ip", trusted, "10.1.2.3"},
		{"IPv6 peer", "[2001:db8::1]:443", "198.51.100.1", trusted, "2001:db8::1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.remote
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			if got := tc.proxies.clientIP(r); got != tc.want {
				t.Errorf("clientIP = %s, want %s", got, tc.want)
			}
		})
	}
	if _, err := ParseProxies("10.0.0.0/33"); err == nil {
		t.Error("bad CIDR accepted")
	}
}

func TestProblemMapping(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		fields []string
		hidden string // text that must not reach the client
	}{
		{fmt.Errorf("load: %w", errkind.NotFound), 404, nil, ""},
		{errors.Join(errkind.Field("a", "bad"), errkind.Field("b.0", "worse")), 400, []string{"a", "b.0"}, ""},
		{fmt.Errorf("x: %w", errkind.Conflict), 409, nil, ""},
		{errkind.Stale, 412, nil, ""},
		{fmt.Errorf("%w", errkind.Denied), 403, nil, ""},
		{fmt.Errorf("%w", errkind.Unauthenticated), 401, nil, ""},
		{ErrTooLarge, 413, nil, ""},
		{ErrUnsupportedMedia, 415, nil, ""},
		{&StatusError{Status: 422, Type: "x", Detail: "d"}, 422, nil, ""},
		{errors.New("pq: password authentication failed for user secret"), 500, nil, "secret"},
	} {
		rec := httptest.NewRecorder()
		WriteProblem(rec, httptest.NewRequest(http.MethodGet, "/api/v1/x", nil), tc.err)
		var p Problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		if rec.Code != tc.status || p.Status != tc.status || rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("%v: status %d/%d %s", tc.err, rec.Code, p.Status, rec.Header().Get("Content-Type"))
		}
		var fields []string
		for _, f := range p.Errors {
			fields = append(fields, f.Field)
		}
		if strings.Join(fields, ",") != strings.Join(tc.fields, ",") {
			t.Errorf("%v: fields %v, want %v", tc.err, fields, tc.fields)
		}
		if tc.hidden != "" && strings.Contains(rec.Body.String(), tc.hidden) {
			t.Errorf("internal text leaked: %s", rec.Body)
		}
		if tc.status == 401 && rec.Header().Get("WWW-Authenticate") == "" {
			t.Error("401 without WWW-Authenticate")
		}
	}
}

func TestDecodeJSON(t *testing.T) {
	type body struct {
		Name  string `json:"name"`
		Count int    `json:"count"`
	}
	for _, tc := range []struct {
		name, ctype, body string
		limit             int64
		field             string // expected field in the error, "" for success
		kind              error
	}{
		{"ok", "application/json", `{"name":"a","count":2}`, 1024, "", nil},
		{"merge patch type", "application/merge-patch+json; charset=utf-8", `{"name":"a"}`, 1024, "", nil},
		{"wrong media type", "text/plain", `{}`, 1024, "", ErrUnsupportedMedia},
		{"no media type", "", `{}`, 1024, "", ErrUnsupportedMedia},
		{"malformed", "application/json", `{"name":`, 1024, "body", errkind.Invalid},
		{"syntax", "application/json", `{"name" "a"}`, 1024, "body", errkind.Invalid},
		{"wrong type", "application/json", `{"count":"many"}`, 1024, "count", errkind.Invalid},
		{"unknown field", "application/json", `{"nmae":"a"}`, 1024, "nmae", errkind.Invalid},
		{"two values", "application/json", `{} {}`, 1024, "body", errkind.Invalid},
		{"array", "application/json", `[]`, 1024, "body", errkind.Invalid},
		{"empty", "application/json", ``, 1024, "body", errkind.Invalid},
		{"too large", "application/json", `{"name":"` + strings.Repeat("a", 2000) + `"}`, 1024, "", ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", tc.ctype)
			r.Body = http.MaxBytesReader(rec, r.Body, tc.limit)
			var b body
			err := DecodeJSON(r, &b)
			if tc.kind == nil {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if !errors.Is(err, tc.kind) {
				t.Fatalf("err = %v, want %v", err, tc.kind)
			}
			if tc.field != "" {
				fs := errkind.Fields(err)
				if len(fs) != 1 || fs[0].Field != tc.field {
					t.Fatalf("fields = %v, want %s", fs, tc.field)
				}
			}
		})
	}
}

func TestObserveRecoversAndKeepsRequestID(t *testing.T) {
	var logs bytes.Buffer
	mux := http.NewServeMux()
	mux.HandleFunc("GET /boom/{id}", func(http.ResponseWriter, *http.Request) { panic("kaboom") })
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, RequestID(r.Context())) })
	h := Observe{Log: slog.New(slog.NewTextHandler(&logs, nil)), Metrics: NewMetrics(prometheus.NewRegistry())}.Wrap(mux)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/boom/123", nil))
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "kaboom") || !strings.Contains(logs.String(), "kaboom") {
		t.Fatalf("panic: %d %s / logs %s", rec.Code, rec.Body, logs.String())
	}
	if !strings.Contains(logs.String(), `route="GET /boom/{id}"`) {
		t.Errorf("log does not name the route pattern: %s", logs.String())
	}
	for _, tc := range []struct{ sent, want string }{
		{"abcdefgh-1234", "abcdefgh-1234"},
		{"bad id with spaces", ""},
		{strings.Repeat("x", 65), ""},
	} {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/ok", nil)
		r.Header.Set("X-Request-Id", tc.sent)
		h.ServeHTTP(rec, r)
		got := rec.Header().Get("X-Request-Id")
		if got != rec.Body.String() || (tc.want != "" && got != tc.want) || (tc.want == "" && got == tc.sent) {
			t.Errorf("sent %q: header %q body %q", tc.sent, got, rec.Body)
		}
	}
}

func TestDecodeJSONRefusesCaseAndDuplicateTricks(t *testing.T) {
	type email struct {
		Value string `json:"value"`
	}
	type body struct {
		Username string                    `json:"username"`
		Emails   []email                   `json:"emails"`
		Attrs    map[string]any            `json:"attributes"`
		Age      Optional[int]             `json:"age"`
		IDs      map[string]*string        `json:"external_ids"`
		Nested   Optional[map[string]bool] `json:"flags"`
	}
	for _, tc := range []struct{ body, field string }{
		{`{"username":"newbie","USERNAME":"admin"}`, "USERNAME"},
		{`{"Username":"admin"}`, "Username"},
		{`{"username":"a","username":"admin"}`, "username"},
		{`{"emails":[{"value":"a@x.example"},{"Value":"b@x.example"}]}`, "emails.1.Value"},
		{`{"emails":[{"value":"a@x.example"},{"value":5}]}`, "emails.1.value"},
		{`{"attributes":{"a":1,"a":2}}`, "attributes.a"},
		{`{"external_ids":{"crm":7}}`, "external_ids.crm"},
		{`{"age":"old"}`, "age"},
		{`{"age":1.5}`, "age"},
		{`{"flags":{"x":"yes"}}`, "flags.x"},
		{`{"emails":{"value":"a@x.example"}}`, "emails"},
	} {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
		r.Header.Set("Content-Type", "application/json")
		var b body
		fs := errkind.Fields(DecodeJSON(r, &b))
		if len(fs) != 1 || fs[0].Field != tc.field {
			t.Errorf("%s: fields %v, want %s", tc.body, fs, tc.field)
		}
	}
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"username":"a","age":null,"flags":{"x":true},"attributes":{"n":{"deep":[1,"x"]}}}`))
	r.Header.Set("Content-Type", "application/json")
	var b body
	if err := DecodeJSON(r, &b); err != nil || !b.Age.Set || !b.Age.Null || !b.Nested.Value["x"] {
		t.Fatalf("valid body: %v %+v", err, b)
	}
}
