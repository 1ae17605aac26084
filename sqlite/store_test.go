package sqlite_test

import (
	"path/filepath"
	"testing"

	"seatmanager/sqlite"
	"seatmanager/storetest"
)

// MustOpen opens a store on a new database file that is removed after the test.
func MustOpen(tb testing.TB) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(tb.Context(), filepath.Join(tb.TempDir(), "seatd.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store { return MustOpen(t) })
}

func TestOpenRejects(t *testing.T) {
	for _, path := range []string{":memory:", "", "file:x.db?mode=memory", "x.db#frag"} {
		if _, err := sqlite.Open(t.Context(), path); err == nil {
			t.Errorf("Open(%q): got nil error, want one", path)
		}
	}
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seatd.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	show := storetest.NewShowSpec(2, 2)
	if _, err := s.CreateShow(t.Context(), show); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = sqlite.Open(t.Context(), "sqlite:"+path) // migrations are not applied twice
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m, err := s.SeatMap(t.Context(), show.ID)
	if err != nil || len(m.Seats) != 4 {
		t.Errorf("after reopening: got %d seats, %v; want 4", len(m.Seats), err)
	}
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) storetest.Store { return MustOpen(b) })
}
