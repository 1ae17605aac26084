package httpapi

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"

	"seatmanager/auth"
	"seatmanager/booking"
	"seatmanager/idempotency"
	"seatmanager/live"
)

// problemType is one kind of error the API answers with. Its slug makes the stable
// type URI /problems/{slug}, which serves the description.
type problemType struct {
	slug   string
	status int
	title  string
	about  string
}

var (
	problemInvalidRequest = problemType{"invalid-request", http.StatusBadRequest, "Invalid request",
		"The request is well-formed JSON but asks for something that can never succeed as written: a missing or malformed field, too many seats, a seat named twice, seats of two shows."}
	problemInvalidJSON = problemType{"invalid-json", http.StatusBadRequest, "Invalid JSON body",
		"The body is not a JSON object of the expected shape: a syntax error, a value of the wrong type, an unknown field, or data after the object."}
	problemNotFound = problemType{"not-found", http.StatusNotFound, "Not found",
		"The show, seats or route named do not exist. unknownSeatIds lists seat ids that name no seat."}
	problemMethodNotAllowed = problemType{"method-not-allowed", http.StatusMethodNotAllowed, "Method not allowed",
		"The route exists but not with this method; the Allow header lists those it takes."}
	problemSeatsUnavailable = problemType{"seats-unavailable", http.StatusConflict, "Seats unavailable",
		"Some seats are held or booked by someone else, or are not held by the caller where they must be. conflictingSeatIds lists them; nothing was changed."}
	problemHoldExpired = problemType{"hold-expired", http.StatusGone, "Hold expired",
		"The caller's hold on the seats lapsed before the request. expiredSeatIds lists them; nothing was changed. Hold them again if they are still free."}
	problemLimitReached = problemType{"limit-reached", http.StatusConflict, "Limit reached",
		"The request would go past a limit, such as the number of times a hold may be extended. Nothing was changed."}
	problemBodyTooLarge = problemType{"body-too-large", http.StatusRequestEntityTooLarge, "Body too large",
		"The request body exceeds the size limit."}
	problemUnsupportedMediaType = problemType{"unsupported-media-type", http.StatusUnsupportedMediaType, "Unsupported media type",
		"The body must be JSON: send Content-Type: application/json, or none."}
	problemNotReady = problemType{"not-ready", http.StatusServiceUnavailable, "Not ready",
		"The server cannot reach its database."}
	problemKeyMissing = problemType{"idempotency-key-missing", http.StatusBadRequest, "Idempotency-Key missing",
		"Every request that changes state needs an Idempotency-Key header: a fresh value (such as a UUID) per intended action, sent again unchanged on every retry of it."}
	problemKeyInvalid = problemType{"idempotency-key-invalid", http.StatusBadRequest, "Idempotency-Key invalid",
		"The Idempotency-Key header must be one value of 1 to 255 visible ASCII characters, bare or as a quoted string."}
	problemKeyInUse = problemType{"idempotency-key-in-use", http.StatusConflict, "Idempotency-Key in use",
		"A request with this Idempotency-Key is still being processed. Retry after the Retry-After seconds to get its answer."}
	problemKeyReused = problemType{"idempotency-key-reused", http.StatusUnprocessableEntity, "Idempotency-Key reused",
		"This Idempotency-Key was already used for a different request (another route, caller or body). Use a new key for a new action."}
	problemNotRecorded = problemType{"not-recorded", http.StatusServiceUnavailable, "Answer not recorded",
		"The request ran but its answer could not be stored, so it is not given: a retry could not get it again. Retry with the same Idempotency-Key."}
	problemUnavailable = problemType{"unavailable", http.StatusServiceUnavailable, "Service unavailable",
		"The database cannot be reached right now. Retry after the Retry-After seconds, with the same Idempotency-Key: if the request took effect after all, the retry gets its answer; if not, it runs then."}
	problemTimeout = problemType{"timeout", http.StatusServiceUnavailable, "Request timed out",
		"The request did not finish within the server's deadline (SEATD_REQUEST_TIMEOUT). It may still take effect: retry after the Retry-After seconds with the same Idempotency-Key to get its outcome."}
	problemPruned = problemType{"events-pruned", http.StatusGone, "Events no longer kept",
		"The events after sinceSeq are older than the event log keeps (SEATD_EVENT_RETENTION). Read the seat map, or open the live socket without sinceSeq, to start again from the seats as they are."}
	problemBodyUnreadable = problemType{"body-unreadable", http.StatusBadRequest, "Body unreadable",
		"The request body could not be read to its end: the client stopped sending it, or sent it too slowly. Nothing was changed."}
	problemUnauthenticated = problemType{"unauthenticated", http.StatusUnauthorized, "Unauthenticated",
		"The route needs a valid bearer token (Authorization: Bearer <token>): none was sent, or it is malformed, expired, or signed with a key or algorithm the server does not accept. POST /api/sessions gives a guest token. Nothing was changed."}
	problemForbidden = problemType{"forbidden", http.StatusForbidden, "Forbidden",
		"The caller the bearer token proves may not do this: for instance, the body's userId names another user, or a live socket is asked for from an Origin seatd does not allow (SEATD_ALLOWED_ORIGINS). Nothing was changed."}
	problemUpgradeRequired = problemType{"upgrade-required", http.StatusUpgradeRequired, "Upgrade required",
		"The route is a WebSocket: ask for it with Connection: Upgrade and Upgrade: websocket (RFC 6455), as a browser's WebSocket or any WebSocket client does."}
	problemRateLimited = problemType{"rate-limited", http.StatusTooManyRequests, "Too many requests",
		"The caller, or its address, sent more requests than its rate limit allows. Nothing was changed; retry after the Retry-After seconds."}
	problemOverloaded = problemType{"overloaded", http.StatusServiceUnavailable, "Overloaded",
		"The server is answering as many requests as it takes at once. Nothing was changed; retry after the Retry-After seconds."}
	problemInternal = problemType{"internal", http.StatusInternalServerError, "Internal error",
		"The server failed. Nothing the request asked for is half done; it is safe to retry."}
)

var problemTypes = map[string]problemType{}

func init() {
	for _, p := range []problemType{
		problemInvalidRequest, problemInvalidJSON, problemNotFound, problemMethodNotAllowed,
		problemSeatsUnavailable, problemHoldExpired, problemLimitReached, problemBodyTooLarge, problemUnsupportedMediaType,
		problemNotReady, problemKeyMissing, problemKeyInvalid, problemKeyInUse, problemKeyReused, problemNotRecorded,
		problemUnavailable, problemTimeout, problemPruned, problemBodyUnreadable, problemUnauthenticated, problemForbidden, problemUpgradeRequired, problemRateLimited,
		problemOverloaded, problemInternal,
	} {
		problemTypes[p.slug] = p
	}
}

// problems is the one table from errors to HTTP answers, matched by
// errors.Is in order: a domain error is recognised however it was wrapped.
var problems = []struct {
	err     error
	problem problemType
	detail  string // if set, says more than err's own text
}{
	{booking.ErrInvalid, problemInvalidRequest, ""},
	{booking.ErrNotFound, problemNotFound, ""},
	{booking.ErrSeatUnavailable, problemSeatsUnavailable, ""},
	{booking.ErrHoldExpired, problemHoldExpired, ""},
	{booking.ErrLimitReached, problemLimitReached, ""},
	{booking.ErrPruned, problemPruned, ""},
	{booking.ErrUnavailable, problemUnavailable, "the database cannot be reached; retry shortly"},
	{idempotency.ErrBodyUnreadable, problemBodyUnreadable, ""},
	{idempotency.ErrKeyMissing, problemKeyMissing, ""},
	{idempotency.ErrKeyInvalid, problemKeyInvalid, ""},
	{idempotency.ErrKeyInUse, problemKeyInUse, ""},
	{idempotency.ErrKeyReused, problemKeyReused, ""},
	{idempotency.ErrNotRecorded, problemNotRecorded, ""},
	{booking.ErrDuplicateRequest, problemKeyInUse, ""},
	{auth.ErrUnauthenticated, problemUnauthenticated, ""},
	{auth.ErrForbidden, problemForbidden, ""},
	{live.ErrForeignOrigin, problemForbidden, ""},
	{live.ErrNotWebSocket, problemUpgradeRequired, ""},
	{errOverloaded, problemOverloaded, "the server is answering as many requests as it takes at once; retry shortly"},
	{context.DeadlineExceeded, problemTimeout, "the request did not finish in time; it may still take effect"},
}

// retryAfter is what 503 answers tell clients to wait, in seconds: long
// enough for a database restart's first connections, short enough to notice
// its end.
const retryAfter = "1"

// writeError answers with the problem err maps to. Errors that are not the
// caller's are logged and answered with a generic 500 that reveals nothing.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if le, ok := errors.AsType[*limitError](err); ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(max(le.retryAfter.Seconds(), 1)))))
		writeProblem(w, r, problemRateLimited, le.Error())
		return
	}
	if tooLarge, ok := errors.AsType[*http.MaxBytesError](err); ok {
		writeProblem(w, r, problemBodyTooLarge, fmt.Sprintf("body exceeds %d bytes", tooLarge.Limit))
		return
	}
	for _, m := range problems {
		if !errors.Is(err, m.err) {
			continue
		}
		detail := m.detail
		if detail == "" {
			detail = m.err.Error()
		}
		if ke, ok := errors.AsType[*idempotency.KeyError](err); ok {
			detail = ke.Detail
		}
		if he, ok := errors.AsType[*live.HandshakeError](err); ok {
			detail = he.Err.Error()
		}
		if ae, ok := errors.AsType[*auth.Error](err); ok {
			detail = ae.Detail
			if errors.Is(err, auth.ErrUnauthenticated) {
				w.Header().Set("WWW-Authenticate", bearerChallenge(r))
			}
		}
		body := newProblem(m.problem, detail)
		if be, ok := errors.AsType[*booking.Error](err); ok {
			body.Detail = be.Detail
			// Each kind names its seats in a list of its own.
			switch {
			case errors.Is(be.Kind, booking.ErrNotFound):
				body.UnknownSeatIDs = be.SeatIDs
			case errors.Is(be.Kind, booking.ErrSeatUnavailable):
				body.ConflictingSeatIDs = be.SeatIDs
			case errors.Is(be.Kind, booking.ErrHoldExpired):
				body.ExpiredSeatIDs = be.SeatIDs
			}
		}
		switch inUse, ok := errors.AsType[*idempotency.InUseError](err); {
		case ok:
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(max(inUse.RetryAfter.Seconds(), 1)))))
		case m.problem.status == http.StatusServiceUnavailable:
			w.Header().Set("Retry-After", retryAfter)
			if errors.Is(err, errOverloaded) {
				break // a log line each would add to the load
			}
			s.log.Warn("request not served", "method", r.Method, "path", r.URL.Path, "problem", m.problem.slug, "err", err)
		}
		writeBody(w, m.problem.status, "application/problem+json", body)
		return
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client left; nobody reads this answer.
		s.log.Debug("client went away", "method", r.Method, "path", r.URL.Path)
		writeProblem(w, r, problemInternal, "request canceled")
		return
	}
	s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeProblem(w, r, problemInternal, "")
}

// errOverloaded answers a request past Config.MaxInFlight.
var errOverloaded = errors.New("overloaded")

// bearerChallenge is the WWW-Authenticate of a 401 (RFC 6750, section 3): a
// request that sent a token hears that it is invalid. The description is
// fixed, never the client's own text; the problem's detail says more.
func bearerChallenge(r *http.Request) string {
	if r.Header.Get("Authorization") == "" {
		return `Bearer realm="seatd"`
	}
	return `Bearer realm="seatd", error="invalid_token", error_description="the bearer token is not valid; see the problem's detail"`
}

func writeProblem(w http.ResponseWriter, r *http.Request, p problemType, detail string) {
	writeBody(w, p.status, "application/problem+json", newProblem(p, detail))
}

// problemBody is a problem's JSON. Its members are in alphabetical order, the
// order encoding/json gives a map's: a struct encodes several times faster,
// and losers of a storm are mostly answered with one.
type problemBody struct {
	ConflictingSeatIDs []string `json:"conflictingSeatIds,omitzero"`
	Detail             string   `json:"detail,omitempty"`
	ExpiredSeatIDs     []string `json:"expiredSeatIds,omitzero"`
	Status             int      `json:"status"`
	Title              string   `json:"title"`
	Type               string   `json:"type"`
	UnknownSeatIDs     []string `json:"unknownSeatIds,omitzero"`
}

func newProblem(p problemType, detail string) problemBody {
	return problemBody{Type: "/problems/" + p.slug, Title: p.title, Status: p.status, Detail: detail}
}

// handleProblemDoc describes a problem type, so that type URIs resolve.
func handleProblemDoc(w http.ResponseWriter, r *http.Request) {
	p, ok := problemTypes[r.PathValue("slug")]
	if !ok {
		writeProblem(w, r, problemNotFound, "no problem type "+r.PathValue("slug"))
		return
	}
	writeBody(w, http.StatusOK, "application/json", map[string]any{
		"type": "/problems/" + p.slug, "title": p.title, "status": p.status, "description": p.about,
	})
}
