package mail

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
)

// Message is one outgoing mail. Text is required; HTML, when set, is sent as
// the multipart/alternative companion of Text.
type Message struct {
	Tenant  string // tenant slug, for logs and the development mailbox
	To      string // RFC 5322 address, "bob@example.com" or "Bob <bob@example.com>"
	Subject string
	Text    string
	HTML    string
	Kind    string // what the mail is for, e.g. KindPasswordReset; for logs and metrics
}

// Sender delivers one message. Implementations must be safe for concurrent use.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

var (
	// ErrInvalid marks a message that can never be sent as it is (bad
	// recipient, header injection, empty body). Retrying cannot help.
	ErrInvalid = errors.New("mail: invalid message")
	// ErrPermanent marks a delivery the server refused for good (SMTP 5xx).
	// Retrying cannot help.
	ErrPermanent = errors.New("mail: permanent failure")
)

// Validate reports why m cannot be sent, wrapping ErrInvalid.
func (m Message) Validate() error {
	if _, err := recipient(m.To); err != nil {
		return err
	}
	switch {
	case strings.TrimSpace(m.Subject) == "":
		return fmt.Errorf("%w: empty subject", ErrInvalid)
	case strings.ContainsFunc(m.Subject, isControl):
		// A CR or LF in a header would let a caller inject headers.
		return fmt.Errorf("%w: control character in subject", ErrInvalid)
	case strings.TrimSpace(m.Text) == "":
		return fmt.Errorf("%w: empty text body", ErrInvalid)
	}
	return nil
}

// recipient parses m.To: exactly one address, no control characters.
func recipient(to string) (*mail.Address, error) {
	if strings.ContainsFunc(to, isControl) {
		return nil, fmt.Errorf("%w: control character in recipient", ErrInvalid)
	}
	a, err := mail.ParseAddress(to)
	if err != nil {
		return nil, fmt.Errorf("%w: recipient: %w", ErrInvalid, err)
	}
	return a, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// Redact shortens an address for logs: "alice@example.com" -> "a***@example.com".
// Anything that does not parse as one address becomes "***".
func Redact(addr string) string {
	a, err := mail.ParseAddress(addr)
	if err != nil {
		return "***"
	}
	at := strings.LastIndexByte(a.Address, '@')
	if at < 1 {
		return "***"
	}
	first := []rune(a.Address[:at])[0]
	return string(first) + "***" + a.Address[at:]
}
