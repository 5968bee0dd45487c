package mail

import (
	"context"
	"embed"
	"encoding/json"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultMailboxSize is how many messages a Mailbox keeps when
// MailboxOptions.Size is 0.
const DefaultMailboxSize = 200

// MailboxOptions tunes a Mailbox.
type MailboxOptions struct {
	Size int              // messages kept; 0 means DefaultMailboxSize
	Now  func() time.Time // nil means time.Now
}

// Delivered is a message the Mailbox received, with its id and time.
type Delivered struct {
	ID     string
	SentAt time.Time
	Message
}

// Mailbox is the zero-configuration development mailbox: a Sender that keeps
// the newest messages in memory and logs each one, and a page that shows
// them.
//
// It is for development only. Its whole purpose is to show the developer the
// links that a real deployment mails (password reset, verification), so it
// logs the text body and its page shows everything: anyone who reads either
// can take over the accounts those links are for. That is why Handler answers
// only loopback clients, and server uses a Mailbox only when no SMTP host is
// configured.
type Mailbox struct {
	log  *slog.Logger
	now  func() time.Time
	page *template.Template

	mu   sync.Mutex
	ring []Delivered // ring[next-1] is the newest
	next int
	n    int
	seq  uint64
}

//go:embed templates/mailbox.html
var mailboxFS embed.FS

// NewMailbox returns an empty mailbox that logs to log.
func NewMailbox(log *slog.Logger, opts MailboxOptions) *Mailbox {
	if opts.Size <= 0 {
		opts.Size = DefaultMailboxSize
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Mailbox{
		log:  log,
		now:  opts.Now,
		page: template.Must(template.ParseFS(mailboxFS, "templates/mailbox.html")),
		ring: make([]Delivered, opts.Size),
	}
}

// Send keeps m and logs it, text body included (see Mailbox).
func (b *Mailbox) Send(ctx context.Context, m Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	b.mu.Lock()
	b.seq++
	d := Delivered{ID: strconv.FormatUint(b.seq, 10), SentAt: b.now(), Message: m}
	b.ring[b.next] = d
	b.next = (b.next + 1) % len(b.ring)
	b.n = min(b.n+1, len(b.ring))
	b.mu.Unlock()

	// Development only: the body holds the link the developer needs.
	b.log.InfoContext(ctx, "mail kept in development mailbox", "id", d.ID, "tenant", m.Tenant, "kind", m.Kind,
		"to", Redact(m.To), "subject", m.Subject, "text", m.Text)
	return nil
}

// Messages returns the kept messages for tenant (all when tenant is empty),
// newest first.
func (b *Mailbox) Messages(tenant string) []Delivered {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Delivered, 0, b.n)
	for k := range b.n {
		d := b.ring[(b.next-1-k+len(b.ring))%len(b.ring)]
		if tenant == "" || d.Tenant == tenant {
			out = append(out, d)
		}
	}
	return out
}

// Handler serves the mailbox: an HTML page, or JSON when the request accepts
// application/json. ?tenant=slug limits it to one tenant.
//
// It answers 403 to any client that is not on a loopback address, and to
// any request that came through a proxy (Forwarded / X-Forwarded-For): a
// reverse proxy on the same machine connects from loopback, and the page
// shows live sign-in links.
func (b *Mailbox) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Vary", "Accept")
		if !fromLoopback(r) {
			http.Error(w, "the development mailbox answers only loopback clients", http.StatusForbidden)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		tenant := r.URL.Query().Get("tenant")
		msgs := b.Messages(tenant)
		if wantsJSON(r) {
			writeMailboxJSON(w, msgs)
			return
		}
		view := mailboxView{Tenant: tenant, Tenants: b.tenants()}
		for _, d := range msgs {
			view.Messages = append(view.Messages, messageView{Delivered: d, Body: linkify(d.Text)})
		}
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
		if err := b.page.Execute(w, view); err != nil {
			b.log.ErrorContext(r.Context(), "render development mailbox", "err", err)
		}
	})
}

func (b *Mailbox) tenants() []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range b.Messages("") {
		if d.Tenant != "" && !seen[d.Tenant] {
			seen[d.Tenant] = true
			out = append(out, d.Tenant)
		}
	}
	return out
}

func fromLoopback(r *http.Request) bool {
	if r.Header.Get("Forwarded") != "" || r.Header.Get("X-Forwarded-For") != "" {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

func wantsJSON(r *http.Request) bool {
	for part := range strings.SplitSeq(r.Header.Get("Accept"), ",") {
		mt, _, _ := strings.Cut(part, ";")
		if strings.EqualFold(strings.TrimSpace(mt), "application/json") {
			return true
		}
	}
	return false
}

type jsonMessage struct {
	ID      string    `json:"id"`
	SentAt  time.Time `json:"sent_at"`
	Tenant  string    `json:"tenant"`
	Kind    string    `json:"kind"`
	To      string    `json:"to"`
	Subject string    `json:"subject"`
	Text    string    `json:"text"`
	HTML    string    `json:"html,omitempty"`
}

func writeMailboxJSON(w http.ResponseWriter, msgs []Delivered) {
	out := struct {
		Messages []jsonMessage `json:"messages"`
	}{Messages: make([]jsonMessage, 0, len(msgs))}
	for _, d := range msgs {
		out.Messages = append(out.Messages, jsonMessage{ID: d.ID, SentAt: d.SentAt.UTC(), Tenant: d.Tenant,
			Kind: d.Kind, To: d.To, Subject: d.Subject, Text: d.Text, HTML: d.HTML})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

type mailboxView struct {
	Tenant   string
	Tenants  []string
	Messages []messageView
}

type messageView struct {
	Delivered
	Body []segment
}

// segment is a run of a text body: plain text, or an http(s) URL that the
// page turns into a link. The template escapes both; nothing here is
// template.HTML.
type segment struct {
	Text string
	URL  string
}

// urlInText finds candidate links; linkify then keeps only absolute http(s)
// URLs, so "javascript:..." and friends stay text.
var urlInText = regexp.MustCompile(`(?i)\bhttps?://[^\s<>"'` + "`" + `]+`)

func linkify(text string) []segment {
	var out []segment
	plain := func(s string) {
		if s == "" {
			return
		}
		if n := len(out); n > 0 && out[n-1].URL == "" {
			out[n-1].Text += s
			return
		}
		out = append(out, segment{Text: s})
	}
	last := 0
	for _, loc := range urlInText.FindAllStringIndex(text, -1) {
		raw := text[loc[0]:loc[1]]
		// Sentence punctuation after a URL is not part of it.
		trimmed := strings.TrimRight(raw, ".,;:!?)]}")
		plain(text[last:loc[0]])
		if u, err := url.Parse(trimmed); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
			out = append(out, segment{URL: trimmed})
		} else {
			plain(trimmed)
		}
		plain(raw[len(trimmed):])
		last = loc[1]
	}
	plain(text[last:])
	return out
}
