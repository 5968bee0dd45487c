package api_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/tessera-iam/tessera/internal/testkit"
)

// dnsServer answers TXT queries on loopback UDP from a table, so domain
// verification is tested through Go's real DNS client and wire format.
type dnsServer struct {
	mu   sync.Mutex
	txt  map[string][]string // FQDN with trailing dot -> records
	conn net.PacketConn
}

func startDNS(t *testing.T) *dnsServer {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &dnsServer{txt: map[string][]string{}, conn: conn}
	t.Cleanup(func() { conn.Close() })
	go s.serve()
	return s
}

func (s *dnsServer) set(name string, values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.txt[strings.ToLower(name)+"."] = values
}

func (s *dnsServer) serve() {
	buf := make([]byte, 1500)
	for {
		n, addr, err := s.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		var p dnsmessage.Parser
		h, err := p.Start(buf[:n])
		if err != nil {
			continue
		}
		q, err := p.Question()
		if err != nil {
			continue
		}
		s.mu.Lock()
		values, ok := s.txt[strings.ToLower(q.Name.String())]
		s.mu.Unlock()
		rcode := dnsmessage.RCodeSuccess
		if !ok {
			rcode = dnsmessage.RCodeNameError
		}
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RCode: rcode})
		b.EnableCompression()
		_ = b.StartQuestions()
		_ = b.Question(q)
		_ = b.StartAnswers()
		if q.Type == dnsmessage.TypeTXT {
			for _, v := range values {
				_ = b.TXTResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60},
					dnsmessage.TXTResource{TXT: []string{v}})
			}
		}
		msg, err := b.Finish()
		if err == nil {
			_, _ = s.conn.WriteTo(msg, addr)
		}
	}
}

func (s *dnsServer) resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", s.conn.LocalAddr().String())
	}}
}

func TestDomainVerificationThroughDNS(t *testing.T) {
	testkit.EachServer(t, func(t *testing.T, e *testkit.Env) {
		dns := startDNS(t)
		e.Server.Tenants.Resolver = dns.resolver()
		r := e.Do(t, http.MethodPost, "/api/v1/organizations", e.AdminToken, map[string]any{"name": "Partner", "domains": []string{"Partner.Example"}})
		if r.Status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		var org struct {
			ID      string `json:"id"`
			Domains []struct {
				Domain             string                       `json:"domain"`
				Verified           bool                         `json:"verified"`
				VerificationRecord struct{ Name, Value string } `json:"verification_record"`
			} `json:"domains"`
		}
		r.Decode(t, &org)
		if len(org.Domains) != 1 || org.Domains[0].Domain != "partner.example" || org.Domains[0].Verified {
			t.Fatalf("domains = %+v", org.Domains)
		}
		rec := org.Domains[0].VerificationRecord
		verify := "/api/v1/organizations/" + org.ID + "/domains/partner.example/verify"

		// No record, then a wrong value: refused, nothing changes.
		for _, values := range [][]string{nil, {"tessera-verification=not-the-token", "v=spf1 -all"}} {
			if values != nil {
				dns.set(rec.Name, values...)
			}
			e.Unchanged(t, func() {
				if r := e.Do(t, http.MethodPost, verify, e.AdminToken, nil); r.Status != http.StatusBadRequest {
					t.Errorf("verify with records %v: %d %s", values, r.Status, r.Body)
				}
			})
		}
		// An organization-scoped admin cannot verify its own domain.
		orgTok := createToken(t, e, map[string]any{"name": "org admin", "role": "admin", "organization_id": org.ID})
		dns.set(rec.Name, "v=spf1 -all", rec.Value)
		e.Unchanged(t, func() {
			if r := e.Do(t, http.MethodPost, verify, orgTok, nil); r.Status != http.StatusForbidden {
				t.Errorf("org-scoped verify: %d %s", r.Status, r.Body)
			}
		})
		r = e.Do(t, http.MethodPost, verify, e.AdminToken, nil)
		r.Decode(t, &org)
		if r.Status != http.StatusOK || !org.Domains[0].Verified {
			t.Fatalf("verify with the right record: %d %s", r.Status, r.Body)
		}
	})
}

func createToken(t *testing.T, e *testkit.Env, body map[string]any) string {
	t.Helper()
	r := e.Do(t, http.MethodPost, "/api/v1/tokens", e.AdminToken, body)
	if r.Status != http.StatusCreated {
		t.Fatalf("create token: %d %s", r.Status, r.Body)
	}
	return r.JSON(t)["secret"].(string)
}
