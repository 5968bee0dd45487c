package audit

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Line is the JSON form of a record: an item of the System Log, a line of an
// NDJSON export and of an archive file. It carries every hashed field and
// both links, so any holder of lines can recompute the chain.
type Line struct {
	TenantID   string          `json:"tenant_id"`
	Seq        int64           `json:"seq"`
	At         string          `json:"at"`
	ActorType  string          `json:"actor_type"`
	ActorID    string          `json:"actor_id"`
	ClientIP   string          `json:"client_ip"`
	UserAgent  string          `json:"user_agent"`
	RequestID  string          `json:"request_id"`
	Action     string          `json:"action"`
	TargetType string          `json:"target_type"`
	TargetID   string          `json:"target_id"`
	Outcome    string          `json:"outcome"`
	Details    json.RawMessage `json:"details"`
	PrevHash   string          `json:"prev_hash"`
	Hash       string          `json:"hash"`
}

// Line returns r's JSON form. Details is r.Details itself (canonical JSON is
// already compact and HTML-escaped, so encoding/json copies it unchanged).
func (r *Record) Line() Line {
	return Line{TenantID: r.Tenant, Seq: r.Seq, At: r.At.UTC().Format(time.RFC3339Nano), ActorType: r.Actor.Type,
		ActorID: r.Actor.ID, ClientIP: r.Actor.ClientIP, UserAgent: r.Actor.UserAgent, RequestID: r.Actor.RequestID,
		Action: r.Action, TargetType: r.TargetType, TargetID: r.TargetID, Outcome: r.Outcome,
		Details: json.RawMessage(r.Details), PrevHash: r.Prev.String(), Hash: r.Hash.String()}
}

// Record reads a line back. Problems that verification must report (a bad
// time or hash) are kept in Unreadable rather than returned, so that the
// verifier names the event.
func (l *Line) Record() Record {
	r := Record{Tenant: l.TenantID, Seq: l.Seq, Actor: Actor{Type: l.ActorType, ID: l.ActorID, ClientIP: l.ClientIP,
		UserAgent: l.UserAgent, RequestID: l.RequestID}, Action: l.Action, TargetType: l.TargetType, TargetID: l.TargetID,
		Outcome: l.Outcome, Details: []byte(l.Details)}
	var problems []string
	at, err := time.Parse(time.RFC3339Nano, l.At)
	if err != nil {
		problems = append(problems, "at: "+strconv.Quote(l.At)+" is not an RFC 3339 time")
	}
	r.At = at.UTC()
	if r.Prev, err = ParseHash(l.PrevHash); err != nil {
		problems = append(problems, "prev_hash: "+err.Error())
	}
	if r.Hash, err = ParseHash(l.Hash); err != nil {
		problems = append(problems, "hash: "+err.Error())
	}
	if len(r.Details) == 0 {
		problems = append(problems, "details: missing")
	}
	if len(problems) > 0 {
		r.Unreadable = fmt.Sprint(problems)
	}
	return r
}

// CSVHeader names the columns of the CSV form, in order.
var CSVHeader = []string{"seq", "at", "actor_type", "actor_id", "client_ip", "user_agent", "request_id",
	"action", "target_type", "target_id", "outcome", "details", "prev_hash", "hash"}

// CSVRow returns r as CSV fields (see CSVHeader). Text a spreadsheet would
// run as a formula (starting with = + - @ or a tab or carriage return) is
// prefixed with a single quote: user agents and ids come from callers
// (OWASP "CSV injection"). Use NDJSON for exact values.
func (r *Record) CSVRow() []string {
	l := r.Line()
	row := []string{strconv.FormatInt(l.Seq, 10), l.At, l.ActorType, l.ActorID, l.ClientIP, l.UserAgent, l.RequestID,
		l.Action, l.TargetType, l.TargetID, l.Outcome, string(l.Details), l.PrevHash, l.Hash}
	for i := 2; i < len(row)-2; i++ {
		row[i] = defuse(row[i])
	}
	return row
}

func defuse(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
