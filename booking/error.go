package booking

import (
	"errors"
	"fmt"
	"strings"
)

// The kinds of failure a caller can act on. Adapters translate driver errors into
// these; the HTTP layer maps each to one status code. Anything else is an internal
// error that clients see only as a generic failure.
var (
	// ErrInvalid: the request itself is wrong and retrying it unchanged cannot help.
	ErrInvalid = errors.New("invalid request")
	// ErrNotFound: a show, seat or hold named by the request does not exist.
	ErrNotFound = errors.New("not found")
	// ErrSeatUnavailable: some seats are held or booked by someone else, or are not
	// held by the caller when they must be.
	ErrSeatUnavailable = errors.New("seats unavailable")
	// ErrHoldExpired: the caller's hold on the seats lapsed before the request.
	ErrHoldExpired = errors.New("hold expired")
	// ErrLimitReached: the request would go past a configured limit, such as
	// the number of times a hold may be extended.
	ErrLimitReached = errors.New("limit reached")
	// ErrUnavailable: the database could not be reached, or refused the work
	// for a reason of its own (shutting down, out of connections). Nothing
	// the client did is wrong; retrying later can succeed. A change that
	// failed so may still have committed if its connection broke during
	// COMMIT: the retry's Idempotency-Key then finds its answer.
	ErrUnavailable = errors.New("database unavailable")
	// ErrOutcomeUnknown: the change may or may not have been made, because its
	// caller's deadline passed or the connection failed while it committed. It
	// comes with the cause (a deadline, ErrUnavailable); a retry of the same
	// Idempotency-Key finds out which.
	ErrOutcomeUnknown = errors.New("outcome unknown")
	// ErrPruned: the events asked for are older than the event log keeps.
	ErrPruned = errors.New("events no longer kept")
)

// Error is a failure the caller caused or can act on. Detail is written for the
// client and never contains internal information; SeatIDs names the seats it is
// about, when it is about seats, and Labels their labels ("D6"), where known.
type Error struct {
	Kind    error
	Detail  string
	SeatIDs []string
	Labels  []string
	// about begins Detail of an error about seats, which names them after it.
	about string
}

// Error returns the detail, which is fit for clients.
func (e *Error) Error() string { return e.Detail }

// Unwrap lets errors.Is match Kind.
func (e *Error) Unwrap() error { return e.Kind }

// Invalidf reports a request that can never succeed as written.
func Invalidf(format string, args ...any) error {
	return &Error{Kind: ErrInvalid, Detail: fmt.Sprintf(format, args...)}
}

// NotFoundf reports something the request named that does not exist.
func NotFoundf(format string, args ...any) error {
	return &Error{Kind: ErrNotFound, Detail: fmt.Sprintf(format, args...)}
}

// seatError is an error of kind about seatIDs.
func seatError(kind error, about string, seatIDs []string) *Error {
	e := &Error{Kind: kind, SeatIDs: seatIDs, about: about}
	e.Detail = e.describe()
	return e
}

// describe names the error's seats after its about: by label and id where
// the label is known, by id alone otherwise.
func (e *Error) describe() string {
	names := make([]string, len(e.SeatIDs))
	for i, id := range e.SeatIDs {
		names[i] = id
		if i < len(e.Labels) && e.Labels[i] != "" {
			names[i] = e.Labels[i] + " (" + id + ")"
		}
	}
	return e.about + strings.Join(names, ", ")
}

// withLabels returns err with its seats' labels, as labelOf gives them, if
// it is an error about seats.
func withLabels(err error, labelOf func(seatID string) string) error {
	e, ok := errors.AsType[*Error](err)
	if !ok || e.about == "" {
		return err
	}
	labelled := *e
	labelled.Labels = make([]string, len(e.SeatIDs))
	for i, id := range e.SeatIDs {
		labelled.Labels[i] = labelOf(id)
	}
	labelled.Detail = labelled.describe()
	return &labelled
}

// SeatsUnavailable reports the seats that stopped a hold, book or release.
func SeatsUnavailable(seatIDs []string) error {
	return seatError(ErrSeatUnavailable, "seats not available: ", seatIDs)
}

// HoldExpired reports seats whose hold by the caller lapsed.
func HoldExpired(seatIDs []string) error {
	return seatError(ErrHoldExpired, "hold expired for seats: ", seatIDs)
}

// UnknownSeats reports seat ids that name no seat.
func UnknownSeats(seatIDs []string) error {
	return seatError(ErrNotFound, "unknown seats: ", seatIDs)
}

// Unchanged returns the seats of asked that are not in changed, in asked's order:
// the seats an all-or-nothing transition names when it changed only some.
func Unchanged(asked, changed []string) []string {
	done := make(map[string]bool, len(changed))
	for _, id := range changed {
		done[id] = true
	}
	var out []string
	for _, id := range asked {
		if !done[id] {
			out = append(out, id)
		}
	}
	return out
}

// InOrder returns the ids of subset in the order they have in all, so that an
// error lists seats in the order the client asked for them.
func InOrder(all, subset []string) []string {
	in := make(map[string]bool, len(subset))
	for _, id := range subset {
		in[id] = true
	}
	var out []string
	for _, id := range all {
		if in[id] {
			out = append(out, id)
		}
	}
	return out
}
