package main

import (
	"fmt"
	"slices"
	"testing"
)

// demoMaps returns n seat maps of seats seats each; every third seat is booked.
func demoMaps(n, seats int) []seatMap {
	maps := make([]seatMap, n)
	for i := range maps {
		maps[i].ShowID = fmt.Sprintf("show%d", i)
		for j := range seats {
			st := statusAvailable
			if j%3 == 0 {
				st = statusBooked
			}
			maps[i].Seats = append(maps[i].Seats, seat{ID: fmt.Sprintf("show%d-seat%d", i, j), Status: st})
		}
	}
	return maps
}

func TestPartition(t *testing.T) {
	tests := []struct {
		name                  string
		shows, seats, workers int
		wantShowsPerWorker    int  // 0: several workers share a show
		storm                 bool // the first 10 seats of show 0 booked, all else free
	}{
		{"more shows than workers", 8, 12, 4, 2, false},
		{"as many shows as workers", 4, 12, 4, 1, false},
		{"fewer shows than workers", 4, 120, 64, 0, false},
		{"one show, more workers than seats", 1, 5, 8, 0, false},
		{"a stadium (steady -show), 256 workers", 1, 60_000, 256, 0, false},
		{"the first seats booked, as after a storm", 4, 120, 64, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			maps := demoMaps(tt.shows, tt.seats)
			if tt.storm {
				for i, m := range maps {
					for j := range m.Seats {
						m.Seats[j].Status = statusAvailable
						if i == 0 && j < 10 {
							m.Seats[j].Status = statusBooked
						}
					}
				}
			}
			parts := partition(maps, tt.workers)
			if len(parts) != tt.workers {
				t.Fatalf("got %d parts, want %d", len(parts), tt.workers)
			}
			owner := map[string]int{}
			for w, groups := range parts {
				for _, g := range groups {
					for _, s := range g.seats {
						if prev, ok := owner[s]; ok {
							t.Errorf("seat %s belongs to workers %d and %d", s, prev, w)
						}
						owner[s] = w
					}
					for _, s := range g.free {
						if !slices.Contains(g.seats, s) {
							t.Errorf("free seat %s is not one of its group's seats", s)
						}
					}
				}
				if tt.wantShowsPerWorker > 0 && len(groups) != tt.wantShowsPerWorker {
					t.Errorf("worker %d has %d groups, want %d whole shows", w, len(groups), tt.wantShowsPerWorker)
				}
			}
			if tt.seats >= 3*tt.workers/tt.shows {
				// Enough free seats for everyone: every worker must get some.
				for w, groups := range parts {
					free := 0
					for _, g := range groups {
						free += len(g.free)
					}
					if free == 0 {
						t.Errorf("worker %d has no free seat", w)
					}
				}
			}
			if len(owner) != tt.shows*tt.seats {
				t.Errorf("%d seats have a worker, want all %d", len(owner), tt.shows*tt.seats)
			}
			for _, m := range maps {
				for _, s := range m.Seats {
					free := false
					for _, g := range parts[owner[s.ID]] {
						free = free || slices.Contains(g.free, s.ID)
					}
					if free != (s.Status == statusAvailable) {
						t.Errorf("seat %s (%s): free = %v", s.ID, s.Status, free)
					}
				}
			}
		})
	}
}

func TestGroupTake(t *testing.T) {
	g := &group{free: []string{"a", "b", "c", "d", "e"}}
	got := g.take(3)
	if len(got) != 3 || len(g.free) != 2 {
		t.Fatalf("take(3) = %v leaving %v, want 3 seats taken and 2 left", got, g.free)
	}
	all := append(slices.Clone(got), g.free...)
	slices.Sort(all)
	if !slices.Equal(all, []string{"a", "b", "c", "d", "e"}) {
		t.Errorf("taken %v + left %v, want the 5 seats once each", got, g.free)
	}
}
