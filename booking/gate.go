package booking

import (
	"context"
	"sync"
	"time"
)

// Gate sheds contention in front of the database: it lets one token at a time
// through per seat, so that the losers of a hot seat are answered without a database
// transaction. It is an accelerator, never the guarantee: a gate that forgets keys,
// fails or is absent only makes the database do more of the deciding, and a
// refusal it gives is answered only once the database confirms it (see pass).
type Gate interface {
	// Acquire takes every seat for token until ttl passes, or none of them. It
	// returns, in request order, the claims other tokens have on the seats it
	// could not take, which is none on success.
	Acquire(ctx context.Context, showID, token string, seatIDs []string, ttl time.Duration) ([]Claim, error)
	// Release gives back the seats that token still has; seats another token took
	// since are left alone.
	Release(ctx context.Context, showID, token string, seatIDs []string) error
}

// Claim is another token's hold on a seat in the gate.
type Claim struct {
	SeatID string
	Token  string
	// Age is how long ago the claim was taken or last refreshed, as well as
	// the gate can tell; zero if it cannot.
	Age time.Duration
}

// A gate can be wrong: a request that gave up on a stalled Redis may still
// have its keys set when Redis wakes; a seatd killed between the gate and the
// database leaves its keys behind; a database recreated under the same Redis
// inherits the old one's. Such a key would turn buyers of a free seat away for
// a whole hold TTL. So the gate only ever speeds up a refusal the database
// would give: before one is answered, it is confirmed, by a hold this service
// committed while the request ran, or by reading the database; a claim the
// database contradicts is removed, and the seats are asked for again.

// claimPoll is the first pause before a contradicted claim that may belong to
// a hold still on its way to the database is looked at again; it doubles.
const claimPoll = 5 * time.Millisecond

// pass takes seatIDs at the gate for userID's hold token, so that the store
// decides. It returns nil once the store may decide (with the seats' keys
// taken, or the gate out of the way), or the refusal that was confirmed, and
// whether the seats it names are all other users'.
func (s *Service) pass(ctx context.Context, showID, userID, token string, seatIDs []string, began time.Time) (byOthers bool, err error) {
	pause := claimPoll
	repaired := false
	// A gate that cannot tell a claim's age says zero; an extended hold's key
	// looks young too. So a claim also counts as old once this request has
	// seen it for ClaimGrace.
	firstSeen := make(map[Claim]time.Time)
	for {
		claims := s.acquire(showID, token, seatIDs, s.cfg.HoldTTL)
		if len(claims) == 0 {
			return false, nil
		}
		now := time.Now()
		for i, c := range claims {
			key := Claim{SeatID: c.SeatID, Token: c.Token}
			seen, ok := firstSeen[key]
			if !ok {
				seen = now
				firstSeen[key] = now
			}
			claims[i].Age = max(c.Age, now.Sub(seen))
		}
		c, err := s.confirm(ctx, showID, userID, seatIDs, claims, began)
		if err != nil {
			return false, err
		}
		if len(c.unavailable) > 0 {
			return c.byOthers, SeatsUnavailable(c.unavailable)
		}
		// The database calls every seat free. A claim is either left over from
		// a request that failed or died, or it belongs to a hold on its way to
		// the database from another instance, which a young claim may: that
		// one is looked at again until it is old enough to be sure.
		if young := s.cfg.ClaimGrace - youngest(claims); young > 0 {
			if err := sleep(ctx, min(pause, young)); err != nil {
				return false, err
			}
			pause *= 2
			continue
		}
		if repaired {
			// Claimed again at once, by a request on its way (or by a gate that
			// does not forget): the database decides alone.
			return false, nil
		}
		s.repair(ctx, showID, claims)
		repaired = true
	}
}

// repair removes claims the database contradicted, each only if its token
// still has it.
func (s *Service) repair(ctx context.Context, showID string, claims []Claim) {
	byToken := make(map[string][]string)
	for _, c := range claims {
		byToken[c.Token] = append(byToken[c.Token], c.SeatID)
	}
	for token, seats := range byToken {
		s.release(showID, token, seats)
	}
	s.cfg.Logger.Info("seat gate: removed claims on seats the database calls free", "show", showID, "claims", len(claims))
	s.cfg.OnRepair(len(claims))
}

func youngest(claims []Claim) time.Duration {
	age := claims[0].Age
	for _, c := range claims[1:] {
		age = min(age, c.Age)
	}
	return age
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// acquire asks the gate for the seats and returns the claims it reports of
// other tokens. A gate that fails, or none, reports none: the store decides.
func (s *Service) acquire(showID, token string, seatIDs []string, ttl time.Duration) []Claim {
	if s.gate == nil {
		return nil
	}
	// Bounded by GateTimeout, not by the request (see gateBound): a request
	// that ends meanwhile waits for the gate no longer than that.
	claims, err := s.gate.Acquire(s.gateBound.Context(), showID, token, seatIDs, ttl)
	if err != nil {
		return nil
	}
	return claims
}

// release gives the gate back seats that token did not end up holding, or that
// were freed. It runs even if the caller has gone. A key it fails to remove
// is repaired when it turns someone away.
func (s *Service) release(showID, token string, seatIDs []string) {
	if s.gate == nil {
		return
	}
	s.gate.Release(s.gateBound.Context(), showID, token, seatIDs)
}

// flights are the holds this service is making, and those it made in the
// last flightMemory: a request the gate turns away because of one of them
// learns from it, without the database, that its seats were held while it ran.
type flights struct {
	mu      sync.Mutex
	m       map[string]*flight
	pruneAt time.Time
}

// flightMemory is how long a finished flight is remembered: longer than a
// request that could learn from it lasts.
const flightMemory = 10 * time.Second

// flight is one hold being made. Its fields are set before done is closed.
type flight struct {
	user   string
	done   chan struct{}
	stored time.Time // when the store was asked
	held   bool      // the store made the hold
}

// start records that user's hold token is about to be acquired at the gate.
func (f *flights) start(token, user string) *flight {
	fl := &flight{user: user, done: make(chan struct{})}
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = make(map[string]*flight)
	}
	if now.After(f.pruneAt) {
		for t, old := range f.m {
			select {
			case <-old.done:
				if now.Sub(old.stored) > flightMemory {
					delete(f.m, t)
				}
			default:
			}
		}
		f.pruneAt = now.Add(flightMemory)
	}
	f.m[token] = fl
	return fl
}

// forget drops the flight of a hold that set no keys.
func (f *flights) forget(token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.m, token)
}

// end records a flight's outcome: whether the store, asked at stored, made
// the hold. A flight that never reached the store has a zero stored.
func (fl *flight) end(stored time.Time, held bool) {
	fl.stored, fl.held = stored, held
	close(fl.done)
}

// heldSince reports whether token is a hold this service made, asked of the
// store after began, so that it committed while the request of began ran, and
// whose it is. A hold still being made is waited for: once it is done, its
// seats are the database's to tell if it does not settle them.
func (f *flights) heldSince(ctx context.Context, token string, began time.Time) (user string, held bool, err error) {
	f.mu.Lock()
	fl := f.m[token]
	f.mu.Unlock()
	if fl == nil {
		return "", false, nil
	}
	select {
	case <-fl.done:
		return fl.user, fl.held && !fl.stored.Before(began), nil
	case <-ctx.Done():
		return "", false, ctx.Err()
	}
}
