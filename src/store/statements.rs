//! The store's statements, run the same way on SQLite and on PostgreSQL.
//!
//! Most statements read the same in both databases (`$1`-style parameters work in both); the
//! few that read JSON arrays or name an index differ, and each database lists those in its
//! `Dialect` (`sqlite::SQL`, `postgres::SQL`). The Rust that binds and runs them is written once,
//! in the macro below, and stamped out for each database: sqlx's generic database bounds would
//! have to be repeated on every function, where a macro states the database once.

use super::ingest::ROWS_PER_STATEMENT;

/// The statements whose SQL differs between the databases.
pub(super) struct Dialect {
    /// `(name, entry count)` of each source named in `$1`, a JSON array of names.
    pub entry_counts_of: &'static str,
    /// Entries stored under, or also carried by, the sources in `$1` (JSON), newest first: `$2`
    /// of them after skipping `$3`. For a few sources, and for many (the merged feed).
    pub latest_from_few: &'static str,
    pub latest_from_many: &'static str,
    /// What the store holds that bears on each incoming entry (`ingest::Found`): `$1` is a JSON
    /// array of lookups, `$2`, `$3` and `$4` the dedup rules `by_content`, `by_link` and
    /// `across_sources`.
    pub find_stored: &'static str,
    /// Sets `raw_hash` from the `[id, raw hash]` pairs in `$1` (JSON).
    pub set_raw_hashes: &'static str,
    /// Records the `[entry id, source]` pairs in `$1` (JSON), the known ones left alone.
    pub add_also_in: &'static str,
    /// Marks which entries of source `$2` are in its document: those whose key is in `$1`.
    pub mark_in_document: &'static str,
}

/// A query for entries with the other sources they were seen in, space-separated (source
/// names have no spaces), and the article extracted from their link, followed by `$tail`. A
/// macro because sqlx takes only static SQL.
macro_rules! select_entries {
    ($tail:literal) => {
        concat!(
            "SELECT entries.*, (SELECT group_concat(source, ' ') FROM entry_sources",
            " WHERE entry_id = entries.id) AS also_in, (SELECT html FROM articles",
            " WHERE entry_id = entries.id AND link = entries.link) AS article FROM entries ",
            $tail
        )
    };
}
pub(super) use select_entries;

const RAW_HASHES: &str =
    "SELECT raw_hash, key FROM entries WHERE source = $1 AND raw_hash IS NOT NULL";
const SOURCE_RECORD: &str = "SELECT * FROM source_state WHERE name = $1 AND url = $2";
const SAVE_SOURCE_RECORD: &str =
    "INSERT INTO source_state (name, url, etag, last_modified, moved_to, gone, failures,
        last_error, page_items)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (name) DO UPDATE SET url = excluded.url, etag = excluded.etag,
        last_modified = excluded.last_modified, moved_to = excluded.moved_to,
        gone = excluded.gone, failures = excluded.failures, last_error = excluded.last_error,
        page_items = excluded.page_items";
const ENTRY_COUNTS: &str = "SELECT source, COUNT(*) FROM entries GROUP BY source";
const LATEST: &str = select_entries!("ORDER BY published DESC, id LIMIT $1");
const ENTRIES_OF: &str = select_entries!("WHERE source = $1");
const ENTRY: &str = select_entries!("WHERE id = $1");
const KEYS_OF: &str = "SELECT key FROM entries WHERE source = $1";
const DELETE_ENTRY: &str = "DELETE FROM entries WHERE source = $1 AND key = $2";
/// Deletes the entries of source `$1` that left its document and are older than `$2` or
/// beyond the newest `$3`, returning their ids and keys.
const PRUNE: &str = "DELETE FROM entries WHERE source = $1 AND in_document = FALSE
        AND (published < $2 OR id NOT IN
            (SELECT id FROM entries WHERE source = $1 ORDER BY published DESC, id LIMIT $3))
     RETURNING id, key";
const TOMBSTONE: &str = "INSERT INTO tombstones (source, key, pruned_at) VALUES ($1, $2, $3)
     ON CONFLICT (source, key) DO UPDATE SET pruned_at = excluded.pruned_at";
const FORGET_ALSO_IN: &str = "DELETE FROM entry_sources WHERE entry_id = $1";
const FORGET_ARTICLE: &str = "DELETE FROM articles WHERE entry_id = $1";
/// The entries of source `$1` with a link whose article is wanted: never tried for their
/// link, then failures due again by `$2`, then (when `$3`) those `auto` found whole; newest
/// first, at most `$4`.
const ARTICLES_WANTED: &str = "SELECT entries.id, entries.link,
        COALESCE(entries.content, entries.summary) AS body,
        CASE WHEN articles.link = entries.link THEN articles.attempts ELSE 0 END AS attempts
     FROM entries LEFT JOIN articles ON articles.entry_id = entries.id
     WHERE entries.source = $1 AND entries.link IS NOT NULL
        AND (articles.entry_id IS NULL OR articles.link != entries.link
            OR (articles.outcome = 'failed' AND articles.retry_at <= $2)
            OR (articles.outcome = 'whole' AND $3))
     ORDER BY (articles.entry_id IS NULL OR articles.link != entries.link) DESC,
        entries.published DESC, entries.id
     LIMIT $4";
const SAVE_ARTICLE: &str =
    "INSERT INTO articles (entry_id, link, outcome, html, attempts, retry_at, error, decided_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (entry_id) DO UPDATE SET link = excluded.link, outcome = excluded.outcome,
        html = excluded.html, attempts = excluded.attempts, retry_at = excluded.retry_at,
        error = excluded.error, decided_at = excluded.decided_at";
/// Unexpired hub subscriptions at `$1`, besides the one of topic `$2` and callback `$3`.
const OTHER_HUB_SUBSCRIPTIONS: &str = "SELECT COUNT(*) FROM websub_subscriptions
     WHERE expires_at > $1 AND NOT (topic = $2 AND callback = $3)";
/// A renewal keeps what was delivered: the subscriber has seen that rendering.
const HUB_SUBSCRIBE: &str =
    "INSERT INTO websub_subscriptions (topic, callback, secret, expires_at, delivered)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (topic, callback) DO UPDATE SET secret = excluded.secret,
        expires_at = excluded.expires_at";
const HUB_UNSUBSCRIBE: &str = "DELETE FROM websub_subscriptions WHERE topic = $1 AND callback = $2";
const HUB_EXPIRE: &str = "DELETE FROM websub_subscriptions WHERE expires_at <= $1";
const HUB_SUBSCRIPTIONS: &str = "SELECT topic, callback, secret, expires_at, delivered
     FROM websub_subscriptions WHERE expires_at > $1 ORDER BY topic, callback";
/// Takes the delivery of rendering `$3` of topic `$1` to `$2`, which read the store at `$4`:
/// one replica's update changes the row, the others' find it taken, or taken by a newer one.
const HUB_TAKE_DELIVERY: &str =
    "UPDATE websub_subscriptions SET delivered = $3, delivered_read = $4
     WHERE topic = $1 AND callback = $2 AND (delivered IS NULL OR delivered != $3)
        AND (delivered_read IS NULL OR delivered_read < $4)";
/// A source's subscription, the one not being ended.
const PUSH_OF: &str = "SELECT token, source, url, hub, topic, secret, state, requested_at,
        lease_until, last_push
     FROM websub_pushes WHERE source = $1 AND state != 'unsubscribing'
     ORDER BY requested_at DESC LIMIT 1";
const PUSH_BY_TOKEN: &str = "SELECT token, source, url, hub, topic, secret, state, requested_at,
        lease_until, last_push FROM websub_pushes WHERE token = $1";
const ALL_PUSHES: &str = "SELECT token, source, url, hub, topic, secret, state, requested_at,
        lease_until, last_push FROM websub_pushes ORDER BY source, requested_at";
const SAVE_PUSH: &str = "INSERT INTO websub_pushes (token, source, url, hub, topic, secret,
        state, requested_at, lease_until, last_push)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (token) DO UPDATE SET source = excluded.source, url = excluded.url,
        hub = excluded.hub, topic = excluded.topic, secret = excluded.secret,
        state = excluded.state, requested_at = excluded.requested_at,
        lease_until = excluded.lease_until, last_push = excluded.last_push";
const DELETE_PUSH: &str = "DELETE FROM websub_pushes WHERE token = $1";
/// Follows `with_rows`.
const INSERT_NEW: &str = " INSERT INTO entries (id, source, key, title, link, canonical_link,
        authors, published, updated, summary, content, categories, enclosures, image,
        content_hash, first_seen, raw_hash, revision)
     SELECT id, source, key, title, link, canonical_link, authors, COALESCE(published, seen),
        updated, summary, content, categories, enclosures, image, hash, seen, raw_hash, revision
     FROM incoming";
/// Follows `with_rows`: stored entries take the incoming values, `updated` set by `$updated`.
/// A macro because sqlx takes only static SQL.
macro_rules! update_entries {
    ($updated:literal) => {
        concat!(
            " UPDATE entries SET title = incoming.title, link = incoming.link,
                canonical_link = incoming.canonical_link, authors = incoming.authors,
                published = COALESCE(incoming.published, entries.published),
                updated = ",
            $updated,
            ", summary = incoming.summary, content = incoming.content,
                categories = incoming.categories, enclosures = incoming.enclosures,
                image = incoming.image, content_hash = incoming.hash,
                raw_hash = incoming.raw_hash, revision = incoming.revision
             FROM incoming WHERE entries.id = incoming.id"
        )
    };
}
/// An update keeps the date it had unless the source now gives one, and is dated `updated`
/// when it was seen changed unless the source says when.
const UPDATE_CHANGED: &str = update_entries!("COALESCE(incoming.updated, incoming.seen)");
/// A refresh (`Round::refreshed`) may change nothing, so it is not dated.
const UPDATE_REFRESHED: &str = update_entries!("COALESCE(incoming.updated, entries.updated)");

/// The statements' functions for `$database`, whose `Dialect` is `$dialect`.
macro_rules! statements {
    ($database:ty, $dialect:path) => {
        use std::collections::HashMap;

        use chrono::{DateTime, Utc};
        use sqlx::{Pool, QueryBuilder, Row, Transaction};

        use super::*;
        use crate::config::{DedupSettings, RetentionSettings};
        use crate::fetch::Validators;
        use crate::model::{Entry, EntryId};
        use crate::parse::RawHash;
        use crate::store::ingest::{self, Found, Incoming, Round};
        use crate::store::websub::{HubRequest, HubSubscription, PushRecord, PushRow};
        use crate::store::{
            ArticleOutcome, IngestCounts, Policy, Poll, SourceRecord, StoreError, StoredEntry,
            WantedArticle,
        };

        type Database = $database;
        const SQL: &Dialect = &$dialect;

        fn entries(rows: Vec<StoredEntry>) -> Result<Vec<Entry>, StoreError> {
            rows.into_iter().map(Entry::try_from).collect()
        }

        fn count(value: usize) -> i64 {
            i64::try_from(value).unwrap_or(i64::MAX)
        }

        pub(in crate::store) async fn raw_hashes(
            pool: &Pool<Database>,
            source: &str,
        ) -> Result<HashMap<RawHash, String>, StoreError> {
            Ok(sqlx::query_as(RAW_HASHES)
                .bind(source)
                .fetch_all(pool)
                .await?
                .into_iter()
                .collect())
        }

        pub(in crate::store) async fn source_record(
            pool: &Pool<Database>,
            name: &str,
            url: &str,
        ) -> Result<Option<SourceRecord>, StoreError> {
            let Some(row) = sqlx::query(SOURCE_RECORD)
                .bind(name)
                .bind(url)
                .fetch_optional(pool)
                .await?
            else {
                return Ok(None);
            };
            Ok(Some(SourceRecord {
                url: row.try_get("url")?,
                validators: Validators {
                    etag: row.try_get("etag")?,
                    last_modified: row.try_get("last_modified")?,
                },
                moved_to: row.try_get("moved_to")?,
                gone: row.try_get("gone")?,
                failures: u32::try_from(row.try_get::<i64, _>("failures")?).unwrap_or(u32::MAX),
                last_error: row.try_get("last_error")?,
                page_items: row
                    .try_get::<Option<i64>, _>("page_items")?
                    .map(|items| u32::try_from(items).unwrap_or(u32::MAX)),
            }))
        }

        pub(in crate::store) async fn ping(pool: &Pool<Database>) -> Result<(), StoreError> {
            sqlx::query("SELECT 1").execute(pool).await?;
            Ok(())
        }

        pub(in crate::store) async fn entry_counts(
            pool: &Pool<Database>,
        ) -> Result<Vec<(String, i64)>, StoreError> {
            Ok(sqlx::query_as(ENTRY_COUNTS).fetch_all(pool).await?)
        }

        pub(in crate::store) async fn entry_counts_of(
            pool: &Pool<Database>,
            sources: &[&str],
        ) -> Result<Vec<(String, i64)>, StoreError> {
            Ok(sqlx::query_as(SQL.entry_counts_of)
                .bind(serde_json::to_string(sources).expect("names serialize"))
                .fetch_all(pool)
                .await?)
        }

        pub(in crate::store) async fn latest(
            pool: &Pool<Database>,
            limit: usize,
        ) -> Result<Vec<Entry>, StoreError> {
            entries(
                sqlx::query_as(LATEST)
                    .bind(count(limit))
                    .fetch_all(pool)
                    .await?,
            )
        }

        pub(in crate::store) async fn latest_from(
            pool: &Pool<Database>,
            sources: &[&str],
            limit: usize,
            skip: usize,
        ) -> Result<Vec<Entry>, StoreError> {
            let query = if sources.len() < crate::store::WALK_BY_DATE_FROM_SOURCES {
                SQL.latest_from_few
            } else {
                SQL.latest_from_many
            };
            entries(
                sqlx::query_as(query)
                    .bind(serde_json::to_string(sources).expect("names serialize"))
                    .bind(count(limit))
                    .bind(count(skip))
                    .fetch_all(pool)
                    .await?,
            )
        }

        pub(in crate::store) async fn entries_of(
            pool: &Pool<Database>,
            source: &str,
        ) -> Result<Vec<Entry>, StoreError> {
            entries(
                sqlx::query_as(ENTRIES_OF)
                    .bind(source)
                    .fetch_all(pool)
                    .await?,
            )
        }

        pub(in crate::store) async fn entry(
            pool: &Pool<Database>,
            id: &EntryId,
        ) -> Result<Option<Entry>, StoreError> {
            sqlx::query_as::<_, StoredEntry>(ENTRY)
                .bind(id.as_str())
                .fetch_optional(pool)
                .await?
                .map(Entry::try_from)
                .transpose()
        }

        pub(in crate::store) async fn articles_wanted(
            pool: &Pool<Database>,
            source: &str,
            whole_too: bool,
            now: DateTime<Utc>,
            limit: usize,
        ) -> Result<Vec<WantedArticle>, StoreError> {
            let rows: Vec<(String, String, Option<String>, i64)> = sqlx::query_as(ARTICLES_WANTED)
                .bind(source)
                .bind(now.timestamp_millis())
                .bind(whole_too)
                .bind(count(limit))
                .fetch_all(pool)
                .await?;
            rows.into_iter()
                .map(|(id, link, body, attempts)| {
                    Ok(WantedArticle {
                        entry_id: EntryId::parse(&id).ok_or_else(|| StoreError::Corrupt {
                            id: id.clone(),
                            what: "the id is not 16 hex digits".into(),
                        })?,
                        link,
                        body,
                        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                    })
                })
                .collect()
        }

        pub(in crate::store) async fn save_article(
            transaction: &mut Transaction<'static, Database>,
            wanted: &WantedArticle,
            outcome: &ArticleOutcome,
            now: DateTime<Utc>,
        ) -> Result<(), StoreError> {
            let (name, html, attempts, retry_at, error) = match outcome {
                ArticleOutcome::Extracted { html } => ("extracted", Some(html), 0, None, None),
                ArticleOutcome::Whole => ("whole", None, 0, None, None),
                ArticleOutcome::Failed {
                    error,
                    attempts,
                    retry_at,
                } => ("failed", None, *attempts, *retry_at, Some(error)),
            };
            sqlx::query(SAVE_ARTICLE)
                .bind(wanted.entry_id.as_str())
                .bind(&wanted.link)
                .bind(name)
                .bind(html)
                .bind(i64::from(attempts))
                .bind(retry_at.map(|at: DateTime<Utc>| at.timestamp_millis()))
                .bind(error)
                .bind(now.timestamp_millis())
                .execute(&mut **transaction)
                .await?;
            Ok(())
        }

        /// Stores the entries of one poll and, when it names its source, what the poll taught
        /// about it, then applies retention to that source.
        pub(in crate::store) async fn write_poll(
            transaction: &mut Transaction<'static, Database>,
            entries: &[Entry],
            raw_hashes: &[Option<RawHash>],
            poll: Option<&Poll<'_>>,
            policy: &Policy,
            now: DateTime<Utc>,
        ) -> Result<IngestCounts, StoreError> {
            let mut counts =
                write_entries(transaction, entries, raw_hashes, &policy.dedup, now).await?;
            if let Some(poll) = poll {
                save_source_record(transaction, poll.name, poll.record).await?;
                let keys: Vec<&str> = entries
                    .iter()
                    .map(|entry| entry.key.as_str())
                    .chain(poll.unchanged_keys.iter().map(String::as_str))
                    .collect();
                counts.pruned =
                    prune(transaction, poll.name, &keys, &policy.retention, now).await?;
            }
            Ok(counts)
        }

        /// Saves `request`, unless `max` other subscriptions are held: then `false`.
        pub(in crate::store) async fn hub_subscribe(
            transaction: &mut Transaction<'static, Database>,
            request: &HubRequest<'_>,
            max: usize,
            now: DateTime<Utc>,
        ) -> Result<bool, StoreError> {
            let others: i64 = sqlx::query_scalar(OTHER_HUB_SUBSCRIPTIONS)
                .bind(now.timestamp_millis())
                .bind(request.topic)
                .bind(request.callback)
                .fetch_one(&mut **transaction)
                .await?;
            if others >= count(max) {
                return Ok(false);
            }
            sqlx::query(HUB_SUBSCRIBE)
                .bind(request.topic)
                .bind(request.callback)
                .bind(request.secret)
                .bind(request.expires_at.timestamp_millis())
                .bind(request.delivered)
                .execute(&mut **transaction)
                .await?;
            Ok(true)
        }

        pub(in crate::store) async fn hub_unsubscribe(
            transaction: &mut Transaction<'static, Database>,
            topic: &str,
            callback: &str,
        ) -> Result<(), StoreError> {
            sqlx::query(HUB_UNSUBSCRIBE)
                .bind(topic)
                .bind(callback)
                .execute(&mut **transaction)
                .await?;
            Ok(())
        }

        pub(in crate::store) async fn hub_forget_expired(
            transaction: &mut Transaction<'static, Database>,
            now: DateTime<Utc>,
        ) -> Result<(), StoreError> {
            sqlx::query(HUB_EXPIRE)
                .bind(now.timestamp_millis())
                .execute(&mut **transaction)
                .await?;
            Ok(())
        }

        pub(in crate::store) async fn hub_subscriptions(
            pool: &Pool<Database>,
            now: DateTime<Utc>,
        ) -> Result<Vec<HubSubscription>, StoreError> {
            let rows: Vec<(String, String, Option<String>, i64, Option<String>)> =
                sqlx::query_as(HUB_SUBSCRIPTIONS)
                    .bind(now.timestamp_millis())
                    .fetch_all(pool)
                    .await?;
            Ok(rows
                .into_iter()
                .map(
                    |(topic, callback, secret, expires_at, delivered)| HubSubscription {
                        topic,
                        callback,
                        secret,
                        expires_at: DateTime::from_timestamp_millis(expires_at).unwrap_or_default(),
                        delivered,
                    },
                )
                .collect())
        }

        pub(in crate::store) async fn hub_take_delivery(
            transaction: &mut Transaction<'static, Database>,
            topic: &str,
            callback: &str,
            rendering: &str,
            read_at: DateTime<Utc>,
        ) -> Result<bool, StoreError> {
            let taken = sqlx::query(HUB_TAKE_DELIVERY)
                .bind(topic)
                .bind(callback)
                .bind(rendering)
                .bind(read_at.timestamp_millis())
                .execute(&mut **transaction)
                .await?;
            Ok(taken.rows_affected() == 1)
        }

        pub(in crate::store) async fn push_of(
            pool: &Pool<Database>,
            source: &str,
        ) -> Result<Option<PushRecord>, StoreError> {
            let row: Option<PushRow> = sqlx::query_as(PUSH_OF)
                .bind(source)
                .fetch_optional(pool)
                .await?;
            row.map(PushRecord::try_from).transpose()
        }

        pub(in crate::store) async fn push_by_token(
            pool: &Pool<Database>,
            token: &str,
        ) -> Result<Option<PushRecord>, StoreError> {
            let row: Option<PushRow> = sqlx::query_as(PUSH_BY_TOKEN)
                .bind(token)
                .fetch_optional(pool)
                .await?;
            row.map(PushRecord::try_from).transpose()
        }

        pub(in crate::store) async fn all_pushes(
            pool: &Pool<Database>,
        ) -> Result<Vec<PushRecord>, StoreError> {
            let rows: Vec<PushRow> = sqlx::query_as(ALL_PUSHES).fetch_all(pool).await?;
            rows.into_iter().map(PushRecord::try_from).collect()
        }

        pub(in crate::store) async fn save_push(
            transaction: &mut Transaction<'static, Database>,
            push: &PushRecord,
        ) -> Result<(), StoreError> {
            sqlx::query(SAVE_PUSH)
                .bind(&push.token)
                .bind(&push.source)
                .bind(&push.url)
                .bind(&push.hub)
                .bind(&push.topic)
                .bind(&push.secret)
                .bind(push.state.as_str())
                .bind(push.requested_at.timestamp_millis())
                .bind(push.lease_until.map(|at| at.timestamp_millis()))
                .bind(push.last_push.map(|at| at.timestamp_millis()))
                .execute(&mut **transaction)
                .await?;
            Ok(())
        }

        pub(in crate::store) async fn delete_push(
            transaction: &mut Transaction<'static, Database>,
            token: &str,
        ) -> Result<(), StoreError> {
            sqlx::query(DELETE_PUSH)
                .bind(token)
                .execute(&mut **transaction)
                .await?;
            Ok(())
        }

        pub(in crate::store) async fn save_source_record(
            transaction: &mut Transaction<'static, Database>,
            name: &str,
            record: &SourceRecord,
        ) -> Result<(), StoreError> {
            sqlx::query(SAVE_SOURCE_RECORD)
                .bind(name)
                .bind(&record.url)
                .bind(&record.validators.etag)
                .bind(&record.validators.last_modified)
                .bind(&record.moved_to)
                .bind(record.gone)
                .bind(i64::from(record.failures))
                .bind(&record.last_error)
                .bind(record.page_items.map(i64::from))
                .execute(&mut **transaction)
                .await?;
            Ok(())
        }

        /// Removes the entries of `source` whose key is not in `present`; returns how many.
        pub(in crate::store) async fn remove_absent(
            transaction: &mut Transaction<'static, Database>,
            source: &str,
            present: &[&str],
        ) -> Result<usize, StoreError> {
            let keys: Vec<String> = sqlx::query_scalar(KEYS_OF)
                .bind(source)
                .fetch_all(&mut **transaction)
                .await?;
            let mut removed = 0;
            for key in keys.iter().filter(|key| !present.contains(&key.as_str())) {
                removed += sqlx::query(DELETE_ENTRY)
                    .bind(source)
                    .bind(key)
                    .execute(&mut **transaction)
                    .await?
                    .rows_affected() as usize;
            }
            Ok(removed)
        }

        /// Marks which of `source`'s entries are in the document just fetched (`keys`), then
        /// prunes those that are not and are older than `max_age` or beyond
        /// `max_entries_per_source`, leaving tombstones. Returns how many were pruned.
        async fn prune(
            transaction: &mut Transaction<'static, Database>,
            source: &str,
            keys: &[&str],
            rules: &RetentionSettings,
            now: DateTime<Utc>,
        ) -> Result<usize, StoreError> {
            sqlx::query(SQL.mark_in_document)
                .bind(serde_json::to_string(keys).expect("keys serialize"))
                .bind(source)
                .execute(&mut **transaction)
                .await?;
            let oldest_kept =
                now - chrono::TimeDelta::from_std(rules.max_age).unwrap_or(chrono::TimeDelta::MAX);
            let pruned: Vec<(String, String)> = sqlx::query_as(PRUNE)
                .bind(source)
                .bind(oldest_kept.timestamp_millis())
                .bind(count(rules.max_entries_per_source))
                .fetch_all(&mut **transaction)
                .await?;
            for (id, key) in &pruned {
                sqlx::query(TOMBSTONE)
                    .bind(source)
                    .bind(key)
                    .bind(now.timestamp_millis())
                    .execute(&mut **transaction)
                    .await?;
                for forget in [FORGET_ALSO_IN, FORGET_ARTICLE] {
                    sqlx::query(forget)
                        .bind(id)
                        .execute(&mut **transaction)
                        .await?;
                }
            }
            Ok(pruned.len())
        }

        /// Stores `entries` (with the hashes of their bytes, where known) in document order;
        /// `now` is when the first was seen, each later one a millisecond earlier.
        async fn write_entries(
            transaction: &mut Transaction<'static, Database>,
            entries: &[Entry],
            raw_hashes: &[Option<RawHash>],
            rules: &DedupSettings,
            now: DateTime<Utc>,
        ) -> Result<IngestCounts, StoreError> {
            let incoming = ingest::incoming(entries, raw_hashes, now);
            let mut counts = IngestCounts::default();
            let mut rest = &incoming[..];
            while !rest.is_empty() {
                let found: Vec<Found> = sqlx::query_as(SQL.find_stored)
                    .bind(ingest::lookups(rest))
                    .bind(rules.by_content)
                    .bind(rules.by_link)
                    .bind(rules.across_sources)
                    .fetch_all(&mut **transaction)
                    .await?;
                let round = Round::plan(rest, &found, rules);
                write_round(transaction, &round, &mut counts).await?;
                rest = &rest[round.decided..];
            }
            Ok(counts)
        }

        async fn write_round(
            transaction: &mut Transaction<'static, Database>,
            round: &Round<'_>,
            counts: &mut IngestCounts,
        ) -> Result<(), StoreError> {
            for new in round.new.chunks(ROWS_PER_STATEMENT) {
                with_rows(new)
                    .push(INSERT_NEW)
                    .build()
                    .execute(&mut **transaction)
                    .await?;
            }
            let updates = [
                (&round.updated, UPDATE_CHANGED),
                (&round.refreshed, UPDATE_REFRESHED),
            ];
            for (entries, statement) in updates {
                for rows in entries.chunks(ROWS_PER_STATEMENT) {
                    with_rows(rows)
                        .push(statement)
                        .build()
                        .execute(&mut **transaction)
                        .await?;
                }
            }
            if !round.raw_hashes.is_empty() {
                sqlx::query(SQL.set_raw_hashes)
                    .bind(serde_json::to_string(&round.raw_hashes).expect("raw hashes serialize"))
                    .execute(&mut **transaction)
                    .await?;
            }
            if !round.also_in.is_empty() {
                counts.newly_also_in += sqlx::query(SQL.add_also_in)
                    .bind(serde_json::to_string(&round.also_in).expect("sources serialize"))
                    .execute(&mut **transaction)
                    .await?
                    .rows_affected() as usize;
            }
            round.count_into(counts);
            Ok(())
        }

        /// `WITH incoming (…) AS (VALUES …)`: the entries as rows of the `entries` table, bound
        /// as parameters (their bodies are most of the bytes written, and passing them in JSON
        /// cost a parse per column).
        fn with_rows(incoming: &[&Incoming<'_>]) -> QueryBuilder<Database> {
            let mut query = QueryBuilder::new(
                "WITH incoming (id, source, key, title, link, canonical_link, authors, published,
                    updated, summary, content, categories, enclosures, image, hash, seen,
                    raw_hash, revision) AS (",
            );
            query.push_values(incoming, |mut row, incoming| {
                let entry = incoming.entry;
                row.push_bind(entry.id.as_str())
                    .push_bind(&entry.source)
                    .push_bind(&entry.key)
                    .push_bind(&entry.title)
                    .push_bind(&entry.link)
                    .push_bind(&incoming.canonical_link)
                    .push_bind(serde_json::to_string(&entry.authors).expect("authors serialize"))
                    .push_bind(entry.date().map(|date| date.timestamp_millis()))
                    .push_bind(entry.updated.map(|date| date.timestamp_millis()))
                    .push_bind(&entry.summary)
                    .push_bind(&entry.content)
                    .push_bind(
                        serde_json::to_string(&entry.categories).expect("categories serialize"),
                    )
                    .push_bind(
                        serde_json::to_string(&entry.enclosures).expect("enclosures serialize"),
                    )
                    .push_bind(&entry.image)
                    .push_bind(entry.content_hash.as_str())
                    .push_bind(incoming.seen.timestamp_millis())
                    .push_bind(incoming.raw_hash)
                    .push_bind(incoming.revision);
            });
            query.push(")");
            query
        }
    };
}

pub(super) mod sqlite {
    statements!(sqlx::Sqlite, crate::store::sqlite::SQL);
}

pub(super) mod postgres {
    statements!(sqlx::Postgres, crate::store::postgres::SQL);
}
