-- Identity: the secrets seatd makes for itself (the key of the guest tokens it
-- signs, when none is configured), kept so that tokens outlive a restart.
CREATE TABLE secrets (
    name       TEXT    PRIMARY KEY,
    value      BLOB    NOT NULL,
    created_at INTEGER NOT NULL
);

-- The seats a user holds in a show are counted through their live holds on
-- every capped hold (SEATD_MAX_HELD_PER_USER).
CREATE INDEX holds_user_show_idx ON holds (user_id, show_id, expires_at);
