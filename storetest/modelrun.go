package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"seatmanager/booking"
)

// modelRun is one run of random operations against a store and the model.
type modelRun struct {
	t     *testing.T
	s     Store
	seed  uint64
	rng   *rand.Rand
	users []string
	m     model
	f     fixture   // the show requests are about
	shows []fixture // every show opened, f last
	// asked is every hold token asked for, granted or not, with its user:
	// books and releases name them, their user's or not.
	asked []modelToken
	// names gives seats, holds and shows short names ("s1:A3", "h7"), so
	// that failures can be read.
	names map[string]string
}

type modelToken struct{ token, user string }

// openShow opens a show of five seats in a row, which three users fight over.
func (r *modelRun) openShow() {
	r.f = newShow(r.t, r.s, 1, 5)
	r.shows = append(r.shows, r.f)
	prefix := "s" + strconv.Itoa(len(r.shows)) + ":"
	r.names[r.f.show.ID] = prefix
	for _, seat := range r.f.show.Seats {
		r.m.seats[seat.ID] = &modelSeat{status: booking.StatusAvailable}
		r.names[seat.ID] = prefix + seat.Label()
	}
}

// next draws an operation: hold 35% (a fifth of them for 1ms, to lapse),
// book 30%, release 20%, release lapsed holds 5%, read the seat map 10%.
func (r *modelRun) next() modelOp {
	user := r.users[r.rng.IntN(len(r.users))]
	switch p := r.rng.IntN(100); {
	case p < 35:
		op := modelOp{kind: opHold, user: user, token: booking.NewID(), seats: r.holdSeats(), ttl: minute}
		if r.rng.IntN(5) == 0 {
			op.ttl = time.Millisecond
		}
		r.asked = append(r.asked, modelToken{op.token, user})
		r.names[op.token] = "h" + strconv.Itoa(len(r.asked))
		return op
	case p < 65:
		return r.seatOp(opBook, user)
	case p < 85:
		return r.seatOp(opRelease, user)
	case p < 90:
		return modelOp{kind: opReleaseLapsed}
	default:
		return modelOp{kind: opSeatMap}
	}
}

// anySeats picks 1–3 distinct seats of the show.
func (r *modelRun) anySeats() []string {
	return pick(r.rng, r.f.seats, 1+r.rng.IntN(3))
}

// holdSeats picks the seats of a hold. Once holds that nobody books or
// releases fill the show, random seats are mostly refused, so half the time
// it picks seats a hold may take (free, or under a lapsed hold), if any.
func (r *modelRun) holdSeats() []string {
	if r.rng.IntN(2) == 0 {
		free := slices.DeleteFunc(slices.Clone(r.f.seats), func(id string) bool {
			seat := r.m.seats[id]
			return seat.status != booking.StatusAvailable && !r.m.lapsed(seat)
		})
		if len(free) > 0 {
			return pick(r.rng, free, 1+r.rng.IntN(min(3, len(free))))
		}
	}
	return r.anySeats()
}

// pickToken names a hold for a book or release: none, one never made, one of
// user's (the newest half the time, as a buyer would), or anyone's.
func (r *modelRun) pickToken(user string) string {
	var own []string
	for _, a := range r.asked {
		if a.user == user {
			own = append(own, a.token)
		}
	}
	switch p := r.rng.IntN(10); {
	case p < 3 || len(r.asked) == 0:
		return ""
	case p < 4:
		token := booking.NewID()
		r.names[token] = "unknown hold"
		return token
	case p < 6 && len(own) > 0:
		return own[len(own)-1]
	case p < 8 && len(own) > 0:
		return own[r.rng.IntN(len(own))]
	default:
		return r.asked[r.rng.IntN(len(r.asked))].token
	}
}

// seatOp draws a book or release by user of 1–3 seats. Random requests are
// mostly refused, so half the time it is instead by a user who holds seats of
// the show, for some of those (those under the hold it names, if any): the
// requests a book or release may grant, or refuse for the hold named or lapsed.
func (r *modelRun) seatOp(kind opKind, user string) modelOp {
	if r.rng.IntN(2) == 0 {
		var holders []string
		held := map[string][]string{} // by holder, in seat-map order
		for _, id := range r.f.seats {
			if seat := r.m.seats[id]; seat.status == booking.StatusHeld {
				if held[seat.holder] == nil {
					holders = append(holders, seat.holder)
				}
				held[seat.holder] = append(held[seat.holder], id)
			}
		}
		if len(holders) > 0 {
			user := holders[r.rng.IntN(len(holders))]
			token := r.pickToken(user)
			seats := held[user]
			if under := slices.DeleteFunc(slices.Clone(seats), func(id string) bool { return r.m.seats[id].token != token }); len(under) > 0 {
				seats = under
			}
			return modelOp{kind: kind, user: user, token: token, seats: pick(r.rng, seats, 1+r.rng.IntN(min(3, len(seats))))}
		}
	}
	return modelOp{kind: kind, user: user, token: r.pickToken(user), seats: r.anySeats()}
}

// step runs op i on the store and the model and fails unless they agree.
func (r *modelRun) step(i int, op modelOp) {
	ctx := r.t.Context()
	op.show = r.f.show.ID
	before := r.describeModel()
	var got, want outcome
	switch op.kind {
	case opHold:
		h, err := r.s.Hold(ctx, booking.HoldParams{Token: op.token, ShowID: r.f.show.ID, UserID: op.user, SeatIDs: op.seats, TTL: op.ttl})
		if got = outcomeOf(err); err == nil {
			got.Seats, got.Lapsed = h.SeatIDs, len(h.Lapsed)
		}
		want = r.m.hold(op)
	case opBook:
		b, err := r.s.Book(ctx, booking.BookParams{BookingID: booking.NewID(), ShowID: r.f.show.ID, UserID: op.user, HoldToken: op.token, SeatIDs: op.seats})
		if got = outcomeOf(err); err == nil {
			got.Seats = b.SeatIDs
		}
		want = r.m.book(op)
	case opRelease:
		rel, err := r.s.Release(ctx, booking.ReleaseParams{ShowID: r.f.show.ID, UserID: op.user, HoldToken: op.token, SeatIDs: op.seats})
		if got = outcomeOf(err); err == nil {
			got.Seats, got.Holds = rel.SeatIDs, rel.HoldTokens
		}
		want = r.m.release(op)
	case opReleaseLapsed:
		lapses, err := r.s.ReleaseLapsed(ctx, 1000)
		if got = outcomeOf(err); err == nil {
			for _, l := range lapses {
				got.Seats = append(got.Seats, l.SeatIDs...)
			}
			slices.Sort(got.Seats)
		}
		want = r.m.releaseLapsed()
	case opSeatMap:
		r.checkSeatMap(i, r.f)
		return
	}
	got, want = r.named(got), r.named(want)
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		r.t.Fatalf("seed %d, operation %d: %s\nmodel before: %s\ngot %+v, want %+v (-want +got):\n%s",
			r.seed, i, r.describe(op), before, got, want, diff)
	}
	// A short hold is waited out at once, so that the model never has to
	// guess whether the database clock has passed its expiry.
	if op.kind == opHold && got.Err == "" && op.ttl < minute {
		awaitLapse(r.t, r.s, r.f, op.seats[0])
		h := r.m.holds[op.token]
		h.lapsed = true
		r.m.holds[op.token] = h
	}
}

// checkSeatMap fails unless the seat map of show f shows each seat as the model has it.
func (r *modelRun) checkSeatMap(i int, f fixture) {
	r.t.Helper()
	got, want := map[string]booking.Status{}, map[string]booking.Status{}
	for id, status := range statuses(r.t, r.s, f) {
		got[r.name(id)] = status
	}
	for _, id := range f.seats {
		want[r.name(id)] = r.m.status(id)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		r.t.Fatalf("seed %d, at operation %d: seat map of %s\nmodel: %s\ngot %v, want %v (-want +got):\n%s",
			r.seed, i, r.name(f.show.ID), r.describeModel(), got, want, diff)
	}
}

func (r *modelRun) name(id string) string {
	if n, ok := r.names[id]; ok {
		return n
	}
	return id
}

func (r *modelRun) namedAll(ids []string) []string {
	if ids == nil {
		return nil
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = r.name(id)
	}
	return out
}

// named is o with its seats and holds by name.
func (r *modelRun) named(o outcome) outcome {
	o.Seats, o.Holds = r.namedAll(o.Seats), r.namedAll(o.Holds)
	return o
}

// describe says what op asks, by name.
func (r *modelRun) describe(op modelOp) string {
	seats := strings.Join(r.namedAll(op.seats), " ")
	under := "naming no hold"
	if op.token != "" {
		under = "under " + r.name(op.token)
	}
	switch op.kind {
	case opHold:
		return fmt.Sprintf("%s holds %s as %s for %v", op.user, seats, r.name(op.token), op.ttl)
	case opBook:
		return fmt.Sprintf("%s books %s %s", op.user, seats, under)
	case opRelease:
		return fmt.Sprintf("%s releases %s %s", op.user, seats, under)
	case opReleaseLapsed:
		return "release lapsed holds"
	default:
		return "read the seat map"
	}
}

// describeModel lists the current show's seats as the model has them.
func (r *modelRun) describeModel() string {
	var parts []string
	for _, id := range r.f.seats {
		seat := r.m.seats[id]
		part := r.name(id) + " " + string(seat.status)
		if seat.status == booking.StatusHeld {
			part += " by " + seat.holder + " under " + r.name(seat.token)
			if r.m.lapsed(seat) {
				part += " (lapsed)"
			}
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, ", ")
}
