package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"seatmanager/booking"
)

// insertReceiptSQL stores a receipt unless one is kept for the key already; one
// past its expiry counts as gone and is replaced. It changes no row when another
// attempt's receipt stands.
const insertReceiptSQL = `
INSERT INTO receipts (scope, key, fingerprint, response, created_at, expires_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?5 + ?6)
ON CONFLICT (scope, key) DO UPDATE
SET fingerprint = excluded.fingerprint, response = excluded.response,
    created_at = excluded.created_at, expires_at = excluded.expires_at
WHERE receipts.expires_at <= ?5`

// insertReceipt stores a seat change's receipt in its transaction, or fails with
// booking.ErrDuplicateRequest if the key has one already.
func insertReceipt(ctx context.Context, tx *txn, now int64, idem *booking.Idempotent, result any) error {
	if idem == nil {
		return nil
	}
	r, err := idem.Receipt(result)
	if err != nil {
		return err
	}
	n, err := execReceipt(ctx, tx, now, r, idem.TTL)
	if err == nil && n == 0 {
		return booking.ErrDuplicateRequest
	}
	return err
}

func execReceipt(ctx context.Context, tx *txn, now int64, r booking.Receipt, ttl time.Duration) (int64, error) {
	res, err := tx.ExecContext(ctx, insertReceiptSQL, r.Scope, r.Key, r.Fingerprint, r.Response, now, ttl.Milliseconds())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Receipt returns the receipt kept for a key, or booking.ErrNotFound.
func (s *Store) Receipt(ctx context.Context, scope, key string) (booking.Receipt, error) {
	r := booking.Receipt{Scope: scope, Key: key}
	err := s.inReadTx(ctx, func(tx *txn, now int64) error {
		return tx.QueryRowContext(ctx, `SELECT fingerprint, response FROM receipts
			WHERE scope = ? AND key = ? AND expires_at > ?`, scope, key, now).Scan(&r.Fingerprint, &r.Response)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return r, booking.ErrNotFound
	}
	return r, wrap(err, "read receipt")
}

// SaveReceipt stores r for ttl unless the key has a receipt already, and returns
// the receipt that stands: r, or the one another attempt stored first.
func (s *Store) SaveReceipt(ctx context.Context, r booking.Receipt, ttl time.Duration) (booking.Receipt, error) {
	stored := r
	err := s.inTx(ctx, func(tx *txn, now int64) error {
		n, err := execReceipt(ctx, tx, now, r, ttl)
		if err != nil || n == 1 {
			return err
		}
		return tx.QueryRowContext(ctx, "SELECT fingerprint, response FROM receipts WHERE scope = ? AND key = ?",
			r.Scope, r.Key).Scan(&stored.Fingerprint, &stored.Response)
	})
	return stored, wrap(err, "save receipt")
}

// SaveReceipts stores each receipt unless its key has one, and returns, in
// order, the receipt that stands for each; one transaction for all.
func (s *Store) SaveReceipts(ctx context.Context, rs []booking.Receipt, ttl time.Duration) ([]booking.Receipt, error) {
	stood := make([]booking.Receipt, len(rs))
	err := s.inTx(ctx, func(tx *txn, now int64) error {
		for i, r := range rs {
			n, err := execReceipt(ctx, tx, now, r, ttl)
			if err != nil {
				return err
			}
			stood[i] = r
			if n == 0 {
				if err := tx.QueryRowContext(ctx, "SELECT fingerprint, response FROM receipts WHERE scope = ? AND key = ?",
					r.Scope, r.Key).Scan(&stood[i].Fingerprint, &stood[i].Response); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, wrap(err, "save receipts")
	}
	return stood, nil
}

// SweepReceipts deletes up to limit expired receipts and reports how many it deleted.
func (s *Store) SweepReceipts(ctx context.Context, limit int) (int, error) {
	var n int64
	err := s.inTx(ctx, func(tx *txn, now int64) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM receipts WHERE rowid IN (
			SELECT rowid FROM receipts WHERE expires_at <= ? LIMIT ?)`, now, limit)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), wrap(err, "sweep receipts")
}
