package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

var (
	// ErrQueueFull is returned by Enqueue when the buffer is full.
	ErrQueueFull = errors.New("mail: queue full")
	// ErrQueueClosed is returned by Enqueue after Close.
	ErrQueueClosed = errors.New("mail: queue closed")
)

// QueueOptions tunes a Queue; zero values take the defaults.
type QueueOptions struct {
	Buffer      int           // messages waiting; default 1000
	Workers     int           // concurrent deliveries; default 4
	Attempts    int           // tries per message; default 3
	Backoff     time.Duration // wait before the 2nd try, doubled for each further try; default 2s
	SendTimeout time.Duration // bound on one try; default 1m
	// Wait sleeps d or until ctx ends (then returns ctx.Err()). Tests inject
	// it to observe the backoff without sleeping; nil means a real timer.
	Wait func(ctx context.Context, d time.Duration) error
}

// Queue delivers messages asynchronously, so that HTTP handlers never wait
// on SMTP and "forgot password" takes as long for unknown accounts as for
// existing ones. It keeps messages in memory only: a crash loses what is
// still queued, which the user recovers from by asking again.
type Queue struct {
	send Sender
	log  *slog.Logger
	opts QueueOptions

	mu     sync.RWMutex // guards closed against sends on ch
	closed bool
	ch     chan Message

	ctx    context.Context // workers' context, canceled when Close gives up
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewQueue starts the workers. Call Close to stop them.
func NewQueue(s Sender, log *slog.Logger, opts QueueOptions) *Queue {
	if opts.Buffer <= 0 {
		opts.Buffer = 1000
	}
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.Attempts <= 0 {
		opts.Attempts = 3
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 2 * time.Second
	}
	if opts.SendTimeout <= 0 {
		opts.SendTimeout = time.Minute
	}
	if opts.Wait == nil {
		opts.Wait = wait
	}
	ctx, cancel := context.WithCancel(context.Background())
	q := &Queue{send: s, log: log, opts: opts, ch: make(chan Message, opts.Buffer), ctx: ctx, cancel: cancel}
	q.wg.Add(opts.Workers)
	for range opts.Workers {
		go q.work()
	}
	return q
}

// Enqueue validates m and queues it; it never blocks. It returns ErrInvalid
// (wrapped) for a message that could never be sent, ErrQueueFull when the
// buffer is full and ErrQueueClosed after Close; the caller logs it (with
// Redact for the recipient) and must not tell an unauthenticated user.
func (q *Queue) Enqueue(m Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return ErrQueueClosed
	}
	select {
	case q.ch <- m:
		return nil
	default:
		return ErrQueueFull
	}
}

// Close stops accepting messages and waits until the workers have delivered
// (or given up on) every queued message. If ctx ends first, Close cancels
// the deliveries in flight and the retries, drops what is left (logging each
// drop) and returns ctx's error without waiting further.
func (q *Queue) Close(ctx context.Context) error {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.ch)
	}
	q.mu.Unlock()

	done := make(chan struct{})
	go func() { q.wg.Wait(); close(done) }()
	select {
	case <-done:
		q.cancel()
		return nil
	case <-ctx.Done():
		q.cancel()
		return fmt.Errorf("mail: queue close: %w", ctx.Err())
	}
}

func (q *Queue) work() {
	defer q.wg.Done()
	for m := range q.ch {
		q.deliver(m)
	}
}

func (q *Queue) deliver(m Message) {
	log := q.log.With("tenant", m.Tenant, "kind", m.Kind, "to", Redact(m.To))
	delay := q.opts.Backoff
	for attempt := 1; ; attempt++ {
		if q.ctx.Err() != nil {
			log.Error("mail dropped: shutting down", "attempt", attempt)
			return
		}
		ctx, cancel := context.WithTimeout(q.ctx, q.opts.SendTimeout)
		err := q.send.Send(ctx, m)
		cancel()
		if err == nil {
			log.Info("mail sent", "attempt", attempt)
			return
		}
		// Servers echo the recipient in errors; keep logs to the redacted form.
		reason := redactIn(err.Error(), m.To)
		if errors.Is(err, ErrInvalid) || errors.Is(err, ErrPermanent) || attempt >= q.opts.Attempts {
			log.Error("mail failed", "attempt", attempt, "err", reason)
			return
		}
		log.Warn("mail send failed, will retry", "attempt", attempt, "retry_in", delay, "err", reason)
		if q.opts.Wait(q.ctx, delay) != nil {
			log.Error("mail dropped: shutting down", "attempt", attempt)
			return
		}
		delay *= 2
	}
}

// redactIn replaces the recipient's address in s by its redacted form.
func redactIn(s, to string) string {
	if a, err := recipient(to); err == nil {
		s = strings.ReplaceAll(s, a.Address, Redact(to))
	}
	return s
}

func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
