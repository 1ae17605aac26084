// Package sqlite stores shows, seats, holds and bookings in one SQLite file through
// modernc.org/sqlite (pure Go, no cgo). It is the embedded default: the same
// behaviour as the PostgreSQL store, with SQLite's single writer standing in for
// row locks.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"seatmanager/booking"
	"seatmanager/internal/batch"
	"seatmanager/internal/migrate"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the SQLite store. It is safe for concurrent use, also by several
// processes on one file (they queue on SQLite's write lock).
type Store struct {
	// write holds the one connection that writes, used only by the writer
	// goroutine (writer.go), which commits transactions in groups and starts
	// each with BEGIN IMMEDIATE, so that no writer fails with SQLITE_BUSY. Its
	// statements are prepared once.
	write   *sql.DB
	conn    *sql.Conn
	writes  *prepared
	writer  *batch.Queue[job, struct{}]
	taken   *batch.Lookup[string, booking.Taken] // of seats held, booked or blocked
	closing sync.Once
	// read serves the many readers that WAL mode lets run beside the writer.
	read *sql.DB
	// Now, if set before the store is used, stands in for the database's
	// clock, so that tests can put a hold's expiry exactly where they want it.
	Now func() time.Time
}

var _ booking.Store = (*Store)(nil)

// Open opens (creating it if needed) the database file at path and brings its
// schema up to date. path may also be a sqlite: or file: URL.
func Open(ctx context.Context, path string) (*Store, error) {
	path = strings.TrimPrefix(strings.TrimPrefix(path, "sqlite:"), "file:")
	if path == "" || strings.HasPrefix(path, ":memory:") {
		return nil, fmt.Errorf("sqlite: need a file path, got %q: readers and the writer must share one file", path)
	}
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: path %q: '?' and '#' are not allowed; seatd sets the connection options itself", path)
	}
	// synchronous(FULL) makes every acknowledged commit durable, not only those
	// older than the last checkpoint: nothing a client was told may be lost.
	params := url.Values{"_pragma": {
		"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)",
	}}
	write, err := sql.Open("sqlite", "file:"+path+"?"+params.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	params["_pragma"] = append(params["_pragma"], "query_only(1)")
	read, err := sql.Open("sqlite", "file:"+path+"?"+params.Encode())
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	read.SetMaxOpenConns(2 * runtime.GOMAXPROCS(0))
	conn, err := write.Conn(ctx)
	if err != nil {
		write.Close()
		read.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s := &Store{write: write, conn: conn, writes: newPrepared(conn), read: read}
	s.writer = s.newWriter()
	s.taken = batch.NewLookup(2, s.readTaken)
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	err := errClosed
	s.closing.Do(func() {
		s.writer.Close()
		s.taken.Close()
		s.writes.close()
		err = errors.Join(s.read.Close(), s.conn.Close(), s.write.Close())
	})
	return err
}

// Ping checks that the database file can be read.
func (s *Store) Ping(ctx context.Context) error { return s.read.PingContext(ctx) }

func (s *Store) migrate(ctx context.Context) error {
	files, err := migrate.Files(migrations, "migrations")
	if err != nil {
		return err
	}
	if err := s.inTx(ctx, func(tx *txn, now int64) error {
		return tx.execScript(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version INTEGER PRIMARY KEY,
			name TEXT NOT NULL,
			applied_at INTEGER NOT NULL) STRICT`)
	}); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, f := range files {
		err := s.inTx(ctx, func(tx *txn, now int64) error {
			// Checked inside the transaction: another process may have just applied it.
			var done bool
			if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?)", f.Version).Scan(&done); err != nil || done {
				return err
			}
			if err := tx.execScript(ctx, f.SQL); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", f.Version, f.Name, now)
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", f.Name, err)
		}
	}
	return nil
}

// now returns the clock a transaction decides by, in Unix milliseconds.
func (s *Store) now(ctx context.Context, tx *txn) (int64, error) {
	if s.Now != nil {
		return s.Now().UnixMilli(), nil
	}
	var now int64
	err := tx.QueryRowContext(ctx, nowSQL).Scan(&now)
	return now, err
}

// nowSQL is the database clock in Unix milliseconds. Each transaction reads it once
// and decides everything by that value.
const nowSQL = "SELECT CAST(unixepoch('subsec') * 1000 AS INTEGER)"
