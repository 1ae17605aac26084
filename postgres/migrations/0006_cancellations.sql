-- A cancelled booking's rows move here: bookings keeps one live sale per
-- seat (its primary key), so the seats can be sold again, and the booking
-- still reads as cancelled.
CREATE TABLE cancelled_bookings (
    show_id      uuid        NOT NULL REFERENCES shows (id),
    seat_id      uuid        NOT NULL REFERENCES seats (id),
    booking_id   uuid        NOT NULL,
    user_id      text        NOT NULL,
    hold_token   uuid,
    booked_at    timestamptz NOT NULL,
    cancelled_at timestamptz NOT NULL,
    cancelled_by text        NOT NULL,
    PRIMARY KEY (booking_id, seat_id)
);
