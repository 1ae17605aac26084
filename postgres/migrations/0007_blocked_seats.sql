-- Blocked seats: off sale until an operator unblocks them (house seats, a
-- broken seat). A flag, not a status: a blocked seat is otherwise free.
ALTER TABLE seats ADD COLUMN blocked boolean NOT NULL DEFAULT false;
