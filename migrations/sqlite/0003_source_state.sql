-- What a source's last polls taught us, kept across restarts. `url` is the configured URL the
-- row belongs to: when config.yaml points the source elsewhere, the row no longer applies.
CREATE TABLE source_state (
    name          TEXT    PRIMARY KEY NOT NULL,
    url           TEXT    NOT NULL,
    etag          TEXT,
    last_modified TEXT,
    -- Where every redirect was permanent (301 / 308): polled there from then on.
    moved_to      TEXT,
    -- 410 Gone: not polled again until its URL changes in the config.
    gone          INTEGER NOT NULL DEFAULT 0
);
