-- Holds can be extended a limited number of times.
ALTER TABLE holds ADD COLUMN extensions integer NOT NULL DEFAULT 0;
