package sqlite

import "context"

// KeepSecret returns the secret kept under name, keeping fresh first if there
// is none.
func (s *Store) KeepSecret(ctx context.Context, name string, fresh []byte) ([]byte, error) {
	var v []byte
	err := s.inTx(ctx, func(tx *txn, now int64) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
			name, fresh, now); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, "SELECT value FROM secrets WHERE name = ?", name).Scan(&v)
	})
	return v, wrap(err, "keep secret")
}
