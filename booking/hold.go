package booking

import (
	"context"
	"strconv"
	"time"
)

// Hold is a user's temporary claim on seats of one show. Token identifies it and is
// the fencing token every later book or release of those seats must match; Version
// grows each time the hold changes, so a stale actor cannot act on a newer hold.
type Hold struct {
	Token      string
	Version    int64
	UserID     string
	ShowID     string
	SeatIDs    []string
	ExpiresAt  time.Time
	Extensions int // how many times it was extended
	// Lapsed lists, for each seat this hold took over from a hold that had
	// lapsed without being released (lazy expiry), when that hold lapsed.
	Lapsed []time.Time
}

// Lapse is what releasing a lapsed hold did: the seats it freed, when their
// hold had lapsed, and, if the hold had not lapsed yet, when it will.
type Lapse struct {
	Release
	ExpiredAt time.Time // when the freed seats' hold lapsed
	LiveUntil time.Time // set if nothing was freed because the hold is still live
	CheckedAt time.Time // the database's clock when it found the hold live
}

// ExtendParams is an extension of a hold for a store to make.
type ExtendParams struct {
	Token         string
	UserID        string
	By            time.Duration // added to the hold's expiry
	MaxExtensions int           // the hold may have been extended fewer times than this
	Idempotent    *Idempotent
}

// CheckExtension tells a store whether hold h, lapsed or not, may be extended
// once more: a lapsed hold is gone (ErrHoldExpired), and a hold extended
// maxExtensions times already has had its share (ErrLimitReached).
func CheckExtension(h Hold, lapsed bool, maxExtensions int) error {
	if lapsed {
		return &Error{Kind: ErrHoldExpired, Detail: "hold " + h.Token + " has expired; hold the seats again if they are still free"}
	}
	if h.Extensions >= maxExtensions {
		return &Error{Kind: ErrLimitReached, Detail: "hold " + h.Token + " was extended " + strconv.Itoa(h.Extensions) +
			" times already, the most allowed"}
	}
	return nil
}

// CheckHeld tells a store whether a user who holds held seats of a show may
// hold asked more, under a cap of maxHeld (0: no cap). Refused, it is an
// ErrLimitReached: the user must book or release some first.
func CheckHeld(held, asked, maxHeld int) error {
	if maxHeld <= 0 || held+asked <= maxHeld {
		return nil
	}
	return &Error{Kind: ErrLimitReached, Detail: "a user may hold at most " + strconv.Itoa(maxHeld) +
		" seats of a show at once; you hold " + strconv.Itoa(held) + " and asked for " + strconv.Itoa(asked) +
		" more: book or release some first"}
}

// HoldStore reads and extends holds.
type HoldStore interface {
	// LookupHold returns a hold with the seats it still holds, or ErrNotFound
	// once it holds none (booked, released or lapsed).
	LookupHold(ctx context.Context, token string) (Hold, error)
	// ExtendHold moves a live hold's expiry by p.By. It fails with ErrNotFound
	// for a hold that is not p.UserID's or holds no seats, ErrHoldExpired for a
	// lapsed one, and ErrLimitReached past p.MaxExtensions.
	ExtendHold(ctx context.Context, p ExtendParams) (Hold, error)
}

// Scheduler learns of each hold's expiry as it is set or moved, so that the hold
// can be released the moment it lapses rather than when a sweep comes by.
type Scheduler interface {
	Schedule(ctx context.Context, h Hold) error
	// Cancel drops the notices of holds that ended before they lapsed (every
	// seat booked or released): each would cost a database transaction to
	// find nothing to release. A notice that stays only costs that.
	Cancel(ctx context.Context, tokens []string) error
}

// How a lapsed hold came to be released, for metrics: a Redis expiry event, an
// in-process timer, the periodic sweep, or a new hold taking its seats (lazy).
const (
	ReleasedByEvent = "event"
	ReleasedByTimer = "timer"
	ReleasedBySweep = "sweeper"
	ReleasedLazily  = "lazy"
)

// ReleaseFunc observes a lapsed hold's release: by which path, how many seats,
// and how long after the hold's expiry.
type ReleaseFunc func(path string, seats int, delay time.Duration)

// LookupHold returns a live hold of userID's. Another user's hold is reported
// as not found: a token says nothing to anyone but its holder.
func (s *Service) LookupHold(ctx context.Context, userID, token string) (Hold, error) {
	token, err := checkToken(userID, token)
	if err != nil {
		return Hold{}, err
	}
	h, err := s.store.LookupHold(ctx, token)
	if err == nil && h.UserID != userID {
		return Hold{}, NotFoundf("no hold %s", token)
	}
	return h, err
}

// ExtendRequest asks to extend a user's hold by one hold TTL.
type ExtendRequest struct {
	UserID     string
	Token      string
	Idempotent *Idempotent
}

// ExtendHold extends a live hold by one TTL, at most MaxExtensions times, and
// moves its gate keys and expiry notice along.
func (s *Service) ExtendHold(ctx context.Context, req ExtendRequest) (Hold, error) {
	token, err := checkToken(req.UserID, req.Token)
	if err != nil {
		return Hold{}, err
	}
	if err := req.Idempotent.claim(); err != nil {
		return Hold{}, err
	}
	h, err := s.store.ExtendHold(ctx, ExtendParams{
		Token: token, UserID: req.UserID, By: s.cfg.HoldTTL, MaxExtensions: s.cfg.MaxExtensions, Idempotent: req.Idempotent,
	})
	if err != nil {
		return Hold{}, err
	}
	// Acquiring under the same token refreshes the keys' ttl; a seat whose key
	// someone else took meanwhile is still the database's to decide.
	s.acquire(h.ShowID, h.Token, h.SeatIDs, time.Until(h.ExpiresAt))
	s.schedule(h)
	return h, nil
}

// checkToken validates a hold request's user and token.
func checkToken(userID, token string) (string, error) {
	if err := CheckUserID(userID); err != nil {
		return "", err
	}
	id, ok := ParseID(token)
	if !ok {
		return "", Invalidf("hold token %q is not a UUID", clip(token))
	}
	return id, nil
}
