package memory

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"seatmanager/idempotency"
)

var _ idempotency.Markers = (*Markers)(nil)

// Markers is an idempotency.Markers in one process: a map from id to its mark.
// It suits the embedded default, where there is only one seatd to see them. The
// zero value is not usable; call NewMarkers.
type Markers struct {
	// Now is the clock that decides expiry, so that tests can move time by hand.
	// Set it before the markers are first used; nil means time.Now.
	Now func() time.Time

	mu    sync.Mutex
	marks expiring[mark]
}

// mark is one id's state.
type mark struct {
	lease       string
	fingerprint string
	response    []byte // nil while in flight, never empty once done
}

// DefaultMaxBytes is what NewMarkers(0) holds at most.
const DefaultMaxBytes = 64 << 20

// markOverhead is what a mark costs besides its strings: the map entry, the
// eviction order's, the slices' headers.
const markOverhead = 160

// NewMarkers returns empty markers on the wall clock holding at most
// maxBytes (DefaultMaxBytes if zero): past it, the marks written longest ago
// are forgotten, which only costs their keys a database lookup.
func NewMarkers(maxBytes int) *Markers {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	return &Markers{Now: time.Now, marks: newExpiring[mark](maxBytes)}
}

func (k mark) size(id string) int {
	return markOverhead + len(id) + len(k.lease) + len(k.fingerprint) + len(k.response)
}

// Claim marks id as in flight under lease for leaseTTL and reports Claimed, if
// id has no live mark or is in flight under this very lease; otherwise it
// returns the live mark, with a copy of its response if it is done.
func (m *Markers) Claim(ctx context.Context, id, lease, fingerprint string, leaseTTL time.Duration) (idempotency.Mark, error) {
	if err := ctx.Err(); err != nil {
		return idempotency.Mark{}, fmt.Errorf("claim idempotency mark %.80q: %w", id, err)
	}
	if leaseTTL <= 0 {
		return idempotency.Mark{}, fmt.Errorf("claim idempotency mark %.80q: lease ttl %v is not positive", id, leaseTTL)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := clock(m.Now)
	if k, expires, ok := m.marks.get(id, now); ok && !(k.response == nil && k.lease == lease) {
		return k.existing(expires.Sub(now)), nil
	}
	k := mark{lease: lease, fingerprint: fingerprint}
	m.marks.put(id, k, k.size(id), now.Add(leaseTTL), now)
	return idempotency.Mark{Claimed: true, Fingerprint: fingerprint, LeaseLeft: leaseTTL}, nil
}

// Complete stores a copy of response as id's answer for ttl, if id has no live
// mark or is in flight under lease. A done mark is final: completing it again
// keeps the first answer. response must not be empty.
//
// It ignores ctx: it cannot block, and it runs after the effect it records, when
// the request's context may well be cancelled.
func (m *Markers) Complete(_ context.Context, id, lease, fingerprint string, response []byte, ttl time.Duration) error {
	if len(response) == 0 {
		return fmt.Errorf("complete idempotency mark %.80q: %w", id, idempotency.ErrEmptyResponse)
	}
	if ttl <= 0 {
		return fmt.Errorf("complete idempotency mark %.80q: ttl %v is not positive", id, ttl)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := clock(m.Now)
	if k, _, ok := m.marks.get(id, now); ok && (k.response != nil || k.lease != lease) {
		return nil
	}
	k := mark{lease: lease, fingerprint: fingerprint, response: bytes.Clone(response)}
	m.marks.put(id, k, k.size(id), now.Add(ttl), now)
	return nil
}

// Record stores a copy of response as id's answer for ttl, if id has no live
// mark; otherwise it returns the live mark, as Claim does. response must not
// be empty.
func (m *Markers) Record(ctx context.Context, id, lease, fingerprint string, response []byte, ttl time.Duration) (idempotency.Mark, error) {
	if err := ctx.Err(); err != nil {
		return idempotency.Mark{}, fmt.Errorf("record idempotency mark %.80q: %w", id, err)
	}
	if len(response) == 0 {
		return idempotency.Mark{}, fmt.Errorf("record idempotency mark %.80q: %w", id, idempotency.ErrEmptyResponse)
	}
	if ttl <= 0 {
		return idempotency.Mark{}, fmt.Errorf("record idempotency mark %.80q: ttl %v is not positive", id, ttl)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := clock(m.Now)
	if k, expires, ok := m.marks.get(id, now); ok {
		if k.response != nil && k.lease == lease {
			return idempotency.Mark{Claimed: true}, nil
		}
		return k.existing(expires.Sub(now)), nil
	}
	k := mark{lease: lease, fingerprint: fingerprint, response: bytes.Clone(response)}
	m.marks.put(id, k, k.size(id), now.Add(ttl), now)
	return idempotency.Mark{Claimed: true}, nil
}

// existing is k as a mark another attempt finds, with left of its ttl.
func (k mark) existing(left time.Duration) idempotency.Mark {
	if k.response != nil {
		// The caller owns what it gets; the stored answer must stay as it was.
		return idempotency.Mark{Fingerprint: k.fingerprint, Response: bytes.Clone(k.response)}
	}
	return idempotency.Mark{Fingerprint: k.fingerprint, LeaseLeft: left}
}

// Abandon removes id's mark if it is in flight under lease.
//
// It ignores ctx: an attempt is abandoned most often because its request failed
// or was cancelled, and a mark left behind would turn retries away until its
// lease runs out.
func (m *Markers) Abandon(_ context.Context, id, lease string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if k, _, ok := m.marks.get(id, clock(m.Now)); ok && k.response == nil && k.lease == lease {
		m.marks.delete(id)
	}
	return nil
}
