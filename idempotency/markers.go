package idempotency

import (
	"context"
	"errors"
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
