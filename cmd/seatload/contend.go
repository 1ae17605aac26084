package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// contendHoldSeats is the most seats of one holder's hold.
	contendHoldSeats = 4
	// contendHoldsPerHolder is the most holds of one holder: 8 seats, below
	// seatd's SEATD_MAX_HELD_PER_USER (10 seats of a show per user by default)
	// even when both are of one show.
	contendHoldsPerHolder = 2
	// contendMaxDuration bounds -duration: the holders hold their seats once,
	// for seatd's hold TTL (60 s by default), and the run, the checks after it
	// and the release must all fit in it.
	contendMaxDuration = 50 * time.Second
	// contendMargin is the time of a hold TTL kept for the checks and the
	// release after the run.
	contendMargin = 5 * time.Second
	// cleanupTimeout bounds the release of the holders' seats when the run
	// was interrupted: they are released even then.
	cleanupTimeout = 30 * time.Second
)

// contendConfig is the flags of contend.
type contendConfig struct {
	common
	authFlags
	workers  int
	duration time.Duration
	seats    int
	show     string
}

func parseContend(args []string, getenv func(string) string, stderr io.Writer) (contendConfig, error) {
	var cfg contendConfig
	fs := newFlagSet("contend", "A few holder users hold -seats seats (holds of up to 4 seats, 8 seats per holder);\n"+
		"then -c workers, each a user of its own on a connection of its own, ask to hold 1–2 of\n"+
		"those seats, each with a fresh Idempotency-Key, as fast as seatd answers, for -duration:\n"+
		"the refusals of a sold-out on-sale. Every answer must be a 409 seats-unavailable naming\n"+
		"seats asked for; afterwards the holders' holds must be intact, and are released. Run\n"+
		"seatd with SEATD_RATE_USER=off and SEATD_RATE_ADDRESS=off, or its 429s fail the run.", stderr)
	cfg.common.register(fs)
	cfg.authFlags.register(fs, getenv)
	fs.IntVar(&cfg.workers, "c", 256, "concurrent workers (and connections), each its own user")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "how long to run; below 50s, as the holders' holds must outlast the run")
	fs.IntVar(&cfg.seats, "seats", 64, "seats the holders hold and the workers contend for")
	fs.StringVar(&cfg.show, "show", "", "show id to take the seats from (default: any shows with available seats)")
	if err := parseFlags(fs, args); err != nil {
		return cfg, err
	}
	switch {
	case cfg.workers < 1:
		return cfg, fmt.Errorf("contend: -c must be at least 1, got %d", cfg.workers)
	case cfg.duration <= 0:
		return cfg, fmt.Errorf("contend: -duration must be positive, got %s", cfg.duration)
	case cfg.duration >= contendMaxDuration:
		return cfg, fmt.Errorf("contend: -duration must be below %s, got %s: the holders hold their seats once, for seatd's hold TTL "+
			"(SEATD_HOLD_TTL, 60s by default), and the run and the checks after it must fit in it", contendMaxDuration, cfg.duration)
	case cfg.seats < 1:
		return cfg, fmt.Errorf("contend: -seats must be at least 1, got %d", cfg.seats)
	}
	return cfg, cfg.check("contend")
}

// contendHold is one holder's hold, taken before the run.
type contendHold struct {
	show   string
	seats  []string
	holder *user
	token  string // set once held
}

// contendTarget is the held seats of one show: a worker's request asks for
// seats of one show, as a hold must.
type contendTarget struct {
	show  string
	seats []string
}

// contender is one contend worker and what it was told.
type contender struct {
	user     *user
	rec      *recorder
	refusals int
	// partly counts refusals that named some of the seats asked for only.
	partly int
	// stolen are holds seatd granted on seats the holders hold: each is a
	// failure, and is released after the run.
	stolen []*contendHold
}

// try asks to hold seats, which other users hold: seatd must refuse.
func (c *contender) try(ctx context.Context, cl *client, show string, seats []string) {
	var h holdAnswer
	a := cl.post(ctx, c.rec, routeHold, pathHold, c.user, holdBody{SeatIDs: seats, UserID: c.user.id}, &h)
	switch {
	case a.status == http.StatusConflict && a.problem.is("seats-unavailable"):
		named := a.problem.ConflictingSeatIDs
		if len(named) == 0 || slices.ContainsFunc(named, func(id string) bool { return !slices.Contains(seats, id) }) {
			c.rec.fail(failUnexpected, routeHold, fmt.Sprintf("409 for a hold of %v names seats %v, want some of those asked for", seats, named))
			return
		}
		c.refusals++
		if len(named) < len(seats) {
			c.partly++
		}
	case a.ok():
		c.stolen = append(c.stolen, &contendHold{show: show, seats: seats, holder: c.user, token: h.HoldToken})
		c.rec.fail(failUnexpected, routeHold, fmt.Sprintf("hold of %v, which other users hold, succeeded (hold %s)", seats, h.HoldToken))
	case a.unknown():
		// Recorded as a failure by the client.
	default:
		// A 401, 403 or 429 among others, or a 409 that is not about seats.
		c.rec.fail(failUnexpected, routeHold, a.String())
	}
}

// contendResult is contend's part of the summary.
type contendResult struct {
	Workers int `json:"workers"`
	// Seats are the seats the holders hold and the workers ask for.
	Seats   int `json:"seats"`
	Holders int `json:"holders"`
	Holds   int `json:"holds"`
	Shows   int `json:"shows"`
	// HoldTTLSeconds is seatd's hold TTL, as its hold answers say.
	HoldTTLSeconds float64 `json:"holdTtlSeconds"`
	// Refusals are the 409 seats-unavailable answers naming seats asked for:
	// every request should get one.
	Refusals          int     `json:"refusals"`
	RefusalsPerSecond float64 `json:"refusalsPerSecond"`
	// PartlyNamed are refusals whose conflictingSeatIds named only some of the
	// seats asked for, all of which were held.
	PartlyNamed int `json:"partlyNamed"`
	// Granted are holds seatd granted on seats the holders held: failures.
	Granted int `json:"granted"`
	// HoldsIntact are the holders' holds found whole after the run.
	HoldsIntact int `json:"holdsIntact"`
	// Released are the holders' holds released after the run.
	Released int `json:"released"`
}

func (r *contendResult) writeText(w io.Writer) {
	fmt.Fprintf(w, "contend: %d workers on %d seats held by %s (%s of %s; hold TTL %gs)\n",
		r.Workers, r.Seats, plural(r.Holders, "holder", "holders"), plural(r.Holds, "hold", "holds"), plural(r.Shows, "show", "shows"), r.HoldTTLSeconds)
	fmt.Fprintf(w, "         %d refusals (%.1f/s), %d naming only some of the seats asked for, %d holds granted on held seats\n",
		r.Refusals, r.RefusalsPerSecond, r.PartlyNamed, r.Granted)
	fmt.Fprintf(w, "         after the run: %d of %d holds intact, %d released\n", r.HoldsIntact, r.Holds, r.Released)
}

// runContend measures refusals under sustained contention: every request
// asks for seats somebody else holds, so seatd (its gate, in front of the
// database) must turn each away, and keep the holders' holds.
func runContend(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseContend(args, getenv, stderr)
	if err != nil {
		return err
	}
	if err := ensureConns(cfg.workers); err != nil {
		return fmt.Errorf("contend: %w", err)
	}
	cl := newClient(cfg.url, cfg.workers)
	defer cl.close()

	holds, err := pickContendSeats(ctx, cl, cfg)
	if err != nil {
		return err
	}
	run := newRunID()
	nHolders := (len(holds) + contendHoldsPerHolder - 1) / contendHoldsPerHolder
	names := append(userNames("contend-holder", run, nHolders), userNames("contend", run, cfg.workers)...)
	users, err := cl.login(ctx, cfg.secret, names)
	if err != nil {
		return fmt.Errorf("contend: %w", err)
	}
	holders, workers := users[:nHolders], make([]*contender, cfg.workers)
	for i, h := range holds {
		h.holder = holders[i/contendHoldsPerHolder]
	}
	requests := &atomic.Int64{}
	for i := range workers {
		workers[i] = &contender{user: users[nHolders+i], rec: &recorder{requests: requests}}
	}

	heldAt := time.Now()
	ttl, err := takeHolds(ctx, cl, holds)
	// From here on the seats still held are released whatever happens: a
	// failed setup, an interrupt.
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		releaseHolds(cctx, cl, holds, nil)
	}()
	if err != nil {
		return fmt.Errorf("contend: %w", err)
	}
	if left := time.Until(heldAt.Add(ttl)); left < cfg.duration+contendMargin {
		return fmt.Errorf("contend: seatd's holds last %s (SEATD_HOLD_TTL), %s of which are left after the setup: "+
			"a -duration of %s and the checks after it would outlast them; use -duration %s or less, or a longer SEATD_HOLD_TTL",
			ttl, left.Round(time.Millisecond), cfg.duration, max(left-contendMargin, 0).Truncate(time.Second))
	}
	if err := cl.warm(ctx, cfg.workers); err != nil {
		return fmt.Errorf("contend: %w", err)
	}

	targets, weights := contendTargets(holds)
	load, cancel := context.WithTimeout(ctx, cfg.duration)
	defer cancel()
	stopBar := timedProgress(ctx, stderr, !cfg.json && cfg.duration >= longRun, cfg.duration, "contend", requests)
	start := time.Now()
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() {
			for load.Err() == nil {
				t := targets[weights[rand.IntN(len(weights))]]
				w.try(ctx, cl, t.show, pick(t.seats, 1+rand.IntN(min(2, len(t.seats)))))
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	stopBar()

	res := contendResult{Workers: cfg.workers, Holders: nHolders, Holds: len(holds), Shows: len(targets), HoldTTLSeconds: ttl.Seconds()}
	var recs []*recorder
	var stolen []*contendHold
	for _, h := range holds {
		res.Seats += len(h.seats)
	}
	for _, w := range workers {
		recs = append(recs, w.rec)
		res.Refusals += w.refusals
		res.PartlyNamed += w.partly
		res.Granted += len(w.stolen)
		stolen = append(stolen, w.stolen...)
	}
	res.RefusalsPerSecond = perSecond(res.Refusals, wall)
	sum := newSummary("contend", cfg.url, cfg.workers, wall, recs)
	sum.Auth = cfg.authMode()
	if res.PartlyNamed > 0 {
		sum.Notes = append(sum.Notes, fmt.Sprintf("%s named only some of the seats asked for in conflictingSeatIds, though all were held",
			plural(res.PartlyNamed, "refusal", "refusals")))
	}
	if ctx.Err() != nil {
		sum.Verification = verification{Skipped: "the run was interrupted"}
		// Released all the same, so that the seats go back on sale now.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		releaseHolds(cctx, cl, stolen, nil)
		res.Released = releaseHolds(cctx, cl, holds, nil)
		cancel()
	} else {
		sum.Verification, res.HoldsIntact = verifyHolds(ctx, cl, holds)
		releaseHolds(ctx, cl, stolen, &sum.Verification)
		res.Released = releaseHolds(ctx, cl, holds, &sum.Verification)
		checkReleased(ctx, cl, holds, &sum.Verification)
		sum.Verification.OK = sum.Verification.ProblemCount == 0
		sum.Verification.okText = fmt.Sprintf("%d seats still held by their holders after the run, in the seat maps and their holds; released, and available again", res.Seats)
	}
	sum.Contend = &res
	sum.extraText = res.writeText
	return emit(stdout, sum, cfg.json)
}

// pickContendSeats finds cfg.seats available seats (of cfg.show, if set) and
// cuts them into holds of one show and up to contendHoldSeats seats each.
func pickContendSeats(ctx context.Context, cl *client, cfg contendConfig) ([]*contendHold, error) {
	shows, err := cl.shows(ctx)
	if err != nil {
		return nil, fmt.Errorf("contend: %w", err)
	}
	if cfg.show != "" {
		i := slices.IndexFunc(shows, func(s show) bool { return s.ID == cfg.show })
		if i < 0 {
			return nil, fmt.Errorf("contend: no show %s at %s", cfg.show, cfg.url)
		}
		shows = shows[i : i+1]
	}
	var holds []*contendHold
	left := cfg.seats
	for _, sh := range shows {
		if left == 0 {
			break
		}
		if sh.SeatsAvailable == 0 {
			continue
		}
		m, err := cl.seatMap(ctx, sh.ID)
		if err != nil {
			return nil, fmt.Errorf("contend: %w", err)
		}
		var free []string
		for _, s := range m.Seats {
			if s.Status == statusAvailable && len(free) < left {
				free = append(free, s.ID)
			}
		}
		left -= len(free)
		for seats := range slices.Chunk(free, contendHoldSeats) {
			holds = append(holds, &contendHold{show: sh.ID, seats: seats})
		}
	}
	if left > 0 {
		return nil, fmt.Errorf("contend: need %d available seats, the %s at %s have only %d: "+
			"start seatd on a fresh database or with more demo shows (SEATD_DEMO_SHOWS), or use fewer -seats",
			cfg.seats, plural(len(shows), "show", "shows"), cfg.url, cfg.seats-left)
	}
	return holds, nil
}

// contendTargets groups the held seats by show, and returns an index into
// them per seat, so that a random pick of it weighs each show by its seats.
func contendTargets(holds []*contendHold) ([]contendTarget, []int) {
	var targets []contendTarget
	var weights []int
	for _, h := range holds {
		i := slices.IndexFunc(targets, func(t contendTarget) bool { return t.show == h.show })
		if i < 0 {
			i = len(targets)
			targets = append(targets, contendTarget{show: h.show})
		}
		targets[i].seats = append(targets[i].seats, h.seats...)
		for range h.seats {
			weights = append(weights, i)
		}
	}
	return targets, weights
}

// setupAtOnce bounds the setup's and checks' requests in flight.
const setupAtOnce = 8

// forEach runs f for every hold, setupAtOnce at a time.
func forEach(holds []*contendHold, f func(int, *contendHold)) {
	sem := make(chan struct{}, setupAtOnce)
	var wg sync.WaitGroup
	for i, h := range holds {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			f(i, h)
		})
	}
	wg.Wait()
}

// takeHolds holds every hold's seats as its holder and returns seatd's hold
// TTL. A hold that fails fails the setup; those taken are then released.
func takeHolds(ctx context.Context, cl *client, holds []*contendHold) (time.Duration, error) {
	errs := make([]error, len(holds))
	ttls := make([]float64, len(holds))
	forEach(holds, func(i int, h *contendHold) {
		var a holdAnswer
		ans := cl.post(ctx, nil, routeHold, pathHold, h.holder, holdBody{SeatIDs: h.seats, UserID: h.holder.id}, &a)
		if !ans.ok() {
			errs[i] = fmt.Errorf("holder %s: hold %v: %v", h.holder.name, h.seats, ans)
			return
		}
		h.token = a.HoldToken // released again below if the rest fails
		ttls[i] = a.TTLSeconds
		if !sameSeats(a.SeatIDs, h.seats) {
			errs[i] = fmt.Errorf("holder %s: asked to hold %v, the hold has %v", h.holder.name, h.seats, a.SeatIDs)
		}
	})
	err := errors.Join(errs...)
	ttl := time.Duration(slices.Min(ttls) * float64(time.Second))
	if err == nil && ttl <= 0 {
		err = fmt.Errorf("hold answers without a ttlSeconds: is %s a seatd?", cl.base)
	}
	if err != nil {
		releaseHolds(ctx, cl, holds, nil)
		return 0, err
	}
	return ttl, nil
}

// holdInfo is the answer of GET /api/holds/{holdToken}.
type holdInfo struct {
	HoldToken string    `json:"holdToken"`
	ShowID    string    `json:"showId"`
	SeatIDs   []string  `json:"seatIds"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// verifyHolds checks that every holder still has its hold, whole (GET
// /api/holds/{holdToken} as the holder), and that the seat maps show its seats
// held; it returns the verification and the holds found whole.
func verifyHolds(ctx context.Context, cl *client, holds []*contendHold) (verification, int) {
	var v verification
	var mu sync.Mutex
	intact := 0
	forEach(holds, func(_ int, h *contendHold) {
		var info holdInfo
		path := "/api/holds/" + url.PathEscape(h.token) + "?userId=" + url.QueryEscape(h.holder.id)
		a := cl.do(ctx, nil, "holds", http.MethodGet, path, h.holder, nil, &info)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case !a.ok():
			v.problem("holder %s's hold %s of %v after the run: %v", h.holder.name, h.token, h.seats, a)
		case !sameSeats(info.SeatIDs, h.seats):
			v.problem("holder %s's hold %s after the run has seats %v, it held %v", h.holder.name, h.token, info.SeatIDs, h.seats)
		default:
			intact++
		}
	})
	targets, after, err := targetSeats(ctx, cl, holds)
	if err != nil {
		v.problem("read the seat maps after the run: %v", err)
		return v, intact
	}
	for _, t := range targets {
		v.SeatsChecked += len(t.seats)
		for _, id := range t.seats {
			if s := after[id]; s.Status != statusHeld {
				v.problem("seat %s (%s), held by a holder all along, is %q in the seat map after the run", s.Label, id, s.Status)
			}
		}
	}
	v.OK = v.ProblemCount == 0
	return v, intact
}

// targetSeats reads the seat maps of the holds' shows: the holds' seats by
// show, and every seat of those shows by id.
func targetSeats(ctx context.Context, cl *client, holds []*contendHold) ([]contendTarget, map[string]seat, error) {
	targets, _ := contendTargets(holds)
	shows := make([]string, len(targets))
	for i, t := range targets {
		shows[i] = t.show
	}
	maps, err := cl.seatMaps(ctx, shows)
	if err != nil {
		return nil, nil, err
	}
	return targets, seatsByID(maps), nil
}

// releaseHolds releases holds taken (those with a token) as their holders
// and returns how many were released; with v, each failure is a problem of it.
func releaseHolds(ctx context.Context, cl *client, holds []*contendHold, v *verification) int {
	var mu sync.Mutex
	n := 0
	forEach(holds, func(_ int, h *contendHold) {
		if h.token == "" {
			return
		}
		var r releaseAnswer
		a := cl.post(ctx, nil, routeRelease, pathRelease, h.holder, seatsBody{SeatIDs: h.seats, UserID: h.holder.id, HoldToken: h.token}, &r)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case a.ok():
			n++
			h.token = ""
		case v != nil:
			v.problem("release of %s's hold of %v after the run: %v", h.holder.name, h.seats, a)
		}
	})
	return n
}

// checkReleased reads the seat maps again once the holds are released: their
// seats must be available.
func checkReleased(ctx context.Context, cl *client, holds []*contendHold, v *verification) {
	_, after, err := targetSeats(ctx, cl, holds)
	if err != nil {
		v.problem("read the seat maps after the release: %v", err)
		return
	}
	for _, h := range holds {
		if h.token != "" {
			continue // not released: a problem already
		}
		for _, id := range h.seats {
			if s := after[id]; s.Status != statusAvailable {
				v.problem("seat %s (%s) is %q after its hold was released, want available", s.Label, id, s.Status)
			}
		}
	}
}
