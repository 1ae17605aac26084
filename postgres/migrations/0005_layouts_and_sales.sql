-- Seats carry their geometry: accessible (wheelchair) seats, and x, the
-- seat's column counting aisle gaps, for renderers and best-available
-- searches. Seats made before layouts had no aisles: their column is their
-- number.
ALTER TABLE seats ADD COLUMN accessible boolean NOT NULL DEFAULT false;
ALTER TABLE seats ADD COLUMN x integer NOT NULL DEFAULT 0;
UPDATE seats SET x = number;

-- A buyer's bookings, newest first (booking ids are time-ordered UUIDv7).
CREATE INDEX bookings_user_idx ON bookings (user_id, booking_id);
