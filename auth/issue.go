package auth

import (
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// NewSecret returns a fresh HS256 secret.
func NewSecret() []byte { return []byte(rand.Text() + rand.Text()) }

// Issuer signs tokens with seatd's own secret: the guest sessions it hands
// out, and the tokens of tests and load tests.
type Issuer struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time
}

// NewIssuer returns an Issuer of tokens valid for ttl, signed with secret.
func NewIssuer(secret []byte, ttl time.Duration) *Issuer {
	return &Issuer{secret: secret, ttl: ttl, now: time.Now}
}

// Issue returns a token proving userID, with roles, and when it expires.
func (i *Issuer) Issue(userID string, roles ...string) (string, time.Time, error) {
	now := i.now()
	exp := now.Add(i.ttl).Truncate(time.Second) // JWT times are whole seconds
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, claims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: userID, IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp)},
		Roles:            roles,
	})
	s, err := t.SignedString(i.secret)
	return s, exp, err
}

// NewGuestID returns the user id of a new guest: unguessable, so that
// knowing one guest's id gives nothing.
func NewGuestID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return guestPrefix + hex.EncodeToString(b)
}

// guestPrefix begins every guest id.
const guestPrefix = "guest-"
