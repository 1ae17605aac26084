-- Shows, their seats, holds, bookings and the per-show event log.
--
-- The seats table is the only source of truth for who may do what with a seat.
-- Every transition is one conditional UPDATE of it, decided by this database's
-- clock; the bookings primary key makes selling a seat twice impossible even if
-- every layer above it were wrong.

CREATE TABLE shows (
    id          uuid PRIMARY KEY,
    movie_title text        NOT NULL,
    starts_at   timestamptz NOT NULL,
    auditorium  text        NOT NULL,
    -- seq is the number of the show's latest event. Writers bump it last in their
    -- transaction, which numbers a show's events gaplessly in commit order.
    seq         bigint      NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE seats (
    id              uuid    PRIMARY KEY,
    show_id         uuid    NOT NULL REFERENCES shows (id),
    row_label       text    NOT NULL,
    number          integer NOT NULL,
    category        text    NOT NULL,
    status          text    NOT NULL DEFAULT 'available'
                    CHECK (status IN ('available', 'held', 'booked')),
    hold_token      uuid,
    holder          text,
    hold_expires_at timestamptz,
    booking_id      uuid,
    -- version grows with every change of the seat.
    version         bigint  NOT NULL DEFAULT 0,
    UNIQUE (show_id, row_label, number),
    CHECK ((status = 'held') = (hold_token IS NOT NULL AND holder IS NOT NULL AND hold_expires_at IS NOT NULL)),
    CHECK ((status = 'booked') = (booking_id IS NOT NULL))
);

CREATE INDEX seats_hold_token_idx ON seats (hold_token) WHERE hold_token IS NOT NULL;
CREATE INDEX seats_hold_expires_idx ON seats (hold_expires_at) WHERE status = 'held';

CREATE TABLE holds (
    token      uuid        PRIMARY KEY,
    show_id    uuid        NOT NULL REFERENCES shows (id),
    user_id    text        NOT NULL,
    version    bigint      NOT NULL DEFAULT 1,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- One row per sold seat; a booking is the rows sharing a booking_id.
CREATE TABLE bookings (
    show_id    uuid        NOT NULL REFERENCES shows (id),
    seat_id    uuid        NOT NULL REFERENCES seats (id),
    booking_id uuid        NOT NULL,
    user_id    text        NOT NULL,
    hold_token uuid,
    booked_at  timestamptz NOT NULL,
    PRIMARY KEY (show_id, seat_id)
);

CREATE INDEX bookings_booking_id_idx ON bookings (booking_id);

CREATE TABLE seat_events (
    show_id    uuid        NOT NULL REFERENCES shows (id),
    seq        bigint      NOT NULL,
    seat_id    uuid        NOT NULL,
    status     text        NOT NULL,
    hold_token uuid,
    booking_id uuid,
    at         timestamptz NOT NULL,
    PRIMARY KEY (show_id, seq)
);
