-- Identity: the secrets seatd makes for itself (the key of the guest tokens it
-- signs, when none is configured), kept so that tokens outlive a restart and
-- every instance accepts the others'.
CREATE TABLE secrets (
    name       text        PRIMARY KEY,
    value      bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The seats a user holds in a show are counted through their live holds on
-- every capped hold (SEATD_MAX_HELD_PER_USER).
CREATE INDEX holds_user_show_idx ON holds (user_id, show_id, expires_at);
