package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The parent (the server) and the child (the load generator) speak one JSON
// job per line on the child's stdin and one JSON result per line on its
// stdout.

type job struct {
	Op       string        `json:"op"` // "list" or "create"
	Base     string        `json:"base"`
	Token    string        `json:"token"`
	Paths    []string      `json:"paths,omitempty"`  // list: requests in order
	Warmup   int           `json:"warmup,omitempty"` // list: first requests not measured
	MaxTime  time.Duration `json:"max_time"`
	Clients  int           `json:"clients,omitempty"`  // create
	Prefix   string        `json:"prefix,omitempty"`   // create: username prefix
	Orgs     []string      `json:"orgs,omitempty"`     // create: organization_id to cycle through
	Duration time.Duration `json:"duration,omitempty"` // create
}

type jobResult struct {
	Latencies  []time.Duration `json:"latencies"`
	Count      int             `json:"count"`
	Errors     int             `json:"errors"`
	FirstError string          `json:"first_error,omitempty"`
	Bytes      int64           `json:"bytes"`
	Items      int             `json:"items"`
	Wall       time.Duration   `json:"wall"`
	ClientCPU  time.Duration   `json:"client_cpu"`
}

// runClient serves jobs until stdin closes.
func runClient(in io.Reader, out io.Writer) error {
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		MaxIdleConnsPerHost: 256, DisableCompression: true, ForceAttemptHTTP2: false,
	}}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	enc := json.NewEncoder(out)
	for sc.Scan() {
		var j job
		if err := json.Unmarshal(sc.Bytes(), &j); err != nil {
			return err
		}
		cpu0 := selfCPU()
		var r jobResult
		switch j.Op {
		case "list":
			r = runList(client, j)
		case "create":
			r = runCreate(client, j)
		default:
			return fmt.Errorf("unknown job %q", j.Op)
		}
		r.ClientCPU = selfCPU() - cpu0
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return sc.Err()
}

func (r *jobResult) fail(err string) {
	r.Errors++
	if r.FirstError == "" {
		r.FirstError = err
	}
}

// runList sends the requests one after the other (an unloaded server: the
// latency of one admin's query), timing each from send to last body byte.
func runList(client *http.Client, j job) jobResult {
	var r jobResult
	deadline := time.Now().Add(j.MaxTime)
	start := time.Now()
	for i, path := range j.Paths {
		if time.Now().After(deadline) {
			break
		}
		req, _ := http.NewRequest(http.MethodGet, j.Base+path, nil)
		req.Header.Set("Authorization", "Bearer "+j.Token)
		t0 := time.Now()
		res, err := client.Do(req)
		if err != nil {
			r.fail(err.Error())
			continue
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		d := time.Since(t0)
		if err != nil || res.StatusCode != http.StatusOK {
			r.fail(fmt.Sprintf("GET %s: %d %s", path, res.StatusCode, body))
			continue
		}
		if i == j.Warmup {
			start = time.Now().Add(-d)
		}
		if i < j.Warmup {
			continue
		}
		var page struct {
			Items []json.RawMessage `json:"items"`
		}
		_ = json.Unmarshal(body, &page)
		r.Latencies = append(r.Latencies, d)
		r.Count++
		r.Items += len(page.Items)
		r.Bytes += int64(len(body))
	}
	r.Wall = time.Since(start)
	return r
}

// runCreate posts new users from j.Clients goroutines for j.Duration.
func runCreate(client *http.Client, j job) jobResult {
	var (
		mu  sync.Mutex
		r   jobResult
		seq atomic.Int64
		wg  sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(j.Duration)
	for range j.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			var errs int
			var first string
			for time.Now().Before(deadline) {
				n := seq.Add(1)
				name := j.Prefix + strconv.FormatInt(n, 10)
				org := ""
				if len(j.Orgs) > 0 {
					org = `,"organization_id":"` + j.Orgs[int(n)%len(j.Orgs)] + `"`
				}
				body := `{"username":"` + name + `","emails":[{"value":"` + name + `@load.example","primary":true}],` +
					`"given_name":"Load","family_name":"Test ` + strconv.FormatInt(n, 10) + `","locale":"en-GB",` +
					`"external_ids":{"crm":"crm-` + name + `"}` + org + `}`
				req, _ := http.NewRequest(http.MethodPost, j.Base+"/api/v1/users", bytes.NewReader([]byte(body)))
				req.Header.Set("Authorization", "Bearer "+j.Token)
				req.Header.Set("Content-Type", "application/json")
				t0 := time.Now()
				res, err := client.Do(req)
				if err != nil {
					errs++
					if first == "" {
						first = err.Error()
					}
					continue
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusCreated {
					errs++
					if first == "" {
						first = fmt.Sprintf("POST: %d %s", res.StatusCode, b)
					}
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			r.Latencies = append(r.Latencies, lat...)
			r.Count += len(lat)
			r.Errors += errs
			if r.FirstError == "" {
				r.FirstError = first
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	r.Wall = time.Since(start)
	return r
}

// loadClient is the parent's handle on the child.
type loadClient struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startClient() (*loadClient, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "-client")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 256<<20)
	return &loadClient{cmd: cmd, in: in, out: sc}, nil
}

func (c *loadClient) do(j job) (jobResult, error) {
	b, _ := json.Marshal(j)
	if _, err := c.in.Write(append(b, '\n')); err != nil {
		return jobResult{}, err
	}
	if !c.out.Scan() {
		return jobResult{}, fmt.Errorf("load client ended: %v", c.out.Err())
	}
	var r jobResult
	return r, json.Unmarshal(c.out.Bytes(), &r)
}

func (c *loadClient) close() error {
	c.in.Close()
	return c.cmd.Wait()
}
