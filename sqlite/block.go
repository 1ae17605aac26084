package sqlite

import (
	"context"
	"time"

	"seatmanager/booking"
)

// Block implements booking.BlockStore.
func (s *Store) Block(ctx context.Context, p booking.BlockParams) (booking.Blocking, error) {
	out := booking.Blocking{ShowID: p.ShowID, SeatIDs: p.SeatIDs, Blocked: p.Block}
	err := s.inTx(ctx, func(tx *txn, now int64) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, show_id = ?2, blocked, status = 'available' OR (status = 'held' AND hold_expires_at <= ?3)
			FROM seats WHERE id IN (SELECT value FROM json_each(?1))`, jsonArray(p.SeatIDs), p.ShowID, now)
		if err != nil {
			return err
		}
		seats := map[string]booking.BlockState{}
		for rows.Next() {
			var id string
			var st booking.BlockState
			if err := rows.Scan(&id, &st.OfShow, &st.Blocked, &st.Free); err != nil {
				rows.Close()
				return err
			}
			seats[id] = st
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		change, err := booking.BlockChanges(p, seats)
		if err != nil {
			return err
		}
		out.At = time.UnixMilli(now)
		if len(change) > 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE seats SET blocked = ?, status = 'available', hold_token = NULL, holder = NULL,
				hold_expires_at = NULL, version = version + 1 WHERE `+seatsIn, p.Block, jsonArray(change)); err != nil {
				return err
			}
			if err := appendEvents(ctx, tx, p.ShowID, event{status: booking.BlockedStatus(p.Block), at: now}, change, nil); err != nil {
				return err
			}
		}
		return insertReceipt(ctx, tx, now, p.Idempotent, out)
	})
	if err != nil {
		return booking.Blocking{}, wrap(err, "block seats")
	}
	return out, nil
}
