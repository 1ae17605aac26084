-- Receipts expire in about the order they are written, so a BRIN index finds
-- the expired ones for the sweeper as well as a B-tree did, at a fraction of
-- the cost: every seat change writes a receipt, and the B-tree took an entry
-- for each (two, when the claim was answered in a new row version).
DROP INDEX receipts_expires_at_idx;
CREATE INDEX receipts_expires_at_brin ON receipts USING brin (expires_at) WITH (autosummarize = on);
