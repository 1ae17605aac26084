// Package postgres stores shows, seats, holds and bookings in PostgreSQL through
// pgx. It is the production store: every seat transition locks its rows in
// seat-id order, so overlapping requests queue instead of deadlocking, judges
// them as locked by the database clock, and changes all of them or none.
package postgres

import (
	"context"
	"embed"
	"fmt"
	"runtime"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"seatmanager/booking"
	"seatmanager/internal/batch"
	"seatmanager/internal/migrate"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the PostgreSQL store. It is safe for concurrent use.
type Store struct {
	pool     *pgxpool.Pool
	batches  *batch.Queue[change, any]
	taken    *batch.Lookup[string, booking.Taken] // of seats held, booked or blocked
	analyzer analyzer
}

var _ booking.Store = (*Store)(nil)

// Open connects to the database at url (a postgres:// URL; pool settings such as
// pool_max_conns may be given in it; the pool defaults to 4 connections per
// core, and its sessions get plan_cache_mode=force_generic_plan unless the URL
// names plan_cache_mode) and brings its schema up to date.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		// A seat change keeps its connection for two round trips and the Go
		// between them, so pgxpool's default of one connection per core
		// (at least 4) leaves the database waiting: 4 per core gave 10-15 %
		// more steady throughput on 2 cores, 8 per core no more.
		cfg.MaxConns = int32(max(4, 4*runtime.GOMAXPROCS(0)))
	}
	if _, set := cfg.ConnConfig.RuntimeParams["plan_cache_mode"]; !set {
		// pgx prepares each statement once per connection and then runs it with
		// new parameters. PostgreSQL would plan every run anew (a custom plan for
		// those parameters), and for a seat change the planning cost more than
		// the running: the generic plan, made once, serves every statement here
		// as well (they find rows by key), and gave 35 % more steady throughput.
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	s := &Store{pool: pool}
	s.taken = batch.NewLookup(2, s.readTaken)
	if err := s.migrate(ctx); err != nil {
		s.taken.Close()
		pool.Close()
		return nil, err
	}
	s.startAnalyzer()
	// A batch writer per core, at most half the connections; the others
	// serve reads and the group commits of refusals. Writing a batch is CPU
	// on both sides (pgx encodes it, a backend plans and runs it), so more
	// writers than cores only split the changes into smaller batches, each
	// with its round trips, statements and commit: with 4 writers on 2 cores
	// a steady run's transactions held some 3 changes each, and 2 writers made
	// 5-42 % more changes a second in four runs, in turn (docs/BENCHMARKS.md).
	s.startBatches(max(1, min(runtime.GOMAXPROCS(0), int(cfg.MaxConns)/2)))
	return s, nil
}

// Close lets the batches being written finish, answers the changes still
// queued with an error, and closes every connection. It returns an error only
// to match the other stores; closing a pool cannot fail.
func (s *Store) Close() error {
	s.stopBatches()
	s.taken.Close()
	s.stopAnalyzer()
	s.pool.Close()
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// migrateLockID is the advisory lock that makes instances starting together apply
// migrations one at a time.
const migrateLockID = 0x5ea7_0001

func (s *Store) migrate(ctx context.Context) error {
	files, err := migrate.Files(migrations, "migrations")
	if err != nil {
		return err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrateLockID); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrateLockID)

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY,
		name text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var current int
	if err := conn.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, f := range files {
		if f.Version <= current {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, f.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", f.Version, f.Name)
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", f.Name, err)
		}
	}
	return nil
}
