package mail

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeSender records deliveries; failures[to] makes the next n sends to that
// recipient fail with err (a retryable error when err is nil).
type fakeSender struct {
	mu       sync.Mutex
	sent     []Message
	calls    int
	failures map[string]int
	err      error
	block    chan struct{} // when set, Send waits for it or its ctx
	started  chan struct{} // when set, Send signals here on entry
	canceled chan struct{} // when set, closed if Send's ctx is canceled while blocked
}

func (f *fakeSender) Send(ctx context.Context, m Message) error {
	if f.started != nil {
		f.started <- struct{}{}
	}
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			if f.canceled != nil {
				close(f.canceled)
			}
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.failures[m.To] > 0 {
		f.failures[m.To]--
		if f.err != nil {
			return f.err
		}
		return fmt.Errorf("451 4.3.0 try again later for <%s>", m.To)
	}
	f.sent = append(f.sent, m)
	return nil
}

func (f *fakeSender) result() (sent []string, calls int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.sent {
		sent = append(sent, m.Subject)
	}
	return sent, f.calls
}

// delays records the backoff the queue asks for, without sleeping.
type delays struct {
	mu sync.Mutex
	d  []time.Duration
}

func (r *delays) wait(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	r.d = append(r.d, d)
	r.mu.Unlock()
	return ctx.Err()
}

func (r *delays) get() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.d...)
}

func closeQueue(t *testing.T, q *Queue) {
	t.Helper()
	if err := q.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestQueueDeliversEverythingBeforeClose(t *testing.T) {
	log, _ := testLogger()
	f := &fakeSender{}
	q := NewQueue(f, log, QueueOptions{Workers: 3})
	var want []string
	for i := range 50 {
		s := fmt.Sprintf("m%02d", i)
		want = append(want, s)
		if err := q.Enqueue(msgTo("acme", "bob@example.com", s)); err != nil {
			t.Fatal(err)
		}
	}
	closeQueue(t, q)
	sent, _ := f.result()
	if len(sent) != 50 {
		t.Fatalf("sent %d of 50", len(sent))
	}
	seen := map[string]bool{}
	for _, s := range sent {
		seen[s] = true
	}
	for _, s := range want {
		if !seen[s] {
			t.Errorf("%s not sent", s)
		}
	}
	if err := q.Enqueue(msgTo("acme", "bob@example.com", "late")); !errors.Is(err, ErrQueueClosed) {
		t.Errorf("Enqueue after Close: %v", err)
	}
	if err := q.Close(t.Context()); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestQueueRetriesWithBackoff(t *testing.T) {
	tests := []struct {
		name      string
		failures  int
		err       error
		wantSent  bool
		wantCalls int
		wantWaits []time.Duration
	}{
		{"succeeds first", 0, nil, true, 1, nil},
		{"succeeds third", 2, nil, true, 3, []time.Duration{time.Second, 2 * time.Second}},
		{"gives up after 3", 5, nil, false, 3, []time.Duration{time.Second, 2 * time.Second}},
		{"permanent", 5, fmt.Errorf("%w: 550 no such user", ErrPermanent), false, 1, nil},
		{"invalid", 5, fmt.Errorf("%w: bad", ErrInvalid), false, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, _ := testLogger()
			f := &fakeSender{failures: map[string]int{"bob@example.com": tt.failures}, err: tt.err}
			var d delays
			q := NewQueue(f, log, QueueOptions{Workers: 1, Backoff: time.Second, Wait: d.wait})
			if err := q.Enqueue(msgTo("acme", "bob@example.com", "x")); err != nil {
				t.Fatal(err)
			}
			closeQueue(t, q)
			sent, calls := f.result()
			if (len(sent) == 1) != tt.wantSent || calls != tt.wantCalls {
				t.Errorf("sent %v after %d calls, want sent=%v after %d", sent, calls, tt.wantSent, tt.wantCalls)
			}
			if got := d.get(); !reflect.DeepEqual(got, tt.wantWaits) {
				t.Errorf("waits %v, want %v", got, tt.wantWaits)
			}
		})
	}
}

func TestQueueFullNeverBlocks(t *testing.T) {
	log, _ := testLogger()
	f := &fakeSender{block: make(chan struct{}), started: make(chan struct{})}
	q := NewQueue(f, log, QueueOptions{Workers: 1, Buffer: 2})
	for _, s := range []string{"a", "b", "c"} {
		if err := q.Enqueue(msgTo("acme", "bob@example.com", s)); err != nil {
			t.Fatal(err)
		}
		if s == "a" {
			<-f.started // the worker holds "a"; "b" and "c" fill the buffer
		}
	}
	if err := q.Enqueue(msgTo("acme", "bob@example.com", "d")); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Enqueue on a full queue: %v", err)
	}
	go func() {
		for range f.started {
		}
	}()
	close(f.block)
	closeQueue(t, q)
	close(f.started)
	if sent, _ := f.result(); !reflect.DeepEqual(sent, []string{"a", "b", "c"}) {
		t.Errorf("sent %v", sent)
	}
}

func TestQueueRefusesInvalid(t *testing.T) {
	log, _ := testLogger()
	f := &fakeSender{}
	q := NewQueue(f, log, QueueOptions{})
	defer closeQueue(t, q)
	for _, m := range []Message{
		msgTo("acme", "nobody", "x"),
		msgTo("acme", "bob@example.com", "two\r\nBcc: eve@example.com"),
		{Tenant: "acme", To: "bob@example.com", Subject: "no body"},
	} {
		if err := q.Enqueue(m); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v", m, err)
		}
	}
}

func TestQueueCloseGivesUpWhenContextEnds(t *testing.T) {
	log, logs := testLogger()
	f := &fakeSender{block: make(chan struct{}), started: make(chan struct{}, 1), canceled: make(chan struct{})}
	q := NewQueue(f, log, QueueOptions{Workers: 1})
	if err := q.Enqueue(msgTo("acme", "bob@example.com", "in flight")); err != nil {
		t.Fatal(err)
	}
	<-f.started
	if err := q.Enqueue(msgTo("acme", "bob@example.com", "queued")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := q.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close: %v", err)
	}
	<-f.canceled // the delivery in flight was told to stop
	q.wg.Wait()
	if sent, _ := f.result(); len(sent) != 0 {
		t.Errorf("sent %v", sent)
	}
	if n := strings.Count(logs.String(), "mail dropped: shutting down"); n != 2 {
		t.Errorf("%d drops logged, want 2:\n%s", n, logs)
	}
}

func TestQueueLogsNoSecrets(t *testing.T) {
	log, logs := testLogger()
	f := &fakeSender{failures: map[string]int{"Alice <alice@example.com>": 1}}
	var d delays
	q := NewQueue(f, log, QueueOptions{Wait: d.wait})
	m := PasswordReset(Tenant{Slug: "acme", Name: "Acme"}, "Alice <alice@example.com>",
		"https://id.example.com/t/acme/reset?token=S3CRET-T0KEN", time.Hour)
	if err := q.Enqueue(m); err != nil {
		t.Fatal(err)
	}
	closeQueue(t, q)
	out := logs.String()
	for _, secret := range []string{"S3CRET-T0KEN", "alice@example.com", "reset?token"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{"a***@example.com", "tenant=acme", "kind=password_reset", "mail sent", "will retry"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

// TestQueueOverSMTP runs the queue in front of a real SMTP server.
func TestQueueOverSMTP(t *testing.T) {
	srv, pool := startServer(t, serverOpts{})
	s := newTestSMTP(t, SMTPConfig{Port: srv.port, TLSConfig: tlsConfig(pool)})
	log, _ := testLogger()
	q := NewQueue(s, log, QueueOptions{Workers: 2})
	for _, to := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		if err := q.Enqueue(EmailVerification(Tenant{Slug: "acme", Name: "Acme"}, to, "https://id.example.com/v?t=1", time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	closeQueue(t, q)
	if got := srv.received(); len(got) != 3 {
		t.Errorf("received %d of 3", len(got))
	}
}
