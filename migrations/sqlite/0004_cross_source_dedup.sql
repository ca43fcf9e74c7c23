-- Duplicates can now be found by canonical link as well as by content, and within one source
-- only when the config says so: the content hash is no longer unique by itself. SQLite cannot
-- drop a constraint, so the table is rebuilt.
CREATE TABLE entries_new (
    id             TEXT    PRIMARY KEY NOT NULL,
    source         TEXT    NOT NULL,
    key            TEXT    NOT NULL,
    title          TEXT    NOT NULL,
    link           TEXT,
    canonical_link TEXT,
    authors        TEXT    NOT NULL DEFAULT '[]',
    published      INTEGER NOT NULL,
    updated        INTEGER,
    summary        TEXT,
    content        TEXT,
    categories     TEXT    NOT NULL DEFAULT '[]',
    enclosures     TEXT    NOT NULL DEFAULT '[]',
    image          TEXT,
    content_hash   TEXT    NOT NULL,
    first_seen     INTEGER NOT NULL,
    UNIQUE (source, key)
);
INSERT INTO entries_new (id, source, key, title, link, authors, published, updated, summary,
    content, categories, enclosures, image, content_hash, first_seen)
SELECT id, source, key, title, link, authors, published, updated, summary, content, categories,
    enclosures, image, content_hash, first_seen
FROM entries;
DROP TABLE entries;
ALTER TABLE entries_new RENAME TO entries;
CREATE INDEX entries_by_date ON entries (published DESC, id);
CREATE INDEX entries_by_hash ON entries (content_hash);
CREATE INDEX entries_by_link ON entries (canonical_link);

-- Every other source an entry was also seen in (the first-seen copy is the one published).
CREATE TABLE entry_sources (
    entry_id TEXT NOT NULL,
    source   TEXT NOT NULL,
    PRIMARY KEY (entry_id, source)
);
