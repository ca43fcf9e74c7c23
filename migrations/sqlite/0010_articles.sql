-- The whole article behind an entry's link (`full_text`), fetched once per link. `outcome`
-- says whether it was extracted (`html` holds it, sanitized), whether the entry's own body was
-- whole and nothing was fetched (`full_text: auto`), or whether fetching failed: a failure is
-- tried again from `retry_at` (unix milliseconds) while that is set. A row whose `link` is no
-- longer its entry's stands for nothing: the new link is fetched.
CREATE TABLE articles (
    entry_id   TEXT    PRIMARY KEY NOT NULL,
    link       TEXT    NOT NULL,
    outcome    TEXT    NOT NULL CHECK (outcome IN ('extracted', 'whole', 'failed')),
    html       TEXT,
    attempts   INTEGER NOT NULL,
    retry_at   INTEGER,
    error      TEXT,
    decided_at INTEGER NOT NULL
);
