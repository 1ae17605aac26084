package postgres_test

import (
	"testing"

	"github.com/jackc/pgx/v5/pgtype"

	"seatmanager/booking"
)

// BenchmarkEncodeIDs: what pgx spends sending four ids as a parameter, the
// way the store declares it ($1::text[]::uuid[], a text[]) and the way it
// did ($1::uuid[], which pgx spells as an array literal).
func BenchmarkEncodeIDs(b *testing.B) {
	ids := []string{booking.NewID(), booking.NewID(), booking.NewID(), booking.NewID()}
	for _, bc := range []struct {
		name   string
		oid    uint32
		format int16
	}{
		{"TextArray", pgtype.TextArrayOID, pgtype.BinaryFormatCode},
		{"UUIDArrayLiteral", pgtype.UUIDArrayOID, pgtype.TextFormatCode},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m := pgtype.NewMap()
			buf := make([]byte, 0, 512)
			for b.Loop() {
				if _, err := m.Encode(bc.oid, bc.format, ids, buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
