-- Receipts: the answers keyed requests got, so that a retry of an
-- Idempotency-Key gets the same answer. A seat change inserts its receipt in its
-- own transaction; the primary key lets only one attempt of a key commit.

CREATE TABLE receipts (
    scope       text        NOT NULL,
    key         text        NOT NULL,
    fingerprint text        NOT NULL,
    response    bytea       NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE INDEX receipts_expires_at_idx ON receipts (expires_at);
