package auth

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/golang-jwt/jwt/v5"
)

// minRSABits is the smallest RSA key trusted.
const minRSABits = 2048

// PublicKey is a key that verifies tokens signed by someone else's login.
type PublicKey struct {
	// ID is the key's "kid": the PEM block's kid header if it has one, else
	// the base64url SHA-256 of its DER encoding. A token that names a kid is
	// checked with that key only; one that names none, with every key of its
	// algorithm.
	ID  string
	Key crypto.PublicKey
	alg string
}

// ParsePublicKeys reads PEM blocks of Ed25519 or RSA public keys ("PUBLIC
// KEY", or "RSA PUBLIC KEY"), each with an optional "kid" header:
//
//	-----BEGIN PUBLIC KEY-----
//	kid: tickets-2026
//
//	MCowBQYDK2VwAyEA…
//	-----END PUBLIC KEY-----
func ParsePublicKeys(data []byte) ([]PublicKey, error) {
	var keys []PublicKey
	ids := map[string]bool{}
	for n := 1; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		k, err := parsePublicKey(block)
		if err != nil {
			return nil, fmt.Errorf("public key %d: %w", n, err)
		}
		if ids[k.ID] {
			return nil, fmt.Errorf("public key %d: kid %q given twice", n, k.ID)
		}
		ids[k.ID] = true
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("no PEM public key found")
	}
	return keys, nil
}

func parsePublicKey(block *pem.Block) (PublicKey, error) {
	var key any
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		return PublicKey{}, fmt.Errorf("PEM block %q: want PUBLIC KEY (a private key does not belong here)", block.Type)
	}
	if err != nil {
		return PublicKey{}, err
	}
	k := PublicKey{ID: block.Headers["kid"], Key: key}
	switch key := key.(type) {
	case ed25519.PublicKey:
		k.alg = jwt.SigningMethodEdDSA.Alg()
	case *rsa.PublicKey:
		if key.N.BitLen() < minRSABits {
			return PublicKey{}, fmt.Errorf("RSA key of %d bits: want at least %d", key.N.BitLen(), minRSABits)
		}
		k.alg = jwt.SigningMethodRS256.Alg()
	default:
		return PublicKey{}, fmt.Errorf("a %T: want an Ed25519 or RSA key", key)
	}
	if k.ID == "" {
		sum := sha256.Sum256(block.Bytes)
		k.ID = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return k, nil
}
