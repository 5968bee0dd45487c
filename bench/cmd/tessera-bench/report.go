package main

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"time"
)

type report struct {
	Machine map[string]string `json:"machine"`
	Options map[string]any    `json:"options"`
	Results []*dbResult       `json:"results"`
}

type dbResult struct {
	DB          string `json:"db"`
	Version     string `json:"version"`
	Users       int    `json:"users"`
	Orgs        int    `json:"orgs"`
	Groups      int    `json:"groups"`
	Memberships int    `json:"memberships"`
	SizeBytes   int64  `json:"size_bytes"`
	Seed        struct {
		Reused         bool    `json:"reused"`
		Seconds        float64 `json:"seconds"`
		Workers        int     `json:"workers"`
		AnalyzeSeconds float64 `json:"analyze_seconds"`
		NoStats        bool    `json:"sqlite_stats_dropped"`
	} `json:"seed"`
	List     []listResult    `json:"list"`
	Plans    []plan          `json:"plans"`
	Create   []createResult  `json:"create"`
	Commit   *rateResult     `json:"commit"`
	Password *passwordResult `json:"password"`
}

// lat is a latency summary in milliseconds.
type lat struct {
	P50  float64 `json:"p50_ms"`
	P95  float64 `json:"p95_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
	Mean float64 `json:"mean_ms"`
}

func summarize(ds []time.Duration) lat {
	if len(ds) == 0 {
		return lat{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	// nearest rank
	q := func(p float64) float64 { return ms(s[max(0, int(math.Ceil(p*float64(len(s))))-1)]) }
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return lat{P50: q(0.50), P95: q(0.95), P99: q(0.99), Max: ms(s[len(s)-1]), Mean: ms(sum) / float64(len(s))}
}

type listResult struct {
	Shape      string `json:"shape"`
	Doc        string `json:"doc"`
	N          int    `json:"requests"`
	Errors     int    `json:"errors"`
	FirstError string `json:"first_error,omitempty"`
	lat
	ServerCPUms float64 `json:"server_cpu_ms_per_req"`
	DBCPUms     float64 `json:"db_cpu_ms_per_req"`
	ClientCPUms float64 `json:"client_cpu_ms_per_req"`
	OtherLoad   float64 `json:"other_load_cores"`
	Items       float64 `json:"items_per_page"`
	Bytes       int64   `json:"bytes_per_page"`
}

type createResult struct {
	Name            string  `json:"name"`
	Clients         int     `json:"clients"`
	Count           int     `json:"count"`
	Errors          int     `json:"errors"`
	FirstError      string  `json:"first_error,omitempty"`
	Wall            float64 `json:"wall_s"`
	PerSec          float64 `json:"per_s"`
	ServerCPU       float64 `json:"server_cpu_s"`
	DBCPU           float64 `json:"db_cpu_s"`
	ClientCPU       float64 `json:"client_cpu_s"`
	PerServerCPUSec float64 `json:"per_server_cpu_s"` // server + database CPU
	OtherLoad       float64 `json:"other_load_cores"`
	lat
}

type rateResult struct {
	Name      string  `json:"name"`
	Workers   int     `json:"workers"`
	Count     int     `json:"count"`
	Errors    int     `json:"errors"`
	Wall      float64 `json:"wall_s"`
	PerSec    float64 `json:"per_s"`
	ServerCPU float64 `json:"server_cpu_s"`
	DBCPU     float64 `json:"db_cpu_s"`
	PerCPUSec float64 `json:"per_cpu_s"` // server + database CPU
	OtherLoad float64 `json:"other_load_cores"`
}

type passwordResult struct {
	Params            string     `json:"params"`
	Iterations        int        `json:"iterations"`
	RawMs             float64    `json:"raw_ms"`
	CheckMs           float64    `json:"check_ms"`
	ReadsMs           float64    `json:"reads_ms"`
	DirectOverheadPct float64    `json:"direct_overhead_pct"`
	MedianPairPct     float64    `json:"median_round_overhead_pct"`
	OverheadPct       float64    `json:"overhead_pct"`
	RawCPUms          float64    `json:"raw_cpu_ms"`
	CheckCPUms        float64    `json:"check_cpu_ms"`
	CPUOverheadPct    float64    `json:"cpu_overhead_pct"`
	SerialOtherLoad   float64    `json:"serial_other_load_cores"`
	Checks            rateResult `json:"checks"`
	Verify            rateResult `json:"verify"`
	Raw               rateResult `json:"raw"`
}

// write prints the report as Markdown.
func (r report) write(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "\n## tessera-bench %s\n\n", m["date"])
	fmt.Fprintf(w, "Machine: %s × %s (%s MHz), %s, %s, GOMAXPROCS %d. Load average at start: %s.\n\n",
		m["cpu"], m["cpus"], m["cpu_mhz"], m["memory"], runtime.Version(), runtime.GOMAXPROCS(0), m["loadavg_at_start"])
	fmt.Fprintf(w, "Options: %v\n", r.Options)
	for _, d := range r.Results {
		fmt.Fprintf(w, "\n### %s: %s\n\n", d.DB, d.Version)
		fmt.Fprintf(w, "%d users, %d organizations, %d groups, %d memberships; %s on disk. ", d.Users, d.Orgs, d.Groups, d.Memberships, fmtBytes(d.SizeBytes))
		if d.Seed.NoStats {
			fmt.Fprintf(w, "Planner statistics dropped after ANALYZE (sqlite_stat1), as Tessera runs. ")
		}
		if d.Seed.Reused {
			fmt.Fprintf(w, "Reused an earlier seeding; ANALYZE %.1f s.\n", d.Seed.AnalyzeSeconds)
		} else {
			fmt.Fprintf(w, "Seeded in %.0f s (%.0f users/s, %d writer(s)); ANALYZE %.1f s.\n",
				d.Seed.Seconds, float64(d.Users)/d.Seed.Seconds, d.Seed.Workers, d.Seed.AnalyzeSeconds)
		}
		if len(d.List) > 0 {
			fmt.Fprintf(w, "\n| list shape | requests | p50 ms | p95 ms | p99 ms | max ms | server CPU ms/req | DB CPU ms/req | items | bytes | others' load |\n")
			fmt.Fprintf(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
			for _, l := range d.List {
				errs := ""
				if l.Errors > 0 {
					errs = fmt.Sprintf(" (%d errors: %s)", l.Errors, l.FirstError)
				}
				fmt.Fprintf(w, "| %s `%s`%s | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.1f | %d | %.2f |\n", l.Shape, l.Doc, errs, l.N,
					l.P50, l.P95, l.P99, l.Max, l.ServerCPUms, l.DBCPUms, l.Items, l.Bytes, l.OtherLoad)
			}
		}
		if len(d.Create) > 0 {
			fmt.Fprintf(w, "\n| create over HTTP | clients | users | users/s | p50 ms | p95 ms | p99 ms | server CPU s | DB CPU s | client CPU s | users per server CPU-s | others' load |\n")
			fmt.Fprintf(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
			for _, c := range d.Create {
				fmt.Fprintf(w, "| %s | %d | %d | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.0f | %.2f |\n", c.Name, c.Clients, c.Count,
					c.PerSec, c.P50, c.P95, c.P99, c.ServerCPU, c.DBCPU, c.ClientCPU, c.PerServerCPUSec, c.OtherLoad)
			}
		}
		if c := d.Commit; c != nil {
			fmt.Fprintf(w, "\nPrimitive, same run: %s from %d goroutines: %.0f commits/s, %.0f per CPU-second (server %.2f s + DB %.2f s; others' load %.2f cores).\n",
				c.Name, c.Workers, c.PerSec, c.PerCPUSec, c.ServerCPU, c.DBCPU, c.OtherLoad)
			for _, cr := range d.Create {
				fmt.Fprintf(w, "Ratio %s create ÷ commit: %.3f by wall rate, %.3f per CPU-second.\n", cr.Name, cr.PerSec/c.PerSec, cr.PerServerCPUSec/c.PerCPUSec)
			}
		}
		if p := d.Password; p != nil {
			fmt.Fprintf(w, "\nPasswords at %s, one at a time, %d rounds (others' load %.2f cores): raw argon2id %.2f ms; "+
				"the reads before verifying, right after a derivation, %.3f ms = **%.1f%%** of raw (direct); whole CheckPassword %.2f ms = %+.1f%% "+
				"(median round %+.1f%%; CPU time %.2f vs %.2f ms, %+.1f%%).\n",
				p.Params, p.Iterations, p.SerialOtherLoad, p.RawMs, p.ReadsMs, p.DirectOverheadPct, p.CheckMs, p.OverheadPct,
				p.MedianPairPct, p.CheckCPUms, p.RawCPUms, p.CPUOverheadPct)
			fmt.Fprintf(w, "Throughput: CheckPassword from %d goroutines %.1f/s (%.1f per CPU-second; others' load %.2f cores); raw argon2id from %d goroutines %.1f/s (%.1f per CPU-second; others' load %.2f cores); ratio %.3f per CPU-second.\n",
				p.Checks.Workers, p.Checks.PerSec, p.Checks.PerCPUSec, p.Checks.OtherLoad, p.Raw.Workers, p.Raw.PerSec, p.Raw.PerCPUSec, p.Raw.OtherLoad, p.Checks.PerCPUSec/p.Raw.PerCPUSec)
			fmt.Fprintf(w, "Hasher.Verify alone (no reads) from %d goroutines: %.1f/s (%.1f per CPU-second).\n", p.Verify.Workers, p.Verify.PerSec, p.Verify.PerCPUSec)
		}
		for _, p := range d.Plans {
			fmt.Fprintf(w, "\n#### plan: %s (bare statement %.2f ms, median of 15)\n\n```\n%s\n```\n", p.Shape, p.DBTime, strings.Join(p.Plan, "\n"))
			if len(p.Cached) > 0 {
				fmt.Fprintf(w, "\nAs a reused prepared statement (after 5 custom plans):\n\n```\n%s\n```\n", strings.Join(p.Cached, "\n"))
			}
		}
	}
}
