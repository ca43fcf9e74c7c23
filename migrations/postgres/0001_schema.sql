-- The store on PostgreSQL: the schema SQLite's migrations 0001-0007 arrived at, in one step,
-- and what replicas sharing it coordinate through. Dates are unix milliseconds (UTC), as in
-- SQLite, so both stores hold the same values.
CREATE TABLE entries (
    id             TEXT    PRIMARY KEY,
    source         TEXT    NOT NULL,
    key            TEXT    NOT NULL,
    title          TEXT    NOT NULL,
    link           TEXT,
    canonical_link TEXT,
    authors        TEXT    NOT NULL DEFAULT '[]',
    published      BIGINT  NOT NULL,
    updated        BIGINT,
    summary        TEXT,
    content        TEXT,
    categories     TEXT    NOT NULL DEFAULT '[]',
    enclosures     TEXT    NOT NULL DEFAULT '[]',
    image          TEXT,
    content_hash   TEXT    NOT NULL,
    first_seen     BIGINT  NOT NULL,
    -- Whether the entry was in its source's last document: retention prunes only those not.
    in_document    BOOLEAN NOT NULL DEFAULT TRUE,
    -- The hash of the bytes the entry was last read from (parse::RawHash).
    raw_hash       BIGINT,
    UNIQUE (source, key)
);
CREATE INDEX entries_by_date ON entries (published DESC, id);
CREATE INDEX entries_by_hash ON entries (content_hash);
CREATE INDEX entries_by_link ON entries (canonical_link);

-- Every other source an entry was also seen in (the first-seen copy is the one published).
CREATE TABLE entry_sources (
    entry_id TEXT NOT NULL,
    source   TEXT NOT NULL,
    PRIMARY KEY (entry_id, source)
);

-- Pruned entries, so a source that serves them again does not bring them back.
CREATE TABLE tombstones (
    source    TEXT   NOT NULL,
    key       TEXT   NOT NULL,
    pruned_at BIGINT NOT NULL,
    PRIMARY KEY (source, key)
);

-- What a source's last polls taught us (validators, a permanent move, 410 Gone).
CREATE TABLE source_state (
    name          TEXT    PRIMARY KEY,
    url           TEXT    NOT NULL,
    etag          TEXT,
    last_modified TEXT,
    moved_to      TEXT,
    gone          BOOLEAN NOT NULL DEFAULT FALSE
);

-- Who polls a source at a URL, and when it is due next: a replica polls a source only while
-- it holds its lease, and only once the source is due (i64::MAX: never, it is gone). A lease
-- expires, so a dead replica's sources pass to the others.
CREATE TABLE poll_leases (
    source      TEXT   NOT NULL,
    url         TEXT   NOT NULL,
    due_at      BIGINT NOT NULL,
    holder      TEXT,
    lease_until BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (source, url)
);

-- The last change of each source's entries and the replica that made it: the others render
-- the feeds again when they see one newer than the last they saw.
CREATE SEQUENCE change_numbers;
CREATE TABLE source_changes (
    source  TEXT   PRIMARY KEY,
    number  BIGINT NOT NULL,
    replica TEXT   NOT NULL
);

-- SQLite's group_concat(value, separator), so that the queries reading entries are the same on
-- both databases.
CREATE FUNCTION group_concat_step(joined TEXT, value TEXT, separator TEXT) RETURNS TEXT
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT CASE WHEN joined IS NULL THEN value ELSE joined || separator || value END $$;
CREATE AGGREGATE group_concat(TEXT, TEXT) (SFUNC = group_concat_step, STYPE = TEXT);
