package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// sale is a booking a buyer was told of: a 200 answer from book-bulk.
type sale struct {
	Buyer string
	Seats []string
}

// ledger is what a run knows about the seats it played with. After the run it is
// held against the seat maps: the API must agree with every answer it gave.
type ledger struct {
	// scope is every seat the run may have changed; nobody else may change them
	// while it runs.
	scope []string
	// before is the status of the scope's seats at the start; a seat not in it
	// was available.
	before map[string]string
	// sales are the bookings buyers were told of.
	sales []sale
	// unknown are seats of requests whose outcome is unknown (no answer, or a
	// 5xx): they may be held or booked without anyone having been told. The run
	// fails for those requests anyway; the checks only avoid reporting them twice.
	unknown map[string]bool
	// free are seats the run believes available at the end (never sold, or
	// released): they must not be held or booked.
	free []string
}

// maxProblems caps the problems listed: one bug usually breaks many seats alike.
const maxProblems = 20

// verification is the outcome of holding a ledger against the seat maps.
type verification struct {
	OK              bool     `json:"ok"`
	SeatsChecked    int      `json:"seatsChecked"`
	SeatMapsChecked int      `json:"seatMapsChecked,omitempty"`
	UnknownSeats    int      `json:"unknownSeats,omitempty"`
	ProblemCount    int      `json:"problemCount"`
	Problems        []string `json:"problems,omitempty"`
	// Skipped says why verification did not run (the run was interrupted); a
	// skipped verification is a failed one.
	Skipped string `json:"skipped,omitempty"`
	// okText, if set, says in the table what an ok verification checked,
	// for a command whose checks are not a ledger's.
	okText string
}

func (v *verification) problem(format string, args ...any) {
	v.ProblemCount++
	if len(v.Problems) < maxProblems {
		v.Problems = append(v.Problems, fmt.Sprintf(format, args...))
	}
}

// check holds the ledger against after, the seat maps read once the run was over
// (seat id → seat). It finds seats sold twice, sales the seat map does not show,
// bookings nobody was told of, and seats that changed behind the run's back.
func (l ledger) check(after map[string]seat) verification {
	v := verification{SeatsChecked: len(l.scope), UnknownSeats: len(l.unknown)}
	name := func(id string) string {
		if s, ok := after[id]; ok && s.Label != "" {
			return s.Label + " (" + id + ")"
		}
		return id
	}

	// Every buyer told of each seat, in the order of the sales.
	told := map[string][]string{}
	var sold []string
	for _, s := range l.sales {
		for _, id := range s.Seats {
			if told[id] == nil {
				sold = append(sold, id)
			}
			told[id] = append(told[id], s.Buyer)
		}
	}
	buyers := make(map[string]string, len(told))
	for _, id := range sold {
		buyers[id] = told[id][0]
		if n := len(told[id]); n > 1 {
			names := strings.Join(told[id][:min(n, 5)], ", ")
			if n > 5 {
				names += fmt.Sprintf(" and %d more", n-5)
			}
			v.problem("seat %s sold %d times: %s were all told they booked it", name(id), n, names)
		}
	}
	for _, id := range sold {
		switch s, ok := after[id]; {
		case !ok:
			v.problem("seat %s: %s was told it booked it, but no seat map has the seat", id, buyers[id])
		case s.Status != statusBooked:
			v.problem("seat %s: %s was told it booked it, but the seat map says %s", name(id), buyers[id], s.Status)
		}
	}

	for _, id := range l.scope {
		s, ok := after[id]
		if !ok {
			v.problem("seat %s is missing from its show's seat map", id)
			continue
		}
		was := l.before[id]
		if was == "" {
			was = statusAvailable
		}
		switch {
		case was == statusBooked && s.Status != statusBooked:
			v.problem("seat %s was booked before the run, but the seat map now says %s", name(id), s.Status)
		case s.Status == statusBooked && was != statusBooked && buyers[id] == "" && !l.unknown[id]:
			v.problem("seat %s is booked, but no buyer was told it booked it", name(id))
		}
	}

	for _, id := range l.free {
		if s, ok := after[id]; ok && s.Status != statusAvailable && !l.unknown[id] && buyers[id] == "" {
			v.problem("seat %s should be available (never sold, or released by the run), but the seat map says %s", name(id), s.Status)
		}
	}
	v.OK = v.ProblemCount == 0
	return v
}

// addUnknown adds seats of a request whose outcome is unknown.
func (l *ledger) addUnknown(seats []string) {
	if len(seats) > 0 && l.unknown == nil {
		l.unknown = map[string]bool{}
	}
	for _, s := range seats {
		l.unknown[s] = true
	}
}

// writeText prints the verification's verdict.
func (v verification) writeText(w io.Writer) {
	switch {
	case v.Skipped != "":
		fmt.Fprintf(w, "verification: SKIPPED (%s)\n", v.Skipped)
		return
	case v.OK && v.okText != "":
		fmt.Fprintf(w, "verification: ok (%s)\n", v.okText)
	case v.OK && v.SeatMapsChecked > 0:
		fmt.Fprintf(w, "verification: ok (%d seat maps well-formed)\n", v.SeatMapsChecked)
	case v.OK:
		fmt.Fprintf(w, "verification: ok (%d seats checked against the seat maps: none sold twice, every sale booked, no booking unannounced)\n", v.SeatsChecked)
	default:
		fmt.Fprintf(w, "verification: FAILED, %s:\n", plural(v.ProblemCount, "problem", "problems"))
		for _, p := range v.Problems {
			fmt.Fprintln(w, "  ", p)
		}
		if v.ProblemCount > len(v.Problems) {
			fmt.Fprintf(w, "   … and %d more\n", v.ProblemCount-len(v.Problems))
		}
	}
	if v.UnknownSeats > 0 {
		fmt.Fprintf(w, "   %d seats were touched by requests of unknown outcome (see ERRORS)\n", v.UnknownSeats)
	}
}

// seatsByID indexes seat maps by seat id (UUIDs, unique across shows).
func seatsByID(maps []seatMap) map[string]seat {
	out := map[string]seat{}
	for _, m := range maps {
		for _, s := range m.Seats {
			out[s.ID] = s
		}
	}
	return out
}

// checkSeatMap reports what is wrong with a seat map read during a run: seatd
// must always answer with the show asked for, every seat once, in a known status.
func checkSeatMap(m seatMap, want show) []string {
	var problems []string
	if m.ShowID != want.ID {
		problems = append(problems, fmt.Sprintf("seat map of show %s says it is show %q", want.ID, m.ShowID))
	}
	if want.SeatsTotal > 0 && len(m.Seats) != want.SeatsTotal {
		problems = append(problems, fmt.Sprintf("seat map of show %s has %d seats, the show list says %d", want.ID, len(m.Seats), want.SeatsTotal))
	}
	seen := make(map[string]bool, len(m.Seats))
	for _, s := range m.Seats {
		if seen[s.ID] {
			problems = append(problems, fmt.Sprintf("seat map of show %s lists seat %s twice", want.ID, s.ID))
		}
		seen[s.ID] = true
		if !slices.Contains([]string{statusAvailable, statusHeld, statusBooked}, s.Status) {
			problems = append(problems, fmt.Sprintf("seat map of show %s: seat %s has status %q", want.ID, s.ID, s.Status))
		}
	}
	return problems
}
