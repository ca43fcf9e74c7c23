-- WebSub, as the hub of our own feeds: who asked to be told when `topic` (a feed's path below
-- base_url, e.g. `/feed.atom`) changes, until `expires_at` (unix milliseconds). `delivered` is
-- the hash of the last rendering of the topic delivered (or being delivered) to `callback`,
-- and `delivered_read` when that rendering read the store: setting them is how one replica,
-- and only one, takes a change to deliver, and a replica that rendered before another's
-- newer rendering cannot take it back to an older one.
CREATE TABLE websub_subscriptions (
    topic      TEXT    NOT NULL,
    callback   TEXT    NOT NULL,
    secret     TEXT,
    expires_at INTEGER NOT NULL,
    delivered  TEXT,
    delivered_read INTEGER,
    PRIMARY KEY (topic, callback)
);

-- WebSub, as a subscriber: the subscriptions of source `source` (at `url`) to `topic` at
-- `hub`. The hub calls back at `/websub/callback/{source}/{token}` and signs with `secret`.
-- `state` is `requested` until the hub verifies it, `active` from then until `lease_until`
-- (unix milliseconds), `silent` when polls found entries the hub did not push (subscribed
-- again a day after `requested_at`), and `unsubscribing` once the source left the config or
-- moved, until the hub confirms.
CREATE TABLE websub_pushes (
    token        TEXT    PRIMARY KEY NOT NULL,
    source       TEXT    NOT NULL,
    url          TEXT    NOT NULL,
    hub          TEXT    NOT NULL,
    topic        TEXT    NOT NULL,
    secret       TEXT    NOT NULL,
    state        TEXT    NOT NULL
        CHECK (state IN ('requested', 'active', 'silent', 'unsubscribing')),
    requested_at INTEGER NOT NULL,
    lease_until  INTEGER,
    last_push    INTEGER
);
CREATE INDEX websub_pushes_by_source ON websub_pushes (source);
