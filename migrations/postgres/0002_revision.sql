-- The hash of everything rendered of each entry (model::Revision): a poll rewrites an entry
-- when it changes. NULL for entries stored before this migration: the next poll that reads
-- one writes it again, keeping its dates, and records its revision.
ALTER TABLE entries ADD COLUMN revision BIGINT;
