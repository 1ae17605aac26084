-- Blocked seats: off sale until an operator unblocks them (house seats, a
-- broken seat). A flag, not a status: a blocked seat is otherwise free (and
-- the status CHECK of 0001 stays as it is).
ALTER TABLE seats ADD COLUMN blocked INTEGER NOT NULL DEFAULT 0;
