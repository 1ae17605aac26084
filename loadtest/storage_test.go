//go:build bench

package loadtest

import (
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// storage is the bytes of seatd's tables (indexes and TOAST included) and of
// Redis's memory.
type storage struct {
	tables map[string]float64
	redis  float64
}

// storedTables are the tables seat changes and their answers grow.
var storedTables = []string{"receipts", "seat_events", "holds", "bookings", "seats"}

func measureStorage(t *testing.T, url, redisAddr string) storage {
	st := storage{tables: map[string]float64{}}
	if url == "" {
		return st
	}
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	for _, table := range storedTables {
		var n int64
		if err := conn.QueryRow(t.Context(), "SELECT pg_total_relation_size($1::regclass)", table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		st.tables[table] = float64(n)
	}
	if redisAddr != "" {
		host, port, _ := strings.Cut(redisAddr, ":")
		out, err := exec.Command("redis-cli", "-h", host, "-p", port, "INFO", "memory").Output()
		if err != nil {
			t.Fatalf("redis-cli INFO memory: %v", err)
		}
		if m := regexp.MustCompile(`used_memory:(\d+)`).FindSubmatch(out); m != nil {
			fmt.Sscan(string(m[1]), &st.redis)
		}
	}
	return st
}

func (s storage) minus(o storage) storage {
	d := storage{tables: map[string]float64{}, redis: s.redis - o.redis}
	for k, v := range s.tables {
		d.tables[k] = v - o.tables[k]
	}
	return d
}

func (s storage) per(n int) storage {
	d := storage{tables: map[string]float64{}, redis: s.redis / float64(n)}
	for k, v := range s.tables {
		d.tables[k] = v / float64(n)
	}
	return d
}

// xactCount is database transactions per request: all of them, and those
// that wrote (that were given a transaction id).
type xactCount struct{ all, writes float64 }

// xactTotals is the database's transactions so far (see xacts).
type xactTotals struct{ all, writes int64 }

// xacts counts the database's committed and rolled-back transactions so far,
// and the transaction ids handed out, one to each transaction that writes (the
// server's counter, which only seatd advances during a run: the durable
// server holds no other database that is written meanwhile).
func xacts(t *testing.T, url string) xactTotals {
	var n xactTotals
	if url == "" {
		return n
	}
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	// Each backend flushes its statistics when it goes idle, but at most once
	// a second, and otherwise within 10 s (PostgreSQL 15's idle interval): a
	// shorter wait counted some of the storm's transactions and missed others.
	time.Sleep(11 * time.Second)
	conn.Exec(t.Context(), "SELECT pg_stat_clear_snapshot()")
	if err := conn.QueryRow(t.Context(), `SELECT xact_commit + xact_rollback, pg_snapshot_xmax(pg_current_snapshot())::text::bigint
		FROM pg_stat_database WHERE datname = current_database()`).Scan(&n.all, &n.writes); err != nil {
		t.Fatal(err)
	}
	return n
}
