package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// steadyConfig is the flags of steady.
type steadyConfig struct {
	common
	authFlags
	workers   int
	duration  time.Duration
	bookRatio float64
	maxSeats  int
	show      string
}

func parseSteady(args []string, getenv func(string) string, stderr io.Writer) (steadyConfig, error) {
	var cfg steadyConfig
	fs := newFlagSet("steady", "Workers hold 1–max-seats random free seats of shows (or parts of shows) of their\n"+
		"own and book or release them, for -duration: throughput without contention. Each worker\n"+
		"is one user making changes as fast as seatd answers: run seatd with SEATD_RATE_USER=off\n"+
		"and SEATD_RATE_ADDRESS=off, or its rate limits answer 429, and the run fails.", stderr)
	cfg.common.register(fs)
	cfg.authFlags.register(fs, getenv)
	fs.IntVar(&cfg.workers, "c", 64, "concurrent workers (and connections)")
	fs.DurationVar(&cfg.duration, "duration", 15*time.Second, "how long to run")
	fs.Float64Var(&cfg.bookRatio, "book-ratio", 0.5, "share of holds that are booked; the others are released")
	fs.IntVar(&cfg.maxSeats, "max-seats", 4, "most seats per hold (at most seatd's SEATD_MAX_SEATS)")
	fs.StringVar(&cfg.show, "show", "", "show id whose seats every worker works on, a part of it each (default: every show)")
	if err := parseFlags(fs, args); err != nil {
		return cfg, err
	}
	switch {
	case cfg.workers < 1:
		return cfg, fmt.Errorf("steady: -c must be at least 1, got %d", cfg.workers)
	case cfg.duration <= 0:
		return cfg, fmt.Errorf("steady: -duration must be positive, got %s", cfg.duration)
	case cfg.bookRatio < 0 || cfg.bookRatio > 1:
		return cfg, fmt.Errorf("steady: -book-ratio must be between 0 and 1, got %g", cfg.bookRatio)
	case cfg.maxSeats < 1:
		return cfg, fmt.Errorf("steady: -max-seats must be at least 1, got %d", cfg.maxSeats)
	}
	return cfg, cfg.check("steady")
}

// group is seats of one show that belong to one worker alone: a whole show when
// there are enough shows, else a slice of one.
type group struct {
	show  string
	seats []string // all of them, whatever their status
	free  []string // those the worker knows to be available
}

// take removes n random free seats and returns them.
func (g *group) take(n int) []string {
	for i := range n {
		j := len(g.free) - 1 - i
		k := rand.IntN(j + 1)
		g.free[j], g.free[k] = g.free[k], g.free[j]
	}
	out := slices.Clone(g.free[len(g.free)-n:])
	g.free = g.free[:len(g.free)-n]
	return out
}

// partition gives each of n workers its own groups of seats, so that nobody else
// touches a worker's seats and it always knows which are free. With at least n
// shows each worker gets whole shows; with fewer, each show is cut into parts
// that share its free seats evenly (and then its event log too). Seats that are
// not free still go to some group: the checks after the run cover them.
func partition(maps []seatMap, n int) [][]*group {
	parts := 1
	if len(maps) > 0 && len(maps) < n {
		parts = (n + len(maps) - 1) / len(maps)
	}
	var groups []*group
	for _, m := range maps {
		var free, taken []string
		for _, s := range m.Seats {
			if s.Status == statusAvailable {
				free = append(free, s.ID)
			} else {
				taken = append(taken, s.ID)
			}
		}
		show := make([]*group, parts)
		for p := range show {
			// Contiguous runs of free seats, so that a group's seats sit together.
			lo, hi := p*len(free)/parts, (p+1)*len(free)/parts
			show[p] = &group{show: m.ShowID, free: free[lo:hi:hi], seats: slices.Clone(free[lo:hi])}
		}
		for i, id := range taken {
			g := show[i%parts]
			g.seats = append(g.seats, id)
		}
		for _, g := range show {
			if len(g.seats) > 0 {
				groups = append(groups, g)
			}
		}
	}
	out := make([][]*group, n)
	for i, g := range groups {
		out[i%n] = append(out[i%n], g)
	}
	return out
}

// worker is one steady worker and what it was told.
type worker struct {
	id int
	// user is who the worker is to seatd. It holds at most -max-seats at once
	// (one hold per cycle, booked or released before the next), so it stays
	// within seatd's SEATD_MAX_HELD_PER_USER as long as -max-seats does.
	user   *user
	groups []*group
	rec    *recorder
	sales  []sale
	// unknown are seats of requests with unknown outcome (no answer, 5xx); they
	// never go back to free.
	unknown []string

	holds, books, releases, seatsBooked, conflicts int
}

// freeSeats is the number of seats the worker knows to be available.
func (w *worker) freeSeats() int {
	n := 0
	for _, g := range w.groups {
		n += len(g.free)
	}
	return n
}

// pickGroup returns a random group with a free seat, or nil.
func (w *worker) pickGroup() *group {
	var with []*group
	for _, g := range w.groups {
		if len(g.free) > 0 {
			with = append(with, g)
		}
	}
	if len(with) == 0 {
		return nil
	}
	return with[rand.IntN(len(with))]
}

// cycle holds some free seats, then books or releases them. It completes even
// after the run's time is up, so that it never leaves a hold behind; only an
// interrupt (ctx) cuts it short. It returns errNoFreeSeats when the worker has
// nothing left to hold.
func (w *worker) cycle(ctx context.Context, cl *client, cfg steadyConfig) error {
	g := w.pickGroup()
	if g == nil {
		return errNoFreeSeats
	}
	seats := g.take(1 + rand.IntN(min(cfg.maxSeats, len(g.free))))

	var h holdAnswer
	a := cl.post(ctx, w.rec, routeHold, pathHold, w.user, holdBody{SeatIDs: seats, UserID: w.user.id}, &h)
	switch {
	case a.ok():
		w.holds++
	case a.unknown():
		w.unknown = append(w.unknown, seats...)
		return nil
	case a.status == http.StatusConflict:
		// Nobody else touches these seats: a refusal means seatd and the
		// worker disagree about them. The hold changed nothing (all or none),
		// so the seats not named as taken are still free.
		w.conflicts++
		w.rec.fail(failUnexpected, routeHold, "hold of seats this worker alone uses refused: "+a.String())
		taken := seats
		if a.problem != nil && len(a.problem.ConflictingSeatIDs) > 0 {
			taken = a.problem.ConflictingSeatIDs
		}
		for _, s := range seats {
			if !slices.Contains(taken, s) {
				g.free = append(g.free, s)
			}
		}
		return nil
	default:
		// Not a refusal of the seats either (a 401, 403 or 429 among
		// others): leave the seats alone from now on.
		w.rec.fail(failUnexpected, routeHold, a.String())
		return nil
	}

	body := seatsBody{SeatIDs: seats, UserID: w.user.id, HoldToken: h.HoldToken}
	route := routeBook
	if rand.Float64() < cfg.bookRatio {
		var b bookAnswer
		a = cl.post(ctx, w.rec, routeBook, pathBook, w.user, body, &b)
		if a.ok() {
			w.books++
			w.seatsBooked += len(b.SeatIDs)
			w.sales = append(w.sales, sale{Buyer: w.user.name, Seats: b.SeatIDs})
			return nil
		}
	} else {
		route = routeRelease
		var r releaseAnswer
		a = cl.post(ctx, w.rec, routeRelease, pathRelease, w.user, body, &r)
		if a.ok() {
			w.releases++
			g.free = append(g.free, seats...)
			return nil
		}
	}
	switch {
	case a.unknown():
		w.unknown = append(w.unknown, seats...)
	case a.refusedCaller():
		// Nothing changed, but the worker's hold stays until it lapses: its
		// seats stay out of free.
		w.rec.fail(failUnexpected, route, a.String())
	default:
		if a.status == http.StatusConflict {
			w.conflicts++
		}
		// The seats' state is unknown to the worker now: they stay out of free.
		w.rec.fail(failUnexpected, route, "the worker's own fresh hold refused: "+a.String())
	}
	return nil
}

var errNoFreeSeats = errors.New("ran out of free seats")

// errTimeUp ends a timed run.
var errTimeUp = errors.New("duration elapsed")

// steadyResult is steady's part of the summary.
type steadyResult struct {
	Workers   int     `json:"workers"`
	Shows     int     `json:"shows"`
	Groups    int     `json:"groups"`
	FreeSeats int     `json:"freeSeatsAtStart"`
	BookRatio float64 `json:"bookRatio"`
	MaxSeats  int     `json:"maxSeats"`
	Holds     int     `json:"holds"`
	Books     int     `json:"books"`
	Releases  int     `json:"releases"`
	// Cycles per second: hold then book or release, the work a buyer does.
	CyclesPerSecond float64 `json:"cyclesPerSecond"`
	SeatsBooked     int     `json:"seatsBooked"`
	// Conflicts are 409 answers, which nothing in steady explains.
	Conflicts int `json:"conflicts"`
	// StoppedBy says what ended the run: the duration, or a worker without
	// free seats.
	StoppedBy string `json:"stoppedBy"`
	// StoppedEarly is true when the run ended before -duration.
	StoppedEarly bool `json:"stoppedEarly"`
}

func (r *steadyResult) writeText(w io.Writer) {
	fmt.Fprintf(w, "steady: %d workers on %s (%d seat groups, %d free seats), book ratio %.2f, 1–%d seats per hold\n",
		r.Workers, plural(r.Shows, "show", "shows"), r.Groups, r.FreeSeats, r.BookRatio, r.MaxSeats)
	fmt.Fprintf(w, "        %d holds (%.1f cycles/s), %d books (%d seats), %d releases, %d unexpected 409s\n",
		r.Holds, r.CyclesPerSecond, r.Books, r.SeatsBooked, r.Releases, r.Conflicts)
	fmt.Fprintf(w, "        stopped by: %s\n", r.StoppedBy)
}

// runSteady measures throughput without contention: every worker has seats of
// its own, so every hold should succeed.
func runSteady(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseSteady(args, getenv, stderr)
	if err != nil {
		return err
	}
	if err := ensureConns(cfg.workers); err != nil {
		return fmt.Errorf("steady: %w", err)
	}
	cl := newClient(cfg.url, cfg.workers)
	defer cl.close()

	shows, err := cl.shows(ctx)
	if err != nil {
		return fmt.Errorf("steady: %w", err)
	}
	if cfg.show != "" {
		i := slices.IndexFunc(shows, func(s show) bool { return s.ID == cfg.show })
		if i < 0 {
			return fmt.Errorf("steady: no show %s at %s", cfg.show, cfg.url)
		}
		shows = shows[i : i+1]
	}
	showIDs := make([]string, len(shows))
	for i, s := range shows {
		showIDs[i] = s.ID
	}
	maps, err := cl.seatMaps(ctx, showIDs)
	if err != nil {
		return fmt.Errorf("steady: %w", err)
	}
	parts := partition(maps, cfg.workers)
	res := steadyResult{Workers: cfg.workers, Shows: len(shows), BookRatio: cfg.bookRatio, MaxSeats: cfg.maxSeats}
	requests := &atomic.Int64{}
	workers := make([]*worker, cfg.workers)
	for i, gs := range parts {
		w := &worker{id: i + 1, groups: gs, rec: &recorder{requests: requests}}
		if w.freeSeats() == 0 {
			return fmt.Errorf("steady: worker %d of %d has no free seat (%s at %s): "+
				"start seatd on a fresh database or with more demo shows (SEATD_DEMO_SHOWS), or use fewer workers (-c)",
				w.id, cfg.workers, plural(len(shows), "show", "shows"), cfg.url)
		}
		res.Groups += len(gs)
		res.FreeSeats += w.freeSeats()
		workers[i] = w
	}
	users, err := cl.login(ctx, cfg.secret, userNames("steady", newRunID(), cfg.workers))
	if err != nil {
		return fmt.Errorf("steady: %w", err)
	}
	for i, w := range workers {
		w.user = users[i]
	}
	before := map[string]string{}
	for _, m := range maps {
		for _, s := range m.Seats {
			before[s.ID] = s.Status
		}
	}

	// load decides when workers start new cycles; requests run under ctx, so
	// that the last cycles finish when the time is up.
	load, cancelLoad := context.WithCancelCause(ctx)
	defer cancelLoad(nil)
	load, cancelTimer := context.WithTimeoutCause(load, cfg.duration, errTimeUp)
	defer cancelTimer()

	stopBar := timedProgress(ctx, stderr, !cfg.json && cfg.duration >= longRun, cfg.duration, "steady", requests)
	start := time.Now()
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() {
			for load.Err() == nil {
				if err := w.cycle(ctx, cl, cfg); err != nil {
					cancelLoad(fmt.Errorf("worker %d %w after %s", w.id, err, time.Since(start).Round(time.Millisecond)))
					return
				}
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	stopBar()

	var recs []*recorder
	l := ledger{scope: make([]string, 0, len(before)), before: before}
	for _, w := range workers {
		recs = append(recs, w.rec)
		res.Holds += w.holds
		res.Books += w.books
		res.Releases += w.releases
		res.SeatsBooked += w.seatsBooked
		res.Conflicts += w.conflicts
		l.sales = append(l.sales, w.sales...)
		for _, g := range w.groups {
			l.scope = append(l.scope, g.seats...)
			l.free = append(l.free, g.free...)
		}
		l.addUnknown(w.unknown)
	}
	res.CyclesPerSecond = perSecond(res.Holds, wall)
	sum := newSummary("steady", cfg.url, cfg.workers, wall, recs)
	sum.Auth = cfg.authMode()
	switch cause := context.Cause(load); {
	case ctx.Err() != nil:
		res.StoppedBy = "interrupted"
	case errors.Is(cause, errTimeUp):
		res.StoppedBy = "the duration (" + cfg.duration.String() + ") elapsed"
	default:
		res.StoppedEarly = true
		res.StoppedBy = cause.Error()
		sum.Notes = append(sum.Notes, fmt.Sprintf("stopped early: %v; for longer runs start seatd with more demo shows (SEATD_DEMO_SHOWS) or lower -book-ratio", cause))
	}
	if len(shows) < cfg.workers && cfg.show == "" {
		sum.Notes = append(sum.Notes, fmt.Sprintf("%d workers on %d shows: workers share shows (disjoint seats); start seatd with SEATD_DEMO_SHOWS=%d or more for a show per worker",
			cfg.workers, len(shows), cfg.workers))
	}
	sum.Steady = &res
	sum.extraText = res.writeText
	sum.Verification = verifyAfter(ctx, cl, showIDs, l)
	return emit(stdout, sum, cfg.json)
}
