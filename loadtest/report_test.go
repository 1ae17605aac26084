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
	started     time.Time
	machine     string
	pgVersion   string
	calibration calibration
	results     []result
	goBench     string
}

// historyMarker starts the hand-written part of the file, which a new run keeps.
const historyMarker = "<!-- history: kept across runs -->"

func (r report) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	c := r.calibration
	p("# Benchmarks\n\n")
	p("Measured by `make bench` on %s, on %s; PostgreSQL %s.\n\n", r.started.UTC().Format("2006-01-02 15:04 MST"), r.machine, r.pgVersion)
	p("Absolute figures drift with the machine and its neighbours, so each is set against a limit\n")
	p("of this machine measured in the same run (`seatload calibrate`). Load generator, seatd,\n")
	p("PostgreSQL and Redis share the same cores. PostgreSQL is the one the tests start\n")
	p("(`internal/testenv`: fsync off), for the calibration and for seatd alike.\n\n")
	p("Commands, as `make bench` runs them (see `loadtest/bench_test.go`):\n\n")
	p("    seatload calibrate -c 64 -duration 5s -pg-url $PG -sqlite-path $TMP/calibrate.db\n")
	p("    SEATD_DEMO=true SEATD_DEMO_SHOWS=400 SEATD_AUTH_SECRET=$SECRET SEATD_RATE_USER=off SEATD_RATE_ADDRESS=off seatd\n")
	p("        # with SEATD_DATABASE_URL, SEATD_REDIS_URL, SEATD_GATE per backend; rate limits off: one address, raw throughput\n")
	p("    seatload storm -vus 500 -seats 10 -rounds 1 -url $SEATD -auth-secret $SECRET        # warm-up, not recorded\n")
	p("    seatload storm -vus 500 -seats 10 -rounds %d -url $SEATD -auth-secret $SECRET\n", *rounds)
	p("    seatload steady -c 64 -duration %s -url $SEATD -auth-secret $SECRET       # hold 1–4 seats, then book or release (half each)\n\n", *steadyD)
	p("seatload signs each user's bearer token with seatd's secret (no guest sessions).\n\n")

	p("## This machine's limits\n\n")
	p("| limit (64 concurrent) | rate | p50 | p99 |\n|---|---:|---:|---:|\n")
	p("| hello-world JSON POST, separate process, seatload's HTTP client | %.0f req/s | %.2f ms | %.2f ms |\n", c.Hello.PerSecond, c.Hello.LatencyMs.P50, c.Hello.LatencyMs.P99)
	if c.PG != nil {
		p("| bare 4-seat conditional hold UPDATE, PostgreSQL, 4 random of 10 000 seats | %.0f /s | %.2f ms | %.2f ms |\n", c.PG.Random.PerSecond, c.PG.Random.LatencyMs.P50, c.PG.Random.LatencyMs.P99)
		p("| the same plain UPDATE … WHERE id = ANY(…) on 4 of 10 hot seats | %.0f /s (%d deadlocks) | %.2f ms | %.2f ms |\n", c.PG.Hot.PerSecond, c.PG.Hot.Deadlocks, c.PG.Hot.LatencyMs.P50, c.PG.Hot.LatencyMs.P99)
		p("| seatd's own seat change (hold 1–4 seats, or release them) through its PostgreSQL store, in process: no HTTP, no Redis (%.0f %% of the bare UPDATE) | %.0f /s | %.2f ms | %.2f ms |\n",
			100*c.PG.Store.PerSecond/c.PG.Random.PerSecond, c.PG.Store.PerSecond, c.PG.Store.LatencyMs.P50, c.PG.Store.LatencyMs.P99)
	}
	p("| bare 4-seat conditional hold UPDATE, SQLite, one writer, synchronous=FULL | %.0f /s | %.2f ms | %.2f ms |\n\n", c.SQLite.PerSecond, c.SQLite.LatencyMs.P50, c.SQLite.LatencyMs.P99)

	p("## Storm: %d rounds of 500 buyers at once on the same 10 seats\n\n", *rounds)
	p("Each buyer holds 1–2 of the round's seats and books them if the hold succeeded.\n\n")
	p("| backend | hold p50 | hold p99 | hold max | book p99 | winners / losers | failures | verified | database transactions per request (warm-up included) | of which wrote |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|\n")
	for _, res := range r.results {
		s := res.storm
		h, bk := s.route("hold"), s.route("book")
		xact, wrote := "–", "–"
		if res.backend.pg {
			xact, wrote = fmt.Sprintf("%.2f", res.stormXact.all), fmt.Sprintf("%.2f", res.stormXact.writes)
		}
		winners, losers := 0, 0
		if s.Storm != nil {
			winners, losers = s.Storm.Winners, s.Storm.Losers
		}
		p("| %s | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %d / %d | %d | %v | %s | %s |\n", res.backend.name,
			h.LatencyMs.P50, h.LatencyMs.P99, h.LatencyMs.Max, bk.LatencyMs.P99, winners, losers,
			s.Errors.Transport+s.Errors.ServerErrors+s.Errors.Unexpected, s.Verification.OK, xact, wrote)
	}
	p("\nTargets: PostgreSQL + Redis hold p99 ≤ 50 ms, the losers answered at the gate without\n")
	p("a database write (a refused buyer's answer is stored in a group commit shared with the\n")
	p("others, and a refusal is confirmed by a hold made while it waited or by one read shared\n")
	p("by the requests asking at once, so the transactions per request stay well below one);\n")
	p("PostgreSQL without a gate: no deadlock and no 5xx (failures 0), its row locks taken in\n")
	p("seat-id order.\n\n")

	p("## Steady: 64 workers, %s\n\n", *steadyD)
	p("Write requests are holds, books and releases; the ratio sets them against the bare\n")
	p("UPDATE of the same database above (each request is a transaction with that UPDATE in it),\n")
	p("and, on PostgreSQL, against seatd's own seat change through its store without HTTP or Redis.\n\n")
	p("| backend | write requests/s | cycles/s | hold p50 | hold p99 | book p99 | ratio to bare UPDATE | target | ratio to the store alone | verified |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, res := range r.results {
		s := res.steady
		if s == nil {
			continue
		}
		writes := s.route("hold").Throughput + s.route("book").Throughput + s.route("release").Throughput
		bare, target := c.SQLite.PerSecond, "≥ 50 %"
		if res.backend.pg && c.PG != nil {
			bare, target = c.PG.Random.PerSecond, "≥ 70 %"
		}
		cycles := 0.0
		if s.Steady != nil {
			cycles = s.Steady.CyclesPerSecond
		}
		toStore := "–"
		if res.backend.pg && c.PG != nil && c.PG.Store.PerSecond > 0 {
			toStore = fmt.Sprintf("%.0f %%", 100*writes/c.PG.Store.PerSecond)
		}
		p("| %s | %.0f | %.0f | %.1f ms | %.1f ms | %.1f ms | %.0f %% | %s | %s | %v |\n", res.backend.name, writes, cycles,
			s.route("hold").LatencyMs.P50, s.route("hold").LatencyMs.P99, s.route("book").LatencyMs.P99,
			100*writes/bare, target, toStore, s.Verification.OK)
	}
	for _, res := range r.results {
		if res.liveMany == nil {
			continue
		}
		hub := c.Live
		p("\n## Live seat maps: %s\n\n", res.backend.name)
		p("`seatload live` opens the sockets on one show, then holds 50 of its seats through the API, one every\n")
		p("20 ms; each socket measures each event's delay from its commit (the event's `at`) to its arrival.\n")
		p("The limit is a bare coder/websocket broadcast hub in a process of its own (`seatload calibrate\n")
		p("-live-sockets`), loaded the same way: a snapshot per socket, each change encoded once for all.\n\n")
		p("    seatload calibrate -live-sockets %d ...\n", liveSockets)
		p("    seatload live -sockets %d -shows 1 -url $SEATD -auth-secret $SECRET\n    seatload live -sockets 1000 -shows 1 -url $SEATD -auth-secret $SECRET   # 3 times\n", liveSockets)
		p("    seatload storm -vus 500 -seats 10 -rounds %d -url $SEATD -auth-secret $SECRET                 # then the same with:\n", *rounds)
		p("    seatload storm -vus 500 -seats 10 -rounds %d -viewers 1000 -url $SEATD -auth-secret $SECRET   # %d times in turn\n\n", *rounds, watchPairs)
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

	p("\n## Storage per request\n\n")
	p("Bytes that the storm (mostly refusals) and the steady run (holds, books, releases) left\n")
	p("in each table, indexes included, divided by the requests that left them; with Redis,\n")
	p("Redis's memory too (gate keys, hold keys, answers cached for 10 minutes). Receipts are\n")
	p("kept for 24 h (`SEATD_IDEMPOTENCY_TTL`), refusals' for 10 min\n")
	p("(`SEATD_IDEMPOTENCY_REFUSAL_TTL`), and then swept; events, holds and bookings stay.\n\n")
	p("| backend | run | %s | all tables | Redis |\n|---|---|%s---:|---:|\n", strings.Join(storedTables, " | "), strings.Repeat("---:|", len(storedTables)))
	for _, res := range r.results {
		for _, run := range []struct {
			name string
			st   storage
		}{{"storm", res.stormStored}, {"steady", res.steadyStored}} {
			if len(run.st.tables) == 0 {
				continue
			}
			p("| %s | %s |", res.backend.name, run.name)
			total := 0.0
			for _, table := range storedTables {
				p(" %.0f B |", run.st.tables[table])
				total += run.st.tables[table]
			}
			redis := "–"
			if res.backend.redis != "" {
				redis = fmt.Sprintf("%.0f B", run.st.redis)
			}
			p(" %.0f B | %s |\n", total, redis)
		}
	}
	if r.goBench != "" {
		p("\n## Go benchmarks\n\n    go test -run '^$' -bench . -benchtime 2s ./memory ./redis ./sqlite ./postgres ./httpapi\n\n")
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

// goBenchmarks runs the Go benchmarks and returns their result lines.
func goBenchmarks() string {
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", ".", "-benchtime", "2s",
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
