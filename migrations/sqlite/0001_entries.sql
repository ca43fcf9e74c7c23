-- One row per published entry. `id` is our public id (blake3 of source and key); `key` is the
-- entry's identity within its source; `content_hash` makes the same body from any source a
-- duplicate. Dates are unix milliseconds (UTC); `published` falls back to `first_seen`.
CREATE TABLE entries (
    id           TEXT    PRIMARY KEY NOT NULL,
    source       TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    title        TEXT    NOT NULL,
    link         TEXT,
    authors      TEXT    NOT NULL DEFAULT '[]',
    published    INTEGER NOT NULL,
    updated      INTEGER,
    summary      TEXT,
    content      TEXT,
    categories   TEXT    NOT NULL DEFAULT '[]',
    content_hash TEXT    NOT NULL UNIQUE,
    first_seen   INTEGER NOT NULL,
    UNIQUE (source, key)
);

CREATE INDEX entries_by_date ON entries (published DESC, id);
