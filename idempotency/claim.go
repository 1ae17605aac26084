package idempotency

import (
	"net/http"

	"seatmanager/booking"
)

// A keyed request claims its key in the markers only when its change is
// about to be made, past the gate: a request turned away before any change
// (by the seats others hold) then costs the markers one call, which records
// its answer (keepRefusal), instead of a claim and a completion. The claim of
// a request whose handler made no change is taken after it answered.

// Claim claims the key of the keyed request r for this attempt, if it has not
// been: a handler calls it just before its change is made (a seat change
// does, through booking.Idempotent.Claim). It fails with
// booking.ErrDuplicateRequest if another attempt of the key is in flight or
// has answered; the handler then changes nothing, and the middleware answers
// as that attempt's mark says. Outside the middleware it does nothing.
func Claim(r *http.Request) error {
	p, ok := r.Context().Value(pendingKey{}).(*pending)
	if !ok {
		return nil
	}
	return p.claim()
}

// claim is take as booking.Idempotent.Claim reports it.
func (p *pending) claim() error {
	if p.take() != nil {
		return booking.ErrDuplicateRequest
	}
	return nil
}

// take claims p's key, if it has not been, and returns the mark of another
// attempt that the claim found instead, if it found one.
func (p *pending) take() *Mark {
	p.claimMu.Lock()
	defer p.claimMu.Unlock()
	if !p.taken {
		p.taken = true
		if mark := p.m.claim(p.id, p.lease, p.fingerprint); !mark.Claimed {
			p.found = &mark
		}
	}
	return p.found
}

// claimed reports whether p's key was claimed.
func (p *pending) claimed() bool {
	p.claimMu.Lock()
	defer p.claimMu.Unlock()
	return p.taken
}
