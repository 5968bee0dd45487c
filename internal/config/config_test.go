package config

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
)

func TestDefaultsAreValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Database() != "tessera-data/tessera.db" || c.BaseURL() != "http://127.0.0.1:8080" {
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
