package postgres

import (
	"time"

	"github.com/jackc/pgx/v5"

	"seatmanager/booking"
)

// The event log of the changes made outside batches.

// appendEventsSQL bumps the show's seq by the number of events and numbers them
// below the new value. The show row stays locked until commit, so a show's events
// are numbered without gaps in commit order. It is the last lock a release of
// lapsed holds, a block or a cancellation takes, after its seats, as in a batch
// of seat changes, which keeps the lock order acyclic. (A batch numbers the
// events of many shows at once: logEventsSQL.)
const appendEventsSQL = `
WITH bump AS (
    UPDATE shows SET seq = seq + cardinality($2::text[]::uuid[]) WHERE id = $1 RETURNING seq
)
INSERT INTO seat_events (show_id, seq, seat_id, status, hold_token, booking_id, at)
SELECT $1, bump.seq - cardinality($2::text[]::uuid[]) + e.n, e.seat_id, $3, e.hold_token, nullif($5::text, '')::uuid, $6
FROM bump, unnest($2::text[]::uuid[], $4::text[]::uuid[]) WITH ORDINALITY AS e(seat_id, hold_token, n)`

type event struct {
	status    booking.Status
	bookingID string
	at        time.Time
}

// queueEvents appends one event per seat; holdTokens, if not nil, gives each seat's hold.
func queueEvents(b *pgx.Batch, showID string, e event, seatIDs, holdTokens []string) {
	if holdTokens == nil {
		holdTokens = []string{}
	}
	b.Queue(appendEventsSQL, showID, seatIDs, string(e.status), holdTokens, e.bookingID, e.at)
}
