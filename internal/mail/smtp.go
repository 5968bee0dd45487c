package mail

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/netip"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// TLS modes of SMTPConfig.TLS.
const (
	TLSStartTLS = "starttls" // STARTTLS, mandatory: never falls back to plain text
	TLSImplicit = "tls"      // TLS from the first byte (submissions, RFC 8314), usually port 465
	TLSNone     = "none"     // plain text; only to a loopback host (a local relay)
)

// DefaultSMTPTimeout bounds one SMTP transaction when SMTPConfig.Timeout is 0.
const DefaultSMTPTimeout = 30 * time.Second

// SMTPConfig is how to reach the submission server.
type SMTPConfig struct {
	Host      string // name or IP, without port
	Port      int    // 0: 587 for starttls, 465 for tls, 25 for none
	TLS       string // TLSStartTLS (default), TLSImplicit or TLSNone
	Username  string // SMTP AUTH only when set
	Password  string
	From      string        // "Tessera <no-reply@example.com>"
	TLSConfig *tls.Config   // optional, e.g. RootCAs; ServerName defaults to Host
	Timeout   time.Duration // one SMTP transaction; 0 means DefaultSMTPTimeout
}

// String omits the password, so that printing a config cannot leak it.
func (c SMTPConfig) String() string {
	return fmt.Sprintf("smtp{host=%s port=%d tls=%s username=%q from=%q}", c.Host, c.Port, c.TLS, c.Username, c.From)
}

// LogValue omits the password.
func (c SMTPConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.String("host", c.Host), slog.Int("port", c.Port), slog.String("tls", c.TLS),
		slog.String("username", c.Username), slog.String("from", c.From))
}

// SMTP sends messages through an SMTP submission server, one connection per
// message (the queue's workers bound the concurrency).
type SMTP struct {
	from   *mail.Address
	domain string // of From, for Message-IDs
	host   string // as go-mail wants it: IPv6 literals in brackets
	opts   []gomail.Option
	now    func() time.Time
}

// NewSMTP validates cfg and returns a sender. It does not connect.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("smtp "+format, args...)) }

	host := strings.TrimSuffix(strings.TrimPrefix(cfg.Host, "["), "]")
	switch {
	case host == "":
		bad("host: required")
	case strings.Contains(host, "://") || strings.ContainsAny(host, "/ \t\r\n@"):
		bad("host: must be a host name or IP address, got %q", cfg.Host)
	default:
		if _, _, err := net.SplitHostPort(host); err == nil {
			bad("host: must not contain a port (use Port), got %q", cfg.Host)
		}
	}

	mode := cfg.TLS
	if mode == "" {
		mode = TLSStartTLS
	}
	port := cfg.Port
	switch mode {
	case TLSStartTLS:
		port = orDefault(port, 587)
	case TLSImplicit:
		port = orDefault(port, 465)
	case TLSNone:
		port = orDefault(port, 25)
		if host != "" && !isLoopback(host) {
			bad("tls: %q is allowed only for a loopback host (localhost, 127.0.0.1, ::1), not %q; use %q or %q",
				TLSNone, cfg.Host, TLSStartTLS, TLSImplicit)
		}
	default:
		bad("tls: must be %q, %q or %q, got %q", TLSStartTLS, TLSImplicit, TLSNone, cfg.TLS)
	}
	if port < 1 || port > 65535 {
		bad("port: must be between 1 and 65535, got %d", cfg.Port)
	}

	if cfg.Username != "" && cfg.Password == "" {
		bad("password: required with a username")
	}
	if cfg.Username == "" && cfg.Password != "" {
		bad("username: required with a password")
	}

	from, err := mail.ParseAddress(cfg.From)
	if err != nil || strings.ContainsFunc(cfg.From, isControl) {
		bad("from: must be one address like \"Tessera <no-reply@example.com>\", got %q", cfg.From)
	}
	var domain string
	if from != nil {
		domain = from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	}

	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = DefaultSMTPTimeout
	} else if timeout < 0 {
		bad("timeout: must not be negative")
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}

	tc := &tls.Config{}
	if cfg.TLSConfig != nil {
		tc = cfg.TLSConfig.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = host
	}
	if tc.MinVersion < tls.VersionTLS12 {
		tc.MinVersion = tls.VersionTLS12
	}

	opts := []gomail.Option{
		gomail.WithPort(port),
		gomail.WithTimeout(timeout),
		gomail.WithTLSConfig(tc),
	}
	switch mode {
	case TLSStartTLS:
		// Mandatory: a server (or a man in the middle) that strips STARTTLS
		// makes the delivery fail instead of going out in plain text.
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL(), gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if cfg.Username != "" {
		// PLAIN or LOGIN, whichever the server offers (falling back to the
		// strongest other mechanism). go-mail sends them only over TLS or
		// to localhost.
		opts = append(opts, gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthPlain, gomail.SMTPAuthLogin),
			gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password))
	}
	addrHost := host
	if strings.Contains(host, ":") {
		addrHost = "[" + host + "]" // go-mail joins host and port with a plain ':'
	}
	s := &SMTP{from: from, domain: domain, host: addrHost, opts: opts, now: time.Now}
	if _, err := s.client(); err != nil {
		return nil, fmt.Errorf("mail: smtp: %w", err)
	}
	return s, nil
}

func orDefault(port, def int) int {
	if port == 0 {
		return def
	}
	return port
}

// isLoopback reports whether host names this machine: "localhost" or a
// loopback IP literal. Other names are refused even if they resolve to
// loopback today, since DNS can change.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// client builds a fresh go-mail client. One per message: go-mail's Client
// keeps per-connection state (the negotiated auth mechanism) that is not
// safe to share between concurrent sends.
func (s *SMTP) client() (*gomail.Client, error) {
	return gomail.NewClient(s.host, s.opts...)
}

// Send delivers m in one SMTP transaction. An error wrapping ErrInvalid or
// ErrPermanent will not succeed on retry.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	to, _ := recipient(m.To)

	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(s.from)
	msg.ToMailAddress(to)
	msg.Subject(m.Subject)
	msg.SetDateWithValue(s.now())
	msg.SetMessageIDWithValue(rand.Text() + "@" + s.domain)
	// RFC 3834 §5: automatic mail; out-of-office responders must not answer.
	msg.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	msg.SetGenHeader(gomail.Header("X-Auto-Response-Suppress"), "All")
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}

	c, err := s.client()
	if err != nil {
		return fmt.Errorf("mail: smtp client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		var se *gomail.SendError
		if errors.As(err, &se) && !se.IsTemp() && se.ErrorCode() >= 500 {
			return fmt.Errorf("%w: smtp: %w", ErrPermanent, err)
		}
		return fmt.Errorf("mail: smtp: %w", err)
	}
	return nil
}
