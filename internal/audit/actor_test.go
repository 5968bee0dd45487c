package audit_test

import (
	"strings"
	"testing"

	"github.com/tessera-iam/tessera/internal/audit"
)

// An anonymous actor keeps at most 256 bytes of a user agent, which the
// browser, not Tessera, chooses.
func TestAnonymousCutsTheUserAgent(t *testing.T) {
	a := audit.Anonymous("192.0.2.7", strings.Repeat("x", 5000), "req_1")
	if a.Type != "anonymous" || len(a.UserAgent) != 256 || a.ClientIP != "192.0.2.7" || a.RequestID != "req_1" {
		t.Fatalf("got %+v (user agent %d bytes)", a, len(a.UserAgent))
	}
	if short := audit.Anonymous("", "curl/8", ""); short.UserAgent != "curl/8" {
		t.Fatalf("a short user agent changed: %q", short.UserAgent)
	}
}
