package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/api"
	"github.com/tessera-iam/tessera/internal/apitoken"
	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/config"
	"github.com/tessera-iam/tessera/internal/console"
	"github.com/tessera-iam/tessera/internal/grant"
	"github.com/tessera-iam/tessera/internal/group"
	"github.com/tessera-iam/tessera/internal/idempotency"
	"github.com/tessera-iam/tessera/internal/keys"
	"github.com/tessera-iam/tessera/internal/login"
	"github.com/tessera-iam/tessera/internal/mail"
	"github.com/tessera-iam/tessera/internal/oidcop"
	"github.com/tessera-iam/tessera/internal/samlidp"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/store"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
	"github.com/tessera-iam/tessera/internal/user/password"
	"github.com/tessera-iam/tessera/internal/web"
)

// Server is a running Tessera: its store, services and HTTP handler.
type Server struct {
	cfg     config.Config
	log     *slog.Logger
	db      *store.DB
	now     func() time.Time
	handler http.Handler
	mail    *mail.Queue
	// Mailbox keeps mail in memory when no SMTP server is configured (the
	// zero-configuration default); nil otherwise.
	Mailbox *mail.Mailbox

	Tenants  *tenant.Service
	Users    *user.Service
	Groups   *group.Service
	Tokens   *apitoken.Service
	Access   *access.Service
	Audit    *audit.Service
	Sessions *session.Service
	Keys     *keys.Service
	Grants   *grant.Service
}

// Now is the clock every service uses: UTC, microsecond precision (what
// PostgreSQL keeps), so a value read back equals the value written.
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// Open prepares the data directory, opens and migrates the database, loads
// the master key and builds the services. now may be nil for the real clock.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger, now func() time.Time) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if now == nil {
		now = Now
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	db, err := store.Open(ctx, cfg.Database())
	if err != nil {
		return nil, err
	}
	s, err := New(ctx, cfg, log, db, now)
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// New builds a server on an open database, migrating it first. Tests use it
// to share one database between the server and their assertions.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, db *store.DB, now func() time.Time) (*Server, error) {
	if now == nil {
		now = Now
	}
	if err := db.Migrate(ctx); err != nil {
		return nil, err
	}
	if err := db.SealAuditLog(ctx); err != nil { // events from before the audit chain
		return nil, err
	}
	mk, err := loadMasterKey(cfg)
	if err != nil {
		return nil, err
	}
	if err := checkMasterKey(ctx, db, mk); err != nil {
		return nil, err
	}
	params := password.Params{Memory: uint32(cfg.Argon2Memory), Time: uint32(cfg.Argon2Time), Threads: uint8(cfg.Argon2Threads)}
	if err := params.Validate(); err != nil {
		return nil, fmt.Errorf("argon2 settings: %w", err)
	}
	var breached *password.Breached
	if cfg.BreachedList != "" {
		f, err := os.Open(cfg.BreachedList)
		if err != nil {
			return nil, fmt.Errorf("breached password list: %w", err)
		}
		breached, err = password.LoadBreached(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("breached password list: %w", err)
		}
		log.Info("loaded breached password list", "entries", breached.Len())
	}
	s := &Server{
		cfg: cfg, log: log, db: db, now: now,
		Tenants: &tenant.Service{Store: db, Now: now, Resolver: net.DefaultResolver},
		Users:   &user.Service{Store: db, Now: now, Hasher: password.NewHasher(params, cfg.HashConcurrent), Breached: breached},
		Groups:  &group.Service{Store: db, Now: now},
		Tokens:  &apitoken.Service{Store: db, Now: now, Digest: mk.Digester("api-token")},
		Access:  &access.Service{Store: db, Now: now, SecretDigest: mk.Digester("oidc-client-secret").Digest},
		Audit:   &audit.Service{Store: db, Now: now, ArchiveDir: filepath.Join(cfg.DataDir, "audit-archive")},
	}
	s.Sessions = &session.Service{Store: db, Now: now, Users: s.Users, Access: s.Access, Seal: mk, Digest: mk.Digester("sign-in")}
	s.Keys = &keys.Service{Store: db, Now: now, Master: mk}
	s.Grants = &grant.Service{Store: db, Now: now, Users: s.Users, Tenants: s.Tenants, Access: s.Access}
	if db.Dialect() == store.SQLite {
		// One process owns a SQLite database, so it sees every revocation
		// and may answer session checks from memory.
		s.Sessions.Cache = session.NewCache(sessionCacheSize)
	}
	// Cross-domain reactions, each inside the transaction of its change.
	s.Users.OnOrgMove = s.Groups.UserMoved
	s.Users.AfterChange = func(ctx context.Context, t tenant.ID, u user.ID) error {
		if err := s.Access.UserChanged(ctx, t, u); err != nil {
			return err
		}
		return s.Sessions.UserChanged(ctx, t, u) // suspended or deactivated: signed out at once
	}
	s.Groups.MembersChanged = s.Access.UsersChanged
	s.Tenants.OrgStatusChanged = s.Access.OrganizationChanged
	var sender mail.Sender
	if cfg.SMTPHost == "" {
		s.Mailbox = mail.NewMailbox(log, mail.MailboxOptions{Now: now})
		sender = s.Mailbox
	} else {
		smtp, err := mail.NewSMTP(mail.SMTPConfig{Host: cfg.SMTPHost, Port: cfg.SMTPPort, TLS: cfg.SMTPTLS,
			Username: cfg.SMTPUsername, Password: string(cfg.SMTPPassword), From: cfg.MailFrom})
		if err != nil {
			return nil, fmt.Errorf("smtp: %w", err)
		}
		sender = smtp
	}
	s.mail = mail.NewQueue(sender, log, mail.QueueOptions{})
	if s.handler, err = s.routes(mk); err != nil {
		return nil, err
	}
	return s, nil
}

// sessionCacheSize bounds the sessions kept in memory (a few hundred bytes
// each; see docs/benchmarks.md).
const sessionCacheSize = 1 << 20

// loadMasterKey takes the configured key, else DataDir/master.key, creating
// that file (mode 0600) on the very first start.
func loadMasterKey(cfg config.Config) (*keys.MasterKey, error) {
	if cfg.MasterKey != "" {
		return keys.ParseMasterKey(string(cfg.MasterKey))
	}
	path := filepath.Join(cfg.DataDir, "master.key")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("create master key: %w", err)
		}
		k := keys.GenerateMasterKey()
		if _, err := io.WriteString(f, k+"\n"); err != nil {
			f.Close()
			return nil, fmt.Errorf("write master key: %w", err)
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
		return keys.ParseMasterKey(k)
	}
	if err != nil {
		return nil, fmt.Errorf("read master key: %w", err)
	}
	return keys.ParseMasterKey(string(b))
}

// checkMasterKey refuses to start with a master key other than the one the
// database was first used with: with several nodes, or a restored data
// directory, a different key would silently make every token and sealed
// secret unusable.
func checkMasterKey(ctx context.Context, db *store.DB, mk *keys.MasterKey) error {
	const key, probe = "master_key_check", "tessera master key check"
	want := mk.Digester("key-check").Digest(probe)
	got, err := db.PutSystemSettingIfAbsent(ctx, key, want)
	if err != nil {
		return fmt.Errorf("check master key: %w", err)
	}
	if got != want {
		return errors.New("the master key does not match the one this database was created with; " +
			"give every node the same TESSERA_MASTER_KEY (or restore DATA/master.key)")
	}
	return nil
}

// Handler is the whole HTTP surface.
func (s *Server) Handler() http.Handler { return s.handler }

// Close writes the sessions' recorded activity, delivers queued mail and
// releases the database.
func (s *Server) Close() error {
	if err := s.Sessions.FlushActivity(context.Background()); err != nil {
		s.log.Warn("session activity not written at shutdown", "err", err)
	}
	if err := s.CloseMail(); err != nil {
		s.log.Warn("mail left undelivered at shutdown", "err", err)
	}
	return s.db.Close()
}

// CloseMail delivers the mail still queued, for a few seconds at most, and
// stops the mail workers.
func (s *Server) CloseMail() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.mail.Close(ctx)
}

func (s *Server) routes(mk *keys.MasterKey) (http.Handler, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		web.JSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.db.Ping(ctx); err != nil {
			s.log.WarnContext(ctx, "not ready", "err", err)
			web.JSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unavailable"})
			return
		}
		web.JSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	a := &api.API{Tenants: s.Tenants, Users: s.Users, Groups: s.Groups, Tokens: s.Tokens, Access: s.Access, Audit: s.Audit, Sessions: s.Sessions,
		Keys: s.Keys, Grants: s.Grants, Idempotency: s.db, Log: s.log, Now: s.now, MaxBody: s.cfg.MaxBodyBytes,
		PublicURL: s.cfg.BaseURL()}
	a.Routes(mux)
	pages, err := login.New(login.Handler{Tenants: s.Tenants, Users: s.Users, Access: s.Access, Sessions: s.Sessions, Grants: s.Grants,
		Mail: s.mail, Log: s.log, Now: s.now, PublicURL: s.cfg.BaseURL(), RatePerMinute: s.cfg.SignInRate, CSRFKey: []byte(mk.Digester("csrf").Digest("key"))})
	if err != nil {
		return nil, err
	}
	idp, err := samlidp.New(samlidp.Handler{Tenants: s.Tenants, Users: s.Users, Groups: s.Groups, Access: s.Access,
		Sessions: s.Sessions, Keys: s.Keys, Log: s.log, Now: s.now, PublicURL: s.cfg.BaseURL(), Pairwise: mk.Digester("saml-pairwise")})
	if err != nil {
		return nil, err
	}
	admin, err := console.New(console.Handler{Tenants: s.Tenants, Tokens: s.Tokens, Access: s.Access, Keys: s.Keys,
		Log: s.log, Now: s.now, PublicURL: s.cfg.BaseURL(), SessionKey: []byte(mk.Digester("console-session").Digest("key")),
		CSRFKey: []byte(mk.Digester("console-csrf").Digest("key"))})
	if err != nil {
		return nil, err
	}
	provider, err := oidcop.New(oidcop.Handler{Tenants: s.Tenants, Users: s.Users, Groups: s.Groups, Access: s.Access,
		Sessions: s.Sessions, Grants: s.Grants, Keys: s.Keys, Log: s.log, Now: s.now, PublicURL: s.cfg.BaseURL(),
		CSRFKey: []byte(mk.Digester("csrf").Digest("key"))})
	if err != nil {
		return nil, err
	}
	provider.Routes(mux)
	s.Sessions.OnEnd = provider.SessionsEnded
	pageMux := http.NewServeMux()
	pages.Routes(pageMux)
	idp.Routes(pageMux)
	admin.Routes(pageMux)
	mux.Handle("/t/", login.Protect(pageMux))
	mux.Handle("GET /static/", pageMux)
	if s.Mailbox != nil {
		// The development mailbox shows the links in mail to whoever asks
		// from this machine; it exists only while no SMTP server is set.
		mux.Handle("GET /dev/mailbox", s.Mailbox.Handler())
	}
	proxies, _ := web.ParseProxies(s.cfg.TrustedProxies) // checked by Validate
	return web.Observe{Log: s.log, Proxies: proxies, Metrics: web.NewMetrics(reg)}.Wrap(s.tenantHosts(mux)), nil
}

// Run serves until ctx ends, then drains requests for the grace period.
func (s *Server) Run(ctx context.Context) error {
	srv := &http.Server{
		Addr: s.cfg.Listen, Handler: s.handler,
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second,
		IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return err
	}
	if s.cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
		if err != nil {
			ln.Close()
			return fmt.Errorf("load tls certificate: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12,
			NextProtos: []string{"h2", "http/1.1"}})
	}
	s.log.Info("tessera listening", "addr", ln.Addr().String(), "url", s.cfg.BaseURL(), "database", string(s.db.Dialect()))
	go s.purgeLoop(ctx)
	// Sessions ended by another process (a CLI command) void this one's
	// session cache within a second.
	s.Sessions.WatchEpoch(ctx, time.Second)
	go s.flushActivityLoop(ctx)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "grace", s.cfg.ShutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
	defer cancel()
	return srv.Shutdown(sctx)
}

// activityFlushPeriod is how often sessions' recorded activity is written.
const activityFlushPeriod = 5 * time.Second

// flushActivityLoop writes sessions' recorded activity every few seconds.
func (s *Server) flushActivityLoop(ctx context.Context) {
	t := time.NewTicker(activityFlushPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.Sessions.FlushActivity(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("write session activity", "err", err)
		}
	}
}

// purgeLoop forgets expired idempotency keys, sessions, sign-in tokens,
// failure counters and OAuth state hourly.
func (s *Server) purgeLoop(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := s.db.PurgeIdempotencyKeys(ctx, s.now().Add(-idempotency.TTL)); err != nil && ctx.Err() == nil {
			s.log.Warn("purge idempotency keys", "err", err)
		} else if n > 0 {
			s.log.Debug("purged idempotency keys", "count", n)
		}
		if n, err := s.Sessions.PurgeExpired(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("purge expired sessions", "err", err)
		} else if n > 0 {
			s.log.Debug("purged expired sessions and sign-in tokens", "count", n)
		}
		if n, err := s.Grants.PurgeExpired(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("purge expired oauth state", "err", err)
		} else if n > 0 {
			s.log.Debug("purged expired authorization requests, tokens and grants", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// SchemaVersion reports the applied migration version.
func (s *Server) SchemaVersion(ctx context.Context) (int64, error) { return s.db.SchemaVersion(ctx) }
