//go:build bench

package loadtest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"seatmanager/internal/testenv"
)

var (
	out      = flag.String("out", "../docs/BENCHMARKS.md", "where to write the report")
	steadyD  = flag.Duration("steady", 15*time.Second, "how long each steady run lasts")
	rounds   = flag.Int("rounds", 3, "storm rounds per backend")
	profiles = flag.String("pprof", "", "if set, a directory to write seatd CPU profiles of the steady runs to")
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestBenchmarks measures, in one run on this machine: its limits (seatload
// calibrate), then the storm and steady load on each backend, and writes the
// figures with their ratios to the limits.
func TestBenchmarks(t *testing.T) {
	seatload := build(t, t.TempDir(), "seatload")
	r := report{started: time.Now()}
	r.machine = machine(t)

	calDB := testenv.PostgresURL(t)
	r.calibration = runJSON[calibration](t, seatload, "calibrate", "-json", "-c", "64", "-duration", "5s",
		"-pg-url", calDB, "-sqlite-path", filepath.Join(t.TempDir(), "calibrate.db"), "-live-sockets", fmt.Sprint(liveSockets))
	r.pgVersion = r.calibration.PG.ServerVersion

	redis := testenv.StartRedis(t)
	for _, b := range []backend{
		{name: "SQLite, in-process gate (embedded default)", env: map[string]string{"SEATD_DATABASE_URL": filepath.Join(t.TempDir(), "seatd.db")}},
		{name: "PostgreSQL + Redis", pg: true, live: true, redis: redis.Addr(), env: map[string]string{"SEATD_REDIS_URL": "redis://" + redis.Addr() + "/0"}},
		{name: "PostgreSQL, no gate", pg: true, stormOnly: true, env: map[string]string{"SEATD_GATE": "false"}},
	} {
		t.Run(b.name, func(t *testing.T) { r.results = append(r.results, measure(t, seatload, b)) })
	}
	r.goBench = goBenchmarks()
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(*out, []byte(r.markdown()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", *out)
}

// backend is one way to run seatd.
type backend struct {
	name      string
	pg        bool
	redis     string // address, if it uses Redis
	stormOnly bool
	live      bool // also measure its live seat maps
	env       map[string]string
}

// result is what one backend measured.
type result struct {
	backend   backend
	storm     summary
	steady    *summary
	stormXact xactCount // PostgreSQL transactions per storm request
	// stored is what the storm and the steady run left in the database (and
	// Redis), per request.
	stormStored, steadyStored storage
	// live are the live seat-map runs: liveSockets on one show, 1000 on one
	// show, and storms unwatched and watched by 1000 viewers, in turn.
	liveMany, liveThousand *liveResult
	thousandP99s           []float64 // of the three 1 000-socket runs, lowest first
	watchPairs             [][2]summary
}

// liveSockets is the big live run's sockets, on one show, on seatd and on the
// bare hub of calibrate.
const liveSockets = 10000

// watchPairs is how many storms, unwatched then watched, are set against each other.
const watchPairs = 5

// benchSecret is every seatd's SEATD_AUTH_SECRET, which seatload is given
// (-auth-secret) to sign its users' tokens with. Signed tokens rather than
// guest sessions: a backend's twelve storms of 500 buyers would open 6 000
// sessions, past seatd's SEATD_RATE_SESSIONS (1 000 an hour per address), and
// the run would spend its time opening them; sessions are a setup step
// seatload does before the timed part anyway, so tokens signed without a
// request measure the same seat changes.
const benchSecret = "seatload-bench-secret-of-at-least-32-bytes"

// signed returns the arguments of a seatload run that changes seats, with
// the flag that has it sign its users' tokens.
func signed(args ...string) []string { return append(args, "-auth-secret", benchSecret) }

func measure(t *testing.T, seatload string, b backend) result {
	env := map[string]string{
		"SEATD_DEMO": "true", "SEATD_DEMO_SHOWS": "400", "SEATD_LOG_LEVEL": "warn",
		"SEATD_AUTH_SECRET": benchSecret,
		// The rate limits off: the bench measures seatd's raw throughput
		// from one load generator, which is one client address. steady's 64
		// users make thousands of changes a second between them, which
		// SEATD_RATE_USER (10/s each) and SEATD_RATE_ADDRESS (6000/m) would
		// cap, failing the run with 429s. A backend's storms run on the same
		// seatd and would fail too: some 17 000 seat changes in a minute or
		// two from that one address, past its 6 000 a minute.
		// SEATD_MAX_HELD_PER_USER stays at its default (10): no storm buyer
		// holds more than 2 seats at once, no steady worker more than its 4
		// (-max-seats), no live driver more than 5 (-changes-per-user).
		"SEATD_RATE_USER": "off", "SEATD_RATE_ADDRESS": "off",
	}
	for k, v := range b.env {
		env[k] = v
	}
	var dbURL string
	if b.pg {
		dbURL = testenv.PostgresURL(t)
		env["SEATD_DATABASE_URL"] = dbURL
	}
	if *profiles != "" {
		env["SEATD_PPROF_ADDR"] = "127.0.0.1:0"
	}
	// seatd's log (warnings and up) goes along with the run's output.
	url := testenv.StartSeatd(t, env, testenv.WithSeatdLog(os.Stderr)).URL
	res := result{backend: b}
	// The transactions are counted before the warm-up: counting them takes a
	// wait, and the storm must follow the warm-up at once, as it would in a
	// server that keeps working (after seconds idle, the first burst is slower).
	before := xacts(t, dbURL)
	stored := measureStorage(t, dbURL, b.redis)
	// One round first, unrecorded: the first requests of a new process fill
	// its connection pools, caches and heap, which a running server has done.
	warm := runJSON[summary](t, seatload, signed("storm", "-json", "-url", url, "-vus", "500", "-seats", "10", "-rounds", "1")...)
	res.storm = runJSON[summary](t, seatload, signed("storm", "-json", "-url", url, "-vus", "500", "-seats", "10", "-rounds", fmt.Sprint(*rounds))...)
	if n := warm.Requests + res.storm.Requests; b.pg && n > 0 {
		after := xacts(t, dbURL)
		res.stormXact = xactCount{all: float64(after.all-before.all) / float64(n), writes: float64(after.writes-before.writes) / float64(n)}
		afterStorm := measureStorage(t, dbURL, b.redis)
		res.stormStored = afterStorm.minus(stored).per(n)
		stored = afterStorm
	}
	if b.live {
		many := runJSON[liveResult](t, seatload, signed("live", "-json", "-url", url, "-sockets", fmt.Sprint(liveSockets), "-shows", "1")...)
		// 1 000 sockets three times, the median by p99 recorded: one run's
		// p99 is a handful of frames, and this machine's speed swings.
		var thousands []liveResult
		for range 3 {
			thousands = append(thousands, runJSON[liveResult](t, seatload, signed("live", "-json", "-url", url, "-sockets", "1000", "-shows", "1")...))
		}
		slices.SortFunc(thousands, func(a, b liveResult) int { return cmp.Compare(a.DelayMs.P99, b.DelayMs.P99) })
		res.liveMany, res.liveThousand = &many, &thousands[1]
		for _, l := range thousands {
			res.thousandP99s = append(res.thousandP99s, l.DelayMs.P99)
		}
		// The same storm unwatched and watched, in turn: on this machine one
		// storm's p99 swings by half between identical runs.
		storm := slices.Clip(signed("storm", "-json", "-url", url, "-vus", "500", "-seats", "10", "-rounds", fmt.Sprint(*rounds)))
		for range watchPairs {
			res.watchPairs = append(res.watchPairs, [2]summary{
				runJSON[summary](t, seatload, storm...),
				runJSON[summary](t, seatload, append(storm, "-viewers", "1000")...),
			})
		}
	}
	if !b.stormOnly {
		s := runJSON[summary](t, seatload, signed("steady", "-json", "-url", url, "-c", "64", "-duration", steadyD.String())...)
		res.steady = &s
		if b.pg && s.Requests > 0 {
			res.steadyStored = measureStorage(t, dbURL, b.redis).minus(stored).per(s.Requests)
		}
	}
	return res
}

// storage is the bytes of seatd's tables (indexes and TOAST included) and of
// Redis's memory.
type storage struct {
	tables map[string]float64
	redis  float64
}

// storedTables are the tables seat changes and their answers grow.
var storedTables = []string{"receipts", "seat_events", "holds", "bookings", "seats"}

func measureStorage(t *testing.T, url, redisAddr string) storage {
	st := storage{tables: map[string]float64{}}
	if url == "" {
		return st
	}
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	for _, table := range storedTables {
		var n int64
		if err := conn.QueryRow(t.Context(), "SELECT pg_total_relation_size($1::regclass)", table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		st.tables[table] = float64(n)
	}
	if redisAddr != "" {
		out, err := exec.Command("redis-cli", "-h", strings.Split(redisAddr, ":")[0], "-p", strings.Split(redisAddr, ":")[1], "INFO", "memory").Output()
		if err != nil {
			t.Fatalf("redis-cli INFO memory: %v", err)
		}
		if m := regexp.MustCompile(`used_memory:(\d+)`).FindSubmatch(out); m != nil {
			fmt.Sscan(string(m[1]), &st.redis)
		}
	}
	return st
}

func (s storage) minus(o storage) storage {
	d := storage{tables: map[string]float64{}, redis: s.redis - o.redis}
	for k, v := range s.tables {
		d.tables[k] = v - o.tables[k]
	}
	return d
}

func (s storage) per(n int) storage {
	d := storage{tables: map[string]float64{}, redis: s.redis / float64(n)}
	for k, v := range s.tables {
		d.tables[k] = v / float64(n)
	}
	return d
}

// xactCount is database transactions: all of them, and those that wrote
// (that were given a transaction id).
type xactCount struct{ all, writes float64 }

// xacts counts the database's committed and rolled-back transactions so far,
// and the transaction ids handed out, one to each transaction that writes (the
// server's counter, which only seatd advances during a run).
func xacts(t *testing.T, url string) struct{ all, writes int64 } {
	var n struct{ all, writes int64 }
	if url == "" {
		return n
	}
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	// Each backend flushes its statistics when it goes idle, but at most once
	// a second, and otherwise within 10 s (PostgreSQL 15's idle interval): a
	// shorter wait counted some of the storm's transactions and missed others.
	time.Sleep(11 * time.Second)
	conn.Exec(t.Context(), "SELECT pg_stat_clear_snapshot()")
	if err := conn.QueryRow(t.Context(), `SELECT xact_commit + xact_rollback, pg_snapshot_xmax(pg_current_snapshot())::text::bigint
		FROM pg_stat_database WHERE datname = current_database()`).Scan(&n.all, &n.writes); err != nil {
		t.Fatal(err)
	}
	return n
}

func build(t *testing.T, dir, name string) string {
	path := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", path, "seatmanager/cmd/"+name)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", name, err, b)
	}
	return path
}

// runJSON runs seatload with args and decodes its JSON output.
func runJSON[T any](t *testing.T, seatload string, args ...string) T {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(t.Context(), seatload, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var v T
	if jerr := json.Unmarshal(stdout.Bytes(), &v); jerr != nil {
		t.Fatalf("seatload %s: %v (%v)\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, jerr, stdout.Bytes(), stderr.Bytes())
	}
	if err != nil {
		t.Errorf("seatload %s failed: %v\nstderr: %s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return v
}

func machine(t *testing.T) string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if m := regexp.MustCompile(`(?m)^model name\s*:\s*(.+)$`).FindSubmatch(b); m != nil {
			model = string(m[1])
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if m := regexp.MustCompile(`(?m)^MemTotal:\s*(\d+) kB`).FindSubmatch(b); m != nil {
			var kb int64
			fmt.Sscan(string(m[1]), &kb)
			mem = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
		}
	}
	redis := "redis-server"
	if b, err := exec.Command("redis-server", "--version").Output(); err == nil {
		redis = strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%d CPUs (%s)%s; %s; %s", runtime.NumCPU(), model, mem, runtime.Version(), redis)
}

// The parts of seatload's JSON output the report reads.

type latencyMs struct{ P50, P90, P99, Max float64 }

type route struct {
	Route      string
	Count      int
	Statuses   map[string]int
	Throughput float64
	LatencyMs  latencyMs
}

type summary struct {
	Requests    int
	WallSeconds float64
	Throughput  float64
	Routes      []route
	Errors      struct{ Transport, ServerErrors, Unexpected int }
	Storm       *struct{ Winners, Losers, LosersAnswered, SeatsBooked, Viewers, Converged int }
	Steady      *struct {
		Holds, Books, Releases int
		CyclesPerSecond        float64
		StoppedBy              string
	}
	Verification struct{ OK bool }
	OK           bool
}

func (s summary) route(name string) route {
	for _, r := range s.Routes {
		if r.Route == name {
			return r
		}
	}
	return route{}
}

type loop struct {
	What      string
	Ops       int
	PerSecond float64
	LatencyMs latencyMs
	Deadlocks int
	Errors    int
}

type calibration struct {
	Concurrency int
	Hello       loop
	PG          *struct {
		ServerVersion      string
		Random, Hot, Store loop
	}
	SQLite loop
	Live   *liveResult
}

type liveResult struct {
	Sockets, Shows, Changes int
	DelayMs, LastSocketMs   latencyMs
	Missed, Lagging, Errors int
	ConnectSeconds          float64
	BytesPerSocket          float64
	OK                      bool
}
