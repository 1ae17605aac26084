package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestShowsCreate: `seatd shows create` makes shows from layout files into
// the database seatd then serves; a bad file stops it before the database is
// touched.
func TestShowsCreate(t *testing.T) {
	dir := t.TempDir()
	dbURL := filepath.Join(dir, "seatd.db")
	good := filepath.Join(dir, "hall.json")
	layout := `{"movieTitle": "Sunrise", "startsAt": "` + time.Now().Add(72*time.Hour).UTC().Format(time.RFC3339) + `",
		"auditorium": "Hall 4", "rows": [{"label": "A", "seats": 8, "aisleAfter": [4]}, {"label": "B", "seats": 8, "accessible": [1, 8]}]}`
	if err := os.WriteFile(good, []byte(layout), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"movieTitle": "X", "auditorium": "Y", "startsAt": "2020-01-01T00:00:00Z", "rows": [{"label": "A", "seats": 1}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := environ(map[string]string{"SEATD_DATABASE_URL": dbURL, "SEATD_DEMO": "false"})

	err := run(t.Context(), []string{"shows", "create", good, bad}, env, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "bad.json") || !strings.Contains(err.Error(), "in the past") {
		t.Fatalf("a bad layout among good ones: got %v, want an error naming bad.json's start in the past", err)
	}
	if _, err := os.Stat(dbURL); !os.IsNotExist(err) {
		t.Fatalf("after a bad layout the database exists (%v), want nothing created", err)
	}
	var out bytes.Buffer
	if err := run(t.Context(), []string{"shows", "create", good}, env, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "16 seats\tSunrise") {
		t.Errorf("got %q, want the show's id, 16 seats and its title", out.String())
	}
	s := startSeatd(t, map[string]string{"SEATD_DATABASE_URL": dbURL, "SEATD_DEMO": "false"})
	c := newClient(t, s.url)
	show, m := c.firstShow(t)
	if show.MovieTitle != "Sunrise" || len(m.Seats) != 16 {
		t.Errorf("seatd serves %q with %d seats, want Sunrise with 16", show.MovieTitle, len(m.Seats))
	}
	if err := run(t.Context(), []string{"shows", "delete"}, env, &out, &bytes.Buffer{}); err == nil {
		t.Error("an unknown command: got nil error")
	}
}
