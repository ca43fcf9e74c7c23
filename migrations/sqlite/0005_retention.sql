-- Retention: an entry is pruned only once it has left its source's current document
-- (in_document = 0). Pruned entries leave a tombstone, so a source that serves them again does
-- not bring them back.
ALTER TABLE entries ADD COLUMN in_document INTEGER NOT NULL DEFAULT 1;

CREATE TABLE tombstones (
    source    TEXT    NOT NULL,
    key       TEXT    NOT NULL,
    pruned_at INTEGER NOT NULL,
    PRIMARY KEY (source, key)
);
