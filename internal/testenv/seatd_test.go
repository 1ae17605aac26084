package testenv

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStartSeatd(t *testing.T) {
	// t.Setenv: not parallel. A SEATD_ variable of the caller's must not
	// reach seatd.
	t.Setenv("SEATD_DEMO_SHOWS", "1")
	db := filepath.Join(t.TempDir(), "seatd.db")
	s := StartSeatd(t, map[string]string{"SEATD_DATABASE_URL": db, "SEATD_DEMO_SHOWS": "2"})

	resp, err := http.Get(s.URL + "/api/seats/shows")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var shows []struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&shows); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/seats/shows: %s, %v", resp.Status, err)
	}
	if len(shows) != 2 {
		t.Errorf("got %d shows, want the 2 of SEATD_DEMO_SHOWS", len(shows))
	}

	environ, err := os.ReadFile("/proc/" + strconv.Itoa(s.Pid) + "/environ")
	if err != nil {
		t.Fatalf("seatd's environment: %v", err)
	}
	var got []string
	for kv := range bytes.SplitSeq(environ, []byte{0}) {
		if bytes.HasPrefix(kv, []byte("SEATD_")) {
			got = append(got, string(kv))
		}
	}
	slices.Sort(got)
	want := []string{"SEATD_ADDR=127.0.0.1:0", "SEATD_DATABASE_URL=" + db, "SEATD_DEMO_SHOWS=2"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("seatd's SEATD_ variables (-want +got):\n%s", diff)
	}

	s.Stop(t)
	if _, err := http.Get(s.URL + "/healthz"); err == nil {
		t.Errorf("%s answers after Stop", s.URL)
	}
	if log := s.Log(); !strings.Contains(log, "seatd shutting down") {
		t.Errorf("log after Stop:\n%s\nwant it to say seatd is shutting down", log)
	}
}
