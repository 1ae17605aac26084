package auth

import (
	"crypto/sha256"
	"sync"
)

// verified remembers the claims of tokens that verified, by a hash of the
// token: a client sends the same token with every request, and parsing and
// checking it again (base64, two JSON documents, a signature) was a tenth of
// seatd's work per refused hold. What is remembered is only ever a token
// that verified under the Verifier's rules; its expiry is checked on every
// use. Two generations bound it: when the newer fills up, the older goes.
type verified struct {
	mu       sync.Mutex
	cur, old map[[sha256.Size]byte]Claims
}

// verifiedPerGeneration bounds each generation: the tokens of the users
// active in a few minutes of a big on-sale.
const verifiedPerGeneration = 1 << 13

func (c *verified) get(k [sha256.Size]byte) (Claims, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.cur[k]; ok {
		return cl, true
	}
	cl, ok := c.old[k]
	if ok {
		c.putLocked(k, cl)
	}
	return cl, ok
}

func (c *verified) put(k [sha256.Size]byte, cl Claims) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(k, cl)
}

func (c *verified) putLocked(k [sha256.Size]byte, cl Claims) {
	if c.cur == nil || len(c.cur) >= verifiedPerGeneration {
		c.old, c.cur = c.cur, make(map[[sha256.Size]byte]Claims)
	}
	c.cur[k] = cl
}
