//go:build bench

package loadtest

import (
	"cmp"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"seatmanager/internal/testenv"
)

// backend is one way to run seatd.
type backend struct {
	name string
	key  string // in profile file names
	// pg is the PostgreSQL server the backend's database is on; nil for
	// SQLite. fsyncOff marks the tests' shared server.
	pg        *testenv.Postgres
	fsyncOff  bool
	withRedis bool
	redis     string // Redis's address, once started
	stormOnly bool
	// main marks PostgreSQL + Redis on the durable server, where the scale
	// curves, live seat maps, memory, contend and the stadium run.
	main bool
	// counted backends count their transactions and storage per request.
	counted bool
	env     map[string]string
}

func (b backend) usesPG() bool { return b.pg != nil || b.fsyncOff }

// Names of the backends in the report.
const (
	nameSQLite   = "SQLite, in-process gate (embedded default)"
	namePGRedis  = "PostgreSQL + Redis"
	nameFsyncOff = "PostgreSQL + Redis, fsync off"
	nameNoGate   = "PostgreSQL, no gate"
)

// pgDemoShows is the demo shows of the PostgreSQL backends, 240 000 seats:
// the main one's storms and steady runs before the memory run (which has
// shows of its own) book some 80 000 (2026-12-04: the three steady runs made
// 121 000 requests, a hold of 1–4 seats booked one time in two, some 0.6
// seats a request). No more than needed: the more seats steady spreads over,
// most likely the more pages each checkpoint's full-page writes copy, for as
// long as a run after a checkpoint touches pages it has not touched since.
const pgDemoShows = 2000

// backends returns the backends the selected parts need, in the order they run.
func backends(sel parts, durable *testenv.Postgres) []backend {
	var out []backend
	if sel[partSQLite] {
		out = append(out, backend{name: nameSQLite, key: "sqlite"})
	}
	pgShows := map[string]string{"SEATD_DEMO_SHOWS": fmt.Sprint(pgDemoShows)}
	if sel.any(partPG, partLive, partScale, partMemory, partContend, partStadium) {
		out = append(out, backend{name: namePGRedis, key: "pg-redis", pg: durable, withRedis: true, main: true, counted: true, env: pgShows})
	}
	if sel[partFsyncOff] {
		out = append(out, backend{name: nameFsyncOff, key: "pg-redis-fsync-off", fsyncOff: true, withRedis: true, env: pgShows})
	}
	if sel[partNoGate] {
		out = append(out, backend{name: nameNoGate, key: "pg-nogate", pg: durable, stormOnly: true, counted: true,
			env: map[string]string{"SEATD_GATE": "false"}})
	}
	return out
}

// result is what one backend measured.
type result struct {
	backend backend
	storm   *run
	steady  *run
	// steadyLimits are, on PostgreSQL, the calibrations on the backend's own
	// server just before and just after the 64-worker steady run, which it
	// is read against.
	steadyLimits *aroundRun
	stormXact    xactCount // PostgreSQL transactions per storm request
	// stored is what the storm and the steady run left in the database (and
	// Redis), per request.
	stormStored, steadyStored storage
	// live are the live seat-map runs: liveSockets on one show, 1000 on one
	// show, and storms unwatched and watched by 1000 viewers, in turn.
	liveMany, liveThousand *liveResult
	thousandP99s           []float64 // of the three 1 000-socket runs, lowest first
	watchPairs             [][2]summary

	// The main backend's: the scale curves (the storm and steady above
	// among them), memory, gate refusals and the stadium.
	scaleStorms, scaleSteadies []scalePoint
	memory                     *memoryResult
	contend                    *contendRun
	stadium                    *stadiumRun
}

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

// stormVUs500 is the buyers of the storm table's storms, the live runs' and
// the warm-up.
const stormVUs500 = 500

// steadyC64 is the workers of the steady table's runs and the memory run.
const steadyC64 = 64

// maxRequests is seatd's SEATD_MAX_REQUESTS in the bench: above the largest
// storm, so that every buyer is let in and the storm measures the answers
// rather than the 503s of the cap (4 096 by default).
func maxRequests() int { return max(4096, 2*slices.Max(stormScale()), 2*stadiumVUs) }

// stadiumVUs is the buyers of the stadium's storm.
const stadiumVUs = 5000

// stadiumStormSeats is the seats of the stadium's storm.
const stadiumStormSeats = 1000

func measure(t *testing.T, seatload string, b backend, sel parts, r *report) result {
	s := startSeatd(t, b)
	res := result{backend: b}
	storm := func(vus, rounds int, extra ...string) []string {
		return slices.Clip(signed(append([]string{"storm", "-json", "-url", s.URL, "-vus", fmt.Sprint(vus), "-seats", "10", "-rounds", fmt.Sprint(rounds)}, extra...)...))
	}
	steady := func(workers int, extra ...string) []string {
		return signed(append([]string{"steady", "-json", "-url", s.URL, "-c", fmt.Sprint(workers), "-duration", steadyD.String()}, extra...)...)
	}
	recorded := !b.main || sel.any(partPG, partScale)

	// The transactions are counted before the warm-up: counting them takes a
	// wait, and the storm must follow the warm-up at once, as it would in a
	// server that keeps working (after seconds idle, the first burst is slower).
	var before xactTotals
	var stored storage
	if b.counted && recorded {
		progress("%s: counting the database's transactions (an 11 s wait)", b.name)
		before = xacts(t, s.db)
		stored = measureStorage(t, s.db, b.redis)
	}
	// One round first, unrecorded: the first requests of a new process fill
	// its connection pools, caches and heap, which a running server has done.
	progress("%s: warm-up storm, %d buyers", b.name, stormVUs500)
	warm := runJSON[summary](t, seatload, storm(stormVUs500, 1)...)
	if recorded {
		progress("%s: storm, %d buyers × %d rounds", b.name, stormVUs500, *rounds)
		st := s.profiled(t, seatload, fmt.Sprintf("storm-%d", stormVUs500), 0, storm(stormVUs500, *rounds)...)
		res.storm = &st
		if n := warm.Requests + st.Requests; b.counted && n > 0 {
			progress("%s: counting the database's transactions (an 11 s wait)", b.name)
			after := xacts(t, s.db)
			res.stormXact = xactCount{all: float64(after.all-before.all) / float64(n), writes: float64(after.writes-before.writes) / float64(n)}
			afterStorm := measureStorage(t, s.db, b.redis)
			res.stormStored = afterStorm.minus(stored).per(n)
		}
	}
	if b.main && sel[partScale] {
		for _, vus := range stormScale() {
			if vus == stormVUs500 && res.storm != nil {
				res.scaleStorms = append(res.scaleStorms, scalePoint{n: vus, run: *res.storm})
				continue
			}
			progress("%s: scale storm, %d buyers × %d rounds", b.name, vus, *rounds)
			res.scaleStorms = append(res.scaleStorms, scalePoint{n: vus, run: s.profiled(t, seatload, fmt.Sprintf("storm-%d", vus), 0, storm(vus, *rounds)...)})
		}
	}
	if b.main && sel[partLive] {
		progress("%s: live, %d sockets", b.name, *liveN)
		many := runJSON[liveResult](t, seatload, signed("live", "-json", "-url", s.URL, "-sockets", fmt.Sprint(*liveN), "-shows", "1")...)
		// 1 000 sockets three times, the median by p99 recorded: one run's
		// p99 is a handful of frames, and this machine's speed swings.
		var thousands []liveResult
		for i := range 3 {
			progress("%s: live, 1000 sockets (%d of 3)", b.name, i+1)
			thousands = append(thousands, runJSON[liveResult](t, seatload, signed("live", "-json", "-url", s.URL, "-sockets", "1000", "-shows", "1")...))
		}
		slices.SortFunc(thousands, func(a, b liveResult) int { return cmp.Compare(a.DelayMs.P99, b.DelayMs.P99) })
		res.liveMany, res.liveThousand = &many, &thousands[1]
		for _, l := range thousands {
			res.thousandP99s = append(res.thousandP99s, l.DelayMs.P99)
		}
		// The same storm unwatched and watched, in turn: on this machine one
		// storm's p99 swings by half between identical runs.
		for i := range *watchN {
			progress("%s: storm unwatched, then watched by 1000 (%d of %d)", b.name, i+1, *watchN)
			res.watchPairs = append(res.watchPairs, [2]summary{
				runJSON[summary](t, seatload, storm(stormVUs500, *rounds)...),
				runJSON[summary](t, seatload, storm(stormVUs500, *rounds, "-viewers", "1000")...),
			})
		}
	}
	if !b.stormOnly && recorded {
		workers := []int{steadyC64}
		if b.main && sel[partScale] {
			workers = steadyScale()
		}
		for _, c := range workers {
			var stored storage
			if c == steadyC64 && b.counted {
				stored = measureStorage(t, s.db, b.redis)
			}
			// On PostgreSQL the limits on either side of the run (see aroundRun).
			around := c == steadyC64 && b.usesPG()
			var limits aroundRun
			if around {
				progress("%s: calibrate at %d, before steady", b.name, steadyC64)
				limits.before = calibrate(t, seatload, s.calibrationURL(t), steadyC64, 0)
			}
			progress("%s: steady, %d workers, %s", b.name, c, *steadyD)
			st := s.profiled(t, seatload, fmt.Sprintf("steady-%d", c), timedPart(*steadyD), steady(c)...)
			if around {
				progress("%s: calibrate at %d, after steady", b.name, steadyC64)
				limits.after = calibrate(t, seatload, s.calibrationURL(t), steadyC64, 0)
				res.steadyLimits = &limits
			}
			if c == steadyC64 {
				res.steady = &st
				if b.counted && st.Requests > 0 {
					res.steadyStored = measureStorage(t, s.db, b.redis).minus(stored).per(st.Requests)
				}
			}
			if b.main && sel[partScale] {
				res.scaleSteadies = append(res.scaleSteadies, scalePoint{n: c, run: st})
			}
		}
	}
	if b.main && sel[partMemory] {
		progress("%s: memory, steady with %d workers for %s, RSS every %s", b.name, steadyC64, *memoryD, *memoryEvery)
		res.memory = measureMemory(t, seatload, s, r.commands)
	}
	if b.main && sel[partContend] {
		res.contend = measureContend(t, seatload, s, r.commands)
	}
	if b.main && sel[partStadium] {
		res.stadium = measureStadium(t, seatload, s, r.commands)
	}
	return res
}

// seatd is a seatd the bench started, with what the bench reads of it.
type seatd struct {
	*testenv.Seatd
	b     backend
	ops   string // host:port of its profiler
	db    string // its PostgreSQL database's URL; "" on SQLite
	redis string
}

func startSeatd(t *testing.T, b backend) *seatd {
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
		// (-max-seats), no live driver more than 5 (-changes-per-user), no
		// contend holder more than 8.
		"SEATD_RATE_USER": "off", "SEATD_RATE_ADDRESS": "off",
		"SEATD_MAX_REQUESTS": fmt.Sprint(maxRequests()),
	}
	for k, v := range b.env {
		env[k] = v
	}
	s := &seatd{b: b, redis: b.redis}
	switch {
	case b.pg != nil:
		s.db = b.pg.URL(t)
	case b.fsyncOff:
		s.db = testenv.PostgresURL(t)
	default:
		s.db = ""
		env["SEATD_DATABASE_URL"] = filepath.Join(t.TempDir(), "seatd.db")
	}
	if s.db != "" {
		env["SEATD_DATABASE_URL"] = s.db
	}
	if b.redis != "" {
		env["SEATD_REDIS_URL"] = "redis://" + b.redis + "/0"
	}
	// The profiler on an address of its own. /metrics stays on the API's,
	// where seatload live reads seatd's memory; the bench's reads of it are
	// left out of the requests it counts.
	s.ops = freeAddr(t)
	env["SEATD_PPROF_ADDR"] = s.ops
	progress("%s: starting seatd (%s demo shows)", b.name, env["SEATD_DEMO_SHOWS"])
	// seatd's log (warnings and up) goes along with the run's output.
	s.Seatd = testenv.StartSeatd(t, env, testenv.WithSeatdLog(os.Stderr))
	return s
}

// calibrationURL returns a new database on s's PostgreSQL server, for a
// calibration to make its scratch tables in.
func (s *seatd) calibrationURL(t *testing.T) string {
	if s.b.pg != nil {
		return s.b.pg.URL(t)
	}
	return testenv.PostgresURL(t)
}

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// run is one recorded seatload run: its summary, seatd's CPU over it, and
// the warnings seatd logged meanwhile.
type run struct {
	summary
	cpu      *cpuUse
	warnings int
}

// scalePoint is one run of a scale curve: n buyers or workers.
type scalePoint struct {
	n int
	run
}

// profiled runs seatload with args while profiling seatd (see
// profileDuring): for fixed once its load starts, or to its end if fixed is 0.
func (s *seatd) profiled(t *testing.T, seatload, name string, fixed time.Duration, args ...string) run {
	t.Helper()
	logBefore := len(s.Log())
	var sum summary
	cpu := profileDuring(t, s, name, fixed, func() { sum = runJSON[summary](t, seatload, args...) })
	return run{summary: sum, cpu: &cpu, warnings: countWarnings(s.Log()[logBefore:])}
}

// timedPart is the profile window of a run of a known duration d: d less a
// second, which the run's first requests and its last answers may take.
func timedPart(d time.Duration) time.Duration { return max(time.Second, d-time.Second) }

// countWarnings counts the lines of seatd's log (text format) at WARN or above.
func countWarnings(log string) int {
	n := 0
	for line := range strings.Lines(log) {
		if strings.Contains(line, " level=WARN ") || strings.Contains(line, " level=ERROR ") {
			n++
		}
	}
	return n
}
