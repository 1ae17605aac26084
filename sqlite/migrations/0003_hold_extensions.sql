-- Holds can be extended a limited number of times.
ALTER TABLE holds ADD COLUMN extensions INTEGER NOT NULL DEFAULT 0;
