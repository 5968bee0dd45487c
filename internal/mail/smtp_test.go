package mail

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// testCert is a self-signed ECDSA certificate for localhost and 127.0.0.1,
// and a pool that trusts it.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

type serverOpts struct {
	implicitTLS bool   // TLS from the first byte
	noTLS       bool   // neither STARTTLS nor implicit TLS
	user, pass  string // require AUTH PLAIN with these
	rejectRcpt  bool   // answer 550 to RCPT
}

type received struct {
	From     string
	To       []string
	Data     []byte
	TLS      bool
	AuthUser string
}

// testServer is a real SMTP server (emersion/go-smtp) on 127.0.0.1:0.
type testServer struct {
	opts serverOpts
	port int
	mu   sync.Mutex
	got  []received
}

func startServer(t *testing.T, opts serverOpts) (*testServer, *x509.CertPool) {
	t.Helper()
	cert, pool := testCert(t)
	ts := &testServer{opts: opts}
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &testSession{srv: ts, conn: c}, nil
	}))
	s.Domain = "localhost"
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	s.ErrorLog = log.New(io.Discard, "", 0)
	tc := &tls.Config{Certificates: []tls.Certificate{cert}}
	if !opts.noTLS {
		s.TLSConfig = tc
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.port = l.Addr().(*net.TCPAddr).Port
	if opts.implicitTLS {
		l = tls.NewListener(l, tc)
	}
	go func() { _ = s.Serve(l) }()
	t.Cleanup(func() { _ = s.Close() })
	return ts, pool
}

func (ts *testServer) received() []received {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]received(nil), ts.got...)
}

type testSession struct {
	srv      *testServer
	conn     *smtp.Conn
	authUser string
	cur      received
}

func (s *testSession) AuthMechanisms() []string {
	if s.srv.opts.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *testSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != s.srv.opts.user || pass != s.srv.opts.pass {
			return smtp.ErrAuthFailed
		}
		s.authUser = user
		return nil
	}), nil
}

func (s *testSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.srv.opts.user != "" && s.authUser == "" {
		return smtp.ErrAuthRequired
	}
	s.cur = received{From: from}
	return nil
}

func (s *testSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.srv.opts.rejectRcpt {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user " + to}
	}
	s.cur.To = append(s.cur.To, to)
	return nil
}

func (s *testSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.cur.Data, s.cur.TLS, s.cur.AuthUser = b, isTLS, s.authUser
	s.srv.mu.Lock()
	s.srv.got = append(s.srv.got, s.cur)
	s.srv.mu.Unlock()
	return nil
}

func (s *testSession) Reset()        { s.cur = received{} }
func (s *testSession) Logout() error { return nil }

func tlsConfig(pool *x509.CertPool) *tls.Config { return &tls.Config{RootCAs: pool} }

func newTestSMTP(t *testing.T, cfg SMTPConfig) *SMTP {
	t.Helper()
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.From == "" {
		cfg.From = "Tessera <no-reply@example.com>"
	}
	cfg.Timeout = 5 * time.Second
	s, err := NewSMTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var testMessage = Message{
	Tenant: "acme", Kind: KindPasswordReset, To: "Bob <bob@example.com>", Subject: "Reset your Acme password",
	Text: "Open https://id.example.com/t/acme/reset?token=s3cret\n\nIf you did not ask for this, ignore this mail.\n",
	HTML: `<p>Open <a href="https://id.example.com/t/acme/reset?token=s3cret">this link</a></p>`,
}

func TestSMTPStartTLSDelivery(t *testing.T) {
	srv, pool := startServer(t, serverOpts{})
	s := newTestSMTP(t, SMTPConfig{Port: srv.port, TLSConfig: &tls.Config{RootCAs: pool}})
	if err := s.Send(t.Context(), testMessage); err != nil {
		t.Fatal(err)
	}
	got := srv.received()
	if len(got) != 1 {
		t.Fatalf("received %d messages", len(got))
	}
	r := got[0]
	if r.From != "no-reply@example.com" || len(r.To) != 1 || r.To[0] != "bob@example.com" || !r.TLS {
		t.Fatalf("envelope from %q to %q tls %v", r.From, r.To, r.TLS)
	}
	text, html := checkMessage(t, r.Data)
	if text != testMessage.Text || html != testMessage.HTML {
		t.Errorf("text %q\nhtml %q", text, html)
	}
}

// checkMessage parses data as RFC 5322 + MIME and returns the text and
// HTML parts (line endings normalised to \n).
func checkMessage(t *testing.T, data []byte) (text, html string) {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Header
	from, err := h.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Address != "no-reply@example.com" || from[0].Name != "Tessera" {
		t.Errorf("From %v %v", from, err)
	}
	to, err := h.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Address != "bob@example.com" {
		t.Errorf("To %v %v", to, err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if err != nil || subject != testMessage.Subject {
		t.Errorf("Subject %q %v", subject, err)
	}
	if d, err := h.Date(); err != nil || time.Since(d) > time.Hour || time.Until(d) > time.Hour {
		t.Errorf("Date %q %v", h.Get("Date"), err)
	}
	if id := h.Get("Message-Id"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@example.com>") {
		t.Errorf("Message-ID %q", id)
	}
	if h.Get("Auto-Submitted") != "auto-generated" || h.Get("User-Agent") != "" || h.Get("X-Mailer") != "" {
		t.Errorf("Auto-Submitted %q User-Agent %q X-Mailer %q", h.Get("Auto-Submitted"), h.Get("User-Agent"), h.Get("X-Mailer"))
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q %v", h.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		body := strings.ReplaceAll(string(b), "\r\n", "\n")
		pt, pp, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if pp["charset"] != "UTF-8" && pp["charset"] != "utf-8" {
			t.Errorf("%s charset %q", pt, pp["charset"])
		}
		switch pt {
		case "text/plain":
			text = body
		case "text/html":
			html = body
		default:
			t.Errorf("unexpected part %q", pt)
		}
	}
	return text, html
}

func TestSMTPAuthPlain(t *testing.T) {
	srv, pool := startServer(t, serverOpts{user: "mailer", pass: "correct horse"})
	tc := &tls.Config{RootCAs: pool}

	s := newTestSMTP(t, SMTPConfig{Port: srv.port, TLSConfig: tc, Username: "mailer", Password: "correct horse"})
	if err := s.Send(t.Context(), testMessage); err != nil {
		t.Fatal(err)
	}
	if got := srv.received(); len(got) != 1 || got[0].AuthUser != "mailer" {
		t.Fatalf("received %+v", got)
	}

	s = newTestSMTP(t, SMTPConfig{Port: srv.port, TLSConfig: tc, Username: "mailer", Password: "wrong"})
	err := s.Send(t.Context(), testMessage)
	if err == nil {
		t.Fatal("a wrong password was accepted")
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("the password is in the error: %v", err)
	}
	if len(srv.received()) != 1 {
		t.Error("a message went through without authentication")
	}

	s = newTestSMTP(t, SMTPConfig{Port: srv.port, TLSConfig: tc})
	if err := s.Send(t.Context(), testMessage); err == nil {
		t.Error("sent without AUTH to a server that requires it")
	}
}

func TestSMTPImplicitTLS(t *testing.T) {
	srv, pool := startServer(t, serverOpts{implicitTLS: true, user: "mailer", pass: "pw"})
	s := newTestSMTP(t, SMTPConfig{Port: srv.port, TLS: TLSImplicit, TLSConfig: &tls.Config{RootCAs: pool},
		Username: "mailer", Password: "pw"})
	if err := s.Send(t.Context(), testMessage); err != nil {
		t.Fatal(err)
	}
	if got := srv.received(); len(got) != 1 || !got[0].TLS || got[0].AuthUser != "mailer" {
		t.Fatalf("received %+v", got)
	}
}

func TestSMTPStartTLSNeverDowngrades(t *testing.T) {
	srv, pool := startServer(t, serverOpts{noTLS: true})
	s := newTestSMTP(t, SMTPConfig{Port: srv.port, TLSConfig: &tls.Config{RootCAs: pool}})
	err := s.Send(t.Context(), testMessage)
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("sent without STARTTLS: %v", err)
	}
	if len(srv.received()) != 0 {
		t.Error("the message went out in plain text")
	}
}

func TestSMTPVerifiesCertificate(t *testing.T) {
	srv, _ := startServer(t, serverOpts{})
	s := newTestSMTP(t, SMTPConfig{Port: srv.port}) // system roots do not trust the test certificate
	if err := s.Send(t.Context(), testMessage); err == nil {
		t.Fatal("an untrusted certificate was accepted")
	}
	if len(srv.received()) != 0 {
		t.Error("the message went out")
	}
}

func TestSMTPPlainOnlyToLoopback(t *testing.T) {
	srv, _ := startServer(t, serverOpts{noTLS: true})
	s := newTestSMTP(t, SMTPConfig{Port: srv.port, TLS: TLSNone})
	if err := s.Send(t.Context(), testMessage); err != nil {
		t.Fatal(err)
	}
	if got := srv.received(); len(got) != 1 || got[0].TLS {
		t.Fatalf("received %+v", got)
	}
	for _, host := range []string{"smtp.example.com", "192.0.2.1", "localhost.example.com", "10.0.0.1"} {
		if _, err := NewSMTP(SMTPConfig{Host: host, TLS: TLSNone, From: "a@example.com"}); err == nil ||
			!strings.Contains(err.Error(), "loopback") {
			t.Errorf("%s: plain SMTP allowed: %v", host, err)
		}
	}
	for _, host := range []string{"localhost", "127.0.0.1", "::1", "[::1]"} {
		if _, err := NewSMTP(SMTPConfig{Host: host, TLS: TLSNone, From: "a@example.com"}); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
}

func TestSMTPPermanentAndInvalid(t *testing.T) {
	srv, pool := startServer(t, serverOpts{rejectRcpt: true})
	s := newTestSMTP(t, SMTPConfig{Port: srv.port, TLSConfig: &tls.Config{RootCAs: pool}})
	if err := s.Send(t.Context(), testMessage); !errors.Is(err, ErrPermanent) {
		t.Errorf("550 to RCPT: %v, want ErrPermanent", err)
	}
	bad := testMessage
	bad.To = "bob@example.com\r\nBcc: eve@example.com"
	if err := s.Send(t.Context(), bad); !errors.Is(err, ErrInvalid) {
		t.Errorf("header injection in To: %v", err)
	}
	bad = testMessage
	bad.Subject = "hi\r\nBcc: eve@example.com"
	if err := s.Send(t.Context(), bad); !errors.Is(err, ErrInvalid) {
		t.Errorf("header injection in Subject: %v", err)
	}
}

func TestNewSMTPValidates(t *testing.T) {
	ok := SMTPConfig{Host: "smtp.example.com", From: "Tessera <no-reply@example.com>"}
	if _, err := NewSMTP(ok); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(*SMTPConfig)
		want string
	}{
		{"no host", func(c *SMTPConfig) { c.Host = "" }, "host: required"},
		{"host with port", func(c *SMTPConfig) { c.Host = "smtp.example.com:587" }, "must not contain a port"},
		{"host URL", func(c *SMTPConfig) { c.Host = "smtp://smtp.example.com" }, "host name or IP"},
		{"mode", func(c *SMTPConfig) { c.TLS = "ssl" }, `tls: must be "starttls", "tls" or "none"`},
		{"port", func(c *SMTPConfig) { c.Port = 70000 }, "port: must be between"},
		{"user without password", func(c *SMTPConfig) { c.Username = "u" }, "password: required"},
		{"password without user", func(c *SMTPConfig) { c.Password = "p" }, "username: required"},
		{"from", func(c *SMTPConfig) { c.From = "not an address" }, "from: must be one address"},
		{"no from", func(c *SMTPConfig) { c.From = "" }, "from: must be one address"},
		{"timeout", func(c *SMTPConfig) { c.Timeout = -time.Second }, "timeout: must not be negative"},
	}
	for _, tt := range tests {
		c := ok
		tt.edit(&c)
		if _, err := NewSMTP(c); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
	c := SMTPConfig{Host: "x", Password: "hunter2", Username: "u", From: "a@b"}
	if strings.Contains(c.String(), "hunter2") {
		t.Error("SMTPConfig prints its password")
	}
}
