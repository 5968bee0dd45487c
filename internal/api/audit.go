package api

import (
	"bufio"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/page"
	"github.com/tessera-iam/tessera/internal/web"
)

// The audit log covers the whole tenant (tenant settings, tokens, every
// organization), and an event's organization is not recorded: an
// organization-scoped token could not be limited to its own, so it reads
// none of it.
var errAuditScope = fmt.Errorf("an organization-scoped token cannot read the audit log, which covers the whole tenant: %w",
	errkind.Denied)

// tenantWide refuses organization-scoped tokens.
func tenantWide(r *http.Request) error {
	if !scope(r).TenantWide() {
		return errAuditScope
	}
	return nil
}

func auditTenant(r *http.Request) string { return string(scope(r).Tenant) }

// auditFilters reads the System Log's filter parameters.
func auditFilters(r *http.Request, pr page.Request) (audit.Query, error) {
	q := r.URL.Query()
	since, err := timeParam(r, "since")
	if err != nil {
		return audit.Query{}, err
	}
	until, err := timeParam(r, "until")
	if err != nil {
		return audit.Query{}, err
	}
	return audit.Query{Request: pr, ActorType: q.Get("actor_type"), ActorID: q.Get("actor_id"),
		TargetType: q.Get("target_type"), TargetID: q.Get("target_id"), Action: q.Get("action"),
		Outcome: q.Get("outcome"), Since: since, Until: until}, nil
}

func auditLines(rs []audit.Record) []audit.Line {
	out := make([]audit.Line, len(rs))
	for i := range rs {
		out[i] = rs[i].Line()
	}
	return out
}

// auditHeader names the CSV columns: the JSON members, in order.
var auditHeader = []string{"seq", "at", "actor_type", "actor_id", "client_ip", "user_agent", "request_id",
	"action", "target_type", "target_id", "outcome", "details", "prev_hash", "hash"}

func auditRows(rs []audit.Record) [][]string {
	rows := make([][]string, len(rs))
	for i := range rs {
		l := rs[i].Line()
		rows[i] = []string{strconv.FormatInt(l.Seq, 10), l.At, l.ActorType, l.ActorID, l.ClientIP, l.UserAgent, l.RequestID,
			l.Action, l.TargetType, l.TargetID, l.Outcome, string(l.Details), l.PrevHash, l.Hash}
	}
	return rows
}

// listAuditEvents is the System Log.
func (a *API) listAuditEvents(w http.ResponseWriter, r *http.Request) error {
	if err := tenantWide(r); err != nil {
		return err
	}
	if err := knownParams(r, append(pageParams, "format", "actor_type", "actor_id", "target_type", "target_id", "action",
		"outcome", "since", "until")...); err != nil {
		return err
	}
	csv, err := wantsCSV(r)
	if err != nil {
		return err
	}
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	q, err := auditFilters(r, pr)
	if err != nil {
		return err
	}
	p, err := a.Audit.List(r.Context(), auditTenant(r), q)
	if err != nil {
		return err
	}
	if csv {
		return writeCSV(w, r, "audit-events", auditHeader, auditRows(p.Items), p.Next)
	}
	return writeList(w, r, auditLines(p.Items), p.Next)
}

// listSignIns is the sign-in report: sign-ins and single sign-ons to one
// application, from the audit log.
func (a *API) listSignIns(w http.ResponseWriter, r *http.Request) error {
	if err := tenantWide(r); err != nil {
		return err
	}
	if err := knownParams(r, "application_id", "outcome", "since", "until", "limit", "cursor", "order", "format"); err != nil {
		return err
	}
	csv, err := wantsCSV(r)
	if err != nil {
		return err
	}
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	q, err := auditFilters(r, pr)
	if err != nil {
		return err
	}
	p, err := a.Audit.SignIns(r.Context(), auditTenant(r), r.URL.Query().Get("application_id"), q)
	if err != nil {
		return err
	}
	if csv {
		return writeCSV(w, r, "sign-ins", auditHeader, auditRows(p.Items), p.Next)
	}
	return writeList(w, r, auditLines(p.Items), p.Next)
}

// seqParam reads an optional event number.
func seqParam(r *http.Request, name string) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return 0, errkind.Field(name, "must be an event number (1 or more)")
	}
	return n, nil
}

// exportAuditEvents streams the log as NDJSON: one event a line, in seq
// order, each with its hash and prev_hash, so the file can be verified
// offline. The answer is streamed: an error after the first bytes aborts the
// connection, so a cut export never looks complete.
func (a *API) exportAuditEvents(w http.ResponseWriter, r *http.Request) error {
	if err := tenantWide(r); err != nil {
		return err
	}
	if err := knownParams(r, "from_seq", "to_seq"); err != nil {
		return err
	}
	from, err := seqParam(r, "from_seq")
	if err != nil {
		return err
	}
	to, err := seqParam(r, "to_seq")
	if err != nil {
		return err
	}
	tn := auditTenant(r)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Content-Disposition", `attachment; filename="audit-`+tn+`.ndjson"`)
	rc := http.NewResponseController(w)
	sent := &sentWriter{w: w}
	bw := bufio.NewWriterSize(sent, 64<<10)
	enc := json.NewEncoder(bw)
	n := 0
	err = a.Audit.Export(r.Context(), tn, from, to, func(rec *audit.Record) error {
		if err := enc.Encode(rec.Line()); err != nil {
			return err
		}
		if n++; n%4096 == 0 {
			// A long export outlives the server's write timeout: extend it
			// while progress is made.
			_ = rc.SetWriteDeadline(time.Now().Add(time.Minute))
		}
		return nil
	})
	if err == nil {
		err = bw.Flush()
	}
	if err != nil && !sent.sent {
		w.Header().Del("Content-Disposition")
		return err
	}
	if err != nil {
		a.Log.ErrorContext(r.Context(), "audit export cut short", "err", err, "events", n)
		panic(http.ErrAbortHandler)
	}
	return nil
}

// sentWriter notes whether anything reached the client.
type sentWriter struct {
	w    io.Writer
	sent bool
}

func (s *sentWriter) Write(b []byte) (int, error) {
	s.sent = true
	return s.w.Write(b)
}

// Atom 1.0 (RFC 4287).
type atomFeed struct {
	XMLName   xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	ID        string      `xml:"id"`
	Title     string      `xml:"title"`
	Updated   string      `xml:"updated"`
	Author    atomPerson  `xml:"author"`
	Generator string      `xml:"generator"`
	Links     []atomLink  `xml:"link"`
	Entries   []atomEntry `xml:"entry"`
}

type atomPerson struct {
	Name string `xml:"name"`
}

type atomLink struct {
	Rel  string `xml:"rel,attr"`
	Href string `xml:"href,attr"`
	Type string `xml:"type,attr,omitempty"`
}

type atomCategory struct {
	Scheme string `xml:"scheme,attr"`
	Term   string `xml:"term,attr"`
}

type atomText struct {
	Type string `xml:"type,attr"`
	Body string `xml:",chardata"`
}

type atomEntry struct {
	ID         string         `xml:"id"`
	Title      string         `xml:"title"`
	Updated    string         `xml:"updated"`
	Author     atomPerson     `xml:"author"`
	Categories []atomCategory `xml:"category"`
	Content    atomText       `xml:"content"`
}

// showAuditFeed is the newest events as an Atom feed, for feed readers and
// SIEM pollers. Each entry's content is the event's JSON form.
func (a *API) showAuditFeed(w http.ResponseWriter, r *http.Request) error {
	if err := tenantWide(r); err != nil {
		return err
	}
	if err := knownParams(r, "limit", "action", "outcome"); err != nil {
		return err
	}
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	tn := auditTenant(r)
	p, err := a.Audit.List(r.Context(), tn, audit.Query{Request: page.Request{Limit: pr.Limit, Desc: true},
		Action: q.Get("action"), Outcome: q.Get("outcome")})
	if err != nil {
		return err
	}
	t, err := a.Tenants.Tenant(r.Context(), scope(r).Tenant)
	if err != nil {
		return err
	}
	feed := atomFeed{ID: "urn:tessera:audit:" + tn, Title: "Audit log of " + t.Name, Author: atomPerson{Name: "Tessera"},
		Generator: "Tessera", Updated: a.Now().UTC().Format(time.RFC3339Nano),
		Links: []atomLink{{Rel: "self", Href: r.URL.RequestURI(), Type: "application/atom+xml"}}}
	if len(p.Items) > 0 {
		feed.Updated = p.Items[0].At.Format(time.RFC3339Nano)
	}
	for i := range p.Items {
		rec := &p.Items[i]
		body, err := json.Marshal(rec.Line())
		if err != nil {
			return err
		}
		title := rec.Action + " " + rec.TargetType + " " + rec.TargetID
		if rec.Outcome != audit.Success {
			title += " (" + rec.Outcome + ")"
		}
		feed.Entries = append(feed.Entries, atomEntry{
			ID: "urn:tessera:audit:" + tn + ":" + strconv.FormatInt(rec.Seq, 10), Title: title,
			Updated: rec.At.Format(time.RFC3339Nano), Author: atomPerson{Name: rec.Actor.Type + ":" + rec.Actor.ID},
			Categories: []atomCategory{{Scheme: "urn:tessera:audit:action", Term: rec.Action},
				{Scheme: "urn:tessera:audit:outcome", Term: rec.Outcome}},
			Content: atomText{Type: "text", Body: string(body)},
		})
	}
	out, err := xml.MarshalIndent(feed, "", "  ")
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/atom+xml; charset=utf-8")
	_, err = io.WriteString(w, xml.Header+string(out)+"\n")
	return err
}

type auditVerifyJSON struct {
	OK            bool    `json:"ok"`
	EventsChecked int64   `json:"events_checked"`
	AnchorSeq     int64   `json:"anchor_seq"`
	HeadSeq       int64   `json:"head_seq"`
	HeadHash      string  `json:"head_hash"`
	FirstBadSeq   *int64  `json:"first_bad_seq"`
	Reason        *string `json:"reason"`
}

// verifyAuditLog recomputes the tenant's chain as the database holds it,
// from its anchor (the last archived event) to its head. Archive files are
// verified by `tessera audit verify` on the host that keeps them.
func (a *API) verifyAuditLog(w http.ResponseWriter, r *http.Request) error {
	if err := tenantWide(r); err != nil {
		return err
	}
	if err := knownParams(r); err != nil {
		return err
	}
	res, err := a.Audit.Verify(r.Context(), auditTenant(r))
	if err != nil {
		return err
	}
	v := auditVerifyJSON{OK: res.OK, EventsChecked: res.Checked, AnchorSeq: res.Anchor.Seq, HeadSeq: res.Head.Seq,
		HeadHash: res.Head.Hash.String()}
	if !res.OK {
		v.FirstBadSeq, v.Reason = &res.BadSeq, &res.Reason
	}
	web.JSON(w, http.StatusOK, v)
	return nil
}

type auditSettingsJSON struct {
	// RetentionDays: events older than this are archived to files by
	// `tessera audit archive`; null keeps them in the database forever.
	RetentionDays *int `json:"retention_days"`
}

func settingsView(days int) auditSettingsJSON {
	if days == 0 {
		return auditSettingsJSON{}
	}
	return auditSettingsJSON{RetentionDays: &days}
}

func (a *API) showAuditSettings(w http.ResponseWriter, r *http.Request) error {
	if err := tenantWide(r); err != nil {
		return err
	}
	days, err := a.Audit.Retention(r.Context(), auditTenant(r))
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, settingsView(days))
	return nil
}

func (a *API) replaceAuditSettings(w http.ResponseWriter, r *http.Request) error {
	if err := tenantWide(r); err != nil {
		return err
	}
	var in auditSettingsJSON
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	days := 0
	if in.RetentionDays != nil {
		if days = *in.RetentionDays; days == 0 {
			return errkind.Field("retention_days", fmt.Sprintf("must be from 1 to %d, or null to keep events forever",
				audit.MaxRetentionDays))
		}
	}
	if err := a.Audit.SetRetention(r.Context(), auditTenant(r), days); err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, settingsView(days))
	return nil
}
