package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"seatmanager/booking"
)

// hotRows is how many rows the contention measurement spreads its holds over:
// as many as a storm's seats.
const hotRows = 10

// calibrateTable is the scratch table; its name says who made it, should a
// crashed run leave it behind.
const calibrateTable = "seatload_calibrate_seats"

// pgSchema has the columns and indexes of seatd's seats that a hold touches: the
// partial indexes on hold_token and hold_expires_at decide whether an UPDATE can
// be a HOT update, so leaving them out would flatter the floor.
var pgSchema = []string{
	`DROP TABLE IF EXISTS ` + calibrateTable,
	`CREATE TABLE ` + calibrateTable + ` (
		id              uuid PRIMARY KEY,
		status          text NOT NULL DEFAULT 'available' CHECK (status IN ('available', 'held', 'booked')),
		hold_token      uuid,
		holder          text,
		hold_expires_at timestamptz
	)`,
	`CREATE INDEX ` + calibrateTable + `_hold_token_idx ON ` + calibrateTable + ` (hold_token) WHERE hold_token IS NOT NULL`,
	`CREATE INDEX ` + calibrateTable + `_hold_expires_idx ON ` + calibrateTable + ` (hold_expires_at) WHERE status = 'held'`,
}

// pgHoldSQL is the bare conditional hold. It sets hold_expires_at to now, so a
// held row is holdable again at once and the rows never run out.
const pgHoldSQL = `UPDATE ` + calibrateTable + ` SET status = 'held', hold_token = $2, holder = $3, hold_expires_at = clock_timestamp()
WHERE id = ANY($1) AND (status = 'available' OR (status = 'held' AND hold_expires_at <= clock_timestamp()))`

// calibratePG measures the bare hold UPDATE on 4 random rows, then on 4 of 10
// hot rows, with a pool of cfg.workers connections.
func calibratePG(ctx context.Context, cfg calibrateConfig, bar func(string) func(*atomic.Int64) func()) (*pgCalibration, error) {
	pcfg, err := pgxpool.ParseConfig(cfg.pgURL)
	if err != nil {
		return nil, err
	}
	pcfg.MaxConns = int32(cfg.workers)
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, err
	}
	defer pool.Close()

	res := &pgCalibration{Rows: cfg.rows}
	if err := pool.QueryRow(ctx, "SHOW server_version").Scan(&res.ServerVersion); err != nil {
		return nil, err
	}
	for _, q := range pgSchema {
		if _, err := pool.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("create %s: %w", calibrateTable, err)
		}
	}
	defer func() {
		// Dropped even after an interrupt: a scratch table must not outlive the run.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		pool.Exec(dctx, "DROP TABLE IF EXISTS "+calibrateTable)
	}()
	if _, err := pool.Exec(ctx, `INSERT INTO `+calibrateTable+` (id) SELECT gen_random_uuid() FROM generate_series(1, $1)`, cfg.rows); err != nil {
		return nil, fmt.Errorf("fill %s: %w", calibrateTable, err)
	}
	if _, err := pool.Exec(ctx, "ANALYZE "+calibrateTable); err != nil {
		return nil, err
	}
	rows, err := pool.Query(ctx, "SELECT id::text FROM "+calibrateTable)
	if err != nil {
		return nil, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := warmPool(ctx, pool, cfg.workers); err != nil {
		return nil, err
	}

	hold := func(ids []string) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := pool.Exec(ctx, pgHoldSQL, pick(ids, 4), booking.NewID(), "calibrate")
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "40P01" {
				return fmt.Errorf("%w: %v", errDeadlock, err)
			}
			return err
		}
	}
	res.Random = measure(ctx, fmt.Sprintf("pg hold UPDATE, 4 random of %d rows", cfg.rows), cfg.workers, cfg.duration, bar("pg random"), hold(ids))
	res.Hot = measure(ctx, fmt.Sprintf("pg hold UPDATE, 4 random of %d hot rows", hotRows), cfg.workers, cfg.duration, bar("pg hot"), hold(ids[:hotRows]))
	if res.Store, err = calibrateStore(ctx, cfg, bar("pg store")); err != nil {
		return nil, fmt.Errorf("seatd's store: %w", err)
	}
	return res, nil
}

// warmPool opens all n connections first, so that the measurement does not
// include connection set-up.
func warmPool(ctx context.Context, pool *pgxpool.Pool, n int) error {
	conns := make([]*pgxpool.Conn, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { conns[i], errs[i] = pool.Acquire(ctx) })
	}
	wg.Wait()
	for _, c := range conns {
		if c != nil {
			c.Release()
		}
	}
	return errors.Join(errs...)
}

// sqliteHoldSQL is pgHoldSQL in SQLite's terms: times are Unix milliseconds from
// the database clock, as in seatd's SQLite store.
const sqliteHoldSQL = `UPDATE ` + calibrateTable + ` SET status = 'held', hold_token = ?, holder = ?,
	hold_expires_at = CAST(unixepoch('subsec') * 1000 AS INTEGER)
WHERE id IN (?, ?, ?, ?) AND (status = 'available'
	OR (status = 'held' AND hold_expires_at <= CAST(unixepoch('subsec') * 1000 AS INTEGER)))`

// sqliteSchema mirrors seatd's SQLite seats the same way pgSchema does.
var sqliteSchema = []string{
	`DROP TABLE IF EXISTS ` + calibrateTable,
	`CREATE TABLE ` + calibrateTable + ` (
		id              TEXT PRIMARY KEY,
		status          TEXT NOT NULL DEFAULT 'available' CHECK (status IN ('available', 'held', 'booked')),
		hold_token      TEXT,
		holder          TEXT,
		hold_expires_at INTEGER
	) STRICT`,
	`CREATE INDEX ` + calibrateTable + `_hold_token_idx ON ` + calibrateTable + ` (hold_token) WHERE hold_token IS NOT NULL`,
	`CREATE INDEX ` + calibrateTable + `_hold_expires_idx ON ` + calibrateTable + ` (hold_expires_at) WHERE status = 'held'`,
}

// calibrateSQLite measures the bare hold UPDATE on SQLite with seatd's writer
// settings: one connection, BEGIN IMMEDIATE, WAL, synchronous=FULL, each UPDATE
// in its own transaction, cfg.workers goroutines queueing for the connection as
// seatd's handlers do.
func calibrateSQLite(ctx context.Context, cfg calibrateConfig, bar func(*atomic.Int64) func()) (loopResult, error) {
	path := cfg.sqlitePath
	if path == "" {
		dir, err := os.MkdirTemp("", "seatload-calibrate-")
		if err != nil {
			return loopResult{}, err
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "calibrate.db")
	}
	params := url.Values{"_pragma": {"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)"}}
	db, err := sql.Open("sqlite", "file:"+path+"?"+params.Encode()+"&_txlock=immediate")
	if err != nil {
		return loopResult{}, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, q := range sqliteSchema {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return loopResult{}, fmt.Errorf("create %s in %s: %w", calibrateTable, path, err)
		}
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		db.ExecContext(dctx, "DROP TABLE IF EXISTS "+calibrateTable)
	}()
	ids := make([]string, cfg.rows)
	err = inSQLiteTx(ctx, db, func(tx *sql.Tx) error {
		for i := range ids {
			ids[i] = booking.NewID()
			if _, err := tx.ExecContext(ctx, "INSERT INTO "+calibrateTable+" (id) VALUES (?)", ids[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return loopResult{}, fmt.Errorf("fill %s: %w", calibrateTable, err)
	}

	what := fmt.Sprintf("sqlite hold UPDATE, 4 random of %d rows, 1 writer", cfg.rows)
	return measure(ctx, what, cfg.workers, cfg.duration, bar, func(ctx context.Context) error {
		return inSQLiteTx(ctx, db, func(tx *sql.Tx) error {
			seats := pick(ids, 4)
			_, err := tx.ExecContext(ctx, sqliteHoldSQL, booking.NewID(), "calibrate", seats[0], seats[1], seats[2], seats[3])
			return err
		})
	}), nil
}

// inSQLiteTx runs fn in a transaction, the way seatd's SQLite store does.
func inSQLiteTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}
