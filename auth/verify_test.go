package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

// keyPEM encodes pub as a PEM block, with a kid header if kid is not empty.
func keyPEM(t *testing.T, pub any, kid string) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	b := &pem.Block{Type: "PUBLIC KEY", Bytes: der}
	if kid != "" {
		b.Headers = map[string]string{"kid": kid}
	}
	return pem.EncodeToMemory(b)
}

func sign(t *testing.T, m jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerify(t *testing.T) {
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	_, otherEd, _ := ed25519.GenerateKey(rand.Reader)
	rsaPriv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pems := append(keyPEM(t, edPub, "site-1"), keyPEM(t, &rsaPriv.PublicKey, "")...)
	keys, err := ParsePublicKeys(pems)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(secret, keys)
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour).Unix()
	ok := func() jwt.MapClaims { return jwt.MapClaims{"sub": "user_1", "exp": exp} }
	with := func(k string, val any) jwt.MapClaims { c := ok(); c[k] = val; return c }
	rsaPEM := keyPEM(t, &rsaPriv.PublicKey, "")

	tests := []struct {
		name  string
		token string
		want  string // "" for valid, else a part of the error
	}{
		{"HS256", sign(t, jwt.SigningMethodHS256, secret, "", ok()), ""},
		{"EdDSA by kid", sign(t, jwt.SigningMethodEdDSA, edPriv, "site-1", ok()), ""},
		{"EdDSA without kid", sign(t, jwt.SigningMethodEdDSA, edPriv, "", ok()), ""},
		{"RS256", sign(t, jwt.SigningMethodRS256, rsaPriv, "", ok()), ""},
		{"within the leeway", sign(t, jwt.SigningMethodHS256, secret, "", with("exp", time.Now().Add(-Leeway/2).Unix())), ""},
		{"expired", sign(t, jwt.SigningMethodHS256, secret, "", with("exp", time.Now().Add(-time.Minute).Unix())), "expired"},
		{"no exp", sign(t, jwt.SigningMethodHS256, secret, "", jwt.MapClaims{"sub": "user_1"}), "no exp"},
		{"wrong secret", sign(t, jwt.SigningMethodHS256, []byte("another secret of thirty-two bytes!"), "", ok()), "signature"},
		{"wrong Ed25519 key", sign(t, jwt.SigningMethodEdDSA, otherEd, "site-1", ok()), "signature"},
		{"unknown kid", sign(t, jwt.SigningMethodEdDSA, edPriv, "site-9", ok()), "not valid"},
		{"alg none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", ok()), "signing method none is invalid"},
		// The RSA public key as an HMAC secret: the classic confusion.
		{"HS256 keyed with the public key", sign(t, jwt.SigningMethodHS256, rsaPEM, "", ok()), "signature"},
		{"HS384", sign(t, jwt.SigningMethodHS384, secret, "", ok()), "signing method HS384 is invalid"},
		{"no sub", sign(t, jwt.SigningMethodHS256, secret, "", jwt.MapClaims{"exp": exp}), "sub"},
		{"bad sub", sign(t, jwt.SigningMethodHS256, secret, "", with("sub", "user 1; drop")), "sub"},
		{"not yet valid", sign(t, jwt.SigningMethodHS256, secret, "", with("nbf", time.Now().Add(time.Hour).Unix())), "not valid"},
		{"garbage", "not.a.jwt", "well-formed"},
		{"too long", strings.Repeat("a", MaxTokenBytes+1), "longer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(tt.token)
			if tt.want == "" {
				if err != nil || c.UserID != "user_1" {
					t.Fatalf("got (%+v, %v), want user_1", c, err)
				}
				return
			}
			if !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got (%+v, %v), want an ErrUnauthenticated saying %q", c, err, tt.want)
			}
		})
	}
}

func TestIssuedTokensVerify(t *testing.T) {
	v, err := NewVerifier(secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	id := NewGuestID()
	tok, exp, err := NewIssuer(secret, time.Hour).Issue(id, RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(tok)
	if err != nil || c.UserID != id || !c.Has(RoleAdmin) || !c.ExpiresAt.Equal(exp) {
		t.Fatalf("got (%+v, %v), want %s with role admin until %v", c, err, id, exp)
	}
	if NewGuestID() == id {
		t.Error("two guest ids are equal")
	}
}

func TestVerifierNeedsKeys(t *testing.T) {
	if _, err := NewVerifier(nil, nil); err == nil {
		t.Error("a verifier with no key: got nil error")
	}
	if _, err := NewVerifier([]byte("short"), nil); err == nil {
		t.Error("a 5-byte secret: got nil error")
	}
}

func TestParsePublicKeys(t *testing.T) {
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	priv, _ := x509.MarshalPKCS8PrivateKey(small)
	for name, data := range map[string][]byte{
		"empty":          nil,
		"not PEM":        []byte("hello"),
		"private key":    pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: priv}),
		"1024-bit RSA":   keyPEM(t, &small.PublicKey, ""),
		"kid twice":      append(keyPEM(t, edPub, "a"), keyPEM(t, &small.PublicKey, "a")...),
		"same key twice": append(keyPEM(t, edPub, ""), keyPEM(t, edPub, "")...),
	} {
		if _, err := ParsePublicKeys(data); err == nil {
			t.Errorf("%s: got nil error", name)
		}
	}
}

// TestGuestsOnlyAndLogin: a verifier whose secret seatd made takes guests
// without roles only from it; a login's tokens must carry its issuer and
// audience where they are set.
func TestGuestsOnlyAndLogin(t *testing.T) {
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	keys, err := ParsePublicKeys(keyPEM(t, edPub, ""))
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(secret, keys)
	if err != nil {
		t.Fatal(err)
	}
	v.GuestsOnly()
	v.ForLogin(LoginClaims{Issuer: "https://login.example", Audience: "seatd"})
	exp := time.Now().Add(time.Hour).Unix()
	guest := NewGuestID()
	for _, tt := range []struct {
		name  string
		token string
		ok    bool
	}{
		{"a guest", sign(t, jwt.SigningMethodHS256, secret, "", jwt.MapClaims{"sub": guest, "exp": exp}), true},
		{"a guest with roles", sign(t, jwt.SigningMethodHS256, secret, "", jwt.MapClaims{"sub": guest, "exp": exp, "roles": []string{"admin"}}), false},
		{"not a guest", sign(t, jwt.SigningMethodHS256, secret, "", jwt.MapClaims{"sub": "alice", "exp": exp}), false},
		{"the login's", sign(t, jwt.SigningMethodEdDSA, edPriv, "", jwt.MapClaims{"sub": "alice", "exp": exp, "iss": "https://login.example", "aud": []string{"seatd", "shop"}}), true},
		{"the login's, another issuer", sign(t, jwt.SigningMethodEdDSA, edPriv, "", jwt.MapClaims{"sub": "alice", "exp": exp, "iss": "https://evil.example", "aud": "seatd"}), false},
		{"the login's, for another service", sign(t, jwt.SigningMethodEdDSA, edPriv, "", jwt.MapClaims{"sub": "alice", "exp": exp, "iss": "https://login.example", "aud": "shop"}), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := v.Verify(tt.token); (err == nil) != tt.ok {
				t.Errorf("got %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// TestVerifiedTokensStillExpire: a token verified once is answered from
// memory, but only until it expires; a token that failed is checked again
// each time, and one whose signature was changed never passes.
func TestVerifiedTokensStillExpire(t *testing.T) {
	v, err := NewVerifier(secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	v.now = func() time.Time { return now }
	token := sign(t, jwt.SigningMethodHS256, secret, "", jwt.MapClaims{"sub": "user_1", "exp": now.Add(time.Minute).Unix()})
	for range 2 {
		if c, err := v.Verify(token); err != nil || c.UserID != "user_1" {
			t.Fatalf("valid token: got (%+v, %v)", c, err)
		}
	}
	forged := token[:len(token)-2] + map[bool]string{true: "AA", false: "BB"}[!strings.HasSuffix(token, "AA")]
	for range 2 {
		if _, err := v.Verify(forged); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("token with a changed signature: got %v, want ErrUnauthenticated", err)
		}
	}
	now = now.Add(time.Minute + Leeway + time.Second)
	if _, err := v.Verify(token); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("the verified token past its expiry: got %v, want it expired", err)
	}
}
