package k6

import (
	"path/filepath"
	"testing"

	"seatmanager/internal/testenv"
)

// TestMain lets testenv remove the seatd binary it builds once the tests
// have run.
func TestMain(m *testing.M) { testenv.Main(m) }

// startSeatd runs the real seatd on the embedded default (a SQLite file in
// a temp dir, the in-process gate, its default limits and demo shows) on a
// free loopback port, as a user would; it returns seatd's URL and stops
// seatd at the end of the test.
func startSeatd(tb testing.TB) string {
	tb.Helper()
	return testenv.StartSeatd(tb, map[string]string{
		"SEATD_DATABASE_URL": filepath.Join(tb.TempDir(), "seatd.db"),
	}).URL
}
