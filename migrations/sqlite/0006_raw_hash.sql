-- The hash of the bytes each entry was last read from (parse::RawHash), so a poll that brings
-- the same bytes again skips reading, sanitizing and storing them. NULL for entries from before
-- this migration and for those read from JSON Feed or the seeds folder: they are read as before.
ALTER TABLE entries ADD COLUMN raw_hash INTEGER;
