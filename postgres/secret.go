package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
)

// keepSecretSQL stores a secret unless one is kept under its name, and returns
// the one kept: of instances that start together, the first to commit wins
// and the others take its secret.
const keepSecretSQL = `
WITH kept AS (
    INSERT INTO secrets (name, value) VALUES ($1, $2)
    ON CONFLICT (name) DO NOTHING
    RETURNING value
)
SELECT value FROM kept
UNION ALL
SELECT value FROM secrets WHERE name = $1
LIMIT 1`

// KeepSecret returns the secret kept under name, keeping fresh first if there
// is none.
func (s *Store) KeepSecret(ctx context.Context, name string, fresh []byte) ([]byte, error) {
	var v []byte
	err := s.pool.QueryRow(ctx, keepSecretSQL, name, fresh).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		// Another instance inserted it while this statement ran, after its
		// snapshot: a new statement sees it.
		err = s.pool.QueryRow(ctx, "SELECT value FROM secrets WHERE name = $1", name).Scan(&v)
	}
	if err != nil {
		return nil, wrap(err, "keep secret")
	}
	return v, nil
}
