package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

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

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// nullable turns "" into SQL NULL.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// wrap adds context to driver errors and passes domain errors through untouched,
// so that the HTTP layer still recognises them.
func wrap(err error, what string) error {
	if err == nil {
		return nil
	}
	var be *booking.Error
	if errors.As(err, &be) {
		return be
	}
	return fmt.Errorf("%s: %w", what, err)
}
