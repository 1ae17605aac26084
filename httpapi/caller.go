package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"seatmanager/auth"
	"seatmanager/booking"
)

// Authenticator proves a bearer token's caller (auth.Verifier).
type Authenticator interface {
	Verify(token string) (auth.Claims, error)
}

// callerKey keys the proven caller in a request's context.
type callerKey struct{}

// authenticate proves the caller of a request from its bearer token and
// keeps the claims in its context, for caller and scope; without an
// Authenticator (SEATD_AUTH=off) the body's userId is trusted, as in the
// seed's API, and nothing is proven here.
func (s *Server) authenticate(r *http.Request) (*http.Request, error) {
	if s.auth == nil {
		return r, nil
	}
	token, err := bearerToken(r)
	if err != nil {
		return r, err
	}
	c, err := s.auth.Verify(token)
	if err != nil {
		return r, err
	}
	return r.WithContext(context.WithValue(r.Context(), callerKey{}, c)), nil
}

// claims returns the caller proven by authenticate, if any.
func claims(r *http.Request) (auth.Claims, bool) {
	c, ok := r.Context().Value(callerKey{}).(auth.Claims)
	return c, ok
}

// bearerToken reads the request's Authorization: Bearer header (RFC 6750).
func bearerToken(r *http.Request) (string, error) {
	values := r.Header.Values("Authorization")
	switch {
	case len(values) == 0:
		return "", &auth.Error{Kind: auth.ErrUnauthenticated, Detail: "this route needs a bearer token: send Authorization: Bearer <token> (POST /api/sessions gives a guest one)"}
	case len(values) > 1:
		return "", &auth.Error{Kind: auth.ErrUnauthenticated, Detail: "send one Authorization header, not several"}
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", &auth.Error{Kind: auth.ErrUnauthenticated, Detail: "the Authorization header must be Bearer <token>"}
	}
	return strings.TrimSpace(token), nil
}

// caller resolves who makes a request: the token's subject, which a body (or
// query) userId, kept for the seed's clients, must name if it is given; with
// authentication off, the userId given.
func (s *Server) caller(r *http.Request, claimedUserID string) (string, error) {
	c, proven := claims(r)
	if !proven {
		if err := booking.CheckUserID(claimedUserID); err != nil {
			return "", err
		}
		return claimedUserID, nil
	}
	if claimedUserID == "" {
		return c.UserID, nil
	}
	if err := booking.CheckUserID(claimedUserID); err != nil {
		return "", err
	}
	if claimedUserID != c.UserID {
		return "", auth.Forbiddenf("userId %q is not the caller the bearer token names; leave it out, or send the token's own", clipQuery(claimedUserID))
	}
	return c.UserID, nil
}

// scope is who a keyed request comes from, read from its body before the
// handler runs: keys are kept per caller. A proven caller is the token's,
// and the body need not be read for it: a body naming someone else is
// refused by the handler, which reads it anyway.
func (s *Server) scope(r *http.Request, body []byte) (string, error) {
	if c, proven := claims(r); proven {
		return c.UserID, nil
	}
	var who struct {
		UserID string `json:"userId"`
	}
	if err := json.Unmarshal(body, &who); err != nil {
		return "", err
	}
	return s.caller(r, who.UserID)
}
