package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"seatmanager/booking"
	"time"
)

// Markers remember which keys are being executed right now, and cache the
// answers of finished ones. They are shared by every seatd instance (Redis) or
// live in the one process there is (memory). They are never the guarantee: the
// database's receipts are. A lost marker costs a database lookup; a lost lease
// lets a concurrent duplicate run, and the database then refuses its effect.
type Markers interface {
	// Claim marks id as in flight under lease for leaseTTL and reports Claimed, if
	// id has no mark, only one whose lease ran out, or the in-flight mark of this
	// same lease (a retried call). Otherwise it changes nothing and returns the
	// existing mark: in flight (Fingerprint, LeaseLeft) or done (Fingerprint,
	// Response). A ttl of zero or less is an error.
	Claim(ctx context.Context, id, lease, fingerprint string, leaseTTL time.Duration) (Mark, error)
	// Complete replaces the in-flight mark of lease (or no mark at all) with the
	// finished answer, kept for ttl. A mark claimed since by another lease is left
	// alone, and a done mark is final. response must not be empty: a nil
	// Response is how a mark in flight reads.
	Complete(ctx context.Context, id, lease, fingerprint string, response []byte, ttl time.Duration) error
	// Record stores the finished answer of an attempt that never claimed id,
	// kept for ttl, and reports Claimed, if id has no mark (or has this very
	// answer of lease: a retried call). Otherwise it changes nothing and
	// returns the existing mark, as Claim does. It is Claim and Complete in
	// one step, for an answer that changed nothing: a refusal. response must
	// not be empty, and a ttl of zero or less is an error.
	Record(ctx context.Context, id, lease, fingerprint string, response []byte, ttl time.Duration) (Mark, error)
	// Abandon removes id's mark if it is still the in-flight mark of lease.
	Abandon(ctx context.Context, id, lease string) error
}

// ErrEmptyResponse: Complete was given no answer. A done mark is told from one
// in flight by its Response not being nil, so it needs at least one byte.
var ErrEmptyResponse = errors.New("response is empty")

// Mark is the state of a key in Markers.
type Mark struct {
	Claimed     bool          // the caller now owns the key and executes the request
	Fingerprint string        // of the request that set the mark
	Response    []byte        // the answer, once done; nil while in flight
	LeaseLeft   time.Duration // while in flight: until another attempt may take over
}

// The middleware's calls to its markers. A request's calls are each bounded
// by MarkerTimeout (see markerBound) and go through the breaker: markers that
// fail are passed over for a while, and the database answers alone.

// claim marks the key in flight. Without working markers every request
// counts as claimed, unmarked: the database still lets only one attempt of a
// key take effect.
func (m *Middleware) claim(id, lease, fingerprint string) Mark {
	if !m.markers.Allow() {
		return Mark{Claimed: true}
	}
	ctx := m.markerBound.Context()
	mark, err := m.cfg.Markers.Claim(ctx, id, lease, fingerprint, m.cfg.LeaseTTL)
	if err != nil {
		m.markers.Failed(err)
		// A claim given up on may still reach Redis (a queued pipelined
		// command is sent): take back the mark it would leave, which would
		// turn this key's retries away for a whole lease. The breaker keeps
		// this request's complete or abandon from doing it.
		m.goBackground(func() { m.takeBack(id, lease) })
		return Mark{Claimed: true}
	}
	m.markers.Worked()
	return mark
}

// takeBack removes the mark of a claim that failed, if it was set after all.
// It waits for the markers as long as such a mark would live, or until Close.
func (m *Middleware) takeBack(id, lease string) {
	ctx, cancel := context.WithTimeout(m.bgCtx, m.cfg.LeaseTTL)
	defer cancel()
	if err := m.cfg.Markers.Abandon(ctx, id, lease); err != nil {
		m.cfg.Logger.Debug("take back a failed claim's mark", "err", err)
	}
}

// complete caches a finished answer in the markers, a refusal no longer than
// the database keeps it.
func (m *Middleware) complete(id, lease string, r booking.Receipt) {
	if !m.markers.Allow() {
		return
	}
	ttl := m.cfg.CacheTTL
	if isRefusal(r.Response) {
		ttl = min(ttl, m.cfg.RefusalTTL)
	}
	ctx := m.markerBound.Context()
	if err := m.cfg.Markers.Complete(ctx, id, lease, r.Fingerprint, r.Response, ttl); err != nil {
		m.markers.Failed(err)
	}
}

// record keeps the answer of a request that claimed no key in the markers,
// for RefusalTTL, unless the key has a mark already: it returns the mark
// there (Claimed: this answer), and whether the markers answered at all. A
// record given up on that reaches Redis after all leaves this same answer,
// which the database then keeps too.
func (m *Middleware) record(id, lease string, r booking.Receipt) (Mark, bool) {
	if !m.markers.Allow() {
		return Mark{}, false
	}
	ctx := m.markerBound.Context()
	mark, err := m.cfg.Markers.Record(ctx, id, lease, r.Fingerprint, r.Response, min(m.cfg.CacheTTL, m.cfg.RefusalTTL))
	if err != nil {
		m.markers.Failed(err)
		return Mark{}, false
	}
	m.markers.Worked()
	return mark, true
}

func (m *Middleware) abandon(id, lease string) {
	if !m.markers.Allow() {
		return
	}
	ctx := m.markerBound.Context()
	if err := m.cfg.Markers.Abandon(ctx, id, lease); err != nil {
		m.markers.Failed(err)
	}
}

// markerID is the marker of a key in a scope: a hash, so that a marker id has a
// fixed, safe length whatever the key.
func markerID(scope, key string) string {
	h := sha256.Sum256([]byte(scope + "\x00" + key))
	return hex.EncodeToString(h[:])
}
