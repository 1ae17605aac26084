package postgres_test

import (
	"testing"

	"seatmanager/internal/testenv"
	"seatmanager/postgres"
	"seatmanager/storetest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// MustOpen opens a store on a new database of the test PostgreSQL server.
func MustOpen(tb testing.TB) *postgres.Store {
	tb.Helper()
	s, err := postgres.Open(tb.Context(), testenv.PostgresURL(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store { return MustOpen(t) })
}

func TestMigrationsRunOnce(t *testing.T) {
	url := testenv.PostgresURL(t)
	for range 2 {
		s, err := postgres.Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
}
