//go:build bench

package loadtest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// The report's sections on the main backend (PostgreSQL + Redis, durable):
// the scale curves, seatd's CPU by stage, its memory, gate refusals and the
// stadium.

func (r report) scale(p printer) {
	res := r.result(namePGRedis)
	if res == nil || (len(res.scaleStorms) == 0 && len(res.scaleSteadies) == 0) {
		return
	}
	p("## Scale: PostgreSQL + Redis (durable)\n\n")
	p("    seatload storm -vus N -seats 10 -rounds %d -url $SEATD -auth-secret $SECRET    # N = %s\n", *rounds, *stormVUs)
	p("    seatload steady -c N -duration %s -url $SEATD -auth-secret $SECRET             # N = %s\n\n", *steadyD, *steadyCs)
	p("One seatd, after the warm-up storm, in this order; the 500-buyer storm and the 64-worker\n")
	p("steady run are the ones of the tables above. seatd's warnings are the lines it logged at\n")
	p("WARN or above during the run (such as the gate or the idempotency markers giving up on\n")
	p("Redis for a second and leaving the decisions to the database). CPU per request is the\n")
	p("profile's, over the requests seatd answered while it ran (see the next section).\n\n")
	if len(res.scaleStorms) > 0 {
		p("| buyers | requests | requests/s | hold p50 | hold p99 | hold max | book p99 | answers | failures | seatd's warnings | verified | seatd CPU per request |\n")
		p("|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|---:|\n")
		for _, pt := range res.scaleStorms {
			h := pt.route("hold")
			p("| %d × %d | %d | %.0f | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %s | %d | %d | %v | %s |\n", pt.n, *rounds, pt.Requests, pt.Throughput,
				h.LatencyMs.P50, h.LatencyMs.P99, h.LatencyMs.Max, pt.route("book").LatencyMs.P99, statuses(pt.summary),
				pt.failures(), pt.warnings, pt.Verification.OK, cpuPerRequest(pt.cpu))
		}
		p("\nTarget: hold p99 ≤ 50 ms at every size.\n\n")
	}
	if len(res.scaleSteadies) > 0 {
		p("| workers | write requests/s | ratio to bare UPDATE (64 concurrent) | ratio to the composed limit | hold p50 | hold p99 | book p99 | failures | seatd's warnings | verified | seatd CPU per request |\n")
		p("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|\n")
		for _, pt := range res.scaleSteadies {
			ratio, toComposed := "–", "–"
			if a := res.steadyLimits; a.ok() {
				ratio = fmt.Sprintf("%.0f %%", 100*pt.writes()/a.mean(bareRate))
				toComposed = fmt.Sprintf("%.0f %%", 100*pt.writes()/a.composed())
			}
			p("| %d | %.0f | %s | %s | %.1f ms | %.1f ms | %.1f ms | %d | %d | %v | %s |\n", pt.n, pt.writes(), ratio, toComposed,
				pt.route("hold").LatencyMs.P50, pt.route("hold").LatencyMs.P99, pt.route("book").LatencyMs.P99,
				pt.failures(), pt.warnings, pt.Verification.OK, cpuPerRequest(pt.cpu))
		}
		p("\nThe ratios are to the steady table's limits, calibrated at 64 concurrent on either side of the\n")
		p("64-worker run. Target: at 64 workers, ≥ 75 %% of the composed limit.\n\n")
	}
}

// statuses lists a run's answers by route and status: "hold 200×23 409×1477; book 200×23".
func statuses(s summary) string {
	var parts []string
	for _, rt := range s.Routes {
		if len(rt.Statuses) == 0 {
			continue
		}
		var sts []string
		for _, st := range slices.Sorted(maps.Keys(rt.Statuses)) {
			sts = append(sts, fmt.Sprintf("%s×%d", st, rt.Statuses[st]))
		}
		parts = append(parts, rt.Route+" "+strings.Join(sts, " "))
	}
	return strings.Join(parts, "; ")
}

func cpuPerRequest(c *cpuUse) string {
	if c == nil || c.requests == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f µs", c.perRequest(c.total))
}

// profiledRun is a profiled run's row in the CPU table.
type profiledRun struct {
	name string
	cpu  *cpuUse
}

// profiledRuns lists every profiled run of the report, in the order they ran.
func (r report) profiledRuns() []profiledRun {
	var out []profiledRun
	add := func(name string, c *cpuUse) {
		if c != nil {
			out = append(out, profiledRun{name, c})
		}
	}
	for _, res := range r.results {
		b := res.backend.name
		if res.storm != nil {
			add(fmt.Sprintf("%s: storm, 500 buyers × %d", b, *rounds), res.storm.cpu)
		}
		for _, pt := range res.scaleStorms {
			if pt.n != stormVUs500 {
				add(fmt.Sprintf("%s: storm, %d buyers × %d", b, pt.n, *rounds), pt.cpu)
			}
		}
		if len(res.scaleSteadies) > 0 {
			for _, pt := range res.scaleSteadies {
				add(fmt.Sprintf("%s: steady, %d workers", b, pt.n), pt.cpu)
			}
		} else if res.steady != nil {
			add(fmt.Sprintf("%s: steady, 64 workers", b), res.steady.cpu)
		}
		if res.contend != nil {
			add(fmt.Sprintf("%s: contend, %d workers", b, contendWorkers), res.contend.cpu)
		}
		if st := res.stadium; st != nil && st.show.ShowID != "" {
			add(fmt.Sprintf("%s: stadium steady, 64 workers", b), st.steady.cpu)
			add(fmt.Sprintf("%s: stadium storm, %d buyers", b, stadiumVUs), st.storm.cpu)
		}
	}
	return out
}

func (r report) cpu(p printer) {
	runs := r.profiledRuns()
	if len(runs) == 0 {
		return
	}
	p("## Where seatd's CPU goes\n\n")
	p("seatd's CPU time per request answered, in µs, by stage, from a CPU profile of seatd taken\n")
	p("during each run (`/debug/pprof/profile` on `SEATD_PPROF_ADDR`, parsed with\n")
	p("github.com/google/pprof/profile), divided by the requests seatd answered in the profile's\n")
	p("window (the count of its `seatd_http_request_duration_seconds` histogram at `/metrics`,\n")
	p("read as the profile starts and ends), health checks and those reads left out. A\n")
	p("steady or contend run is profiled from the first seat change seatd answers, for the run's\n")
	p("duration less a second, so that its setup (the seat maps of every show read) stays out. A\n")
	p("storm is profiled whole, in back-to-back 1 s profiles merged, until seatload exits: its\n")
	p("load is over within a second of the first answer; its setup is a few seat maps and the\n")
	p("health checks that open its connections, whose cost stays in, as buyers' connections are\n")
	p("part of a storm, but not their count. \"all\" is every sample; \"process\" is seatd's CPU\n")
	p("time by its own count (`process_cpu_seconds_total`) over the same window, which also counts\n")
	p("what the profile cannot see, such as the profiler writing each profile out. The profiler\n")
	p("samples at 100 Hz (10 ms of CPU a sample): a row of a few hundred samples is good to some\n")
	p("10 %% per stage, no better, and a short storm has a few dozen.\n\n")
	p("Each sample goes to one stage (`loadtest/stage.go`, `stageOf`, tested in `stage_test.go`):\n")
	p("the innermost frame on its stack, from the leaf up, that belongs to a stage decides.\n")
	p("`seatmanager/httpapi` is HTTP, or JSON when the sample is in encoding/json below it (our\n")
	p("MarshalJSON methods that encoding/json calls count as encoding/json); `seatmanager/auth` is\n")
	p("auth; `seatmanager/idempotency` and the Redis package's markers are idempotency; the gate's\n")
	p("files of `seatmanager/booking` (`Service.pass`, `acquire`, `release`, `confirm` and their\n")
	p("caches), the Redis gate and hold keys, and `seatmanager/memory` are gate; `seatmanager/postgres`,\n")
	p("`seatmanager/sqlite`, pgx and the SQLite driver are store, whoever calls them (an answer\n")
	p("stored by idempotency is store); `seatmanager/live` and the Redis change notices are live; the\n")
	p("rest of `booking`, metrics and rate limits are other. Plumbing (`internal/batch`,\n")
	p("`internal/inflight`, `internal/breaker`, the Redis pipelining) is its caller's. A stack with\n")
	p("none of these: the Redis client's own goroutines are gate, coder/websocket's live, net/http's\n")
	p("HTTP (reading requests, writing answers); the runtime alone (GC workers, scheduler) is\n")
	p("runtime; allocation and GC assists on a request's stack are its stage's.\n\n")
	p("| run | requests | window | samples |")
	for _, st := range stages {
		p(" %s |", st)
	}
	p(" all | process |\n|---|---:|---:|---:|%s---:|---:|\n", strings.Repeat("---:|", len(stages)))
	for _, run := range runs {
		c := run.cpu
		p("| %s | %d | %.1f s | %d |", run.name, c.requests, c.window.Seconds(), c.samples)
		for _, st := range stages {
			p(" %.0f |", c.perRequest(c.stages[st]))
		}
		p(" %.0f | %.0f |\n", c.perRequest(c.total), c.perRequest(c.process))
	}
	p("\n")
}

func (r report) memory(p printer) {
	res := r.result(namePGRedis)
	if res == nil || res.memory == nil {
		return
	}
	m := res.memory
	p("## Memory: seatd's RSS over a %.0f s steady run\n\n", m.seconds)
	if m.shows > 0 {
		p("    seatload create-show -seats %d -name 'seatload memory' -json -url $SEATD -auth-secret $SECRET    # %d times\n", m.showSeats, m.shows)
	}
	p("    seatload steady -c 64 -duration %s -url $SEATD -auth-secret $SECRET    # PostgreSQL + Redis, after every run above\n\n", *memoryD)
	if m.shows > 0 {
		p("On every show, among them %d made for the run, of %d seats each (in %.1f s, before it), after\n", m.shows, m.showSeats, m.created)
		p("a %s steady run on every show as the new ones' warm-up.\n", memoryWarmUp)
	}
	p("seatd's VmRSS (`/proc/<pid>/status`) every %s from the start of the run; the storms and\n", m.every)
	p("steady runs before it are its warm-up.\n\n")
	p("| s |")
	for i := range m.rssMiB {
		p(" %.0f |", (float64(i) * m.every.Seconds()))
	}
	p("\n|---|%s\n| RSS (MiB) |", strings.Repeat("---:|", len(m.rssMiB)))
	for _, v := range m.rssMiB {
		p(" %.1f |", v)
	}
	p("\n\n")
	total, settled, at := m.growth()
	flat := "yes"
	switch {
	case settled > flatWithin:
		flat = "no"
	case m.steady.WallSeconds < 0.95*m.seconds:
		// steady stops when its workers run out of free seats.
		flat = fmt.Sprintf("not shown, the run ended after %.0f s, out of free seats", m.steady.WallSeconds)
	}
	p("From the first sample to the last: %+.1f %%. From the %.0f s sample on, every sample is within\n", 100*total, float64(at)*m.every.Seconds())
	p("%.1f %% of it: flat (within %.0f %%): **%s**. The run made %.0f write requests/s (verified: %v).\n\n",
		100*settled, 100*flatWithin, flat, m.steady.writes(), m.steady.Verification.OK)
}

func (r report) contend(p printer) {
	res := r.result(namePGRedis)
	if res == nil || !r.parts[partContend] {
		return
	}
	p("## Gate refusals: seatload contend\n\n")
	if res.contend == nil {
		p("Not measured: this run's seatload has no `contend` command.\n\n")
		return
	}
	c := res.contend
	p("    seatload calibrate -c %d -duration %s ...                                   # the hello-world rate at the same concurrency, just before\n", contendWorkers, *calibrateD)
	p("    seatload contend -c %d -duration %s -json -url $SEATD -auth-secret $SECRET   # PostgreSQL + Redis\n", contendWorkers, *contendD)
	p("    seatload calibrate -c %d -duration %s ...                                   # and just after\n\n", contendWorkers, *calibrateD)
	p("A few holders hold seats; %d workers, each a user of its own, ask for 1–2 of them as fast\n", contendWorkers)
	p("as seatd answers, each request with a fresh Idempotency-Key: the refusals of a sold-out\n")
	p("on-sale, which the gate should answer at nearly the cost of a hello-world POST, without the\n")
	p("database. The transactions are counted as for the storm (`pg_stat_database`, around the run).\n")
	p("The hello-world rate is measured on either side of the run, with seatd idle, and the refusals\n")
	p("are read against the mean of the two: this machine's speed drifts within minutes.\n\n")
	p("| refusals/s | hello-world POST at %d, before / after | refusals / hello | hold p50 | hold p99 | database transactions per refusal | of which wrote | failures | verified |\n", contendWorkers)
	p("|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	rate, hello, ratio := 0.0, "–", "–"
	if c.Contend != nil {
		rate = c.Contend.RefusalsPerSecond
	}
	if mean := c.hello(); mean > 0 {
		hello = fmt.Sprintf("%.0f / %.0f req/s", c.helloBefore.PerSecond, c.helloAfter.PerSecond)
		ratio = fmt.Sprintf("%.0f %%", 100*rate/mean)
	}
	h := c.route("hold")
	p("| %.0f | %s | %s | %.1f ms | %.1f ms | %.3f | %.3f | %d | %v |\n\n", rate, hello, ratio, h.LatencyMs.P50, h.LatencyMs.P99,
		c.xacts.all, c.xacts.writes, c.failures(), c.Verification.OK)
}

func (r report) stadium(p printer) {
	res := r.result(namePGRedis)
	if res == nil || !r.parts[partStadium] {
		return
	}
	p("## Stadium: one show of %d seats\n\n", *stadiumSeats)
	st := res.stadium
	if st == nil {
		p("Not measured: this run's seatload has no `create-show` command.\n\n")
		return
	}
	p("    seatload create-show -seats %d -json -url $SEATD -auth-secret $SECRET\n", *stadiumSeats)
	p("    seatload steady -show $ID -c 64 -duration %s -url $SEATD -auth-secret $SECRET\n", *steadyD)
	p("    seatload storm -show $ID -vus %d -seats %d -rounds 1 -url $SEATD -auth-secret $SECRET\n\n", stadiumVUs, stadiumStormSeats)
	if st.show.ShowID == "" {
		p("create-show made no show; nothing else ran.\n\n")
		return
	}
	p("create-show took %.1f s for %d seats in %d rows.\n\n", st.show.Seconds, st.show.Seats, st.show.Rows)
	p("| steady, 64 workers | write requests/s | hold p50 | hold p99 | book p99 | failures | verified |\n|---|---:|---:|---:|---:|---:|---|\n")
	row := func(name string, s summary) {
		p("| %s | %.0f | %.1f ms | %.1f ms | %.1f ms | %d | %v |\n", name, s.writes(), s.route("hold").LatencyMs.P50,
			s.route("hold").LatencyMs.P99, s.route("book").LatencyMs.P99, s.failures(), s.Verification.OK)
	}
	row("the stadium alone (each worker a part of it)", st.steady.summary)
	if res.steady != nil {
		row(fmt.Sprintf("%d shows (the steady table's run)", pgDemoShows), res.steady.summary)
		p("\nThe stadium makes %.0f %% of the many shows' write rate (target ≥ 80 %%).\n\n", 100*st.steady.writes()/res.steady.writes())
	} else {
		p("\n")
	}
	s := st.storm
	h := s.route("hold")
	p("| storm, %d buyers on %d seats | hold p50 | hold p99 | hold max | book p99 | answers | failures | seatd's warnings | verified |\n|---|---:|---:|---:|---:|---|---:|---:|---|\n", stadiumVUs, stadiumStormSeats)
	winners := ""
	if s.Storm != nil {
		winners = fmt.Sprintf("%d winners, %d seats booked", s.Storm.Winners, s.Storm.SeatsBooked)
	}
	p("| %s | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %s | %d | %d | %v |\n\n", winners, h.LatencyMs.P50, h.LatencyMs.P99, h.LatencyMs.Max,
		s.route("book").LatencyMs.P99, statuses(s.summary), s.failures(), s.warnings, s.Verification.OK)
	p("Target: hold p99 ≤ 50 ms, as for the storms above; seatd's warnings as in the scale table.\n\n")
}
