// Package config holds Tessera's one configuration struct: defaults that run
// with zero configuration, flags, TESSERA_* environment variables, and
// Validate, which reports every problem at once.
//
// Precedence: default < environment < flag. There is no package-level
// state: each command builds its own Config.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config is every setting of `tessera serve` and the commands that share it.
type Config struct {
	Listen         string // host:port
	DataDir        string // SQLite file, master key file
	DatabaseURL    string // postgres://... ; empty means SQLite in DataDir
	PublicURL      string // https://id.example.com; empty means http://Listen
	TLSCert        string
	TLSKey         string
	TrustedProxies string // CIDRs whose X-Forwarded-For is believed
	MasterKey      Secret // base64; empty means DataDir/master.key
	LogLevel       string // debug, info, warn, error
	LogFormat      string // text or json
	MaxBodyBytes   int64
	SignInRate     int // form posts per minute per client address on the sign-in pages; 0: no limit
	ShutdownGrace  time.Duration

	Argon2Memory   uint // KiB
	Argon2Time     uint
	Argon2Threads  uint
	HashConcurrent int    // concurrent password hashes; 0 means GOMAXPROCS
	BreachedList   string // file of breached passwords, one per line

	SMTPHost     string // empty means the development mailbox (mail is kept in memory, not sent)
	SMTPPort     int
	SMTPTLS      string // starttls (mandatory), tls (implicit, usually port 465) or none (loopback host only)
	SMTPUsername string // SMTP AUTH only when set
	SMTPPassword Secret
	MailFrom     string // From: of outgoing mail
}

// Secret is a string that never prints itself.
type Secret string

func (Secret) String() string   { return "[redacted]" }
func (Secret) LogValue() string { return "[redacted]" }

// Default returns the zero-configuration settings.
func Default() Config {
	return Config{
		Listen: "127.0.0.1:8080", DataDir: "./tessera-data", LogLevel: "info", LogFormat: "text",
		MaxBodyBytes: 1 << 20, SignInRate: 60, ShutdownGrace: 15 * time.Second,
		Argon2Memory: 19 * 1024, Argon2Time: 2, Argon2Threads: 1,
		SMTPPort: 587, SMTPTLS: "starttls", MailFrom: "Tessera <no-reply@localhost>",
	}
}

// field binds one setting to its flag and environment variable.
type field struct {
	flag, env, usage string
	value            flag.Value
}

func (c *Config) fields() []field {
	return []field{
		{"listen", "TESSERA_LISTEN", "address to listen on", (*stringValue)(&c.Listen)},
		{"data", "TESSERA_DATA", "data directory (SQLite database, master key)", (*stringValue)(&c.DataDir)},
		{"database-url", "TESSERA_DATABASE_URL", "postgres://... to use PostgreSQL instead of SQLite", (*stringValue)(&c.DatabaseURL)},
		{"public-url", "TESSERA_PUBLIC_URL", "external base URL, e.g. https://id.example.com", (*stringValue)(&c.PublicURL)},
		{"tls-cert", "TESSERA_TLS_CERT", "PEM certificate file to serve HTTPS", (*stringValue)(&c.TLSCert)},
		{"tls-key", "TESSERA_TLS_KEY", "PEM key file to serve HTTPS", (*stringValue)(&c.TLSKey)},
		{"trusted-proxies", "TESSERA_TRUSTED_PROXIES", "comma-separated CIDRs whose X-Forwarded-For is believed", (*stringValue)(&c.TrustedProxies)},
		{"master-key", "TESSERA_MASTER_KEY", "base64 master key (default: DATA/master.key, created on first start)", (*secretValue)(&c.MasterKey)},
		{"log-level", "TESSERA_LOG_LEVEL", "debug, info, warn or error", (*stringValue)(&c.LogLevel)},
		{"log-format", "TESSERA_LOG_FORMAT", "text or json", (*stringValue)(&c.LogFormat)},
		{"sign-in-rate", "TESSERA_SIGN_IN_RATE", "form posts a minute per client address on the sign-in pages (0: no limit)", (*intValue)(&c.SignInRate)},
		{"max-body-bytes", "TESSERA_MAX_BODY_BYTES", "largest accepted request body", (*int64Value)(&c.MaxBodyBytes)},
		{"shutdown-grace", "TESSERA_SHUTDOWN_GRACE", "time to finish requests on shutdown", (*durationValue)(&c.ShutdownGrace)},
		{"argon2-memory", "TESSERA_ARGON2_MEMORY", "argon2id memory in KiB", (*uintValue)(&c.Argon2Memory)},
		{"argon2-time", "TESSERA_ARGON2_TIME", "argon2id passes", (*uintValue)(&c.Argon2Time)},
		{"argon2-threads", "TESSERA_ARGON2_THREADS", "argon2id lanes", (*uintValue)(&c.Argon2Threads)},
		{"hash-concurrency", "TESSERA_HASH_CONCURRENCY", "password hashes run at once (0: one per CPU)", (*intValue)(&c.HashConcurrent)},
		{"breached-passwords", "TESSERA_BREACHED_PASSWORDS", "file of known-breached passwords, one per line", (*stringValue)(&c.BreachedList)},
		{"smtp-host", "TESSERA_SMTP_HOST", "SMTP submission server (empty: keep mail in the development mailbox)", (*stringValue)(&c.SMTPHost)},
		{"smtp-port", "TESSERA_SMTP_PORT", "SMTP port (587 for starttls, usually 465 for tls)", (*intValue)(&c.SMTPPort)},
		{"smtp-tls", "TESSERA_SMTP_TLS", "starttls (mandatory), tls (implicit) or none (only to a loopback host)", (*stringValue)(&c.SMTPTLS)},
		{"smtp-username", "TESSERA_SMTP_USERNAME", "SMTP AUTH username (empty: no authentication)", (*stringValue)(&c.SMTPUsername)},
		{"smtp-password", "TESSERA_SMTP_PASSWORD", "SMTP AUTH password", (*secretValue)(&c.SMTPPassword)},
		{"mail-from", "TESSERA_MAIL_FROM", "sender of outgoing mail, e.g. \"Acme ID <no-reply@id.example.com>\"", (*stringValue)(&c.MailFrom)},
	}
}

// Register adds the named settings' flags to fs (all when names is empty).
func (c *Config) Register(fs *flag.FlagSet, names ...string) {
	for _, f := range c.fields() {
		if len(names) == 0 || contains(names, f.flag) {
			fs.Var(f.value, f.flag, f.usage+" ($"+f.env+")")
		}
	}
}

// LoadEnv applies TESSERA_* variables found by getenv. Call before parsing
// flags so that flags win.
func (c *Config) LoadEnv(getenv func(string) string) error {
	var errs []error
	for _, f := range c.fields() {
		if v := getenv(f.env); v != "" {
			if err := f.value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", f.env, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Validate reports every invalid setting.
func (c *Config) Validate() error {
	var errs []error
	bad := func(name, msg string) { errs = append(errs, fmt.Errorf("%s: %s", name, msg)) }
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", "must be host:port, e.g. 127.0.0.1:8080")
	}
	if c.DataDir == "" {
		bad("data", "must not be empty")
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		bad("database-url", "must start with postgres://")
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			bad("public-url", "must be an absolute http(s) URL without query or fragment")
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		bad("tls-cert", "and tls-key must be given together")
	}
	if !contains([]string{"debug", "info", "warn", "error"}, c.LogLevel) {
		bad("log-level", "must be debug, info, warn or error")
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("log-format", "must be text or json")
	}
	if c.MaxBodyBytes < 1024 || c.MaxBodyBytes > 64<<20 {
		bad("max-body-bytes", "must be between 1024 and 67108864")
	}
	if c.SignInRate < 0 {
		bad("sign-in-rate", "must be 0 (no limit) or more")
	}
	if c.ShutdownGrace < 0 {
		bad("shutdown-grace", "must not be negative")
	}
	if c.HashConcurrent < 0 {
		bad("hash-concurrency", "must not be negative")
	}
	c.validateMail(bad)
	return errors.Join(errs...)
}

// validateMail checks the SMTP settings; package mail checks them again when
// it builds the sender, but a typo should stop the start, not the first mail.
func (c *Config) validateMail(bad func(name, msg string)) {
	host := strings.TrimSuffix(strings.TrimPrefix(c.SMTPHost, "["), "]")
	if host != "" {
		if _, _, err := net.SplitHostPort(host); err == nil || strings.ContainsAny(host, "/@ \t\r\n") {
			bad("smtp-host", "must be a host name or IP address without port or scheme")
		}
	}
	if c.SMTPPort < 1 || c.SMTPPort > 65535 {
		bad("smtp-port", "must be between 1 and 65535")
	}
	switch c.SMTPTLS {
	case "starttls", "tls":
	case "none":
		ip, err := netip.ParseAddr(host)
		if host != "" && !strings.EqualFold(host, "localhost") && (err != nil || !ip.Unmap().IsLoopback()) {
			bad("smtp-tls", "none is allowed only for a loopback smtp-host (localhost, 127.0.0.1, ::1)")
		}
	default:
		bad("smtp-tls", "must be starttls, tls or none")
	}
	if (c.SMTPUsername == "") != (c.SMTPPassword == "") {
		bad("smtp-username", "and smtp-password must be given together")
	}
	if c.SMTPUsername != "" && host == "" {
		bad("smtp-username", "needs smtp-host")
	}
	if a, err := mail.ParseAddress(c.MailFrom); err != nil || a.Address == "" || strings.ContainsAny(c.MailFrom, "\r\n") {
		bad("mail-from", `must be one address, e.g. "Tessera <no-reply@id.example.com>"`)
	}
}

// SQLitePath is the database file used when DatabaseURL is empty.
func (c *Config) SQLitePath() string { return filepath.Join(c.DataDir, "tessera.db") }

// Database is what store.Open takes: the Postgres URL or the SQLite path.
func (c *Config) Database() string {
	if c.DatabaseURL != "" {
		return c.DatabaseURL
	}
	return c.SQLitePath()
}

// BaseURL is the external base URL.
func (c *Config) BaseURL() string {
	if c.PublicURL != "" {
		return strings.TrimSuffix(c.PublicURL, "/")
	}
	scheme := "http"
	if c.TLSCert != "" {
		scheme = "https"
	}
	// A loopback listener is reached as localhost: browsers treat it as a
	// secure context, and WebAuthn accepts it where it refuses IP addresses.
	if host, port, err := net.SplitHostPort(c.Listen); err == nil {
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			return scheme + "://" + net.JoinHostPort("localhost", port)
		}
	}
	return scheme + "://" + c.Listen
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

type stringValue string

func (v *stringValue) String() string     { return string(*v) }
func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }

type secretValue Secret

func (v *secretValue) String() string     { return "" }
func (v *secretValue) Set(s string) error { *v = secretValue(s); return nil }

type int64Value int64

func (v *int64Value) String() string { return strconv.FormatInt(int64(*v), 10) }
func (v *int64Value) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 64)
	*v = int64Value(n)
	return err
}

type intValue int

func (v *intValue) String() string { return strconv.Itoa(int(*v)) }
func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	*v = intValue(n)
	return err
}

type uintValue uint

func (v *uintValue) String() string { return strconv.FormatUint(uint64(*v), 10) }
func (v *uintValue) Set(s string) error {
	n, err := strconv.ParseUint(s, 10, 32)
	*v = uintValue(n)
	return err
}

type durationValue time.Duration

func (v *durationValue) String() string { return time.Duration(*v).String() }
func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	*v = durationValue(d)
	return err
}
