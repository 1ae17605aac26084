//go:build bench

package loadtest

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// report is the measured run, written as docs/BENCHMARKS.md.
type report struct {
	started  time.Time
	parts    parts
	commands map[string]bool // seatload's
	machine  string
	// pgVersion and the durability settings of the two servers, as they
	// report them.
	pgVersion                         string
	durableSettings, fsyncOffSettings string
	// calibration is on the durable PostgreSQL; fsyncOffCalibration on the
	// tests' server.
	calibration         *calibration
	fsyncOffCalibration *calibration
	disk                *loop // one 8 kB write and fdatasync at a time, on the disk of PostgreSQL's data
	results             []result
	goBench             string
}

// historyMarker starts the hand-written part of the file, which a new run keeps.
const historyMarker = "<!-- history: kept across runs -->"

// result returns the result of the backend named name, or nil.
func (r report) result(name string) *result {
	for i := range r.results {
		if r.results[i].backend.name == name {
			return &r.results[i]
		}
	}
	return nil
}

// limitsOf returns the calibration b's figures are read against: the one
// on its own PostgreSQL server, or for SQLite either.
func (r report) limitsOf(b backend) *calibration {
	if b.fsyncOff || r.calibration == nil {
		return r.fsyncOffCalibration
	}
	return r.calibration
}

func (r report) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# Benchmarks\n\n")
	p("Measured by `make bench` on %s, on %s; PostgreSQL %s. The run took %.0f minutes.\n\n", r.started.UTC().Format("2006-01-02 15:04 MST"), r.machine, r.pgVersion,
		time.Since(started).Minutes())
	if missing := r.missingParts(); missing != "" {
		p("**A partial run** (`-parts`): %s not measured.\n\n", missing)
	}
	p("Absolute figures drift with the machine and its neighbours, so each is set against a limit\n")
	p("of this machine measured in the same run (`seatload calibrate`). Load generator, seatd,\n")
	p("PostgreSQL and Redis share the same cores.\n\n")
	p("PostgreSQL is durable, as in production: a server of its own started for the run\n")
	p("(`testenv.StartPostgres(t, testenv.Durable())`; as it reports them: %s), for the\n", r.durableSettings)
	p("calibration and for seatd alike. The tests' server (`internal/testenv`'s shared one: %s)\n", orDash(r.fsyncOffSettings))
	p("is measured beside it: its calibration, and PostgreSQL + Redis's storm and steady run on it\n")
	p("(\"fsync off\"). SQLite is durable too: seatd's SQLite store and the calibration's bare UPDATE\n")
	p("both commit with synchronous=FULL in WAL mode (an fsync per commit).\n\n")
	p("Commands, as `make bench` runs them (see `loadtest/bench_test.go`):\n\n")
	p("    seatload calibrate -c 64 -duration %s -pg-url $PG -sqlite-path $TMP/calibrate.db -live-sockets %d   # durable $PG\n", *calibrateD, *liveN)
	p("    seatload calibrate -c 64 -duration %s -pg-url $PG_FSYNC_OFF -sqlite-path $TMP/calibrate.db\n", *calibrateD)
	p("    seatload calibrate -c %d -duration %s -sqlite-path $TMP/calibrate.db    # the hello-world rate at contend's concurrency, on either side of contend\n", contendWorkers, *calibrateD)
	p("    seatload calibrate -c 64 -duration %s -pg-url $PG -sqlite-path $TMP/calibrate.db    # each PostgreSQL server's, on either side of its 64-worker steady run\n", *calibrateD)
	p("    SEATD_DEMO=true SEATD_DEMO_SHOWS=400 SEATD_AUTH_SECRET=$SECRET SEATD_RATE_USER=off SEATD_RATE_ADDRESS=off SEATD_MAX_REQUESTS=%d \\\n", maxRequests())
	p("      SEATD_PPROF_ADDR=$OPS seatd\n")
	p("        # with SEATD_DATABASE_URL, SEATD_REDIS_URL, SEATD_GATE per backend, and SEATD_DEMO_SHOWS=%d on PostgreSQL + Redis;\n", pgDemoShows)
	p("        # rate limits off: one address, raw throughput; SEATD_MAX_REQUESTS above the largest storm, so every buyer is let in\n")
	p("    seatload storm -vus 500 -seats 10 -rounds 1 -url $SEATD -auth-secret $SECRET        # warm-up, not recorded\n")
	p("    seatload storm -vus 500 -seats 10 -rounds %d -url $SEATD -auth-secret $SECRET\n", *rounds)
	p("    seatload steady -c 64 -duration %s -url $SEATD -auth-secret $SECRET       # hold 1–4 seats, then book or release (half each)\n\n", *steadyD)
	p("seatload signs each user's bearer token with seatd's secret (no guest sessions). Every\n")
	p("recorded storm and steady run is profiled (see *Where seatd's CPU goes*); the profiler\n")
	p("costs seatd a few per cent.\n\n")

	r.limits(p)
	r.storms(p)
	r.steadies(p)
	r.fsyncOff(p)
	r.scale(p)
	r.cpu(p)
	r.memory(p)
	r.contend(p)
	r.stadium(p)
	r.live(p)
	r.storage(p)
	if r.goBench != "" {
		p("\n## Go benchmarks\n\n    go test -run '^$' -bench . -benchtime %s ./memory ./redis ./sqlite ./postgres ./httpapi\n\n", *benchtime)
		p("In-process handlers are read against `BenchmarkHTTP/Hello`, a bare JSON POST handler.\n\n```\n%s```\n", r.goBench)
	}
	p("\n%s\n", historyMarker)
	if old, err := os.ReadFile(*out); err == nil {
		if _, kept, ok := strings.Cut(string(old), historyMarker); ok {
			p("%s", strings.TrimLeft(kept, "\n"))
		}
	}
	return b.String()
}

// printer is markdown's p.
type printer func(format string, args ...any)

// missingParts names the parts -parts left out, or "".
func (r report) missingParts() string {
	var missing []string
	for _, part := range allParts {
		if !r.parts[part] {
			missing = append(missing, part)
		}
	}
	return strings.Join(missing, ", ")
}

func (r report) limits(p printer) {
	d, f := r.calibration, r.fsyncOffCalibration
	if d == nil && f == nil {
		return
	}
	p("## This machine's limits\n\n")
	p("Two calibrations, one on each PostgreSQL server; the rows without PostgreSQL were measured\n")
	p("in both, and the two figures say how much the machine drifts between them.\n\n")
	p("| limit (64 concurrent) | durable: rate | p50 | p99 | fsync off: rate | p50 | p99 |\n|---|---:|---:|---:|---:|---:|---:|\n")
	row := func(name string, get func(c *calibration) *loop, unit string) {
		p("| %s |", name)
		for _, c := range []*calibration{d, f} {
			var l *loop
			if c != nil {
				l = get(c)
			}
			if l == nil {
				p(" – | – | – |")
				continue
			}
			extra := ""
			if l.Deadlocks > 0 {
				extra = fmt.Sprintf(" (%d deadlocks)", l.Deadlocks)
			}
			p(" %.0f %s%s | %.2f ms | %.2f ms |", l.PerSecond, unit, extra, l.LatencyMs.P50, l.LatencyMs.P99)
		}
		p("\n")
	}
	pg := func(get func(c *calibration) *loop) func(c *calibration) *loop {
		return func(c *calibration) *loop {
			if c.PG == nil {
				return nil
			}
			return get(c)
		}
	}
	row("hello-world JSON POST, separate process, seatload's HTTP client", func(c *calibration) *loop { return &c.Hello }, "req/s")
	row("bare 4-seat conditional hold UPDATE, PostgreSQL, 4 random of 10 000 seats", pg(func(c *calibration) *loop { return &c.PG.Random }), "/s")
	row("the same plain UPDATE … WHERE id = ANY(…) on 4 of 10 hot seats", pg(func(c *calibration) *loop { return &c.PG.Hot }), "/s")
	row("seatd's own seat change (hold 1–4 seats under the cap of 10 held per user, then book or release them, as steady does) through its PostgreSQL store, in process: no HTTP, no Redis", pg(func(c *calibration) *loop { return &c.PG.Store }), "/s")
	row("bare 4-seat conditional hold UPDATE, SQLite, one writer, synchronous=FULL", func(c *calibration) *loop { return &c.SQLite }, "/s")
	if storeShare := func(c *calibration) float64 { return c.PG.Store.PerSecond / c.PG.Random.PerSecond }; pct(d, storeShare) != "–" || pct(f, storeShare) != "–" {
		p("\nseatd's store alone makes %s of the bare UPDATE's rate on the durable server, %s on the fsync-off one.\n",
			pct(d, storeShare), pct(f, storeShare))
	}
	if l := r.disk; l != nil {
		p("\nThis machine's disk, on the file system of PostgreSQL's data dirs: one 8 kB write and\n")
		p("fdatasync at a time, as a durable commit waits for its WAL, %.0f /s (p50 %.3f ms, p99 %.3f ms).\n",
			l.PerSecond, l.LatencyMs.P50, l.LatencyMs.P99)
	}
	p("\n")
}

// pct formats f(c) as a percentage, or "–" without c or its PostgreSQL figures.
func pct(c *calibration, f func(c *calibration) float64) string {
	if c == nil || c.PG == nil || c.PG.Random.PerSecond == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f %%", 100*f(c))
}

func (r report) storms(p printer) {
	if !slices.ContainsFunc(r.results, func(res result) bool { return res.storm != nil }) {
		return
	}
	p("## Storm: %d rounds of 500 buyers at once on the same 10 seats\n\n", *rounds)
	p("Each buyer holds 1–2 of the round's seats and books them if the hold succeeded.\n\n")
	p("| backend | hold p50 | hold p99 | hold max | book p99 | winners / losers | failures | verified | database transactions per request (warm-up included) | of which wrote |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|\n")
	for _, res := range r.results {
		s := res.storm
		if s == nil {
			continue
		}
		h, bk := s.route("hold"), s.route("book")
		xact, wrote := "–", "–"
		if res.backend.counted {
			xact, wrote = fmt.Sprintf("%.2f", res.stormXact.all), fmt.Sprintf("%.2f", res.stormXact.writes)
		}
		winners, losers := 0, 0
		if s.Storm != nil {
			winners, losers = s.Storm.Winners, s.Storm.Losers
		}
		p("| %s | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %d / %d | %d | %v | %s | %s |\n", res.backend.name,
			h.LatencyMs.P50, h.LatencyMs.P99, h.LatencyMs.Max, bk.LatencyMs.P99, winners, losers,
			s.failures(), s.Verification.OK, xact, wrote)
	}
	p("\nTargets: PostgreSQL + Redis hold p99 ≤ 50 ms, the losers answered at the gate without\n")
	p("a database write (a refused buyer's answer is stored in a group commit shared with the\n")
	p("others, and a refusal is confirmed by a hold made while it waited or by one read shared\n")
	p("by the requests asking at once, so the transactions per request stay well below one);\n")
	p("PostgreSQL without a gate: no deadlock and no 5xx (failures 0), its row locks taken in\n")
	p("seat-id order.\n\n")
}

func (r report) steadies(p printer) {
	if !slices.ContainsFunc(r.results, func(res result) bool { return res.steady != nil }) {
		return
	}
	p("## Steady: 64 workers, %s\n\n", *steadyD)
	p("Write requests are holds, books and releases; the ratio sets them against the bare\n")
	p("UPDATE of the same database above (each request is a transaction with that UPDATE in it:\n")
	p("SQLite's against SQLite's, each PostgreSQL server's against its own), and, on PostgreSQL,\n")
	p("against seatd's own seat change through its store without HTTP or Redis. Both SQLite\n")
	p("figures commit with synchronous=FULL: an fsync per commit, like the durable PostgreSQL.\n")
	p("The composed limit is what HTTP and the store allow one after the other, each at its own\n")
	p("calibrated rate: 1 / (1/hello + 1/store), the hello-world POST and seatd's store alone.\n")
	p("On PostgreSQL every ratio is to the mean of two calibrations on the backend's own server,\n")
	p("just before the run and just after it (seatd idle; see the next table): this machine's\n")
	p("speed drifts by a third within minutes. Targets: on PostgreSQL, ≥ 75 %% of the composed\n")
	p("limit; on SQLite, above 100 %% of its bare UPDATE.\n\n")
	p("| backend | write requests/s | cycles/s | hold p50 | hold p99 | book p99 | ratio to bare UPDATE | ratio to the store alone | composed limit | ratio to it | target | verified |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, res := range r.results {
		s := res.steady
		if s == nil {
			continue
		}
		writes := s.writes()
		c := r.limitsOf(res.backend)
		toBare, target, toStore, composed, toComposed := "–", "bare > 100 %", "–", "–", "–"
		if res.backend.usesPG() {
			target = "composed ≥ 75 %"
		}
		switch a := res.steadyLimits; {
		case res.backend.usesPG() && a.ok():
			toBare = fmt.Sprintf("%.0f %%", 100*writes/a.mean(bareRate))
			toStore = fmt.Sprintf("%.0f %%", 100*writes/a.mean(storeRate))
			limit := a.composed()
			composed, toComposed = fmt.Sprintf("%.0f /s", limit), fmt.Sprintf("%.0f %%", 100*writes/limit)
		case c == nil || res.backend.usesPG():
		default:
			toBare = fmt.Sprintf("%.0f %%", 100*writes/c.SQLite.PerSecond)
		}
		cycles := 0.0
		if s.Steady != nil {
			cycles = s.Steady.CyclesPerSecond
		}
		p("| %s | %.0f | %.0f | %.1f ms | %.1f ms | %.1f ms | %s | %s | %s | %s | %s | %v |\n", res.backend.name, writes, cycles,
			s.route("hold").LatencyMs.P50, s.route("hold").LatencyMs.P99, s.route("book").LatencyMs.P99,
			toBare, toStore, composed, toComposed, target, s.Verification.OK)
	}
	p("\n")
	r.steadyLimits(p)
}

// steadyLimits sets the calibrations on either side of each PostgreSQL
// steady run beside the one at the start of the bench.
func (r report) steadyLimits(p printer) {
	header := false
	for _, res := range r.results {
		a, start := res.steadyLimits, r.limitsOf(res.backend)
		if !a.ok() {
			continue
		}
		if !header {
			p("The limits of the PostgreSQL rows, at 64 concurrent: before the run, after it, and at the\n")
			p("start of the bench (the calibration table above).\n\n")
			p("| backend | limit | before | after | start of the bench |\n|---|---|---:|---:|---:|\n")
			header = true
		}
		row := func(name string, get func(c *calibration) float64) {
			first := "–"
			if start != nil && start.PG != nil {
				first = fmt.Sprintf("%.0f /s", get(start))
			}
			p("| %s | %s | %.0f /s | %.0f /s | %s |\n", res.backend.name, name, get(&a.before), get(&a.after), first)
		}
		row("hello-world POST", helloRate)
		row("seatd's store alone", storeRate)
		row("bare 4-seat hold UPDATE", bareRate)
		row("composed", func(c *calibration) float64 { return c.composed() })
	}
	if header {
		p("\n")
	}
}

// fsyncOff sets the durable server's figures beside the fsync-off one's.
func (r report) fsyncOff(p printer) {
	d, f := r.result(namePGRedis), r.result(nameFsyncOff)
	dc, fc := r.calibration, r.fsyncOffCalibration
	if fc == nil && f == nil {
		return
	}
	p("## Durable against fsync off\n\n")
	p("The same measurements on the two PostgreSQL servers of this run: what waiting for the\n")
	p("WAL's flush at each commit costs.\n\n")
	p("| figure | durable | fsync off | durable / fsync off |\n|---|---:|---:|---:|\n")
	row := func(name, unit string, dv, fv float64, ok bool) {
		if !ok {
			return
		}
		ratio := "–"
		if fv != 0 {
			ratio = fmt.Sprintf("%.2f", dv/fv)
		}
		p("| %s | %.1f %s | %.1f %s | %s |\n", name, dv, unit, fv, unit, ratio)
	}
	if dc != nil && fc != nil && dc.PG != nil && fc.PG != nil {
		row("bare 4-seat hold UPDATE, 64 concurrent", "/s", dc.PG.Random.PerSecond, fc.PG.Random.PerSecond, true)
		row("bare UPDATE p99", "ms", dc.PG.Random.LatencyMs.P99, fc.PG.Random.LatencyMs.P99, true)
		row("seatd's seat change through its store, in process", "/s", dc.PG.Store.PerSecond, fc.PG.Store.PerSecond, true)
	}
	if d != nil && f != nil {
		if d.steady != nil && f.steady != nil {
			row("PostgreSQL + Redis steady, write requests", "/s", d.steady.writes(), f.steady.writes(), true)
			row("PostgreSQL + Redis steady, hold p99", "ms", d.steady.route("hold").LatencyMs.P99, f.steady.route("hold").LatencyMs.P99, true)
		}
		if d.storm != nil && f.storm != nil {
			row("PostgreSQL + Redis storm, hold p99", "ms", d.storm.route("hold").LatencyMs.P99, f.storm.route("hold").LatencyMs.P99, true)
		}
	}
	p("\n")
}

func (r report) live(p printer) {
	for _, res := range r.results {
		if res.liveMany == nil {
			continue
		}
		var hub *liveResult
		if r.calibration != nil {
			hub = r.calibration.Live
		}
		p("\n## Live seat maps: %s\n\n", res.backend.name)
		p("`seatload live` opens the sockets on one show, then holds 50 of its seats through the API, one every\n")
		p("20 ms; each socket measures each event's delay from its commit (the event's `at`) to its arrival.\n")
		p("The limit is a bare coder/websocket broadcast hub in a process of its own (`seatload calibrate\n")
		p("-live-sockets`), loaded the same way: a snapshot per socket, each change encoded once for all.\n\n")
		p("    seatload calibrate -live-sockets %d ...\n", *liveN)
		p("    seatload live -sockets %d -shows 1 -url $SEATD -auth-secret $SECRET\n    seatload live -sockets 1000 -shows 1 -url $SEATD -auth-secret $SECRET   # 3 times\n", *liveN)
		p("    seatload storm -vus 500 -seats 10 -rounds %d -url $SEATD -auth-secret $SECRET                 # then the same with:\n", *rounds)
		p("    seatload storm -vus 500 -seats 10 -rounds %d -viewers 1000 -url $SEATD -auth-secret $SECRET   # %d times in turn\n\n", *rounds, *watchN)
		p("| run | delay p50 | delay p99 | delay max | to the last socket p99 | memory per socket | missed / lagging | target |\n")
		p("|---|---:|---:|---:|---:|---:|---:|---|\n")
		row := func(name string, l *liveResult, target string) {
			p("| %s | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %.0f KB | %d / %d | %s |\n", name, l.DelayMs.P50, l.DelayMs.P99, l.DelayMs.Max,
				l.LastSocketMs.P99, l.BytesPerSocket/1024, l.Missed, l.Lagging, target)
		}
		if hub != nil {
			row(fmt.Sprintf("bare hub, %d sockets", hub.Sockets), hub, "the limit")
			row(fmt.Sprintf("seatd, %d sockets (p99 %.2f×, memory %.2f× the hub's)", res.liveMany.Sockets,
				res.liveMany.DelayMs.P99/hub.DelayMs.P99, res.liveMany.BytesPerSocket/hub.BytesPerSocket), res.liveMany, "≤ 1.2× both")
		} else {
			row(fmt.Sprintf("seatd, %d sockets (no calibration in this run)", res.liveMany.Sockets), res.liveMany, "≤ 1.2× the hub's")
		}
		row(fmt.Sprintf("seatd, 1000 sockets (the median of 3 runs by p99: %s ms)", joinMs(res.thousandP99s)), res.liveThousand, "p99 ≤ 50 ms")
		if len(res.watchPairs) > 0 {
			p("\nThe same storm without viewers, then watched by 1000 (`-viewers 1000`), %d times in turn:\n\n", len(res.watchPairs))
			p("| pair | hold p99 unwatched | hold p99 watched | ratio | viewers with the final seat maps | verified |\n|---|---:|---:|---:|---:|---|\n")
			var ratios []float64
			for i, pair := range res.watchPairs {
				base, w := pair[0].route("hold").LatencyMs.P99, pair[1]
				ratio := w.route("hold").LatencyMs.P99 / base
				ratios = append(ratios, ratio)
				converged, viewers := 0, 0
				if w.Storm != nil {
					converged, viewers = w.Storm.Converged, w.Storm.Viewers
				}
				p("| %d | %.1f ms | %.1f ms | %.2f× | %d of %d | %v |\n", i+1, base, w.route("hold").LatencyMs.P99, ratio,
					converged, viewers, pair[0].Verification.OK && w.Verification.OK)
			}
			slices.Sort(ratios)
			p("\nMedian ratio %.2f× (target ≤ 1.2×).\n", ratios[len(ratios)/2])
		}
	}
}

func (r report) storage(p printer) {
	var rows []string
	for _, res := range r.results {
		for _, run := range []struct {
			name string
			st   storage
		}{{"storm", res.stormStored}, {"steady", res.steadyStored}} {
			if len(run.st.tables) == 0 {
				continue
			}
			row := fmt.Sprintf("| %s | %s |", res.backend.name, run.name)
			total := 0.0
			for _, table := range storedTables {
				row += fmt.Sprintf(" %.0f B |", run.st.tables[table])
				total += run.st.tables[table]
			}
			redis := "–"
			if res.backend.withRedis {
				redis = fmt.Sprintf("%.0f B", run.st.redis)
			}
			rows = append(rows, row+fmt.Sprintf(" %.0f B | %s |\n", total, redis))
		}
	}
	if len(rows) == 0 {
		return
	}
	p("\n## Storage per request\n\n")
	p("Bytes that the storm (mostly refusals) and the steady run (holds, books, releases) left\n")
	p("in each table, indexes included, divided by the requests that left them; with Redis,\n")
	p("Redis's memory too (gate keys, hold keys, answers cached for 10 minutes). Receipts are\n")
	p("kept for 24 h (`SEATD_IDEMPOTENCY_TTL`), refusals' for 10 min\n")
	p("(`SEATD_IDEMPOTENCY_REFUSAL_TTL`), and then swept; events, holds and bookings stay.\n\n")
	p("| backend | run | %s | all tables | Redis |\n|---|---|%s---:|---:|\n", strings.Join(storedTables, " | "), strings.Repeat("---:|", len(storedTables)))
	for _, row := range rows {
		p("%s", row)
	}
}

// goBenchmarks runs the Go benchmarks and returns their result lines.
func goBenchmarks() string {
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", ".", "-benchtime", *benchtime,
		"seatmanager/memory", "seatmanager/redis", "seatmanager/sqlite", "seatmanager/postgres", "seatmanager/httpapi")
	b, err := cmd.CombinedOutput()
	var lines []string
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "pkg: "):
			lines = append(lines, "", strings.TrimPrefix(line, "pkg: "))
		case strings.HasPrefix(line, "Benchmark"):
			lines = append(lines, "  "+line)
		}
	}
	if err != nil {
		lines = append(lines, "go test -bench failed: "+err.Error())
	}
	return strings.Join(lines, "\n") + "\n"
}

// joinMs lists milliseconds as "12.3 / 45.6".
func joinMs(ms []float64) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = fmt.Sprintf("%.1f", m)
	}
	return strings.Join(parts, " / ")
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
