package storetest

import (
	"errors"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"seatmanager/booking"
)

// The examples of the other tests pick the cases someone thought of; this test
// lets random requests find the others. It drives a store with holds, books and
// releases by a few users on a few seats, so that they collide, and checks each
// answer against a model of the rules kept in memory. A store that passes gives
// the rules' answer to every request, so two stores that pass give each other's.

// modelOps is how many operations one run makes: enough to sell a show out a
// few times, few enough to stay well under a second on SQLite.
const modelOps = 150

// testMatchesModel compares a store with the model over one random run. Its
// seed is logged, and SEATD_MODEL_SEED replays it.
func testMatchesModel(t *testing.T, s Store) {
	seed := modelSeed(t)
	t.Logf("seed %d (SEATD_MODEL_SEED=%d replays this run)", seed, seed)
	r := &modelRun{
		t: t, s: s, seed: seed,
		rng:   rand.New(rand.NewPCG(seed, 0)),
		users: []string{"alice", "bob", "carol"},
		m:     model{seats: map[string]*modelSeat{}, holds: map[string]modelHold{}},
		names: map[string]string{},
	}
	r.openShow()
	for i := range modelOps {
		r.step(i, r.next())
		// A sold seat is sold for good: once a show has at most one seat left
		// to sell, requests would only collide with sales, so open another.
		if r.m.unsold(r.f.seats) <= 1 {
			r.openShow()
		}
		if i%10 == 9 {
			r.checkSeatMap(i, r.f)
		}
	}
	for _, f := range r.shows {
		r.checkSeatMap(modelOps, f)
	}
}

// modelSeed is SEATD_MODEL_SEED if set, else a new random seed.
func modelSeed(t *testing.T) uint64 {
	t.Helper()
	v := os.Getenv("SEATD_MODEL_SEED")
	if v == "" {
		return rand.Uint64()
	}
	seed, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		t.Fatalf("SEATD_MODEL_SEED=%q is not a seed: %v", v, err)
	}
	return seed
}

// model is the rules, kept in memory. A hold in it is live or lapsed, never
// about to lapse: the run waits out every short hold before going on.
type model struct {
	seats map[string]*modelSeat // every seat of every show opened
	// holds are the holds rows, by token: a hold's expiry outlives its seats
	// (booked, released or taken over), and a book naming it still reads it.
	holds map[string]modelHold
}

// modelSeat is a seat as the rules see it. A seat whose hold lapsed stays
// held until something frees it: that differs from a free seat when its
// holder books it (ErrHoldExpired) and when a new hold takes it (Hold.Lapsed).
type modelSeat struct {
	status        booking.Status
	holder, token string // if held
}

type modelHold struct {
	user   string
	show   string
	lapsed bool
}

// lapsed reports whether the seat is held under a hold that lapsed.
func (m *model) lapsed(seat *modelSeat) bool {
	return seat.status == booking.StatusHeld && m.holds[seat.token].lapsed
}

// heldBy reports whether user holds the seat (under token, if set), lapsed or not.
func heldBy(seat *modelSeat, user, token string) bool {
	return seat.status == booking.StatusHeld && seat.holder == user && (token == "" || seat.token == token)
}

// hold takes the seats if each is available or its hold lapsed; a live hold
// keeps its seat even from its own user.
func (m *model) hold(op modelOp) outcome {
	var refused []string
	var lapsed int
	for _, id := range op.seats {
		switch seat := m.seats[id]; {
		case seat.status == booking.StatusAvailable:
		case m.lapsed(seat):
			lapsed++
		default:
			refused = append(refused, id)
		}
	}
	if len(refused) > 0 {
		return outcomeOf(booking.SeatsUnavailable(refused))
	}
	for _, id := range op.seats {
		*m.seats[id] = modelSeat{status: booking.StatusHeld, holder: op.user, token: op.token}
	}
	m.holds[op.token] = modelHold{user: op.user, show: op.show}
	return outcome{Seats: op.seats, Lapsed: lapsed}
}

// book sells the seats if the user holds each (under the named hold, if any)
// and its hold is live. A refusal is explained by booking.BookRefusal, the
// rule itself, so what this checks is what each store feeds it: the seats as
// it found them and whether the named hold lapsed.
func (m *model) book(op modelOp) outcome {
	var failed []string
	for _, id := range op.seats {
		if seat := m.seats[id]; !heldBy(seat, op.user, op.token) || m.lapsed(seat) {
			failed = append(failed, id)
		}
	}
	if len(failed) > 0 {
		why := func(id string) booking.Obstacle {
			seat := m.seats[id]
			row := booking.SeatRow{Status: seat.status, Holder: seat.holder, HoldToken: seat.token, Lapsed: m.lapsed(seat)}
			return row.Obstacle(op.user, op.token)
		}
		namedLapsed := func() (bool, error) {
			h, ok := m.holds[op.token]
			return op.token != "" && ok && h.user == op.user && h.show == op.show && h.lapsed, nil
		}
		return outcomeOf(booking.BookRefusal(failed, why, namedLapsed))
	}
	for _, id := range op.seats {
		*m.seats[id] = modelSeat{status: booking.StatusBooked}
	}
	return outcome{Seats: op.seats}
}

// release frees the seats if the user holds each (under the named hold, if
// any), lapsed or not.
func (m *model) release(op modelOp) outcome {
	var refused, tokens []string
	for _, id := range op.seats {
		if seat := m.seats[id]; heldBy(seat, op.user, op.token) {
			tokens = append(tokens, seat.token)
		} else {
			refused = append(refused, id)
		}
	}
	if len(refused) > 0 {
		return outcomeOf(booking.SeatsUnavailable(refused))
	}
	for _, id := range op.seats {
		*m.seats[id] = modelSeat{status: booking.StatusAvailable}
	}
	return outcome{Seats: op.seats, Holds: tokens}
}

// releaseLapsed frees every seat, of any show, whose hold lapsed.
func (m *model) releaseLapsed() outcome {
	var freed []string
	for id, seat := range m.seats {
		if m.lapsed(seat) {
			freed = append(freed, id)
			*seat = modelSeat{status: booking.StatusAvailable}
		}
	}
	slices.Sort(freed)
	return outcome{Seats: freed}
}

// status is what a seat map shows of a seat: a lapsed hold shows as available.
func (m *model) status(id string) booking.Status {
	if seat := m.seats[id]; !m.lapsed(seat) {
		return seat.status
	}
	return booking.StatusAvailable
}

// unsold counts the seats of seatIDs not booked.
func (m *model) unsold(seatIDs []string) int {
	n := 0
	for _, id := range seatIDs {
		if m.seats[id].status != booking.StatusBooked {
			n++
		}
	}
	return n
}

type opKind int

const (
	opHold opKind = iota
	opBook
	opRelease
	opReleaseLapsed
	opSeatMap
)

// modelOp is one operation of a run.
type modelOp struct {
	kind  opKind
	show  string // set by step: the show requests are about
	user  string
	token string // hold: the new hold's; book, release: the hold named, or ""
	seats []string
	ttl   time.Duration // hold
}

// outcome is an answer to an operation, from the store or the model.
type outcome struct {
	Err    string   // "" on success, else the kind of error ("seats unavailable", "hold expired") or, for any other, the error
	Seats  []string // the seats the error names; on success, the seats changed (by ReleaseLapsed, in id order)
	Holds  []string // Release: the hold each seat was freed from
	Lapsed int      // Hold: how many seats it took over from holds that lapsed unreleased
}

// outcomeOf is the outcome of err; a success's changes are for the caller to add.
func outcomeOf(err error) outcome {
	if err == nil {
		return outcome{}
	}
	var o outcome
	switch {
	case errors.Is(err, booking.ErrSeatUnavailable):
		o.Err = booking.ErrSeatUnavailable.Error()
	case errors.Is(err, booking.ErrHoldExpired):
		o.Err = booking.ErrHoldExpired.Error()
	default:
		return outcome{Err: "unexpected error: " + err.Error()}
	}
	var be *booking.Error
	if errors.As(err, &be) {
		o.Seats = be.SeatIDs
	}
	return o
}
