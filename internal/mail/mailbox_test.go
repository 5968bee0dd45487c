package mail

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// logBuffer is a bytes.Buffer safe for concurrent log writes.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func testLogger() (*slog.Logger, *logBuffer) {
	var buf logBuffer
	return slog.New(slog.NewTextHandler(&buf, nil)), &buf
}

func msgTo(tenant, to, subject string) Message {
	return Message{Tenant: tenant, To: to, Subject: subject, Text: "body of " + subject, Kind: KindPasswordReset}
}

func TestMailboxNewestFirstAndCapped(t *testing.T) {
	log, logs := testLogger()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b := NewMailbox(log, MailboxOptions{Size: 3, Now: func() time.Time { return now }})
	for i, tenant := range []string{"a", "b", "a", "b", "a"} {
		if err := b.Send(t.Context(), msgTo(tenant, "bob@example.com", "s"+string(rune('1'+i)))); err != nil {
			t.Fatal(err)
		}
	}
	subjects := func(ds []Delivered) (out []string) {
		for _, d := range ds {
			out = append(out, d.ID+":"+d.Subject)
		}
		return out
	}
	if got := subjects(b.Messages("")); !reflect.DeepEqual(got, []string{"5:s5", "4:s4", "3:s3"}) {
		t.Errorf("all: %v", got)
	}
	if got := subjects(b.Messages("a")); !reflect.DeepEqual(got, []string{"5:s5", "3:s3"}) {
		t.Errorf("tenant a: %v", got)
	}
	if got := b.Messages("nobody"); len(got) != 0 {
		t.Errorf("unknown tenant: %v", got)
	}
	if !b.Messages("")[0].SentAt.Equal(now) {
		t.Error("SentAt is not the injected time")
	}
	// The development mailbox logs the body on purpose: it shows the link.
	if !strings.Contains(logs.String(), "body of s5") || strings.Contains(logs.String(), "bob@example.com") {
		t.Errorf("log: %s", logs)
	}
	if err := b.Send(t.Context(), msgTo("a", "not an address", "x")); err == nil {
		t.Error("an invalid message was kept")
	}
}

func TestMailboxHandlerOnlyLoopback(t *testing.T) {
	log, _ := testLogger()
	b := NewMailbox(log, MailboxOptions{})
	if err := b.Send(t.Context(), msgTo("acme", "bob@example.com", "hello")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		remote string
		header string
		want   int
	}{
		{"127.0.0.1:50000", "", http.StatusOK},
		{"[::1]:50000", "", http.StatusOK},
		{"[::ffff:127.0.0.1]:50000", "", http.StatusOK},
		{"192.0.2.10:50000", "", http.StatusForbidden},
		{"[2001:db8::1]:50000", "", http.StatusForbidden},
		{"10.0.0.1:50000", "", http.StatusForbidden},
		{"garbage", "", http.StatusForbidden},
		{"127.0.0.1:50000", "X-Forwarded-For", http.StatusForbidden}, // a local reverse proxy
		{"127.0.0.1:50000", "Forwarded", http.StatusForbidden},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, "/dev/mail", nil)
		r.RemoteAddr = tt.remote
		if tt.header != "" {
			r.Header.Set(tt.header, "for=192.0.2.10")
		}
		w := httptest.NewRecorder()
		b.Handler().ServeHTTP(w, r)
		if w.Code != tt.want {
			t.Errorf("%s %s: %d, want %d", tt.remote, tt.header, w.Code, tt.want)
		}
		if w.Code == http.StatusForbidden && strings.Contains(w.Body.String(), "hello") {
			t.Errorf("%s: a refused request saw a message", tt.remote)
		}
	}
}

func get(t *testing.T, h http.Handler, target, accept string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r.RemoteAddr = "127.0.0.1:40000"
	if accept != "" {
		r.Header.Set("Accept", accept)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("%s: %d %s", target, w.Code, w.Body)
	}
	return w
}

func TestMailboxHandlerEscapesAndLinks(t *testing.T) {
	log, _ := testLogger()
	b := NewMailbox(log, MailboxOptions{})
	evil := Message{
		Tenant: "acme", Kind: KindPasswordReset, To: `"<img src=x onerror=alert(1)>" <bob@example.com>`,
		Subject: `<script>alert("subject")</script>`,
		Text: "Hi <script>alert(1)</script>\n" +
			"Reset: https://id.example.com/t/acme/reset?token=abc&x=\"1\".\n" +
			"Not a link: javascript:alert(document.cookie)\n" +
			"Nor this: <a href=\"javascript:alert(2)\">click</a> data:text/html,<b>x</b>\n" +
			"Plain http too (http://localhost:8080/t/acme/verify?t=1).",
	}
	if err := b.Send(t.Context(), evil); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(t.Context(), msgTo("other", "eve@example.com", "other tenant")); err != nil {
		t.Fatal(err)
	}
	w := get(t, b.Handler(), "/?tenant=acme", "text/html")
	page := w.Body.String()
	if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if w.Header().Get("Cache-Control") != "no-store" || !strings.Contains(w.Header().Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("headers %v", w.Header())
	}
	for _, bad := range []string{"<script>", "<img", `href="javascript`, "href=\"data:", `<a href="javascript:alert(2)">`} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	for _, want := range []string{
		"&lt;script&gt;alert(&#34;subject&#34;)&lt;/script&gt;",
		`<a href="https://id.example.com/t/acme/reset?token=abc&amp;x=" rel="noreferrer noopener">https://id.example.com/t/acme/reset?token=abc&amp;x=</a>&#34;1&#34;.`,
		`<a href="http://localhost:8080/t/acme/verify?t=1" rel="noreferrer noopener">http://localhost:8080/t/acme/verify?t=1</a>).`,
		"javascript:alert(document.cookie)",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "other tenant") {
		t.Error("?tenant=acme shows another tenant's mail")
	}
	if n := strings.Count(page, "<a href=\"http"); n != 2 {
		t.Errorf("%d links, want 2:\n%s", n, page)
	}
}

func TestMailboxHandlerJSON(t *testing.T) {
	log, _ := testLogger()
	b := NewMailbox(log, MailboxOptions{Now: func() time.Time { return time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC) }})
	for _, m := range []Message{msgTo("acme", "bob@example.com", "one"), msgTo("other", "eve@example.com", "two")} {
		if err := b.Send(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	w := get(t, b.Handler(), "/?tenant=acme", "text/html;q=0.5, application/json")
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	var got struct {
		Messages []map[string]any `json:"messages"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"id": "1", "sent_at": "2026-05-06T07:08:09Z", "tenant": "acme", "kind": KindPasswordReset,
		"to": "bob@example.com", "subject": "one", "text": "body of one"}
	if len(got.Messages) != 1 || !reflect.DeepEqual(got.Messages[0], want) {
		t.Errorf("got %v", got.Messages)
	}
	w = get(t, b.Handler(), "/", "application/json")
	if !strings.Contains(w.Body.String(), `"two"`) || !strings.Contains(w.Body.String(), `"one"`) {
		t.Errorf("all tenants: %s", w.Body)
	}
}

func TestLinkify(t *testing.T) {
	tests := []struct {
		in   string
		want []segment
	}{
		{"", nil},
		{"no links", []segment{{Text: "no links"}}},
		{"go https://a.example/x?y=1.", []segment{{Text: "go "}, {URL: "https://a.example/x?y=1"}, {Text: "."}}},
		{"HTTPS://A.example/", []segment{{URL: "HTTPS://A.example/"}}},
		{"javascript:alert(1)", []segment{{Text: "javascript:alert(1)"}}},
		{"javascript://https://x.example", []segment{{Text: "javascript://"}, {URL: "https://x.example"}}},
		{"http:///nohost x", []segment{{Text: "http:///nohost x"}}},
		{"(see http://a.example)", []segment{{Text: "(see "}, {URL: "http://a.example"}, {Text: ")"}}},
		{"a http://x.example b https://y.example", []segment{{Text: "a "}, {URL: "http://x.example"}, {Text: " b "}, {URL: "https://y.example"}}},
	}
	for _, tt := range tests {
		if got := linkify(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("linkify(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"alice@example.com":         "a***@example.com",
		"Alice <alice@example.com>": "a***@example.com",
		"é@example.com":             "é***@example.com",
		"nonsense":                  "***",
		"":                          "***",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
