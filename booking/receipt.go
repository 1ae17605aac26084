package booking

import (
	"errors"
	"time"
)

// Exactly-once effects. A client names each state-changing request with an
// idempotency key; the answer it got is kept as a Receipt, so that a retry of the
// key gets that answer again instead of a second effect. For seat changes the
// receipt is written by the store in the same transaction as the change: a crash
// between commit and answer loses neither, a crash before commit leaves neither.

// Receipt is the answer a keyed request got.
type Receipt struct {
	Scope       string // who asked, on which route: keys of different scopes never meet
	Key         string // the client's idempotency key
	Fingerprint string // a hash of the request, to catch a key reused for another request
	Response    []byte // the answer, opaque to stores
}

// Idempotent asks a seat change to store its receipt in its own transaction.
// It carries how to render the answer because the store, not the HTTP layer,
// is the one that must write it, in the same transaction as the change.
type Idempotent struct {
	Scope       string
	Key         string
	Fingerprint string
	// TTL is how long the receipt must be kept.
	TTL time.Duration
	// Render turns the change's result (a Hold, Booking or Release) into the
	// answer to store, exactly as the client will receive it.
	Render func(result any) ([]byte, error)
	// OnGateRefusal, if set, is told that the request was refused at the
	// gate, on seats that other users hold or bought (or that are blocked),
	// with no change for a store to write. Its answer cannot be one that an
	// earlier attempt of the same request stands behind, as a seat of the
	// user's own hold could be: the caller may keep it without the database.
	OnGateRefusal func()
	// Claim, if set, is called just before the change is made, once the gate
	// let it through: it takes the key for this attempt. It fails with
	// ErrDuplicateRequest if another attempt of the key is in flight or has
	// answered; the change is then not made, and that error returned.
	Claim func() error
}

// claim takes i's key for the change about to be made (see Idempotent.Claim).
func (i *Idempotent) claim() error {
	if i == nil || i.Claim == nil {
		return nil
	}
	return i.Claim()
}

// ErrDuplicateRequest: a receipt for the key exists already, written by another
// attempt of the same request that finished first; this attempt changed nothing.
// The caller answers with that receipt.
var ErrDuplicateRequest = errors.New("request already answered under this idempotency key")

// Receipt renders the receipt of result.
func (i *Idempotent) Receipt(result any) (Receipt, error) {
	resp, err := i.Render(result)
	if err != nil {
		return Receipt{}, err
	}
	return Receipt{Scope: i.Scope, Key: i.Key, Fingerprint: i.Fingerprint, Response: resp}, nil
}
