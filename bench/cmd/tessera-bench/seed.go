package main

import (
	"context"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tessera-iam/tessera/internal/group"
	"github.com/tessera-iam/tessera/internal/id"
	"github.com/tessera-iam/tessera/internal/server"
	"github.com/tessera-iam/tessera/internal/store"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

// The population: users are spread over organizations by a Zipf law (a few
// big customers, a long tail), 10% are tenant-level; statuses, sources,
// locales, attributes and external ids vary; usernames come in four styles
// (first.last, initial+last, email, handle) and 10% carry capitals so that
// keys are case-folded; created_at spans two years in id order, and updates
// are spread after it with 0.5% of users changed within the last 24 hours.

var firstNames = strings.Fields(`abigail abdul abel abraham ada adam adrian agnes ahmed aisha alan albert alejandro
	alex alice amelia amir ana andre anna arjun astrid ben bianca boris carla chen chloe daniel david diego elena emma
	fatima felix george hana hugo ines ivan jack james jin julia karim kenji lara leo lucia luis maria mateo mei mia
	mohammed nadia noah olga omar oscar paula pedro priya rafael rosa sara sofia tariq tom uma victor wei yara yusuf zoe`)

var lastNames = strings.Fields(`nguyen smith garcia muller rossi kowalski tanaka kim silva dubois jensen novak
	ivanova haddad okafor patel singh cohen larsen schmidt fernandez moreau bianchi horvat yilmaz sato wang li chen
	ahmed ali brown johnson williams jones miller davis martin lopez gonzalez wilson anderson thomas taylor moore
	jackson white harris clark lewis walker young`)

var (
	locales     = []string{"en-GB", "en-US", "de-DE", "fr-FR", "es-ES", "ja-JP", "pt-BR", "nl-NL"}
	timeZones   = []string{"Europe/London", "America/New_York", "Europe/Berlin", "Europe/Paris", "Asia/Tokyo", "America/Sao_Paulo"}
	departments = []string{"sales", "support", "finance", "logistics", "engineering", "returns", "purchasing", "legal"}
	freeMail    = []string{"mail.example", "post.example", "inbox.example"}
)

// population holds what the generator and the query shapes share.
type population struct {
	n         int
	seed      uint64
	start     time.Time // created_at of user 0
	span      time.Duration
	now       time.Time
	orgs      []tenant.OrgID
	orgDomain []string
	orgCDF    []float64
	groups    []group.ID
	groupCDF  []float64
	member    float64
}

func newPopulation(n int, seed uint64, now time.Time, memberFrac float64) *population {
	return &population{n: n, seed: seed, now: now, start: now.Add(-730 * 24 * time.Hour),
		span: 730*24*time.Hour - 25*time.Hour, member: memberFrac}
}

// zipfCDF returns the cumulative weights 1/(k+1)^s, normalised.
func zipfCDF(n int, s float64) []float64 {
	cdf := make([]float64, n)
	sum := 0.0
	for k := range n {
		sum += 1 / math.Pow(float64(k+1), s)
		cdf[k] = sum
	}
	for k := range cdf {
		cdf[k] /= sum
	}
	return cdf
}

func pick(r *rand.Rand, cdf []float64) int {
	x := r.Float64()
	lo, hi := 0, len(cdf)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if cdf[mid] < x {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// userAt generates user i deterministically (its id excepted: ids carry
// fresh randomness) and the groups it belongs to.
func (p *population) userAt(t tenant.ID, i int) (*user.User, []group.ID) {
	r := rand.New(rand.NewPCG(p.seed, uint64(i)))
	serial := strconv.FormatInt(int64(i), 36)
	first, last := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
	created := p.start.Add(time.Duration(float64(p.span) * float64(i) / float64(p.n))).Truncate(time.Microsecond)

	var org tenant.OrgID
	domain := freeMail[r.IntN(len(freeMail))]
	if len(p.orgs) > 0 && r.Float64() >= 0.10 {
		k := pick(r, p.orgCDF)
		org, domain = p.orgs[k], p.orgDomain[k]
	}
	email := first + "." + last + "." + serial + "@" + domain
	var username string
	switch x := r.Float64(); {
	case x < 0.50:
		username = first + "." + last + "." + serial
	case x < 0.70:
		username = first[:1] + last + serial
	case x < 0.90:
		username = email
	default:
		b := make([]byte, 3+r.IntN(6))
		for j := range b {
			b[j] = byte('a' + r.IntN(26))
		}
		username = string(b) + serial
	}
	if r.Float64() < 0.10 {
		username = strings.ToUpper(username[:1]) + username[1:]
	}
	u := &user.User{
		Tenant: t, ID: user.ID(id.New("usr", created)), Username: username,
		GivenName: capital(first), FamilyName: capital(last), DisplayName: capital(first) + " " + capital(last),
		Locale: locales[r.IntN(len(locales))], TimeZone: timeZones[r.IntN(len(timeZones))],
		Org: org, Source: user.SourceLocal, Status: user.Active, Version: 1, Created: created, Updated: created,
		StatusChanged: created,
	}
	if r.Float64() < 0.95 {
		u.Emails = []user.Email{{Value: email, Primary: true, Verified: r.Float64() < 0.8}}
		if r.Float64() < 0.10 {
			u.Emails = append(u.Emails, user.Email{Value: first + "." + serial + "@" + freeMail[r.IntN(len(freeMail))]})
		}
	}
	if r.Float64() < 0.5 {
		u.Attributes = map[string]any{"department": departments[r.IntN(len(departments))], "employee_number": fmt.Sprintf("E%07d", i)}
	}
	switch x := r.Float64(); {
	case x < 0.30:
		u.ExternalIDs = map[string]string{"crm": "crm-" + serial}
	case x < 0.40:
		u.ExternalIDs = map[string]string{"ldap": "uid=" + serial + ",ou=people,dc=example"}
		u.Source = user.SourceDirectory
	case x < 0.50:
		u.Source = user.SourceFederation
	}
	switch x := r.Float64(); {
	case x < 0.04:
		u.Status = user.Staged
	case x < 0.09:
		u.Status = user.Suspended
	case x < 0.12:
		u.Status = user.Deactivated
	}
	u.Locked = r.Float64() < 0.005
	switch x := r.Float64(); {
	case x < 0.005: // changed within the last 24 hours
		u.Updated = p.now.Add(-time.Duration(r.Int64N(int64(24 * time.Hour)))).Truncate(time.Microsecond)
	case x < 0.30:
		after := p.now.Add(-24 * time.Hour).Sub(created)
		u.Updated = created.Add(time.Duration(r.Int64N(int64(after)))).Truncate(time.Microsecond)
	}
	if !u.Updated.Equal(created) {
		u.Version += 1 + r.Int64N(5)
		if u.Status != user.Active {
			u.StatusChanged = u.Updated
		}
	}
	var gs []group.ID
	if len(p.groups) > 0 && r.Float64() < p.member {
		for range 1 + r.IntN(3) {
			g := p.groups[pick(r, p.groupCDF)]
			if !containsID(gs, g) {
				gs = append(gs, g)
			}
		}
	}
	return u, gs
}

func containsID(gs []group.ID, g group.ID) bool {
	for _, x := range gs {
		if x == g {
			return true
		}
	}
	return false
}

func capital(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

// seedOrgsAndGroups creates the organizations and groups through the
// services (with their audit events), as an operator would.
func seedOrgsAndGroups(ctx context.Context, srv *server.Server, t tenant.ID, p *population, orgs, groups int) error {
	sc := tenant.Scope{Tenant: t}
	for k := range orgs {
		d := fmt.Sprintf("customer%03d.example", k)
		o, err := srv.Tenants.CreateOrganization(ctx, sc, tenant.NewOrganization{
			Name: fmt.Sprintf("Customer %03d", k), ExternalID: fmt.Sprintf("acct-%05d", k), Domains: []string{d}})
		if err != nil {
			return err
		}
		p.orgs, p.orgDomain = append(p.orgs, o.ID), append(p.orgDomain, d)
	}
	for k := range groups {
		g, err := srv.Groups.Create(ctx, sc, group.NewGroup{Name: fmt.Sprintf("Team %03d", k), Description: "seeded"})
		if err != nil {
			return err
		}
		p.groups = append(p.groups, g.ID)
	}
	p.orgCDF, p.groupCDF = zipfCDF(len(p.orgs), 1.0), zipfCDF(len(p.groups), 1.0)
	return nil
}

// seedUsers inserts users [0, n) through store.CreateUser and AddMember, batch
// users per transaction, with workers transactions at once.
func seedUsers(ctx context.Context, db *store.DB, t tenant.ID, p *population, batch, workers int) error {
	return seedRange(ctx, db, t, p, 0, p.n, batch, workers)
}

// seedRange inserts users [from, to) as seedUsers does.
func seedRange(ctx context.Context, db *store.DB, t tenant.ID, p *population, from, to, batch, workers int) error {
	var next, done atomic.Int64
	next.Store(int64(from))
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				lo := int(next.Add(int64(batch))) - batch
				if lo >= to || ctx.Err() != nil {
					return
				}
				hi := min(lo+batch, to)
				err := db.InTx(ctx, func(ctx context.Context) error {
					for i := lo; i < hi; i++ {
						u, gs := p.userAt(t, i)
						if err := db.CreateUser(ctx, u); err != nil {
							return fmt.Errorf("user %d (%s): %w", i, u.Username, err)
						}
						for _, g := range gs {
							if _, err := db.AddMember(ctx, t, g, u.ID, u.Created); err != nil {
								return fmt.Errorf("member %d: %w", i, err)
							}
						}
					}
					return nil
				})
				if err != nil {
					errc <- err
					return
				}
				if d := done.Add(int64(hi - lo)); d%(int64(batch)*20) < int64(hi-lo) || int(d) == to-from {
					el := time.Since(start)
					log.Printf("seeded %d/%d users (%.0f/s)", from+int(d), p.n, float64(d)/el.Seconds())
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return err
	}
	return ctx.Err()
}
