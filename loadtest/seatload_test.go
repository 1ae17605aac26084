//go:build bench

package loadtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func build(t *testing.T, dir, name string) string {
	path := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", path, "seatmanager/cmd/"+name)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", name, err, b)
	}
	return path
}

// seatloadCommands returns the commands seatload's help lists.
func seatloadCommands(t *testing.T, seatload string) map[string]bool {
	b, _ := exec.Command(seatload, "help").CombinedOutput()
	cmds := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^  ([a-z][a-z-]+)\s`).FindAllSubmatch(b, -1) {
		cmds[string(m[1])] = true
	}
	if !cmds["storm"] {
		t.Fatalf("seatload help lists no storm command:\n%s", b)
	}
	return cmds
}

// calibrate runs seatload calibrate with workers connections: on
// PostgreSQL at pgURL unless it is empty, and with a bare live hub of
// sockets unless it is 0.
func calibrate(t *testing.T, seatload, pgURL string, workers, sockets int) calibration {
	args := []string{"calibrate", "-json", "-c", fmt.Sprint(workers), "-duration", calibrateD.String(),
		"-sqlite-path", filepath.Join(t.TempDir(), "calibrate.db")}
	if pgURL != "" {
		args = append(args, "-pg-url", pgURL)
	}
	if sockets > 0 {
		args = append(args, "-live-sockets", fmt.Sprint(sockets))
	}
	return runJSON[calibration](t, seatload, args...)
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

// checkFiles fails t unless seatload and seatd may each open a descriptor
// per connection of the largest run (the storm of vus buyers, the big live
// run) and then some. Both raise their soft limit to the hard one they
// inherit from this process (Go's runtime does at start), so the hard
// limit is what counts.
func checkFiles(t *testing.T, vus int) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return
	}
	need := uint64(max(vus, stadiumVUs, *liveN) + 1000)
	if lim.Max < need {
		t.Fatalf("the open-file limit is %d (hard), and seatload and seatd each need about %d for %d connections: "+
			"raise it (ulimit -Hn %d as root, or LimitNOFILE=) or run with smaller -storm-vus and -live-sockets",
			lim.Max, need, need-1000, need)
	}
}

// pgSettings returns the durability settings of the server at url, as
// "fsync=on, synchronous_commit=on, full_page_writes=on, wal_sync_method=fdatasync".
func pgSettings(t *testing.T, url string) string {
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var parts []string
	for _, name := range []string{"fsync", "synchronous_commit", "full_page_writes", "wal_sync_method"} {
		var v string
		if err := conn.QueryRow(t.Context(), "SELECT current_setting($1)", name).Scan(&v); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, name+"="+v)
	}
	return strings.Join(parts, ", ")
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
	Errors      struct {
		Transport, ServerErrors, Unexpected int
		ServerProblems                      map[string]int
	}
	Storm  *struct{ Winners, Losers, LosersAnswered, SeatsBooked, Viewers, Converged int }
	Steady *struct {
		Holds, Books, Releases int
		CyclesPerSecond        float64
		StoppedBy              string
	}
	Contend *struct {
		Workers, Seats, Holders, Holds, Shows int
		Refusals                              int
		RefusalsPerSecond                     float64
		PartlyNamed, Granted, HoldsIntact     int
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

// failures is the requests that failed: no answer, a 5xx, or an answer
// the scenario cannot explain.
func (s summary) failures() int {
	return s.Errors.Transport + s.Errors.ServerErrors + s.Errors.Unexpected
}

// writes is the write requests per second: holds, books and releases.
func (s summary) writes() float64 {
	return s.route("hold").Throughput + s.route("book").Throughput + s.route("release").Throughput
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

// composed is the limit of a request that costs a hello-world POST and then
// seatd's store alone, one after the other: 1 / (1/hello + 1/store).
func (c *calibration) composed() float64 {
	return 1 / (1/c.Hello.PerSecond + 1/c.PG.Store.PerSecond)
}

// aroundRun is two calibrations on the server of a run, just before it and
// just after it, seatd idle. This machine's speed drifts by a third within
// minutes (the host takes up to 30 % of the cores at times), so limits
// measured at the start of the bench would be another machine's.
type aroundRun struct{ before, after calibration }

// mean is the mean of a figure of the two calibrations.
func (a *aroundRun) mean(get func(c *calibration) float64) float64 {
	return (get(&a.before) + get(&a.after)) / 2
}

// composed is the composed limit of the mean hello-world and store rates.
func (a *aroundRun) composed() float64 {
	return 1 / (1/a.mean(helloRate) + 1/a.mean(storeRate))
}

func helloRate(c *calibration) float64 { return c.Hello.PerSecond }
func storeRate(c *calibration) float64 { return c.PG.Store.PerSecond }
func bareRate(c *calibration) float64  { return c.PG.Random.PerSecond }

// ok reports whether both calibrations measured PostgreSQL.
func (a *aroundRun) ok() bool { return a != nil && a.before.PG != nil && a.after.PG != nil }

type liveResult struct {
	Sockets, Shows, Changes int
	DelayMs, LastSocketMs   latencyMs
	Missed, Lagging, Errors int
	ConnectSeconds          float64
	BytesPerSocket          float64
	OK                      bool
}

// createShowResult is seatload create-show's output.
type createShowResult struct {
	ShowID  string
	Seats   int
	Rows    int
	Seconds float64
}

// diskSync measures this machine's disk as a durable commit uses it: one
// 8 kB write and fdatasync at a time, for d, into a preallocated file in
// dir (as PostgreSQL's WAL segments are), the way pg_test_fsync does.
func diskSync(t *testing.T, dir string, d time.Duration) loop {
	f, err := os.CreateTemp(dir, "fdatasync-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	const block, size = 8 << 10, 16 << 20
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	buf := bytes.Repeat([]byte{'x'}, block)
	var lat []time.Duration
	start := time.Now()
	for off := int64(0); time.Since(start) < d; off = (off + block) % size {
		began := time.Now()
		if _, err := f.WriteAt(buf, off); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			t.Fatal(err)
		}
		lat = append(lat, time.Since(began))
	}
	slices.Sort(lat)
	ms := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))]) / float64(time.Millisecond) }
	return loop{What: "8 kB write + fdatasync", Ops: len(lat), PerSecond: float64(len(lat)) / time.Since(start).Seconds(),
		LatencyMs: latencyMs{P50: ms(0.5), P90: ms(0.9), P99: ms(0.99), Max: ms(1)}}
}
