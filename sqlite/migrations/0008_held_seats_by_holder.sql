-- The seats a user holds in a show are counted on every capped hold
-- (SEATD_MAX_HELD_PER_USER) from the seats themselves. Counted through the
-- user's holds, the count also read every hold the user had booked or
-- released within a hold TTL: a buyer who holds and books or releases all
-- the time (a load test's worker, a box office) has dozens.
CREATE INDEX seats_holder_idx ON seats (holder, show_id) WHERE status = 'held';
DROP INDEX holds_user_show_idx;
