-- A cancelled booking's rows move here: bookings keeps one live sale per
-- seat (its primary key), so the seats can be sold again, and the booking
-- still reads as cancelled.
CREATE TABLE cancelled_bookings (
    show_id      TEXT    NOT NULL REFERENCES shows (id),
    seat_id      TEXT    NOT NULL REFERENCES seats (id),
    booking_id   TEXT    NOT NULL,
    user_id      TEXT    NOT NULL,
    hold_token   TEXT,
    booked_at    INTEGER NOT NULL,
    cancelled_at INTEGER NOT NULL,
    cancelled_by TEXT    NOT NULL,
    PRIMARY KEY (booking_id, seat_id)
) STRICT;
