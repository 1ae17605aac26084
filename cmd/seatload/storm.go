package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"
)

// stormConfig is the flags of storm.
type stormConfig struct {
	common
	authFlags
	vus     int
	seats   int
	rounds  int
	show    string
	warm    bool
	viewers int
}

func parseStorm(args []string, getenv func(string) string, stderr io.Writer) (stormConfig, error) {
	var cfg stormConfig
	fs := newFlagSet("storm", "Releases -vus buyers at once on the same -seats available seats of a show; each\n"+
		"holds 1–2 of them and books what it got. -rounds repeats it on fresh seats, with the same\n"+
		"buyers (one user each for all rounds).", stderr)
	cfg.common.register(fs)
	cfg.authFlags.register(fs, getenv)
	fs.IntVar(&cfg.vus, "vus", 500, "virtual users (buyers) per round, all released at once")
	fs.IntVar(&cfg.seats, "seats", 10, "seats per round, all of one show")
	fs.IntVar(&cfg.rounds, "rounds", 1, "rounds, each on fresh seats")
	fs.StringVar(&cfg.show, "show", "", "show id to take the seats from (default: any shows with enough available seats)")
	fs.BoolVar(&cfg.warm, "warm", true, "open the -vus connections before the first round, so that latencies are not TCP handshakes")
	fs.IntVar(&cfg.viewers, "viewers", 0, "live seat-map sockets watching the storm's shows; each must end with the final seat map")
	if err := parseFlags(fs, args); err != nil {
		return cfg, err
	}
	switch {
	case cfg.vus < 1:
		return cfg, fmt.Errorf("storm: -vus must be at least 1, got %d", cfg.vus)
	case cfg.seats < 1:
		return cfg, fmt.Errorf("storm: -seats must be at least 1, got %d", cfg.seats)
	case cfg.rounds < 1:
		return cfg, fmt.Errorf("storm: -rounds must be at least 1, got %d", cfg.rounds)
	}
	return cfg, cfg.check("storm")
}

// stormRound is one round's seats: all of one show and available at the start.
type stormRound struct {
	show  string
	seats []string
}

// stormRoundResult is what one round came to.
type stormRoundResult struct {
	Show    string `json:"show"`
	Winners int    `json:"winners"`
	Losers  int    `json:"losers"`
	// LosersAnswered are the losers told with a 409 seats-unavailable that their
	// seats were taken: the expected answer for a loser.
	LosersAnswered int `json:"losersAnswered"`
	SeatsBooked    int `json:"seatsBooked"`
}

// stormResult is storm's part of the summary.
type stormResult struct {
	VUs            int                `json:"vus"`
	SeatsPerRound  int                `json:"seatsPerRound"`
	Rounds         int                `json:"rounds"`
	Winners        int                `json:"winners"`
	Losers         int                `json:"losers"`
	LosersAnswered int                `json:"losersAnswered"`
	SeatsBooked    int                `json:"seatsBooked"`
	PerRound       []stormRoundResult `json:"perRound"`
	// Viewers and Converged count the live sockets that watched, and those
	// whose seats ended as the final seat maps have them.
	Viewers   int `json:"viewers,omitempty"`
	Converged int `json:"converged,omitempty"`
}

func (r *stormResult) writeText(w io.Writer) {
	fmt.Fprintf(w, "storm: %s × %d buyers on %d seats: %d winners, %d losers (%d answered 409 seats-unavailable), %d seats booked\n",
		plural(r.Rounds, "round", "rounds"), r.VUs, r.SeatsPerRound, r.Winners, r.Losers, r.LosersAnswered, r.SeatsBooked)
	if r.Viewers > 0 {
		fmt.Fprintf(w, "  %d of %d live viewers ended with the final seat map\n", r.Converged, r.Viewers)
	}
	if len(r.PerRound) > 1 {
		for i, rr := range r.PerRound {
			fmt.Fprintf(w, "  round %d (show %s): %d winners, %d losers (%d answered), %d seats booked\n",
				i+1, rr.Show, rr.Winners, rr.Losers, rr.LosersAnswered, rr.SeatsBooked)
		}
	}
}

// runStorm is the seed's scenario: many buyers at once on a few seats, of which
// exactly the seats whose buyers were told so must end up booked.
func runStorm(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseStorm(args, getenv, stderr)
	if err != nil {
		return err
	}
	if err := ensureConns(cfg.vus + cfg.viewers); err != nil {
		return fmt.Errorf("storm: %w", err)
	}
	cl := newClient(cfg.url, cfg.vus)
	defer cl.close()

	rounds, err := pickStormSeats(ctx, cl, cfg)
	if err != nil {
		return err
	}
	// One user per buyer for every round, not one per round: as many guest
	// sessions as buyers, and nothing tells rounds apart by name (the ledger
	// checks seats, which rounds never share). A buyer holds at most 2 seats
	// at once, which it books before the next round (or holds none, having
	// lost), so it stays far below seatd's SEATD_MAX_HELD_PER_USER (10 by
	// default); and it makes at most 2 seat changes a round, within
	// SEATD_RATE_USER's bursts (10) for the few rounds a run has.
	users, err := cl.login(ctx, cfg.secret, userNames("storm", newRunID(), cfg.vus))
	if err != nil {
		return fmt.Errorf("storm: %w", err)
	}
	if cfg.warm {
		if err := cl.warm(ctx, cfg.vus); err != nil {
			return fmt.Errorf("storm: %w", err)
		}
	}
	watch, err := watchStorm(ctx, cl, showsOf(rounds), cfg.viewers)
	if err != nil {
		return fmt.Errorf("storm: %w", err)
	}
	defer watch.stop()
	if cfg.viewers > 0 {
		// Opening the sockets costs seatd a snapshot each; the storm starts
		// once that is done, as it would on a server whose viewers came earlier.
		time.Sleep(time.Second)
	}

	bar := newProgress(stderr, !cfg.json && cfg.rounds >= 3, int64(cfg.vus*cfg.rounds), "storm: buyers done", true)
	res := stormResult{VUs: cfg.vus, SeatsPerRound: cfg.seats, Rounds: cfg.rounds}
	var recs []*recorder
	var l ledger
	start := time.Now()
	for _, r := range rounds {
		if ctx.Err() != nil {
			break
		}
		outcomes := playRound(ctx, cl, r, users, bar)
		rr := stormRoundResult{Show: r.show}
		l.scope = append(l.scope, r.seats...)
		for _, o := range outcomes {
			recs = append(recs, o.rec)
			if o.sold != nil {
				rr.Winners++
				rr.SeatsBooked += len(o.sold)
				l.sales = append(l.sales, sale{Buyer: o.user, Seats: o.sold})
			} else {
				rr.Losers++
				if o.refused {
					rr.LosersAnswered++
				}
			}
			l.addUnknown(o.unknown)
		}
		res.PerRound = append(res.PerRound, rr)
		res.Winners += rr.Winners
		res.Losers += rr.Losers
		res.LosersAnswered += rr.LosersAnswered
		res.SeatsBooked += rr.SeatsBooked
	}
	wall := time.Since(start)
	bar.finish()

	sum := newSummary("storm", cfg.url, cfg.vus, wall, recs)
	sum.Auth = cfg.authMode()
	sum.Storm = &res
	sum.extraText = res.writeText
	sum.Verification = verifyAfter(ctx, cl, showsOf(rounds), l)
	if cfg.viewers > 0 {
		res.Viewers = cfg.viewers
		res.Converged = watch.converged(ctx, cl, showsOf(rounds), &sum.Verification)
	}
	return emit(stdout, sum, cfg.json)
}

// stormWatch is the live sockets watching a storm.
type stormWatch struct {
	viewers []*viewer
	stopped context.CancelFunc
	readers sync.WaitGroup
}

// watchStorm opens n sockets spread over the shows and keeps reading them.
func watchStorm(ctx context.Context, cl *client, shows []string, n int) (*stormWatch, error) {
	w := &stormWatch{stopped: func() {}}
	if n == 0 {
		return w, nil
	}
	live := make([]liveShow, len(shows))
	for i, s := range shows {
		live[i] = liveShow{id: s}
	}
	viewers, err := openViewers(ctx, &seatdTarget{cl: cl}, live, n, nil)
	w.viewers = viewers
	if err != nil {
		w.stop()
		return nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	w.stopped = cancel
	for _, v := range viewers {
		w.readers.Go(func() {
			for v.read(rctx) == nil {
			}
		})
	}
	return w, nil
}

// converged waits until every viewer has seen its show's last event, then
// counts those whose seats are the final seat map's; a viewer that is not is
// a verification problem.
func (w *stormWatch) converged(ctx context.Context, cl *client, shows []string, ver *verification) int {
	maps, err := cl.seatMaps(ctx, shows)
	if err != nil {
		ver.problem("read the seat maps for the viewers: %v", err)
		return 0
	}
	byShow := map[string]seatMap{}
	for _, m := range maps {
		byShow[m.ShowID] = m
	}
	deadline := time.Now().Add(10 * time.Second)
	n, told := 0, false
	for i, v := range w.viewers {
		m := byShow[v.show]
		for v.apply(nil) == nil && v.seq.Load() < m.Seq && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		v.mu.Lock()
		same := v.seq.Load() == m.Seq && v.missed == 0
		for _, s := range m.Seats {
			same = same && v.status[s.ID] == s.Status
		}
		v.mu.Unlock()
		if same {
			n++
		} else if !told {
			told = true
			ver.problem("viewer %d of show %s ended at seq %d (the seat map is at %d, %d events missed) with seats unlike the seat map's", i, v.show, v.seq.Load(), m.Seq, v.missed)
		}
	}
	if n < len(w.viewers) {
		ver.problem("%d of %d viewers did not end with the final seat map", len(w.viewers)-n, len(w.viewers))
		ver.OK = false
	}
	return n
}

func (w *stormWatch) stop() {
	w.stopped()
	for _, v := range w.viewers {
		if v != nil {
			v.conn.CloseNow()
		}
	}
	w.readers.Wait()
}

// verifyAfter reads the seat maps of shows and holds l against them.
func verifyAfter(ctx context.Context, cl *client, shows []string, l ledger) verification {
	if ctx.Err() != nil {
		return verification{Skipped: "the run was interrupted"}
	}
	maps, err := cl.seatMaps(ctx, shows)
	if err != nil {
		v := verification{}
		v.problem("read the seat maps after the run: %v", err)
		return v
	}
	return l.check(seatsByID(maps))
}

func showsOf(rounds []stormRound) []string {
	var out []string
	for _, r := range rounds {
		if !slices.Contains(out, r.show) {
			out = append(out, r.show)
		}
	}
	return out
}

// pickStormSeats finds cfg.rounds groups of cfg.seats available seats, each group
// within one show (a hold's seats must belong to one show).
func pickStormSeats(ctx context.Context, cl *client, cfg stormConfig) ([]stormRound, error) {
	shows, err := cl.shows(ctx)
	if err != nil {
		return nil, fmt.Errorf("storm: %w", err)
	}
	if cfg.show != "" {
		i := slices.IndexFunc(shows, func(s show) bool { return s.ID == cfg.show })
		if i < 0 {
			return nil, fmt.Errorf("storm: no show %s at %s", cfg.show, cfg.url)
		}
		shows = shows[i : i+1]
	}
	var rounds []stormRound
	for _, sh := range shows {
		if len(rounds) == cfg.rounds {
			break
		}
		if sh.SeatsAvailable < cfg.seats {
			continue
		}
		m, err := cl.seatMap(ctx, sh.ID)
		if err != nil {
			return nil, fmt.Errorf("storm: %w", err)
		}
		var free []string
		for _, s := range m.Seats {
			if s.Status == statusAvailable {
				free = append(free, s.ID)
			}
		}
		for len(free) >= cfg.seats && len(rounds) < cfg.rounds {
			rounds = append(rounds, stormRound{show: sh.ID, seats: free[:cfg.seats:cfg.seats]})
			free = free[cfg.seats:]
		}
	}
	if len(rounds) < cfg.rounds {
		return nil, fmt.Errorf("storm: need %d rounds of %d available seats of one show, the %d shows at %s have only %d: "+
			"start seatd on a fresh database or with more demo shows (SEATD_DEMO_SHOWS)",
			cfg.rounds, cfg.seats, len(shows), cfg.url, len(rounds))
	}
	return rounds, nil
}

// buyerOutcome is what one virtual user of a round was told.
type buyerOutcome struct {
	user    string
	rec     *recorder
	sold    []string // the seats it was told it booked; nil if it did not win
	refused bool     // its hold was answered 409 seats-unavailable
	unknown []string // seats of a request whose outcome is unknown
}

// playRound releases one buyer per user at once on the round's seats and
// returns what each was told. Every buyer picks its seats and builds its
// request before the barrier, so that they all hit seatd within the same instant.
func playRound(ctx context.Context, cl *client, r stormRound, users []*user, bar *progress) []buyerOutcome {
	outcomes := make([]buyerOutcome, len(users))
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	for vu, u := range users {
		ready.Add(1)
		done.Go(func() {
			o := &outcomes[vu]
			o.user = u.name
			o.rec = &recorder{}
			seats := pick(r.seats, 1+rand.IntN(min(2, len(r.seats))))
			ready.Done()
			<-start
			o.buy(ctx, cl, u, seats)
			bar.add(1)
		})
	}
	ready.Wait()
	close(start)
	done.Wait()
	return outcomes
}

// buy holds seats as u and books them if the hold succeeded.
func (o *buyerOutcome) buy(ctx context.Context, cl *client, u *user, seats []string) {
	var h holdAnswer
	a := cl.post(ctx, o.rec, routeHold, pathHold, u, holdBody{SeatIDs: seats, UserID: u.id}, &h)
	switch {
	case a.ok():
	case a.status == http.StatusConflict && a.problem.is("seats-unavailable"):
		o.refused = true // a loser, answered as losers should be
		return
	case a.unknown():
		// Recorded as a failure by the client. No book follows, so the seats
		// may at most be held until the hold lapses.
		return
	default:
		// A 401, 403 or 429 among others: no buyer of a storm should get one.
		o.rec.fail(failUnexpected, routeHold, a.String())
		return
	}
	if !sameSeats(h.SeatIDs, seats) {
		o.rec.fail(failUnexpected, routeHold, fmt.Sprintf("asked to hold %v, the hold has %v", seats, h.SeatIDs))
	}

	var b bookAnswer
	a = cl.post(ctx, o.rec, routeBook, pathBook, u, seatsBody{SeatIDs: seats, UserID: u.id, HoldToken: h.HoldToken}, &b)
	switch {
	case a.ok():
		// What the buyer was told is what the answer says it booked.
		o.sold = b.SeatIDs
		if o.sold == nil {
			o.sold = []string{}
		}
		if !sameSeats(b.SeatIDs, seats) {
			o.rec.fail(failUnexpected, routeBook, fmt.Sprintf("asked to book %v, the booking has %v", seats, b.SeatIDs))
		}
	case a.unknown():
		o.unknown = seats
	case a.refusedCaller():
		o.rec.fail(failUnexpected, routeBook, a.String())
	default:
		// The holder's own fresh hold was refused: with a hold TTL of seconds
		// this only happens when something is wrong.
		o.rec.fail(failUnexpected, routeBook, "book of a fresh hold refused: "+a.String())
	}
}

// pick returns n distinct random seats of seats (n ≤ len(seats)). It draws
// until it has n, which is cheap for the few seats of one request and needs no
// permutation of thousands of ids.
func pick(seats []string, n int) []string {
	out := make([]string, 0, n)
	for len(out) < n {
		if s := seats[rand.IntN(len(seats))]; !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// sameSeats reports whether a and b name the same seats, in any order.
func sameSeats(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
