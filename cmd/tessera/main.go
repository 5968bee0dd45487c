// Command tessera runs the Tessera identity platform and administers it.
//
//	tessera serve                 run the server (SQLite in ./tessera-data by default)
//	tessera migrate               apply database migrations and exit
//	tessera admin token create    issue an admin API token
//	tessera tenant create|list    manage tenants
//	tessera audit verify|archive  check the audit chain, archive old events
//	tessera user sign-out|reset-mfa|unlock  help a user: end sessions, reset factors, lift a lockout
//	tessera version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	_ "time/tzdata" // IANA zones for profile validation on hosts without zoneinfo

	"github.com/tessera-iam/tessera/internal/apitoken"
	"github.com/tessera-iam/tessera/internal/config"
	"github.com/tessera-iam/tessera/internal/server"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

// version is set by the release build (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tessera:", err)
		os.Exit(1)
	}
}

const usage = `usage: tessera <command> [flags]

commands:
  serve                 run the server
  migrate               apply database migrations and exit
  admin token create    issue an admin API token (printed on stdout)
  tenant create         create a tenant
  tenant list           list tenants
  audit verify          verify the audit log's hash chain (exit 1 when broken)
  audit archive         move events older than each tenant's retention to files
  user sign-out         end every session of a user (sign out everywhere)
  user reset-mfa        remove a user's second factors and recovery codes
  user unlock           lift a user's sign-in lockout
  version               print the version

Run "tessera <command> -h" for a command's flags.`

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	if (cmd == "admin" || cmd == "tenant" || cmd == "audit" || cmd == "user") && len(rest) > 0 {
		cmd, rest = cmd+" "+rest[0], rest[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, rest, stdout, stderr, getenv)
	case "migrate":
		return migrate(ctx, rest, stdout, stderr, getenv)
	case "admin token":
		if len(rest) == 0 || rest[0] != "create" {
			return errors.New("usage: tessera admin token create --tenant SLUG --role ROLE [--org ID] [--name NAME]")
		}
		return createToken(ctx, rest[1:], stdout, stderr, getenv)
	case "tenant create":
		return createTenant(ctx, rest, stdout, stderr, getenv)
	case "tenant list":
		return listTenants(ctx, rest, stdout, stderr, getenv)
	case "audit verify":
		return verifyAudit(ctx, rest, stdout, stderr, getenv)
	case "audit archive":
		return archiveAudit(ctx, rest, stdout, stderr, getenv)
	case "user sign-out":
		return onUser(ctx, "sign-out", rest, stdout, stderr, getenv, signOutUser)
	case "user reset-mfa":
		return onUser(ctx, "reset-mfa", rest, stdout, stderr, getenv, resetUserMFA)
	case "user unlock":
		return onUser(ctx, "unlock", rest, stdout, stderr, getenv, unlockUser)
	case "version":
		fmt.Fprintln(stdout, "tessera", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	fmt.Fprintln(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// setup parses a command's flags over the environment and defaults.
func setup(name string, args []string, stderr io.Writer, getenv func(string) string, settings []string,
	extra func(*flag.FlagSet)) (config.Config, error) {
	cfg := config.Default()
	fs := flag.NewFlagSet("tessera "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.Register(fs, settings...)
	if extra != nil {
		extra(fs)
	}
	if err := cfg.LoadEnv(getenv); err != nil {
		return cfg, err
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return cfg, cfg.Validate()
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// dbSettings are the flags every command that opens the database takes.
var dbSettings = []string{"data", "database-url", "master-key", "log-level", "log-format"}

// openDB parses a database command's flags (its own through flags), runs
// check on them, and opens the server the command works on.
func openDB(ctx context.Context, name string, args []string, stderr io.Writer, getenv func(string) string,
	flags func(*flag.FlagSet), check func() error) (*server.Server, error) {
	cfg, err := setup(name, args, stderr, getenv, dbSettings, flags)
	if err != nil {
		return nil, err
	}
	if check != nil {
		if err := check(); err != nil {
			return nil, err
		}
	}
	return server.Open(ctx, cfg, newLogger(cfg, stderr), nil)
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg, err := setup("serve", args, stderr, getenv, nil, nil)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	s, err := server.Open(ctx, cfg, log, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Bootstrap(ctx, stdout); err != nil {
		return err
	}
	return s.Run(ctx)
}

func migrate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	s, err := openDB(ctx, "migrate", args, stderr, getenv, nil, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database schema at version %d\n", v)
	return nil
}

func createToken(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var slug, role, org, name string
	s, err := openDB(ctx, "admin token create", args, stderr, getenv, func(fs *flag.FlagSet) {
		fs.StringVar(&slug, "tenant", "", "tenant slug (required)")
		fs.StringVar(&role, "role", "", "admin, user-manager or read-only (required)")
		fs.StringVar(&org, "org", "", "organization id, for a token scoped to one organization")
		fs.StringVar(&name, "name", "cli", "a name to recognise the token by")
	}, func() error {
		if slug == "" || role == "" {
			return errors.New("--tenant and --role are required")
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer s.Close()
	_, secret, err := s.CreateToken(ctx, slug, apitoken.NewToken{Name: name, Role: apitoken.Role(role), Org: tenant.OrgID(org)})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, secret)
	return nil
}

func createTenant(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var slug, name string
	s, err := openDB(ctx, "tenant create", args, stderr, getenv, func(fs *flag.FlagSet) {
		fs.StringVar(&slug, "slug", "", "URL name of the tenant (required)")
		fs.StringVar(&name, "name", "", "display name (required)")
	}, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	t, err := s.Tenants.CreateTenant(ctx, slug, name)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\t%s\t%s\n", t.ID, t.Slug, t.Name)
	return nil
}

func listTenants(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	s, err := openDB(ctx, "tenant list", args, stderr, getenv, nil, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	ts, err := s.Tenants.ListTenants(ctx)
	if err != nil {
		return err
	}
	for _, t := range ts {
		fmt.Fprintf(stdout, "%s\t%s\t%s\n", t.ID, t.Slug, t.Name)
	}
	return nil
}

func verifyAudit(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var slug string
	var dbOnly bool
	s, err := openDB(ctx, "audit verify", args, stderr, getenv, func(fs *flag.FlagSet) {
		fs.StringVar(&slug, "tenant", "", "tenant slug (default: every tenant)")
		fs.BoolVar(&dbOnly, "db-only", false, "verify the database from its anchor, without the archive files in DATA/audit-archive")
	}, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	checks, err := s.VerifyAudit(ctx, slug, dbOnly)
	if err != nil {
		return err
	}
	broken := 0
	for _, c := range checks {
		if !c.OK {
			broken++
			fmt.Fprintf(stdout, "%s\tBROKEN at event %d: %s\n", c.Slug, c.BadSeq, c.Reason)
			continue
		}
		fmt.Fprintf(stdout, "%s\tok\t%d events checked (%d from archive files, database from event %d)\thead %d %s\n",
			c.Slug, c.Checked, c.Archived, c.Anchor.Seq+1, c.Head.Seq, c.Head.Hash)
	}
	if broken > 0 {
		return fmt.Errorf("the audit log of %d tenant(s) does not verify", broken)
	}
	return nil
}

func archiveAudit(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var slug string
	s, err := openDB(ctx, "audit archive", args, stderr, getenv, func(fs *flag.FlagSet) {
		fs.StringVar(&slug, "tenant", "", "tenant slug (default: every tenant)")
	}, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	runs, err := s.ArchiveAudit(ctx, slug)
	for _, r := range runs {
		switch {
		case r.Retention == 0:
			fmt.Fprintf(stdout, "%s\tkept forever (no retention set)\n", r.Slug)
		default:
			fmt.Fprintf(stdout, "%s\tarchived %d events older than %d days into %d files; database now from event %d\n",
				r.Slug, r.Events, r.Retention, len(r.Files), r.Anchor.Seq+1)
			for _, f := range r.Files {
				fmt.Fprintf(stdout, "\t%s\n", f)
			}
		}
	}
	return err
}

// userAction is one of the `tessera user` commands: what it does to user u
// of the tenant in sc, and the line it prints.
type userAction func(ctx context.Context, s *server.Server, sc tenant.Scope, u user.ID) (string, error)

// onUser runs a `tessera user` command: support for a user who cannot sign
// in, when the admin API is out of reach.
func onUser(ctx context.Context, name string, args []string, stdout, stderr io.Writer, getenv func(string) string, do userAction) error {
	var slug, uid string
	s, err := openDB(ctx, "user "+name, args, stderr, getenv, func(fs *flag.FlagSet) {
		fs.StringVar(&slug, "tenant", "", "tenant slug (required)")
		fs.StringVar(&uid, "user", "", "user id (required)")
	}, func() error {
		if slug == "" || uid == "" {
			return fmt.Errorf("usage: tessera user %s --tenant SLUG --user ID", name)
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer s.Close()
	t, err := s.Tenants.TenantBySlug(ctx, slug)
	if err != nil {
		return fmt.Errorf("tenant %q: %w", slug, err)
	}
	line, err := do(ctx, s, tenant.Scope{Tenant: t.ID}, user.ID(uid))
	if err != nil {
		return fmt.Errorf("user %s: %w", uid, err)
	}
	fmt.Fprintf(stdout, "%s\t%s\n", uid, line)
	return nil
}

func signOutUser(ctx context.Context, s *server.Server, sc tenant.Scope, u user.ID) (string, error) {
	n, err := s.Sessions.RevokeAll(ctx, sc, u, "", "cli")
	return fmt.Sprintf("%d sessions ended", n), err
}

func resetUserMFA(ctx context.Context, s *server.Server, sc tenant.Scope, u user.ID) (string, error) {
	n, err := s.Sessions.ResetFactors(ctx, sc, u)
	return fmt.Sprintf("%d factors removed, recovery codes cleared", n), err
}

func unlockUser(ctx context.Context, s *server.Server, sc tenant.Scope, u user.ID) (string, error) {
	if _, err := s.Users.Transition(ctx, sc, u, user.OpUnlock, 0); err != nil {
		return "", err
	}
	return "unlocked", nil
}
