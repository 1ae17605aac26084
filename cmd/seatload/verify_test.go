package main

import (
	"fmt"
	"strings"
	"testing"
)

func TestLedgerCheck(t *testing.T) {
	// A show of six seats: s1–s4 played with, s5 booked before the run, s6 never touched.
	seats := func(status map[string]string) map[string]seat {
		out := map[string]seat{}
		for _, id := range []string{"s1", "s2", "s3", "s4", "s5", "s6"} {
			st := status[id]
			if st == "" {
				st = statusAvailable
			}
			out[id] = seat{ID: id, Label: "A-" + id[1:], Status: st}
		}
		return out
	}
	base := func() ledger {
		return ledger{
			scope:  []string{"s1", "s2", "s3", "s4", "s5", "s6"},
			before: map[string]string{"s5": statusBooked},
			sales:  []sale{{"alice", []string{"s1", "s2"}}, {"bob", []string{"s3"}}},
			free:   []string{"s4", "s6"},
		}
	}
	good := map[string]string{"s1": statusBooked, "s2": statusBooked, "s3": statusBooked, "s5": statusBooked}

	tests := []struct {
		name  string
		edit  func(*ledger)
		after map[string]string
		want  []string // substrings of the problems, in order; none means OK
	}{
		{"all as told", nil, good, nil},
		{"double sale", func(l *ledger) {
			l.sales = append(l.sales, sale{"carol", []string{"s2"}}, sale{"dave", []string{"s2", "s3"}})
		}, good, []string{
			"seat A-2 (s2) sold 3 times: alice, carol, dave were all told they booked it",
			"seat A-3 (s3) sold 2 times: bob, dave were all told they booked it",
		}},
		{"missing booking", nil, map[string]string{"s1": statusBooked, "s2": statusHeld, "s3": statusBooked, "s5": statusBooked},
			[]string{"seat A-2 (s2): alice was told it booked it, but the seat map says held"}},
		{"unannounced booking", nil, map[string]string{"s1": statusBooked, "s2": statusBooked, "s3": statusBooked, "s4": statusBooked, "s5": statusBooked},
			[]string{"seat A-4 (s4) is booked, but no buyer was told it booked it", "seat A-4 (s4) should be available"}},
		{"unannounced booking of an unknown outcome is not reported", func(l *ledger) {
			l.unknown = map[string]bool{"s4": true}
		}, map[string]string{"s1": statusBooked, "s2": statusBooked, "s3": statusBooked, "s4": statusBooked, "s5": statusBooked}, nil},
		{"booking lost", nil, map[string]string{"s1": statusBooked, "s2": statusBooked, "s3": statusBooked},
			[]string{"seat A-5 (s5) was booked before the run, but the seat map now says available"}},
		{"released seat still held", nil, map[string]string{"s1": statusBooked, "s2": statusBooked, "s3": statusBooked, "s5": statusBooked, "s6": statusHeld},
			[]string{"seat A-6 (s6) should be available (never sold, or released by the run), but the seat map says held"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := base()
			if tt.edit != nil {
				tt.edit(&l)
			}
			v := l.check(seats(tt.after))
			if v.OK != (len(tt.want) == 0) || v.ProblemCount != len(tt.want) || len(v.Problems) != len(tt.want) {
				t.Fatalf("check = ok %v with %d problems %q, want %d problems %q", v.OK, v.ProblemCount, v.Problems, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(v.Problems[i], w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, v.Problems[i], w)
				}
			}
			if v.SeatsChecked != 6 {
				t.Errorf("seats checked = %d, want 6", v.SeatsChecked)
			}
		})
	}

	t.Run("seat missing from the seat map", func(t *testing.T) {
		after := seats(good)
		delete(after, "s3")
		v := base().check(after)
		if v.ProblemCount != 2 || !strings.Contains(v.Problems[0], "bob was told it booked it, but no seat map has the seat") ||
			!strings.Contains(v.Problems[1], "seat s3 is missing") {
			t.Errorf("problems = %q, want bob's sale and the missing seat", v.Problems)
		}
	})
	t.Run("problems are capped, not the count", func(t *testing.T) {
		l := ledger{}
		after := map[string]seat{}
		for i := range maxProblems + 5 {
			id := fmt.Sprintf("x%d", i)
			l.scope = append(l.scope, id)
			after[id] = seat{ID: id, Status: statusBooked}
		}
		v := l.check(after)
		if v.ProblemCount != maxProblems+5 || len(v.Problems) != maxProblems {
			t.Errorf("got %d problems listing %d, want %d listing %d", v.ProblemCount, len(v.Problems), maxProblems+5, maxProblems)
		}
	})
}

func TestCheckSeatMap(t *testing.T) {
	sh := show{ID: "show1", SeatsTotal: 2}
	tests := []struct {
		name string
		m    seatMap
		want string // a substring of the only problem; "" for none
	}{
		{"well-formed", seatMap{ShowID: "show1", Seats: []seat{{ID: "a", Status: "available"}, {ID: "b", Status: "booked"}}}, ""},
		{"other show", seatMap{ShowID: "show2", Seats: []seat{{ID: "a", Status: "available"}, {ID: "b", Status: "held"}}}, `says it is show "show2"`},
		{"seat twice", seatMap{ShowID: "show1", Seats: []seat{{ID: "a", Status: "available"}, {ID: "a", Status: "held"}}}, "lists seat a twice"},
		{"unknown status", seatMap{ShowID: "show1", Seats: []seat{{ID: "a", Status: "available"}, {ID: "b", Status: "sold"}}}, `status "sold"`},
		{"seat missing", seatMap{ShowID: "show1", Seats: []seat{{ID: "a", Status: "available"}}}, "has 1 seats, the show list says 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := checkSeatMap(tt.m, sh)
			switch {
			case tt.want == "" && len(got) != 0:
				t.Errorf("problems = %q, want none", got)
			case tt.want != "" && (len(got) != 1 || !strings.Contains(got[0], tt.want)):
				t.Errorf("problems = %q, want one containing %q", got, tt.want)
			}
		})
	}
}
