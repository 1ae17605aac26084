package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"seatmanager/booking"
	"seatmanager/postgres"
)

// storeSchema is the scratch schema the store measurement runs in, so that
// seatd's tables there never meet the real ones; its name says who made it.
const storeSchema = "seatload_calibrate_store"

// storeSeatsPerShow is how many seats each worker's show has: enough for the
// seats a worker books in a run.
const storeSeatsPerShow = 2000

// storeMaxHeld is the per-user cap on held seats the store checks with each
// hold: seatd's default (SEATD_MAX_HELD_PER_USER).
const storeMaxHeld = 10

// calibrateStore measures seatd's own seat change with neither HTTP nor Redis in
// front of it: cfg.workers goroutines, each on a show of its own (so that no
// two wait for each other's locks), do what steady's workers do through
// seatd's PostgreSQL store: hold 1–4 random free seats (capped per user, as
// seatd caps them), then book or release them, half each; every change a
// transaction with its receipt and its events, as seatd makes it. It is the
// floor under seatd's steady rate on PostgreSQL: what the database can do of
// seatd's work.
func calibrateStore(ctx context.Context, cfg calibrateConfig, bar func(*atomic.Int64) func()) (loopResult, error) {
	admin, err := pgxpool.New(ctx, cfg.pgURL)
	if err != nil {
		return loopResult{}, err
	}
	defer admin.Close()
	if _, err := admin.Exec(ctx, "DROP SCHEMA IF EXISTS "+storeSchema+" CASCADE; CREATE SCHEMA "+storeSchema); err != nil {
		return loopResult{}, fmt.Errorf("create schema %s: %w", storeSchema, err)
	}
	defer func() {
		// Dropped even after an interrupt: a scratch schema must not outlive the run.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		admin.Exec(dctx, "DROP SCHEMA IF EXISTS "+storeSchema+" CASCADE")
	}()
	storeURL, err := withSearchPath(cfg.pgURL, storeSchema)
	if err != nil {
		return loopResult{}, err
	}
	// seatd's store as seatd opens it, pool size included.
	store, err := postgres.Open(ctx, storeURL)
	if err != nil {
		return loopResult{}, err
	}
	defer store.Close()

	workers := make(chan *storeWorker, cfg.workers)
	for i := range cfg.workers {
		w := &storeWorker{user: fmt.Sprintf("calibrate-%d", i)}
		show := booking.NewShow{ID: booking.NewID(), MovieTitle: "calibrate", StartsAt: time.Now().Add(24 * time.Hour), Auditorium: w.user}
		for n := range storeSeatsPerShow {
			seat := booking.NewSeat{ID: booking.NewID(), Row: fmt.Sprintf("R%d", n/100), Number: n%100 + 1, Category: "standard"}
			show.Seats = append(show.Seats, seat)
			w.free = append(w.free, seat.ID)
		}
		if _, err := store.CreateShow(ctx, show); err != nil {
			return loopResult{}, fmt.Errorf("create show: %w", err)
		}
		w.show = show.ID
		workers <- w
	}
	what := fmt.Sprintf("seat change through seatd's PostgreSQL store, in process: hold 1–4 of %d seats (at most %d held per user), then book or release", storeSeatsPerShow, storeMaxHeld)
	return measure(ctx, what, cfg.workers, cfg.duration, bar, func(ctx context.Context) error {
		w := <-workers
		defer func() { workers <- w }()
		return w.change(ctx, store)
	}), nil
}

// storeWorker is one goroutine's show and the hold it has there, if any.
type storeWorker struct {
	user, show string
	free       []string // seats not held, in no order
	held       []string
	token      string
}

// change holds some of w's free seats, or books or releases its hold (half
// each, as steady's -book-ratio): one transaction.
func (w *storeWorker) change(ctx context.Context, store *postgres.Store) error {
	idem := &booking.Idempotent{Scope: w.user, Key: booking.NewID(), Fingerprint: "calibrate", TTL: time.Hour,
		Render: func(result any) ([]byte, error) { return json.Marshal(result) }}
	if w.held == nil {
		if len(w.free) < 4 {
			return fmt.Errorf("calibrate store: a worker booked all but %d of its %d seats; run shorter", len(w.free), storeSeatsPerShow)
		}
		rand.Shuffle(len(w.free), func(i, j int) { w.free[i], w.free[j] = w.free[j], w.free[i] })
		n := 1 + rand.IntN(4)
		h, err := store.Hold(ctx, booking.HoldParams{
			Token: booking.NewID(), ShowID: w.show, UserID: w.user, SeatIDs: w.free[:n], TTL: time.Hour,
			MaxHeld: storeMaxHeld, Idempotent: idem,
		})
		if err != nil {
			return err
		}
		w.token, w.held, w.free = h.Token, h.SeatIDs, w.free[n:]
		return nil
	}
	if rand.IntN(2) == 0 {
		_, err := store.Book(ctx, booking.BookParams{
			BookingID: booking.NewID(), ShowID: w.show, UserID: w.user, HoldToken: w.token, SeatIDs: w.held, Idempotent: idem,
		})
		if err != nil {
			return err
		}
		w.held = nil
		return nil
	}
	_, err := store.Release(ctx, booking.ReleaseParams{
		ShowID: w.show, UserID: w.user, HoldToken: w.token, SeatIDs: w.held, Idempotent: idem,
	})
	if err != nil {
		return err
	}
	w.free, w.held = append(w.free, w.held...), nil
	return nil
}

// withSearchPath returns the connection string u with its search_path set to
// schema, for a postgres:// URL or a key=value string alike.
func withSearchPath(u, schema string) (string, error) {
	if !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
		return u + " search_path=" + schema, nil
	}
	parsed, err := url.Parse(u)
	if err != nil {
		return "", fmt.Errorf("parse -pg-url: %w", err)
	}
	q := parsed.Query()
	q.Set("search_path", schema)
	parsed.RawQuery = q.Encode()
	return parsed.String(), nil
}
