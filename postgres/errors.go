package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/jackc/pgx/v5/pgconn"

	"seatmanager/booking"
)

// wrap adds context to a driver error, and marks one that says the database
// cannot be reached (or cannot do the work now) as booking.ErrUnavailable, so
// that clients hear 503 and retry instead of a 500. Domain errors pass
// through untouched.
func wrap(err error, what string) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*booking.Error](err); ok {
		return err
	}
	if errors.Is(err, booking.ErrDuplicateRequest) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", what, err)
	}
	if unavailable(err) {
		return fmt.Errorf("%s: %w: %w", what, booking.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// unavailable reports whether err says the database is gone or refuses work
// for now, rather than that a statement is wrong: the server shutting down,
// restarting, out of connections or resources, or a connection that was
// refused, reset, closed or timed out.
func unavailable(err error) bool {
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		switch pgErr.Code[:2] {
		case "08", // connection exception
			"53", // insufficient resources: too many connections, disk full, out of memory
			"57", // operator intervention: admin shutdown, crash shutdown, cannot connect now
			"58": // system error
			return pgErr.Code != "57014" // query_canceled is our own deadline
		}
		// read_only_sql_transaction: a standby, as during a failover.
		return pgErr.Code == "25006"
	}
	if _, ok := errors.AsType[*pgconn.ConnectError](err); ok {
		return true
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return true
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, errClosed) || pgconn.SafeToRetry(err) || pgconn.Timeout(err)
}
