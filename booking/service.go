package booking

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"seatmanager/internal/deadline"
)

// Config tunes a Service. Zero values take the defaults.
type Config struct {
	// HoldTTL is how long a hold lasts. Default 60s.
	HoldTTL time.Duration
	// MaxSeats caps the seats of one request. Default 10.
	MaxSeats int
	// GateTimeout bounds each call to the gate; past it, the database decides
	// alone. Default 250ms.
	GateTimeout time.Duration
	// ClaimGrace is how long a gate claim on seats the database calls free
	// may belong to a hold still on its way to the database, and is looked
	// at again rather than removed. Default 500ms.
	ClaimGrace time.Duration
	// ConfirmFor is how long a read of the database that confirmed a
	// refusal at the gate confirms the next ones of the same seats. Default
	// DefaultConfirmFor.
	ConfirmFor time.Duration
	// MaxExtensions is how many times a hold may be extended; zero allows none.
	MaxExtensions int
	// MaxShowSeats caps the seats of a show made from a layout. Default
	// DefaultMaxLayoutSeats.
	MaxShowSeats int
	// MaxHeldPerUser caps the seats of a show one user holds at once; the
	// store enforces it in the transaction that holds. Zero: no cap.
	MaxHeldPerUser int
	// Logger receives the gate's repairs. Default slog.Default().
	Logger *slog.Logger
	// OnRelease, if set, observes lapsed holds whose seats a new hold took over.
	OnRelease ReleaseFunc
	// OnRepair, if set, observes the gate claims removed because the
	// database contradicted them.
	OnRepair func(claims int)
	// OnChange, if set, is told of each show whose seats a change of this
	// service changed, once it committed: it wakes the live seat maps.
	OnChange func(showID string)
}

func (c Config) withDefaults() Config {
	if c.HoldTTL <= 0 {
		c.HoldTTL = 60 * time.Second
	}
	if c.MaxSeats <= 0 {
		c.MaxSeats = 10
	}
	if c.MaxShowSeats <= 0 {
		c.MaxShowSeats = DefaultMaxLayoutSeats
	}
	if c.GateTimeout <= 0 {
		c.GateTimeout = 250 * time.Millisecond
	}
	if c.ClaimGrace <= 0 {
		c.ClaimGrace = 500 * time.Millisecond
	}
	if c.ConfirmFor <= 0 {
		c.ConfirmFor = DefaultConfirmFor
	}
	c.MaxExtensions = max(c.MaxExtensions, 0)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.OnRelease == nil {
		c.OnRelease = func(string, int, time.Duration) {}
	}
	if c.OnRepair == nil {
		c.OnRepair = func(int) {}
	}
	if c.OnChange == nil {
		c.OnChange = func(string) {}
	}
	return c
}

// Service sells seats: it validates requests, asks the gate, then has the store
// decide. It knows nothing of SQL, Redis or HTTP.
type Service struct {
	store Store
	gate  Gate      // nil: every request goes to the store
	sched Scheduler // nil: lapsed holds wait for a sweep or a new hold
	cfg   Config

	seats   seatCache
	flights flights
	taken   takenCache // the taken seats that confirmed refusals lately
	// gateBound bounds each call to the gate and the scheduler by
	// GateTimeout. Detached from the request: a release or a schedule must
	// run even if the caller has gone, and a child of a cancelable context
	// registers with its parent. Shared by the calls of one moment: a timer
	// each was a few per cent of a turned-away request's CPU.
	gateBound *deadline.Shared
}

// NewService returns a Service over a store, with an optional gate and an
// optional scheduler of hold expiries.
func NewService(store Store, gate Gate, sched Scheduler, cfg Config) *Service {
	cfg = cfg.withDefaults()
	return &Service{store: store, gate: gate, sched: sched, cfg: cfg, taken: takenCache{life: cfg.ConfirmFor},
		gateBound: deadline.New(cfg.GateTimeout)}
}

// HoldTTL is how long the holds this service makes last.
func (s *Service) HoldTTL() time.Duration { return s.cfg.HoldTTL }

// MaxExtensions is how many times a hold may be extended.
func (s *Service) MaxExtensions() int { return s.cfg.MaxExtensions }

// HoldRequest asks to hold seats for a user.
type HoldRequest struct {
	UserID     string
	SeatIDs    []string
	Idempotent *Idempotent // optional: store the answer with the change
}

// BookRequest asks to sell held seats to the user who holds them. HoldToken, if
// set, must be the hold the seats are held under.
type BookRequest struct {
	UserID     string
	SeatIDs    []string
	HoldToken  string
	Idempotent *Idempotent // optional: store the answer with the change
}

// ReleaseRequest asks to free seats the user holds.
type ReleaseRequest struct {
	UserID     string
	SeatIDs    []string
	HoldToken  string
	Idempotent *Idempotent // optional: store the answer with the change
}

// Shows lists every show with its seat counts.
func (s *Service) Shows(ctx context.Context) ([]Show, error) {
	return s.store.Shows(ctx)
}

// SeatMap returns every seat of a show and the show's current event sequence.
func (s *Service) SeatMap(ctx context.Context, showID string) (SeatMap, error) {
	id, ok := ParseID(showID)
	if !ok {
		return SeatMap{}, Invalidf("show id %q is not a UUID", clip(showID))
	}
	m, err := s.store.SeatMap(ctx, id)
	if err == nil {
		// Buyers read the seat map before they hold: their holds then find
		// the show of their seats here instead of asking the database.
		s.seats.addMap(m)
	}
	return m, err
}

// MaxEventsPage bounds the events one Events call returns.
const MaxEventsPage = 1000

// EventPage is events of a show, and the show's seq when they were read.
type EventPage struct {
	ShowID string
	Seq    int64
	Events []Event
}

// Events returns up to limit events of a show after afterSeq, in order. It
// fails with ErrPruned once the log no longer has the first of them.
func (s *Service) Events(ctx context.Context, showID string, afterSeq int64, limit int) (EventPage, error) {
	id, ok := ParseID(showID)
	if !ok {
		return EventPage{}, Invalidf("show id %q is not a UUID", clip(showID))
	}
	if afterSeq < 0 {
		return EventPage{}, Invalidf("sinceSeq must not be negative")
	}
	if limit < 1 || limit > MaxEventsPage {
		return EventPage{}, Invalidf("limit must be from 1 to %d", MaxEventsPage)
	}
	seq, err := s.store.ShowSeq(ctx, id)
	if err != nil {
		return EventPage{}, err
	}
	if afterSeq > seq {
		return EventPage{}, Invalidf("sinceSeq %d is ahead of the show's latest event %d", afterSeq, seq)
	}
	events, err := s.store.Events(ctx, id, afterSeq, limit)
	if err != nil {
		return EventPage{}, err
	}
	if afterSeq < seq && (len(events) == 0 || events[0].Seq != afterSeq+1) {
		return EventPage{}, &Error{Kind: ErrPruned, Detail: fmt.Sprintf(
			"the events after %d are no longer kept; read the seat map (or open the live socket without sinceSeq) to start again", afterSeq)}
	}
	if n := len(events); n > 0 {
		seq = max(seq, events[n-1].Seq)
	}
	return EventPage{ShowID: id, Seq: seq, Events: events}, nil
}

// Hold holds all of req.SeatIDs for req.UserID, or none of them.
func (s *Service) Hold(ctx context.Context, req HoldRequest) (Hold, error) {
	began := time.Now()
	seatIDs, err := s.checkRequest(req.UserID, req.SeatIDs, "")
	if err != nil {
		return Hold{}, err
	}
	showID, err := s.showOf(ctx, seatIDs)
	if err != nil {
		return Hold{}, err
	}
	token := NewID()
	// Requests the gate turns away because of this hold's keys learn its
	// outcome from its flight; one the gate turned away has no keys to learn of.
	fl := s.flights.start(token, req.UserID)
	if byOthers, err := s.pass(ctx, showID, req.UserID, token, seatIDs, began); err != nil {
		fl.end(time.Time{}, false)
		s.flights.forget(token)
		if byOthers && req.Idempotent != nil && req.Idempotent.OnGateRefusal != nil {
			req.Idempotent.OnGateRefusal()
		}
		return Hold{}, s.labelled(err)
	}
	if err := req.Idempotent.claim(); err != nil {
		// Another attempt of the request has its key: it answers.
		fl.end(time.Time{}, false)
		s.flights.forget(token)
		s.release(showID, token, seatIDs)
		return Hold{}, err
	}
	stored := time.Now()
	h, err := s.store.Hold(ctx, HoldParams{
		Token: token, ShowID: showID, UserID: req.UserID, SeatIDs: seatIDs, TTL: s.cfg.HoldTTL,
		MaxHeld: s.cfg.MaxHeldPerUser, Idempotent: req.Idempotent,
	})
	fl.end(stored, err == nil)
	if err != nil {
		s.keepOrRelease(ctx, showID, token, seatIDs, err)
		return Hold{}, s.labelled(err)
	}
	s.changed(showID, seatIDs)
	s.schedule(h)
	for _, lapsed := range h.Lapsed {
		s.cfg.OnRelease(ReleasedLazily, 1, h.ExpiresAt.Add(-s.cfg.HoldTTL).Sub(lapsed))
	}
	return h, nil
}

// changed follows a change of seats of a show that committed: the live seat
// maps are woken, and what refusals learned of the seats is forgotten.
func (s *Service) changed(showID string, seatIDs []string) {
	s.taken.forget(showID, seatIDs)
	s.cfg.OnChange(showID)
}

// keepOrRelease deals with the gate keys of a hold the store did not make.
// Keys of seats the database named as someone else's stay: they go on
// turning buyers away, each refusal confirmed, where releasing them would let
// the next buyers through to the database one write at a time (a storm after
// Redis lost its keys, or behind a repaired claim whose hold was still on its
// way). Keys of a hold whose outcome is unknown stay too: it may have been
// made. The rest go.
func (s *Service) keepOrRelease(ctx context.Context, showID, token string, seatIDs []string, err error) {
	if errors.Is(err, ErrOutcomeUnknown) {
		return
	}
	release := seatIDs
	if e, ok := errors.AsType[*Error](err); ok && errors.Is(e.Kind, ErrSeatUnavailable) {
		release = Unchanged(seatIDs, e.SeatIDs)
	}
	if len(release) > 0 {
		s.release(showID, token, release)
	}
}

// labelled adds the seats' labels to an error about seats.
func (s *Service) labelled(err error) error {
	return withLabels(err, s.seats.label)
}

// schedule tells the scheduler when h lapses. Failing is not fatal: the sweep
// releases what no notice does.
func (s *Service) schedule(h Hold) {
	if s.sched == nil {
		return
	}
	if err := s.sched.Schedule(s.gateBound.Context(), h); err != nil {
		s.cfg.Logger.Debug("schedule hold expiry", "token", h.Token, "err", err)
	}
}

// cancel drops the expiry notices of holds that ended. Failing is not
// fatal: the notice finds nothing to release.
func (s *Service) cancel(tokens []string) {
	if s.sched == nil || len(tokens) == 0 {
		return
	}
	if err := s.sched.Cancel(s.gateBound.Context(), tokens); err != nil {
		s.cfg.Logger.Debug("cancel hold expiry notices", "holds", len(tokens), "err", err)
	}
}

// Book sells seats that req.UserID holds: all of them, or none.
func (s *Service) Book(ctx context.Context, req BookRequest) (Booking, error) {
	seatIDs, err := s.checkRequest(req.UserID, req.SeatIDs, req.HoldToken)
	if err != nil {
		return Booking{}, err
	}
	showID, err := s.showOf(ctx, seatIDs)
	if err != nil {
		return Booking{}, err
	}
	if err := req.Idempotent.claim(); err != nil {
		return Booking{}, err
	}
	// The seats' gate keys are left to lapse: they keep turning away holds of seats
	// that are now sold, which the database confirms.
	b, err := s.store.Book(ctx, BookParams{
		BookingID: NewID(), ShowID: showID, UserID: req.UserID,
		HoldToken: canonicalToken(req.HoldToken), SeatIDs: seatIDs, Idempotent: req.Idempotent,
	})
	if err != nil {
		return Booking{}, s.labelled(err)
	}
	s.changed(showID, seatIDs)
	s.cancel(b.Ended)
	return b, nil
}

// Release frees seats that req.UserID holds: all of them, or none.
func (s *Service) Release(ctx context.Context, req ReleaseRequest) (Release, error) {
	seatIDs, err := s.checkRequest(req.UserID, req.SeatIDs, req.HoldToken)
	if err != nil {
		return Release{}, err
	}
	showID, err := s.showOf(ctx, seatIDs)
	if err != nil {
		return Release{}, err
	}
	if err := req.Idempotent.claim(); err != nil {
		return Release{}, err
	}
	r, err := s.store.Release(ctx, ReleaseParams{
		ShowID: showID, UserID: req.UserID, HoldToken: canonicalToken(req.HoldToken), SeatIDs: seatIDs,
		Idempotent: req.Idempotent,
	})
	if err != nil {
		return Release{}, s.labelled(err)
	}
	s.changed(showID, seatIDs)
	s.cancel(r.Ended)
	byToken := make(map[string][]string)
	for i, token := range r.HoldTokens {
		byToken[token] = append(byToken[token], r.SeatIDs[i])
	}
	for token, ids := range byToken {
		s.release(showID, token, ids)
	}
	return r, nil
}

// checkRequest validates the parts every seat request shares and returns the seat
// ids in canonical form, in the order given.
func (s *Service) checkRequest(userID string, seatIDs []string, holdToken string) ([]string, error) {
	if err := CheckUserID(userID); err != nil {
		return nil, err
	}
	if holdToken != "" {
		if _, ok := ParseID(holdToken); !ok {
			return nil, Invalidf("holdToken %q is not a UUID", clip(holdToken))
		}
	}
	if len(seatIDs) > s.cfg.MaxSeats {
		return nil, Invalidf("seatIds names %d seats; at most %d are allowed in one request", len(seatIDs), s.cfg.MaxSeats)
	}
	return canonicalSeats(seatIDs)
}

// canonicalSeats returns seatIDs in canonical form, or an ErrInvalid error if
// there are none, one is not a UUID, or one is named twice.
func canonicalSeats(seatIDs []string) ([]string, error) {
	if len(seatIDs) == 0 {
		return nil, Invalidf("seatIds must name at least one seat")
	}
	out := make([]string, len(seatIDs))
	seen := make(map[string]bool, len(seatIDs))
	for i, raw := range seatIDs {
		id, ok := ParseID(raw)
		if !ok {
			return nil, Invalidf("seatIds[%d] %q is not a UUID", i, clip(raw))
		}
		if seen[id] {
			return nil, Invalidf("seatIds names seat %s more than once", id)
		}
		seen[id] = true
		out[i] = id
	}
	return out, nil
}

// showOf returns the one show that all seatIDs belong to.
func (s *Service) showOf(ctx context.Context, seatIDs []string) (string, error) {
	refs, missing := s.seats.lookup(seatIDs)
	if len(missing) > 0 {
		found, err := s.store.SeatShows(ctx, missing)
		if err != nil {
			return "", err
		}
		s.seats.add(found)
		var unknown []string
		for _, id := range missing {
			if ref, ok := found[id]; ok {
				refs[id] = ref
			} else {
				unknown = append(unknown, id)
			}
		}
		if len(unknown) > 0 {
			return "", UnknownSeats(unknown)
		}
	}
	showID := refs[seatIDs[0]].ShowID
	for _, id := range seatIDs[1:] {
		if refs[id].ShowID != showID {
			return "", Invalidf("seats %s and %s belong to different shows; one request holds seats of one show", seatIDs[0], id)
		}
	}
	return showID, nil
}

func canonicalToken(token string) string {
	id, _ := ParseID(token)
	return id
}

// clip shortens client input quoted back in error details.
func clip(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
