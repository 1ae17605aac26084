package booking

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// Every id in the system (shows, seats, holds, bookings) is a UUID in its canonical
// form: 36 lower-case hexadecimal characters with hyphens. Parsing once at the edge
// and comparing canonical strings everywhere else keeps "A0..." and "a0..." from
// being two different seats.

// ParseID returns s in canonical UUID form, and false if s is not a UUID.
func ParseID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	var b [36]byte
	for i := range 36 {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", false
			}
		default:
			switch {
			case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
			case 'A' <= c && c <= 'F':
				c += 'a' - 'A'
			default:
				return "", false
			}
		}
		b[i] = c
	}
	return string(b[:]), true
}

// NewID returns a random UUID of version 7: time-ordered, so that new rows land at
// the end of B-tree indexes instead of everywhere, with 74 random bits.
func NewID() string {
	var u [16]byte
	if _, err := rand.Read(u[6:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	ms := uint64(time.Now().UnixMilli())
	binary.BigEndian.PutUint16(u[0:2], uint16(ms>>32))
	binary.BigEndian.PutUint32(u[2:6], uint32(ms))
	u[6] = u[6]&0x0f | 0x70
	u[8] = u[8]&0x3f | 0x80
	return format(u)
}

// NameID returns the version 5 UUID of name within namespace (itself a UUID), so that
// the same name always gets the same id: demo data seeded by two instances at once
// collides instead of doubling.
func NameID(namespace, name string) string {
	ns, ok := ParseID(namespace)
	if !ok {
		panic("booking: NameID namespace is not a UUID: " + namespace)
	}
	raw, _ := hex.DecodeString(ns[0:8] + ns[9:13] + ns[14:18] + ns[19:23] + ns[24:])
	h := sha1.New()
	h.Write(raw)
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return format(u)
}

func format(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}
