package booking

import (
	"context"
	"time"
)

// Hold is a user's temporary claim on seats of one show. Token identifies it and is
// the fencing token every later book or release of those seats must match; Version
// grows each time the hold changes, so a stale actor cannot act on a newer hold.
type Hold struct {
	Token     string
	Version   int64
	UserID    string
	ShowID    string
	SeatIDs   []string
	ExpiresAt time.Time
}

// Gate sheds contention in front of the database: it lets one token at a time
// through per seat, so that the losers of a hot seat are answered without a database
// transaction. It is an accelerator, never the guarantee: a gate that forgets keys,
// fails or is absent only makes the database do more of the deciding.
type Gate interface {
	// Acquire takes every seat for token until ttl passes, or none of them. It
	// returns the seats that another token has, which is empty on success.
	Acquire(ctx context.Context, showID, token string, seatIDs []string, ttl time.Duration) (taken []string, err error)
	// Release gives back the seats that token still has; seats another token took
	// since are left alone.
	Release(ctx context.Context, showID, token string, seatIDs []string) error
}
