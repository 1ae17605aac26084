// Package auth proves who makes a request: bearer tokens are JWTs whose "sub"
// is the user id, signed with seatd's own secret (HS256, the guest sessions it
// issues) or by a ticketing site's login whose public keys seatd is given
// (EdDSA or RS256), so that the site's users act as themselves.
package auth

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// ErrUnauthenticated: the request carries no token, or one that does not
// prove its caller (malformed, expired, signed with a key seatd does not
// trust, of an algorithm it does not accept).
var ErrUnauthenticated = errors.New("unauthenticated")

// ErrForbidden: the caller is known but may not do this, such as name another
// user in the body.
var ErrForbidden = errors.New("forbidden")

// Error is an authentication failure; Detail is fit for the client.
type Error struct {
	Kind   error
	Detail string
}

func (e *Error) Error() string { return e.Detail }

// Unwrap lets errors.Is match Kind.
func (e *Error) Unwrap() error { return e.Kind }

func unauthenticated(format string, args ...any) error {
	return &Error{Kind: ErrUnauthenticated, Detail: fmt.Sprintf(format, args...)}
}

// Forbiddenf reports a caller who may not do what it asked.
func Forbiddenf(format string, args ...any) error {
	return &Error{Kind: ErrForbidden, Detail: fmt.Sprintf(format, args...)}
}

// RoleAdmin is the role of operators (the operator API).
const RoleAdmin = "admin"

// Claims is what a verified token says of its caller.
type Claims struct {
	UserID    string
	Roles     []string
	ExpiresAt time.Time
}

// Has reports whether the caller has role.
func (c Claims) Has(role string) bool { return slices.Contains(c.Roles, role) }

// MaxTokenBytes bounds a bearer token: a JWT with a user id, roles and an
// RS256 signature takes well under 1 KiB, and a token is parsed before it is
// trusted.
const MaxTokenBytes = 4096

// MinSecretBytes is the shortest HS256 secret accepted: RFC 7518 asks for a
// key at least as long as the hash.
const MinSecretBytes = 32
