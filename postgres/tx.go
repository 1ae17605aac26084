package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"seatmanager/booking"
)

// A seat change is a transaction of two round trips instead of four:
//
//  1. BEGIN, the statements that claim the request's receipt key and lock the
//     seats, pipelined in one batch;
//  2. after Go has decided from the locked rows, the statement that records
//     the change (seats, hold or bookings, events, the receipt's answer) and
//     COMMIT, in a second batch.
//
// If anything fails, or Go decides the change must not happen, the connection
// gets a ROLLBACK. A statement that fails inside a batch aborts the
// transaction and the server skips the rest of the batch, COMMIT included; the
// statement callbacks of the first batch only inspect, and nothing is decided
// in Go after COMMIT was sent.

// querier runs extra statements inside the transaction, between the batches.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// change runs a two-batch transaction: first queues the first batch's
// statements after BEGIN; second, given the connection for any extra query,
// returns the second batch (COMMIT is added) or an error to roll back.
func (s *Store) change(ctx context.Context, first func(b *pgx.Batch), second func(q querier) (*pgx.Batch, error)) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	first(b)
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		rollback(ctx, conn)
		return err
	}
	next, err := second(conn)
	if err != nil {
		rollback(ctx, conn)
		return err
	}
	next.Queue("COMMIT")
	if err := conn.SendBatch(ctx, next).Close(); err != nil {
		rollback(ctx, conn)
		return err
	}
	return nil
}

// rollback ends a transaction that must not commit. If even that fails, the
// pool discards the connection, which is still in a transaction.
func rollback(ctx context.Context, conn interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	conn.Exec(rctx, "ROLLBACK")
}

// reserveReceiptSQL claims a keyed request's receipt in its transaction, before
// the change: an empty answer, filled in by the second batch. It affects no row
// when a live receipt of the key exists; a concurrent attempt of the same key
// waits here on the key until this transaction ends.
const reserveReceiptSQL = `
INSERT INTO receipts AS r (scope, key, fingerprint, response, created_at, expires_at)
VALUES ($1, $2, $3, '', clock_timestamp(), clock_timestamp() + $4::interval)
ON CONFLICT (scope, key) DO UPDATE
SET fingerprint = EXCLUDED.fingerprint, response = '',
    created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
WHERE r.expires_at <= clock_timestamp()`

// queueReserve adds the claim of idem's key to a first batch; the batch fails
// with booking.ErrDuplicateRequest if the key is answered already.
func queueReserve(b *pgx.Batch, idem *booking.Idempotent) {
	if idem == nil {
		return
	}
	b.Queue(reserveReceiptSQL, idem.Scope, idem.Key, idem.Fingerprint, idem.TTL).Exec(func(tag pgconn.CommandTag) error {
		if tag.RowsAffected() == 0 {
			return booking.ErrDuplicateRequest
		}
		return nil
	})
}
