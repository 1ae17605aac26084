package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"seatmanager/booking"
)

// calibrateConfig is the flags of calibrate.
type calibrateConfig struct {
	json       bool
	workers    int
	duration   time.Duration
	pgURL      string
	sqlitePath string
	rows       int
	live       int // sockets of the bare hub; 0 skips it
	changes    int
}

func parseCalibrate(args []string, stderr io.Writer) (calibrateConfig, error) {
	var cfg calibrateConfig
	fs := newFlagSet("calibrate", "Measures this machine's limits, so that load results can be given as ratios to them:\n"+
		"a hello-world JSON POST server in a separate process under the same HTTP client as steady,\n"+
		"and the bare 4-seat conditional hold UPDATE on PostgreSQL (-pg-url) and on SQLite.", stderr)
	fs.BoolVar(&cfg.json, "json", false, "print one JSON object instead of the table (and no progress bar)")
	fs.IntVar(&cfg.workers, "c", 64, "concurrent connections / goroutines, as steady's -c")
	fs.DurationVar(&cfg.duration, "duration", 5*time.Second, "how long each measurement runs")
	fs.StringVar(&cfg.pgURL, "pg-url", "", "postgres:// URL of a database to create a scratch table in; empty skips PostgreSQL")
	fs.StringVar(&cfg.sqlitePath, "sqlite-path", "", "SQLite file for the scratch table (default: a file in a new temporary directory)")
	fs.IntVar(&cfg.rows, "rows", 10000, "rows of the scratch seat tables")
	fs.IntVar(&cfg.live, "live-sockets", 0, "sockets to open on a bare WebSocket broadcast hub, as live does on seatd; 0 skips it")
	fs.IntVar(&cfg.changes, "live-changes", 50, "changes the bare hub broadcasts, as live's -changes")
	if err := parseFlags(fs, args); err != nil {
		return cfg, err
	}
	switch {
	case cfg.workers < 1:
		return cfg, fmt.Errorf("calibrate: -c must be at least 1, got %d", cfg.workers)
	case cfg.duration <= 0:
		return cfg, fmt.Errorf("calibrate: -duration must be positive, got %s", cfg.duration)
	case cfg.rows < hotRows:
		return cfg, fmt.Errorf("calibrate: -rows must be at least %d, got %d", hotRows, cfg.rows)
	}
	return cfg, nil
}

// loopResult is one measurement: an operation run in a loop by concurrent
// goroutines for a fixed time.
type loopResult struct {
	What      string    `json:"what"`
	Ops       int       `json:"ops"`
	Seconds   float64   `json:"seconds"`
	PerSecond float64   `json:"perSecond"`
	LatencyMs latencyMs `json:"latencyMs"`
	// Deadlocks are operations the database aborted as deadlock victims
	// (40P01); they are not in Ops.
	Deadlocks  int    `json:"deadlocks,omitempty"`
	Errors     int    `json:"errors"`
	FirstError string `json:"firstError,omitempty"`
}

// errDeadlock marks an operation aborted as a deadlock victim: a result of the
// hot-row measurement, not a failure of it.
var errDeadlock = errors.New("deadlock")

// measure runs op in a loop on workers goroutines for d. Each op gets ctx, not a
// context that ends with d, so the last ones finish instead of counting as errors.
func measure(ctx context.Context, what string, workers int, d time.Duration, bar func(*atomic.Int64) func(), op func(context.Context) error) loopResult {
	type tally struct {
		lat             []time.Duration
		deadlocks, errs int
		firstErr        error
	}
	tallies := make([]tally, workers)
	ops := &atomic.Int64{}
	stopBar := bar(ops)
	load, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for i := range tallies {
		t := &tallies[i]
		wg.Go(func() {
			for load.Err() == nil {
				began := time.Now()
				err := op(ctx)
				took := time.Since(began)
				switch {
				case err == nil:
					t.lat = append(t.lat, took)
					ops.Add(1)
				case errors.Is(err, errDeadlock):
					t.deadlocks++
				default:
					t.errs++
					if t.firstErr == nil {
						t.firstErr = err
					}
				}
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	stopBar()

	r := loopResult{What: what, Seconds: wall.Seconds()}
	var all []time.Duration
	for _, t := range tallies {
		all = append(all, t.lat...)
		r.Deadlocks += t.deadlocks
		r.Errors += t.errs
		if t.firstErr != nil && r.FirstError == "" {
			r.FirstError = t.firstErr.Error()
		}
	}
	r.Ops = len(all)
	r.PerSecond = perSecond(r.Ops, wall)
	r.LatencyMs = latencies(all)
	return r
}

// calibration is calibrate's result.
type calibration struct {
	Concurrency     int            `json:"concurrency"`
	DurationSeconds float64        `json:"durationSeconds"`
	GOMAXPROCS      int            `json:"gomaxprocs"`
	NumCPU          int            `json:"numCPU"`
	Hello           loopResult     `json:"hello"`
	PG              *pgCalibration `json:"pg,omitempty"`
	PGSkipped       string         `json:"pgSkipped,omitempty"`
	SQLite          loopResult     `json:"sqlite"`
	// Live is the bare WebSocket hub, loaded as live loads seatd.
	Live *liveResult `json:"live,omitempty"`
	OK   bool        `json:"ok"`
}

// pgCalibration is the PostgreSQL part of calibrate.
type pgCalibration struct {
	ServerVersion string     `json:"serverVersion"`
	Rows          int        `json:"rows"`
	Random        loopResult `json:"random"`
	Hot           loopResult `json:"hot"`
	// Store is seatd's own seat change through its store, without HTTP or
	// Redis: what the database can do of seatd's work.
	Store loopResult `json:"store"`
}

// runCalibrate measures, one after the other so that they do not compete for
// the cores, the HTTP floor and the database floors that seatd's figures are
// ratios to.
func runCalibrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseCalibrate(args, stderr)
	if err != nil {
		return err
	}
	cal := calibration{
		Concurrency: cfg.workers, DurationSeconds: cfg.duration.Seconds(),
		GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(),
	}
	bar := func(description string) func(*atomic.Int64) func() {
		return func(ops *atomic.Int64) func() {
			return timedProgress(ctx, stderr, !cfg.json && cfg.duration >= longRun, cfg.duration, description, ops)
		}
	}

	if cal.Hello, err = calibrateHello(ctx, cfg, stderr, bar("hello")); err != nil {
		return fmt.Errorf("calibrate hello: %w", err)
	}
	if cfg.pgURL == "" {
		cal.PGSkipped = "no -pg-url given"
	} else if cal.PG, err = calibratePG(ctx, cfg, bar); err != nil {
		return fmt.Errorf("calibrate pg: %w", err)
	}
	if cal.SQLite, err = calibrateSQLite(ctx, cfg, bar("sqlite")); err != nil {
		return fmt.Errorf("calibrate sqlite: %w", err)
	}
	if cfg.live > 0 {
		hub, err := startChild(liveHubCommand, stderr)
		if err != nil {
			return fmt.Errorf("calibrate live: %w", err)
		}
		r := measureLive(ctx, hubTarget{hub, &http.Client{Timeout: 10 * time.Second}}, cfg.live, 1, cfg.changes, 20*time.Millisecond)
		hub.stop()
		cal.Live = &r
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}

	results := []loopResult{cal.Hello, cal.SQLite}
	if cal.PG != nil {
		results = append(results, cal.PG.Random, cal.PG.Hot, cal.PG.Store)
	}
	var failed []string
	for _, r := range results {
		if r.Errors > 0 {
			failed = append(failed, fmt.Sprintf("%s: %d errors, first: %s", r.What, r.Errors, r.FirstError))
		}
	}
	if cal.Live != nil && !cal.Live.OK {
		failed = append(failed, fmt.Sprintf("bare hub: %d missed, %d lagging, %d errors (%s)", cal.Live.Missed, cal.Live.Lagging, cal.Live.Errors, cal.Live.FirstError))
	}
	cal.OK = len(failed) == 0
	if cfg.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(cal); err != nil {
			return err
		}
	} else {
		cal.writeText(stdout)
	}
	if !cal.OK {
		return fmt.Errorf("calibrate FAILED: %v", failed)
	}
	return nil
}

// calibrateHello loads a hello-world server in another process with the client
// steady uses, with the same number of connections and the same kind of
// request: body and headers, a bearer token among them.
func calibrateHello(ctx context.Context, cfg calibrateConfig, stderr io.Writer, bar func(*atomic.Int64) func()) (loopResult, error) {
	srv, err := startChild(helloServerCommand, stderr)
	if err != nil {
		return loopResult{}, err
	}
	cl := newClient("http://"+srv.addr, cfg.workers)
	// The server reads no token, but the request carries one of a guest
	// session's size, and its id in the body, as the scenarios' do.
	as := standIn()
	body := holdBody{SeatIDs: []string{booking.NewID(), booking.NewID(), booking.NewID(), booking.NewID()}, UserID: as.id}
	r := measure(ctx, "hello-world JSON POST, separate process", cfg.workers, cfg.duration, bar, func(ctx context.Context) error {
		var out struct {
			OK bool `json:"ok"`
		}
		if a := cl.post(ctx, nil, routeHello, "/hello", as, body, &out); !a.ok() || !out.OK {
			return fmt.Errorf("POST /hello: %v", a)
		}
		return nil
	})
	cl.close()
	if err := srv.stop(); err != nil && ctx.Err() == nil {
		return r, err
	}
	return r, nil
}

func (c calibration) writeText(w io.Writer) {
	fmt.Fprintf(w, "calibrate: %d connections/goroutines, %.1fs per measurement, GOMAXPROCS %d, %d CPUs\n\n",
		c.Concurrency, c.DurationSeconds, c.GOMAXPROCS, c.NumCPU)
	rows := [][]string{{"measurement", "ops", "ops/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "deadlocks", "errors"}}
	row := func(r loopResult) {
		rows = append(rows, []string{r.What, strconv.Itoa(r.Ops), fmt.Sprintf("%.1f", r.PerSecond),
			fmt.Sprintf("%.2f", r.LatencyMs.P50), fmt.Sprintf("%.2f", r.LatencyMs.P90),
			fmt.Sprintf("%.2f", r.LatencyMs.P99), fmt.Sprintf("%.2f", r.LatencyMs.Max),
			strconv.Itoa(r.Deadlocks), strconv.Itoa(r.Errors)})
	}
	row(c.Hello)
	if c.PG != nil {
		row(c.PG.Random)
		row(c.PG.Hot)
		row(c.PG.Store)
	}
	row(c.SQLite)
	writeTable(w, rows)
	fmt.Fprintln(w)
	if c.PG != nil {
		fmt.Fprintf(w, "pg: PostgreSQL %s, %d rows\n", c.PG.ServerVersion, c.PG.Rows)
	}
	if c.PGSkipped != "" {
		fmt.Fprintf(w, "pg: skipped (%s)\n", c.PGSkipped)
	}
	if c.Live != nil {
		c.Live.writeText(w)
	}
}
