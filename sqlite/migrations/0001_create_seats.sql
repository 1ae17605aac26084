-- Shows, their seats, holds, bookings and the per-show event log: the same model as
-- the PostgreSQL store (see postgres/migrations), in SQLite's types. Times are Unix
-- milliseconds; ids are canonical UUID text.

CREATE TABLE shows (
    id          TEXT    PRIMARY KEY,
    movie_title TEXT    NOT NULL,
    starts_at   INTEGER NOT NULL,
    auditorium  TEXT    NOT NULL,
    seq         INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE seats (
    id              TEXT    PRIMARY KEY,
    show_id         TEXT    NOT NULL REFERENCES shows (id),
    row_label       TEXT    NOT NULL,
    number          INTEGER NOT NULL,
    category        TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'available'
                    CHECK (status IN ('available', 'held', 'booked')),
    hold_token      TEXT,
    holder          TEXT,
    hold_expires_at INTEGER,
    booking_id      TEXT,
    version         INTEGER NOT NULL DEFAULT 0,
    UNIQUE (show_id, row_label, number),
    CHECK ((status = 'held') = (hold_token IS NOT NULL AND holder IS NOT NULL AND hold_expires_at IS NOT NULL)),
    CHECK ((status = 'booked') = (booking_id IS NOT NULL))
) STRICT;

CREATE INDEX seats_hold_token_idx ON seats (hold_token) WHERE hold_token IS NOT NULL;
CREATE INDEX seats_hold_expires_idx ON seats (hold_expires_at) WHERE status = 'held';

CREATE TABLE holds (
    token      TEXT    PRIMARY KEY,
    show_id    TEXT    NOT NULL REFERENCES shows (id),
    user_id    TEXT    NOT NULL,
    version    INTEGER NOT NULL DEFAULT 1,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE bookings (
    show_id    TEXT    NOT NULL REFERENCES shows (id),
    seat_id    TEXT    NOT NULL REFERENCES seats (id),
    booking_id TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    hold_token TEXT,
    booked_at  INTEGER NOT NULL,
    PRIMARY KEY (show_id, seat_id)
) STRICT;

CREATE INDEX bookings_booking_id_idx ON bookings (booking_id);

CREATE TABLE seat_events (
    show_id    TEXT    NOT NULL REFERENCES shows (id),
    seq        INTEGER NOT NULL,
    seat_id    TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    hold_token TEXT,
    booking_id TEXT,
    at         INTEGER NOT NULL,
    PRIMARY KEY (show_id, seq)
) STRICT;
