package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"seatmanager/booking"
)

// insertReceiptSQL stores a receipt unless one is kept for the key already; one
// past its expiry counts as gone and is replaced. It affects no row when another
// attempt's receipt stands.
const insertReceiptSQL = `
INSERT INTO receipts AS r (scope, key, fingerprint, response, created_at, expires_at)
VALUES ($1, $2, $3, $4, clock_timestamp(), clock_timestamp() + $5::interval)
ON CONFLICT (scope, key) DO UPDATE
SET fingerprint = EXCLUDED.fingerprint, response = EXCLUDED.response,
    created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
WHERE r.expires_at <= clock_timestamp()`

// queueReceipt adds, to a seat change's batch, the insert of its receipt; the
// batch fails with booking.ErrDuplicateRequest if the key has a receipt already,
// which rolls the change back.
func queueReceipt(b *pgx.Batch, idem *booking.Idempotent, result any) error {
	if idem == nil {
		return nil
	}
	r, err := idem.Receipt(result)
	if err != nil {
		return err
	}
	b.Queue(insertReceiptSQL, r.Scope, r.Key, r.Fingerprint, r.Response, idem.TTL).Exec(func(tag pgconn.CommandTag) error {
		if tag.RowsAffected() == 0 {
			return booking.ErrDuplicateRequest
		}
		return nil
	})
	return nil
}

// Receipt returns the receipt kept for a key, or booking.ErrNotFound.
func (s *Store) Receipt(ctx context.Context, scope, key string) (booking.Receipt, error) {
	r := booking.Receipt{Scope: scope, Key: key}
	err := s.pool.QueryRow(ctx, `SELECT fingerprint, response FROM receipts
		WHERE scope = $1 AND key = $2 AND expires_at > clock_timestamp()`, scope, key).Scan(&r.Fingerprint, &r.Response)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, booking.ErrNotFound
	}
	return r, wrap(err, "read receipt")
}

// SaveReceipt stores r for ttl unless the key has a receipt already, and returns
// the receipt that stands: r, or the one another attempt stored first.
func (s *Store) SaveReceipt(ctx context.Context, r booking.Receipt, ttl time.Duration) (booking.Receipt, error) {
	for {
		tag, err := s.pool.Exec(ctx, insertReceiptSQL, r.Scope, r.Key, r.Fingerprint, r.Response, ttl)
		if err != nil {
			return r, wrap(err, "save receipt")
		}
		if tag.RowsAffected() == 1 {
			return r, nil
		}
		stored, err := s.Receipt(ctx, r.Scope, r.Key)
		if !errors.Is(err, booking.ErrNotFound) { // else it expired in between: insert again
			return stored, err
		}
	}
}

// saveReceiptsSQL is insertReceiptSQL for many receipts at once.
const saveReceiptsSQL = `
INSERT INTO receipts AS r (scope, key, fingerprint, response, created_at, expires_at)
SELECT t.scope, t.key, t.fingerprint, t.response, clock_timestamp(), clock_timestamp() + $5::interval
FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[]) AS t(scope, key, fingerprint, response)
ORDER BY t.scope, t.key -- in key order, as batches claim theirs: no deadlock between them
ON CONFLICT (scope, key) DO UPDATE
SET fingerprint = EXCLUDED.fingerprint, response = EXCLUDED.response,
    created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
WHERE r.expires_at <= clock_timestamp()`

// SaveReceipts stores each receipt unless its key has one, and returns, in
// order, the receipt that stands for each: one round trip, whose two statements
// run in one implicit transaction, so the read sees the insert and every
// receipt a concurrent writer committed while the insert waited on its key.
func (s *Store) SaveReceipts(ctx context.Context, rs []booking.Receipt, ttl time.Duration) ([]booking.Receipt, error) {
	if len(rs) == 0 {
		return nil, nil
	}
	distinct := distinctReceipts(rs)
	scopes, keys, fps, resps := make([]string, len(distinct)), make([]string, len(distinct)), make([]string, len(distinct)), make([][]byte, len(distinct))
	for i, r := range distinct {
		scopes[i], keys[i], fps[i], resps[i] = r.Scope, r.Key, r.Fingerprint, r.Response
	}
	allScopes, allKeys := make([]string, len(rs)), make([]string, len(rs))
	for i, r := range rs {
		allScopes[i], allKeys[i] = r.Scope, r.Key
	}
	stood := make([]booking.Receipt, len(rs))
	found := 0
	b := &pgx.Batch{}
	b.Queue(saveReceiptsSQL, scopes, keys, fps, resps, ttl)
	b.Queue(`SELECT t.i, r.fingerprint, r.response
		FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(scope, key, i)
		JOIN receipts r ON r.scope = t.scope AND r.key = t.key`, allScopes, allKeys).Query(func(rows pgx.Rows) error {
		var i int
		var fp string
		var resp []byte
		_, err := pgx.ForEachRow(rows, []any{&i, &fp, &resp}, func() error {
			stood[i-1] = booking.Receipt{Scope: rs[i-1].Scope, Key: rs[i-1].Key, Fingerprint: fp, Response: resp}
			found++
			return nil
		})
		return err
	})
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, wrap(err, "save receipts")
	}
	if found != len(rs) {
		return nil, fmt.Errorf("save receipts: %d of %d receipts not found after saving", len(rs)-found, len(rs))
	}
	return stood, nil
}

// SweepReceipts deletes up to limit expired receipts and reports how many it
// deleted. SKIP LOCKED lets several instances sweep at once without waiting.
// Expired means by statement_timestamp(), which bounds the index scan;
// clock_timestamp() changes during the statement, and with it the scan read
// the whole index.
func (s *Store) SweepReceipts(ctx context.Context, limit int) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM receipts WHERE (scope, key) IN (
		SELECT scope, key FROM receipts WHERE expires_at <= statement_timestamp()
		LIMIT $1 FOR UPDATE SKIP LOCKED)`, limit)
	return int(tag.RowsAffected()), wrap(err, "sweep receipts")
}

// distinctReceipts drops all but the first receipt of each key: one
// statement cannot write a key twice.
func distinctReceipts(rs []booking.Receipt) []booking.Receipt {
	type id struct{ scope, key string }
	seen := make(map[id]bool, len(rs))
	out := rs[:0:0]
	for _, r := range rs {
		if k := (id{r.Scope, r.Key}); !seen[k] {
			seen[k] = true
			out = append(out, r)
		}
	}
	return out
}
