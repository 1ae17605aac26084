package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Table statistics. The store's sessions plan each statement once
// (force_generic_plan, see Open) with the statistics of that moment, and keep
// the plan until an ANALYZE of a table it reads changes them. A plan made
// while a table was nearly empty reads all of it, which then costs more with
// every row the table gains, until autovacuum analyzes it: once a minute at
// most (autovacuum_naptime), and a young table outgrows its statistics far
// faster. Without this, a steady run's first 15 s on a fresh database grew
// receipts from nothing to 40 000 rows; the answers of each batch's receipts,
// planned as a hash join over the whole table, took 4 ms instead of 0.2, and
// such a first run made 11 % fewer changes a second on average than with this
// (docs/BENCHMARKS.md, fifth pass). So the store analyzes:
//   - shows and seats analyzeDelay after shows are created, which arrive a
//     whole show at a time (a plan made with a few shows read the seats of
//     thousands for every seat change);
//   - every table of its schema that holds more than twice the rows of its
//     statistics, and growthSlack more, checked every growthCheck: a table
//     is analyzed each time it doubles while young, and autovacuum's tenth
//     takes over once it is grown.
//
// ANALYZE also makes every session plan its statements again. All of it is
// best effort: autovacuum analyzes too, only later.
const (
	analyzeDelay = 500 * time.Millisecond // long enough for a burst of creations to share one ANALYZE
	growthCheck  = 2 * time.Second
	growthSlack  = 1000
)

// grownTablesSQL names, quoted, the tables of the store's schema that have
// outgrown their statistics (never analyzed: reltuples -1).
const grownTablesSQL = `
SELECT format('%I', t.relname)
FROM pg_stat_user_tables AS t JOIN pg_class AS c ON c.oid = t.relid
WHERE t.schemaname = current_schema() AND t.n_live_tup > 2 * greatest(c.reltuples, 0) + $1`

// analyzer runs the store's ANALYZEs in one goroutine, which Close ends and
// waits for.
type analyzer struct {
	created chan struct{} // buffered: shows were created since the last ANALYZE of them
	stop    context.CancelFunc
	done    chan struct{}
}

func (s *Store) startAnalyzer() {
	ctx, cancel := context.WithCancel(context.Background())
	s.analyzer = analyzer{created: make(chan struct{}, 1), stop: cancel, done: make(chan struct{})}
	go s.analyze(ctx)
}

// stopAnalyzer cancels a waiting or running ANALYZE and waits for it.
func (s *Store) stopAnalyzer() {
	s.analyzer.stop()
	<-s.analyzer.done
}

// showsCreated has shows and seats analyzed shortly.
func (s *Store) showsCreated() {
	select {
	case s.analyzer.created <- struct{}{}:
	default: // one is due already
	}
}

func (s *Store) analyze(ctx context.Context) {
	defer close(s.analyzer.done)
	check := time.NewTicker(growthCheck)
	defer check.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.analyzer.created:
			select {
			case <-time.After(analyzeDelay):
			case <-ctx.Done():
				return
			}
			// The creations of the delay share this ANALYZE.
			select {
			case <-s.analyzer.created:
			default:
			}
			s.analyzeTables(ctx, "shows, seats")
		case <-check.C:
			rows, _ := s.pool.Query(ctx, grownTablesSQL, growthSlack)
			grown, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				continue
			}
			for _, table := range grown {
				s.analyzeTables(ctx, table)
			}
		}
	}
}

// analyzeTables runs ANALYZE on tables, a list of quoted names.
func (s *Store) analyzeTables(ctx context.Context, tables string) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	s.pool.Exec(ctx, "ANALYZE "+tables)
}
