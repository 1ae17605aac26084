package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestPlansUseIndexes reads SQLite's plans for the queries that run often on
// big tables: each must search an index, never scan the table or sort in a
// temporary b-tree. A sweep that scanned every seat once a second held the
// write lock for 130 ms with 400 shows.
func TestPlansUseIndexes(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "seatd.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range []struct {
		name, query, want string
		args              []any
	}{
		{"sweep", sweepSQL, "USING INDEX seats_hold_expires_idx", []any{0, 100}},
		{"events", eventsSQL, "(show_id=? AND seq>?)", []any{"show", 0, 100}},
		// A seat change reads its seats by id, however big their show.
		{"hold", holdSQL, "(id=?)", []any{"t", "u", 0, `["a"]`, "show", 0}},
		{"book", bookSQL, "(id=?)", []any{"b", `["a"]`, "show", "u", 0, "", ""}},
		{"release", releaseSQL, "(id=?)", []any{`["a"]`, "show", "u", "", ""}},
		{"seat rows", seatRowsSQL, "(id=?)", []any{0, `["a"]`, "show"}},
		{"held", heldSQL, "(id=?)", []any{0, `["a"]`, "u", "", ""}},
		// The cap counts a user's held seats, not every hold the user made.
		{"held by user", heldByUserSQL, "USING INDEX seats_holder_idx (holder=? AND show_id=?)", []any{0, "u", "show"}},
	} {
		rows, err := s.read.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+c.query, c.args...)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		all := strings.Join(plan, "; ")
		if !strings.HasPrefix(all, "SEARCH") || !strings.Contains(all, c.want) || strings.Contains(all, "TEMP B-TREE") {
			t.Errorf("%s: plan %q; want a SEARCH %s and no temporary b-tree", c.name, all, c.want)
		}
	}
}
