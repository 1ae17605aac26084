package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	sqlitedriver "modernc.org/sqlite"

	"seatmanager/booking"
)

// jsonArray encodes ids for json_each: SQLite has no array parameters.
func jsonArray(ids []string) string {
	b, _ := json.Marshal(ids)
	return string(b)
}

func queryStrings(ctx context.Context, tx *txn, query string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func queryInts(ctx context.Context, tx *txn, query string, args ...any) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// wrap adds context to a driver error, and marks one that says the database
// cannot do the work now (locked past the busy timeout, an I/O error, a full
// disk) as booking.ErrUnavailable, so that clients hear 503 and retry instead
// of a 500. Domain errors pass through untouched.
func wrap(err error, what string) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*booking.Error](err); ok {
		return err
	}
	if unavailable(err) {
		return fmt.Errorf("%s: %w: %w", what, booking.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// SQLite's primary result codes that mean "not now" rather than "wrong".
const (
	sqliteBusy     = 5
	sqliteLocked   = 6
	sqliteNoMem    = 7
	sqliteIOErr    = 10
	sqliteFull     = 13
	sqliteCantOpen = 14
)

func unavailable(err error) bool {
	if e, ok := errors.AsType[*sqlitedriver.Error](err); ok {
		switch e.Code() & 0xff {
		case sqliteBusy, sqliteLocked, sqliteNoMem, sqliteIOErr, sqliteFull, sqliteCantOpen:
			return true
		}
	}
	return errors.Is(err, errClosed)
}
