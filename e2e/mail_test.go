package e2e

import (
	"bytes"
	"encoding/base64"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/tessera-iam/tessera/internal/config"
)

// delivered is one message the SMTP server accepted.
type delivered struct {
	from string
	to   []string
	data []byte
}

// smtpServer is a real SMTP server (emersion/go-smtp) on 127.0.0.1, plain
// text as Tessera allows only towards a loopback host.
type smtpServer struct {
	port int
	got  chan delivered
}

func startSMTP(t *testing.T) *smtpServer {
	t.Helper()
	srv := &smtpServer{got: make(chan delivered, 16)}
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &smtpSession{srv: srv}, nil
	}))
	s.Domain = "localhost"
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	s.ErrorLog = log.New(io.Discard, "", 0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.port = l.Addr().(*net.TCPAddr).Port
	go func() { _ = s.Serve(l) }()
	t.Cleanup(func() { _ = s.Close() })
	return srv
}

// config points Tessera's mail at this server.
func (s *smtpServer) config(c *config.Config) {
	c.SMTPHost, c.SMTPPort, c.SMTPTLS = "127.0.0.1", s.port, "none"
}

// next waits for the next message.
func (s *smtpServer) next(t *testing.T, within time.Duration) delivered {
	t.Helper()
	select {
	case d := <-s.got:
		return d
	case <-time.After(within):
		t.Fatalf("no mail within %s", within)
		return delivered{}
	}
}

type smtpSession struct {
	srv *smtpServer
	cur delivered
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	s.cur = delivered{from: from}
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.to = append(s.cur.to, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = b
	s.srv.got <- s.cur
	return nil
}

func (s *smtpSession) Reset()        { s.cur = delivered{} }
func (s *smtpSession) Logout() error { return nil }

// textBody parses a received message (RFC 5322, MIME) and returns its
// subject and text/plain part, decoded.
func textBody(t *testing.T, data []byte) (subject, text string) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parse mail: %v", err)
	}
	subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("mail Content-Type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	if !strings.HasPrefix(mt, "multipart/") {
		b, err := decodePart(msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
		if err != nil {
			t.Fatal(err)
		}
		return subject, b
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart() // undoes quoted-printable itself
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); pt == "text/plain" {
			b, err := decodePart(p.Header.Get("Content-Transfer-Encoding"), p)
			if err != nil {
				t.Fatal(err)
			}
			return subject, b
		}
	}
	t.Fatalf("the mail has no text/plain part:\n%s", data)
	return "", ""
}

func decodePart(cte string, r io.Reader) (string, error) {
	if strings.EqualFold(strings.TrimSpace(cte), "base64") {
		r = base64.NewDecoder(base64.StdEncoding, r)
	}
	b, err := io.ReadAll(r)
	return strings.ReplaceAll(string(b), "\r\n", "\n"), err
}

// findLink returns the first link in text to base+path?token=....
func findLink(t *testing.T, text, base, path string) string {
	t.Helper()
	m := regexp.MustCompile(regexp.QuoteMeta(base+path) + `\?token=[A-Za-z0-9_%.~-]+`).FindString(text)
	if m == "" {
		t.Fatalf("no link to %s in the mail:\n%s", path, text)
	}
	return m
}
