package auth

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"seatmanager/booking"
)

// Leeway is the clock skew allowed between the signer of a token and seatd
// when its expiry is checked.
const Leeway = 10 * time.Second

// maxRoles bounds the roles a token may carry.
const maxRoles = 16

// claims is a token's payload: the registered claims and the caller's roles.
type claims struct {
	jwt.RegisteredClaims
	Roles []string `json:"roles,omitempty"`
}

// Verifier checks bearer tokens. It accepts HS256 with its secret, and EdDSA
// and RS256 with its public keys; each algorithm only ever with its own keys,
// so a public key can never be used as an HMAC secret, and "none" never.
type Verifier struct {
	secret  []byte
	keys    []PublicKey
	methods []string
	now     func() time.Time
	login   LoginClaims
	// guestsOnly limits HS256 tokens to guests without roles: set when the
	// secret is one seatd made and keeps in its database, so that a reader
	// of the database (or a backup) cannot mint an operator or a login's user.
	guestsOnly bool
	verified   verified
}

// LoginClaims are what the tokens of a login (signed by its public keys)
// must say of themselves: the issuer and an audience, where set.
type LoginClaims struct {
	Issuer   string
	Audience string
}

// ForLogin makes tokens signed by the public keys need c's issuer and
// audience, where set: a login that signs for several services mints tokens
// for seatd only when it names seatd.
func (v *Verifier) ForLogin(c LoginClaims) { v.login = c; v.verified = verified{} }

// GuestsOnly restricts tokens signed with the secret to guest ids (NewGuestID)
// with no roles.
func (v *Verifier) GuestsOnly() { v.guestsOnly = true; v.verified = verified{} }

// NewVerifier returns a Verifier of tokens signed with secret (HS256; nil for
// none) or by the private half of one of public. It needs at least one key.
func NewVerifier(secret []byte, public []PublicKey) (*Verifier, error) {
	v := &Verifier{secret: secret, keys: public, now: time.Now}
	if secret != nil {
		if len(secret) < MinSecretBytes {
			return nil, fmt.Errorf("auth secret: %d bytes, want at least %d", len(secret), MinSecretBytes)
		}
		v.methods = append(v.methods, jwt.SigningMethodHS256.Alg())
	}
	seen := map[string]bool{}
	for _, k := range public {
		if !seen[k.alg] {
			seen[k.alg] = true
			v.methods = append(v.methods, k.alg)
		}
	}
	if len(v.methods) == 0 {
		return nil, errors.New("auth: no secret and no public key to verify tokens with")
	}
	return v, nil
}

// Verify returns the claims of a valid token, or an ErrUnauthenticated error
// saying what is wrong with it.
func (v *Verifier) Verify(token string) (Claims, error) {
	if len(token) > MaxTokenBytes {
		return Claims{}, unauthenticated("the bearer token is longer than %d bytes", MaxTokenBytes)
	}
	k := sha256.Sum256([]byte(token))
	if c, ok := v.verified.get(k); ok && v.now().Before(c.ExpiresAt.Add(Leeway)) {
		return c, nil
	}
	c, err := v.verify(token)
	if err == nil {
		v.verified.put(k, c)
	}
	return c, err
}

// verify parses and checks a token.
func (v *Verifier) verify(token string) (Claims, error) {
	var c claims
	t, err := jwt.ParseWithClaims(token, &c, v.key,
		jwt.WithValidMethods(v.methods), jwt.WithExpirationRequired(), jwt.WithLeeway(Leeway), jwt.WithTimeFunc(v.now))
	hmac := t != nil && t.Method == jwt.SigningMethodHS256
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return Claims{}, unauthenticated("the bearer token has expired")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return Claims{}, unauthenticated("the bearer token has no exp (expiry) claim")
	case errors.Is(err, jwt.ErrTokenMalformed):
		return Claims{}, unauthenticated("the bearer token is not a well-formed JWT")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		// Also an algorithm not accepted, "none" among them; err says which.
		return Claims{}, unauthenticated("the bearer token's signature does not verify (%v)", err)
	case err != nil:
		// A key id not known, a claim not valid yet.
		return Claims{}, unauthenticated("the bearer token is not valid: %v", err)
	case !booking.ValidUserID(c.Subject):
		return Claims{}, unauthenticated("the bearer token's sub must be a user id of 1 to %d letters, digits or any of ._-@:", booking.MaxUserIDLen)
	case len(c.Roles) > maxRoles:
		return Claims{}, unauthenticated("the bearer token has more than %d roles", maxRoles)
	case hmac && v.guestsOnly && (!strings.HasPrefix(c.Subject, guestPrefix) || len(c.Roles) > 0):
		return Claims{}, unauthenticated("a token signed with seatd's own secret proves a guest without roles only")
	case !hmac && v.login.Issuer != "" && c.Issuer != v.login.Issuer:
		return Claims{}, unauthenticated("the bearer token's iss is not the login seatd trusts")
	case !hmac && v.login.Audience != "" && !slices.Contains(c.Audience, v.login.Audience):
		return Claims{}, unauthenticated("the bearer token's aud does not name seatd")
	}
	return Claims{UserID: c.Subject, Roles: c.Roles, ExpiresAt: c.ExpiresAt.Time}, nil
}

// key finds the keys a token may be signed with: the secret for HS256, the
// public keys of its algorithm (and of its kid, if it names one) otherwise.
func (v *Verifier) key(t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	if alg == jwt.SigningMethodHS256.Alg() {
		return v.secret, nil
	}
	kid, _ := t.Header["kid"].(string)
	var set []jwt.VerificationKey
	for _, k := range v.keys {
		if k.alg == alg && (kid == "" || k.ID == kid) {
			set = append(set, k.Key)
		}
	}
	switch len(set) {
	case 0:
		return nil, fmt.Errorf("no %s key with kid %q", alg, kid)
	case 1:
		return set[0], nil
	}
	return jwt.VerificationKeySet{Keys: set}, nil
}
