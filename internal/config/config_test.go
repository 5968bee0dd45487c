package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"testing"
)

func TestDefaultsAreValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Database() != "tessera-data/tessera.db" || c.BaseURL() != "http://localhost:8080" { // loopback is reached as localhost
		t.Errorf("Database %q BaseURL %q", c.Database(), c.BaseURL())
	}
}

func TestEnvThenFlags(t *testing.T) {
	c := Default()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	c.Register(fs)
	env := map[string]string{"TESSERA_LISTEN": "0.0.0.0:9000", "TESSERA_LOG_LEVEL": "debug", "TESSERA_MASTER_KEY": "k3y"}
	if err := c.LoadEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse([]string{"--listen", "127.0.0.1:9001"}); err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9001" || c.LogLevel != "debug" || c.MasterKey != "k3y" {
		t.Errorf("precedence: %+v", c)
	}
	if strings.Contains(c.MasterKey.String(), "k3y") {
		t.Error("the master key prints itself")
	}
	if err := c.LoadEnv(func(k string) string { return map[string]string{"TESSERA_ARGON2_TIME": "two"}[k] }); err == nil {
		t.Error("a non-number accepted")
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Default()
	c.Listen, c.DatabaseURL, c.PublicURL, c.TLSCert, c.LogLevel, c.LogFormat, c.MaxBodyBytes =
		"nope", "mysql://x", "ftp://x", "cert.pem", "loud", "xml", 10
	err := c.Validate()
	for _, name := range []string{"listen", "database-url", "public-url", "tls-cert", "log-level", "log-format", "max-body-bytes"} {
		if err == nil || !strings.Contains(err.Error(), name+":") {
			t.Errorf("no error for %s in %v", name, err)
		}
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	d := Default()
	d.Register(fs, "listen")
	if err := fs.Parse([]string{"--data", "x"}); err == nil || errors.Is(err, flag.ErrHelp) {
		t.Error("a flag outside the registered subset was accepted")
	}
}

func TestMailSettings(t *testing.T) {
	c := Default()
	if c.SMTPHost != "" || c.SMTPPort != 587 || c.SMTPTLS != "starttls" || c.MailFrom != "Tessera <no-reply@localhost>" {
		t.Errorf("mail defaults: %+v", c)
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	c.Register(fs)
	env := map[string]string{"TESSERA_SMTP_HOST": "smtp.example.com", "TESSERA_SMTP_PASSWORD": "pa55", "TESSERA_SMTP_PORT": "2525"}
	if err := c.LoadEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse([]string{"--smtp-port", "465", "--smtp-tls", "tls", "--smtp-username", "mailer",
		"--mail-from", "Acme ID <no-reply@id.example.com>"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.SMTPHost != "smtp.example.com" || c.SMTPPort != 465 || c.SMTPTLS != "tls" || c.SMTPUsername != "mailer" ||
		c.SMTPPassword != "pa55" || c.MailFrom != "Acme ID <no-reply@id.example.com>" {
		t.Errorf("mail settings: %+v", c)
	}
	if strings.Contains(fmt.Sprintf("%v %+v", c.SMTPPassword, c), "pa55") {
		t.Error("the SMTP password prints itself")
	}

	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"tls mode", func(c *Config) { c.SMTPTLS = "ssl" }, "smtp-tls: must be starttls, tls or none"},
		{"plain to a remote host", func(c *Config) { c.SMTPHost, c.SMTPTLS = "smtp.example.com", "none" }, "smtp-tls: none is allowed only"},
		{"port", func(c *Config) { c.SMTPPort = 0 }, "smtp-port:"},
		{"host with port", func(c *Config) { c.SMTPHost = "smtp.example.com:587" }, "smtp-host:"},
		{"username alone", func(c *Config) { c.SMTPHost, c.SMTPUsername = "smtp.example.com", "u" }, "smtp-username: and smtp-password"},
		{"auth without host", func(c *Config) { c.SMTPUsername, c.SMTPPassword = "u", "p" }, "smtp-username: needs smtp-host"},
		{"from", func(c *Config) { c.MailFrom = "nobody" }, "mail-from:"},
	}
	for _, tt := range tests {
		c := Default()
		tt.edit(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
	for _, host := range []string{"localhost", "127.0.0.1", "::1", "[::1]"} {
		c := Default()
		c.SMTPHost, c.SMTPTLS, c.SMTPPort = host, "none", 25
		if err := c.Validate(); err != nil {
			t.Errorf("%s with none: %v", host, err)
		}
	}
}
