-- Receipts: the answers keyed requests got (see postgres/migrations/0002).

CREATE TABLE receipts (
    scope       TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    response    BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
) STRICT;

CREATE INDEX receipts_expires_at_idx ON receipts (expires_at);
