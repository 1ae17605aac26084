package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"seatmanager/booking"
)

// lockBlockSQL locks seats in seat-id order, as every seat change does, and
// reads whether each is of the show, blocked, and free (a lapsed hold counts
// as free).
const lockBlockSQL = `
WITH locked AS MATERIALIZED (
    SELECT id, show_id, blocked, status FROM seats WHERE id = ANY($1::text[]::uuid[]) ORDER BY id FOR NO KEY UPDATE
)
SELECT l.id, l.show_id = $2, l.blocked, l.status = 'available' OR (l.status = 'held' AND s.hold_expires_at <= clock_timestamp())
FROM locked l JOIN seats s ON s.id = l.id`

// blockSQL blocks or unblocks seats; a blocked seat's lapsed hold goes with it.
const blockSQL = `
UPDATE seats SET blocked = $2, status = 'available', hold_token = NULL, holder = NULL, hold_expires_at = NULL,
    version = version + 1
WHERE id = ANY($1::text[]::uuid[])`

// Block implements booking.BlockStore.
func (s *Store) Block(ctx context.Context, p booking.BlockParams) (booking.Blocking, error) {
	out := booking.Blocking{ShowID: p.ShowID, SeatIDs: p.SeatIDs, Blocked: p.Block}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, lockBlockSQL, p.SeatIDs, p.ShowID)
		if err != nil {
			return err
		}
		seats := map[string]booking.BlockState{}
		var id string
		var st booking.BlockState
		if _, err := pgx.ForEachRow(rows, []any{&id, &st.OfShow, &st.Blocked, &st.Free}, func() error {
			seats[id] = st
			return nil
		}); err != nil {
			return err
		}
		change, err := booking.BlockChanges(p, seats)
		if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, "SELECT clock_timestamp()").Scan(&out.At); err != nil {
			return err
		}
		b := &pgx.Batch{}
		if len(change) > 0 {
			b.Queue(blockSQL, change, p.Block)
			queueEvents(b, p.ShowID, event{status: booking.BlockedStatus(p.Block), at: out.At}, change, nil)
		}
		if err := queueReceipt(b, p.Idempotent, out); err != nil {
			return err
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return booking.Blocking{}, wrap(err, "block seats")
	}
	return out, nil
}
