//go:build bench

package loadtest

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"seatmanager/internal/testenv"
)

var (
	out      = flag.String("out", "../docs/BENCHMARKS.md", "where to write the report (default with -quick or -parts: a file in the temp dir)")
	steadyD  = flag.Duration("steady", 15*time.Second, "how long each steady run lasts")
	rounds   = flag.Int("rounds", 3, "rounds of each recorded storm")
	profiles = flag.String("pprof", "", "if set, a directory to write seatd's CPU profiles of the profiled runs to")
	partList = flag.String("parts", "all", "comma-separated parts to run ("+strings.Join(allParts, ", ")+"), or all")
	quick    = flag.Bool("quick", false, "short settings to try the harness with (see quickFlags); the report goes to the temp dir unless -out is set")

	calibrateD   = flag.Duration("calibrate", 5*time.Second, "how long each calibration measurement runs")
	stormVUs     = flag.String("storm-vus", "500,2000,5000", "buyers of the scale curve's storms, comma-separated; the first is the storm of the storm table")
	steadyCs     = flag.String("steady-workers", "16,64,256", "workers of the scale curve's steady runs, comma-separated; 64 is the steady table's")
	memoryD      = flag.Duration("memory", 60*time.Second, "how long the steady run whose RSS is sampled lasts")
	memoryEvery  = flag.Duration("memory-every", 5*time.Second, "how often seatd's RSS is sampled")
	memorySeats  = flag.Int("memory-seats", 200_000, "seats of the shows made for the memory run, between them")
	liveN        = flag.Int("live-sockets", 10000, "sockets of the big live run, on seatd and on calibrate's bare hub")
	watchN       = flag.Int("watch-pairs", 5, "storms unwatched then watched by 1000 viewers, in turn")
	contendD     = flag.Duration("contend", 10*time.Second, "how long seatload contend runs")
	stadiumSeats = flag.Int("stadium-seats", 60000, "seats of the stadium show")
	benchtime    = flag.String("benchtime", "2s", "-benchtime of the Go benchmarks")
)

// quickFlags are -quick's settings, for flags not set on the command line:
// every code path in a few minutes, the figures meaningless.
var quickFlags = map[string]string{
	"steady": "2s", "rounds": "1", "calibrate": "1s", "storm-vus": "500,1000", "steady-workers": "8,64",
	"memory": "10s", "live-sockets": "500", "watch-pairs": "1", "contend": "2s", "stadium-seats": "3000", "memory-seats": "30000", "benchtime": "1x",
}

// Parts of the run, which -parts selects.
const (
	partCalibrate = "calibrate" // this machine's limits, with the durable PostgreSQL
	partSQLite    = "sqlite"    // storm and steady on the embedded default
	partPG        = "pg"        // storm, steady and storage on PostgreSQL + Redis (durable)
	partFsyncOff  = "fsync-off" // the calibration and PostgreSQL + Redis again on the fsync-off server
	partNoGate    = "nogate"    // storm on PostgreSQL without the gate
	partLive      = "live"      // live seat maps on PostgreSQL + Redis
	partScale     = "scale"     // storms and steady runs of the scale curves
	partMemory    = "memory"    // seatd's RSS over a long steady run
	partContend   = "contend"   // gate refusals (seatload contend)
	partStadium   = "stadium"   // one show of -stadium-seats seats
	partGoBench   = "gobench"   // the Go benchmarks
)

var allParts = []string{partCalibrate, partSQLite, partPG, partFsyncOff, partNoGate, partLive, partScale, partMemory, partContend, partStadium, partGoBench}

// parts is the parts selected by -parts.
type parts map[string]bool

func (p parts) any(names ...string) bool {
	return slices.ContainsFunc(names, func(n string) bool { return p[n] })
}

func TestMain(m *testing.M) { testenv.Main(m) }

// TestBenchmarks measures, in one run on this machine: its limits (seatload
// calibrate, on a durable PostgreSQL and on the tests' fsync-off one), then
// the storm and steady load on each backend, the scale curves, seatd's
// memory, gate refusals and a stadium on PostgreSQL + Redis, and writes the
// figures with their ratios to the limits.
func TestBenchmarks(t *testing.T) {
	sel := setUp(t)
	seatload := build(t, t.TempDir(), "seatload")
	r := report{started: time.Now(), parts: sel, commands: seatloadCommands(t, seatload)}
	r.machine = machine(t)
	progress("seatload built; %s", r.machine)

	durable := testenv.StartPostgres(t, testenv.Durable())
	r.durableSettings = pgSettings(t, durable.URL(t))
	if sel[partCalibrate] {
		progress("this machine's disk: 8 kB writes and fdatasync for %s", *calibrateD)
		disk := diskSync(t, os.TempDir(), *calibrateD)
		r.disk = &disk
		progress("calibrate, durable PostgreSQL (%s each)", *calibrateD)
		c := calibrate(t, seatload, durable.URL(t), 64, *liveN)
		r.calibration = &c
		if c.PG != nil {
			r.pgVersion = c.PG.ServerVersion
		}
	}
	if sel[partFsyncOff] {
		url := testenv.PostgresURL(t)
		r.fsyncOffSettings = pgSettings(t, url)
		progress("calibrate, fsync-off PostgreSQL")
		c := calibrate(t, seatload, url, 64, 0)
		r.fsyncOffCalibration = &c
		if r.pgVersion == "" && c.PG != nil {
			r.pgVersion = c.PG.ServerVersion
		}
	}
	for _, b := range backends(sel, durable) {
		t.Run(b.name, func(t *testing.T) {
			b.redis = ""
			if b.withRedis {
				// A Redis of its own: the demo shows' ids are the same on every
				// backend, and another's gate keys would refuse its holds.
				b.redis = testenv.StartRedis(t).Addr()
			}
			r.results = append(r.results, measure(t, seatload, b, sel, &r))
		})
	}
	if sel[partGoBench] {
		progress("Go benchmarks (-benchtime %s)", *benchtime)
		r.goBench = goBenchmarks()
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(*out, []byte(r.markdown()), 0o644); err != nil {
		t.Fatal(err)
	}
	progress("wrote %s", *out)
}

// setUp applies -quick, checks the flags and returns the parts to run.
func setUp(t *testing.T) parts {
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *quick {
		for name, v := range quickFlags {
			if !set[name] {
				if err := flag.Set(name, v); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	sel := parts{}
	for p := range strings.SplitSeq(*partList, ",") {
		switch p = strings.TrimSpace(p); {
		case p == "all":
			for _, q := range allParts {
				sel[q] = true
			}
		case slices.Contains(allParts, p):
			sel[p] = true
		default:
			t.Fatalf("-parts: no part %q; the parts are %s, or all", p, strings.Join(allParts, ", "))
		}
	}
	if (*quick || *partList != "all") && !set["out"] {
		// A short or partial run must not overwrite the full run's report.
		*out = filepath.Join(os.TempDir(), "BENCHMARKS.md")
	}
	if len(stormScale()) == 0 || len(steadyScale()) == 0 {
		t.Fatal("-storm-vus and -steady-workers need one number each at least")
	}
	checkFiles(t, slices.Max(stormScale()))
	started = time.Now()
	progress("parts %s; steady %s, storms of %d rounds; report to %s", strings.Join(slices.Sorted(func(yield func(string) bool) {
		for p := range sel {
			if !yield(p) {
				return
			}
		}
	}), ","), *steadyD, *rounds, *out)
	return sel
}

// stormScale and steadyScale are -storm-vus and -steady-workers.
func stormScale() []int  { return ints("storm-vus", *stormVUs) }
func steadyScale() []int { return ints("steady-workers", *steadyCs) }

func ints(name, list string) []int {
	var out []int
	for f := range strings.SplitSeq(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			panic(fmt.Sprintf("-%s: %q is not a positive number", name, f))
		}
		out = append(out, n)
	}
	return out
}

// started is when the run started, for progress.
var started = time.Now()

// progress prints a line saying where the run is, with the time since it
// started, so that a long run can be followed (go test -v shows it at once).
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench %6s  %s\n", time.Since(started).Round(time.Second), fmt.Sprintf(format, args...))
}
