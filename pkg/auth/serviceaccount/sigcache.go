package serviceaccount

import (
	"crypto/sha256"
	"sync"
)

// sigCacheSize bounds the verified-signature cache: past it, an entry picked
// at random makes room.
const sigCacheSize = 10000

// sigCache remembers the tokens whose signature verified, by their SHA-256,
// with the issuer and payload the signature covers, so that a client
// presenting the same token again (a pod's client calls with one token for
// most of an hour) costs a hash, not a signature check. Everything else
// (issuer, audiences, times, the bound objects, a legacy token's Secret) is
// checked on every request: a cached token is refused the moment what it is
// bound to goes. Only tokens with a good signature get in, so bad input
// cannot fill it.
type sigCache struct {
	mu      sync.RWMutex
	entries map[[sha256.Size]byte]verified
}

type verified struct {
	issuer string
	body   []byte
}

func (c *sigCache) get(token string) (verified, bool) {
	key := sha256.Sum256([]byte(token))
	c.mu.RLock()
	v, ok := c.entries[key]
	c.mu.RUnlock()
	return v, ok
}

func (c *sigCache) put(token string, v verified) {
	key := sha256.Sum256([]byte(token))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[[sha256.Size]byte]verified{}
	}
	if len(c.entries) >= sigCacheSize {
		for k := range c.entries { // map order: a random victim
			delete(c.entries, k)
			break
		}
	}
	c.entries[key] = v
}
