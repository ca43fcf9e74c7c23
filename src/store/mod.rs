//! Persistence of entries in SQLite, behind one small interface.
//!
//! The store owns the schema (migrations in `migrations/`, applied at open) and the dedup rules
//! that need to see what is already stored: an entry is new, an update of the same (source, key),
//! unchanged, or a duplicate of a body already stored under another entry (`ingest`). Each
//! source poll is written whole or not at all, in a savepoint of a transaction it may share with
//! polls that finished beside it (`writer`), so a crash loses at most the polls in flight. It
//! renders nothing.

mod ingest;
mod writer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

use crate::config::{DedupSettings, RetentionSettings};
use crate::fetch::Validators;
use crate::model::{ContentHash, Entry, EntryId, Person};
use crate::parse::{Changes, RawHash};
use writer::Writer;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the store's folder {path}: {source}")]
    CreateFolder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the store {path}: {source}")]
    Open { path: PathBuf, source: sqlx::Error },
    #[error("cannot migrate the store {path}: {source}")]
    Migrate {
        path: PathBuf,
        source: sqlx::migrate::MigrateError,
    },
    #[error(
        "the store {path} has schema version {found}, newer than this tributary knows ({known}): \
         it was written by a newer release; run that release, or point storage.path elsewhere \
         (the file was not changed)"
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error(
        "the store {path} is damaged: {source}. tributary changed nothing in it and does not run \
         on it: restore it from a backup; or recover what SQLite can still read \
         (sqlite3 {path} .recover | sqlite3 recovered.db) and set storage.path to the new file; \
         or move it away, and tributary starts with an empty store"
    )]
    Damaged { path: PathBuf, source: sqlx::Error },
    #[error("store query failed: {0}{advice}", advice = advice(.0))]
    Query(#[from] sqlx::Error),
    /// The commit of a transaction shared with other writers failed.
    #[error("store commit failed: {0}")]
    Commit(String),
    #[error("stored entry {id} is corrupt: {what}")]
    Corrupt { id: String, what: String },
}

impl StoreError {
    /// Whether SQLite refused to write because the file or its connection is read-only (8).
    fn is_read_only(&self) -> bool {
        matches!(self, StoreError::Query(source) if primary_code(source) == Some(8))
    }

    /// This error, told as damage to the store at `path` when SQLite found the file damaged.
    pub fn in_store(self, path: &Path) -> StoreError {
        match self {
            StoreError::Query(source) if is_damage(&source) => StoreError::Damaged {
                path: path.to_path_buf(),
                source,
            },
            other => other,
        }
    }
}

/// What a query's error adds, where SQLite's result code says what the user can do.
fn advice(error: &sqlx::Error) -> &'static str {
    match primary_code(error) {
        Some(11 | 26) => {
            " (the store file is damaged: tributary changes nothing in it; restart it for what to do)"
        }
        Some(13) => " (free space on the store's disk: polling resumes by itself)",
        Some(8) => " (make the store's file and folder writable: polling resumes by itself)",
        Some(10) => {
            " (the store's disk failed a read or write: it may have turned read-only, or be failing; see the kernel log (dmesg); polling resumes once it works)"
        }
        _ => "",
    }
}

/// SQLite's primary result code in `error`: extended codes carry it in their low byte.
fn primary_code(error: &sqlx::Error) -> Option<i32> {
    let code = error.as_database_error()?.code()?.parse::<i32>().ok()?;
    Some(code & 0xff)
}

/// Whether SQLite says the file is not a database (26), or a page of it is malformed (11).
fn is_damage(error: &sqlx::Error) -> bool {
    matches!(primary_code(error), Some(11 | 26))
}

/// What one ingest did with the entries it was given.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IngestCounts {
    pub new: usize,
    pub updated: usize,
    /// Entries whose story is already stored under another entry (first seen wins).
    pub duplicate: usize,
    /// Duplicates whose source the published copy did not list yet: it now does.
    pub newly_also_in: usize,
    pub unchanged: usize,
    /// Entries removed because their origin is gone (a deleted seed file).
    pub removed: usize,
    /// Entries pruned by retention after leaving their source's document.
    pub pruned: usize,
    /// Entries not stored again because retention pruned them before.
    pub tombstoned: usize,
}

impl IngestCounts {
    /// Whether the published feeds need a new rendering.
    pub fn changed(&self) -> bool {
        self.new + self.updated + self.removed + self.newly_also_in + self.pruned > 0
    }
}

/// A query for entries with the other sources they were seen in, space-separated (source
/// names have no spaces), followed by `$tail`. A macro because sqlx takes only static SQL.
macro_rules! select_entries {
    ($tail:literal) => {
        concat!(
            "SELECT entries.*, (SELECT group_concat(source, ' ') FROM entry_sources",
            " WHERE entry_id = entries.id) AS also_in FROM entries ",
            $tail
        )
    };
}

/// What the store keeps about a remote source between polls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceRecord {
    /// The configured URL this record belongs to.
    pub url: String,
    pub validators: Validators,
    pub moved_to: Option<String>,
    pub gone: bool,
}

/// The source a poll's entries came from, and what else the poll saw.
struct Poll<'a> {
    name: &'a str,
    record: &'a SourceRecord,
    /// Keys of entries still in the document that were not read again.
    unchanged_keys: &'a [String],
}

/// A handle to the entry store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
    /// Shared by every clone, so a config reload reaches all of them.
    policy: Arc<Mutex<Policy>>,
    /// Every write goes through it.
    writer: Arc<Writer>,
}

/// The rules the store applies on every ingest.
#[derive(Debug, Clone, Copy, Default)]
pub struct Policy {
    pub dedup: DedupSettings,
    pub retention: RetentionSettings,
}

/// From this many sources on, a feed's entries are found by walking the date index rather than
/// by gathering each source's rows (`latest_from`).
const WALK_BY_DATE_FROM_SOURCES: usize = 32;

/// A writer copies the WAL into the database file itself once it holds this many pages (4 KiB
/// each); normally the checkpointer has done it long before.
const WAL_BACKSTOP_PAGES: &str = "10000";

/// The writer's page cache, in KiB (negative, as `cache_size` takes it); readers keep SQLite's
/// default of about 2 MB. With it on the writer's own connection, a cycle of 1,000 new sources
/// took 7% less time and one of 10,000 took 12% less (medians of paired runs, BENCHMARKS.md);
/// the default size there gained nothing, and 64 MB no more than 16.
const WRITER_CACHE_KIB: &str = "-16384";

/// How long a writer waits for another one before failing with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

impl Store {
    /// Opens (creating if needed) the SQLite file at `path` and applies pending migrations.
    pub async fn open(path: &Path, policy: Policy) -> Result<Store, StoreError> {
        if let Some(folder) = path
            .parent()
            .filter(|folder| !folder.as_os_str().is_empty())
        {
            std::fs::create_dir_all(folder).map_err(|source| StoreError::CreateFolder {
                path: folder.to_path_buf(),
                source,
            })?;
        }
        let open_error = |source| match is_damage(&source) {
            true => StoreError::Damaged {
                path: path.to_path_buf(),
                source,
            },
            false => StoreError::Open {
                path: path.to_path_buf(),
                source,
            },
        };
        let options = SqliteConnectOptions::from_str("sqlite:")
            .map_err(open_error)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // With WAL, NORMAL is durable against application crashes and never corrupts; it
            // can lose the last commits on power loss, which a re-poll recovers.
            .synchronous(SqliteSynchronous::Normal)
            // A statement that writes many rows journals them for its own rollback: in memory,
            // rather than a temporary file written and read back.
            .pragma("temp_store", "memory")
            // Checkpoints run beside the writers (`writer`); this is a backstop.
            .pragma("wal_autocheckpoint", WAL_BACKSTOP_PAGES)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.clone())
            .await
            .map_err(open_error)?;
        // Reading the schema finds a file that is not a database, or whose first pages are
        // damaged, before anything is written to it.
        sqlx::query("SELECT count(*) FROM sqlite_master")
            .execute(&pool)
            .await
            .map_err(open_error)?;
        let migrator = sqlx::migrate!("./migrations");
        let known = migrator
            .iter()
            .map(|migration| migration.version)
            .max()
            .unwrap_or(0);
        // A store written by a newer tributary is refused before anything touches it.
        let applied: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
            .fetch_one(&pool)
            .await
            .unwrap_or(None);
        if let Some(found) = applied.filter(|found| *found > known) {
            pool.close().await;
            return Err(StoreError::NewerSchema {
                path: path.to_path_buf(),
                found,
                known,
            });
        }
        migrator.run(&pool).await.map_err(|source| match source {
            sqlx::migrate::MigrateError::Execute(source) => open_error(source),
            source => StoreError::Migrate {
                path: path.to_path_buf(),
                source,
            },
        })?;
        // The writer's own connection: SQLite empties a connection's page cache when another
        // one has committed since its last transaction, so a writer drawing from the shared
        // pool found a cold cache at nearly every turn and read the index pages again.
        let writing = SqlitePoolOptions::new()
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options.pragma("cache_size", WRITER_CACHE_KIB))
            .await
            .map_err(open_error)?;
        Ok(Store {
            writer: Arc::new(Writer::new(writing, pool.clone())),
            pool,
            policy: Arc::new(Mutex::new(policy)),
        })
    }

    /// Stores the entries of one poll, and what the poll taught about its source, in one
    /// transaction: validators are never saved for entries that were not. `now` is when the
    /// first entry was seen; each later one counts as seen a millisecond earlier, so entries
    /// without dates keep their document's newest-first order and distinct times (two equal
    /// `atom:updated` values draw a validator warning).
    pub async fn ingest(
        &self,
        entries: &[Entry],
        source: Option<(&str, &SourceRecord)>,
        now: DateTime<Utc>,
    ) -> Result<IngestCounts, StoreError> {
        let poll = source.map(|(name, record)| Poll {
            name,
            record,
            unchanged_keys: &[],
        });
        self.write_poll(entries, &vec![None; entries.len()], poll, now)
            .await
    }

    /// Stores what `parse_changes` found in a document of source `name`: its new and changed
    /// entries with the hashes of their bytes; the entries it only named are still in the
    /// document (for retention) and otherwise untouched.
    pub async fn ingest_changes(
        &self,
        changes: &Changes,
        name: &str,
        record: &SourceRecord,
        now: DateTime<Utc>,
    ) -> Result<IngestCounts, StoreError> {
        let poll = Poll {
            name,
            record,
            unchanged_keys: &changes.unchanged_keys,
        };
        let mut counts = self
            .write_poll(&changes.entries, &changes.raw_hashes, Some(poll), now)
            .await?;
        counts.unchanged += changes.unchanged_keys.len();
        Ok(counts)
    }

    /// The hashes of the bytes that `source`'s stored entries were read from, with their keys.
    pub async fn raw_hashes(&self, source: &str) -> Result<HashMap<RawHash, String>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT raw_hash, key FROM entries WHERE source = ? AND raw_hash IS NOT NULL",
        )
        .bind(source)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .collect())
    }

    async fn write_poll(
        &self,
        entries: &[Entry],
        raw_hashes: &[Option<RawHash>],
        poll: Option<Poll<'_>>,
        now: DateTime<Utc>,
    ) -> Result<IngestCounts, StoreError> {
        let policy = self.policy();
        let mut turn = self.writer.turn().await?;
        let transaction = turn.transaction();
        let answer = async {
            let mut counts =
                ingest::write_entries(transaction, entries, raw_hashes, &policy.dedup, now).await?;
            if let Some(poll) = &poll {
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
        .await;
        turn.finish(answer).await
    }

    /// The rules for the next ingests (after a config reload).
    pub fn set_policy(&self, policy: Policy) {
        *self
            .policy
            .lock()
            .expect("no code panics holding the policy") = policy;
    }

    fn policy(&self) -> Policy {
        *self
            .policy
            .lock()
            .expect("no code panics holding the policy")
    }

    /// What the store knows about source `name`, if it is about `url`.
    pub async fn source_record(
        &self,
        name: &str,
        url: &str,
    ) -> Result<Option<SourceRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM source_state WHERE name = ? AND url = ?")
            .bind(name)
            .bind(url)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
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
        }))
    }

    /// Saves what a poll that stored no entries taught about a source (a 410, say).
    pub async fn save_source_record(
        &self,
        name: &str,
        record: &SourceRecord,
    ) -> Result<(), StoreError> {
        let mut turn = self.writer.turn().await?;
        let answer = save_source_record(turn.transaction(), name, record).await;
        turn.finish(answer).await
    }

    /// Removes the entries of `source` whose key is not in `present`; returns how many.
    pub async fn remove_absent(&self, source: &str, present: &[&str]) -> Result<usize, StoreError> {
        let mut turn = self.writer.turn().await?;
        let transaction = turn.transaction();
        let answer = async {
            let keys: Vec<String> = sqlx::query_scalar("SELECT key FROM entries WHERE source = ?")
                .bind(source)
                .fetch_all(&mut **transaction)
                .await?;
            let mut removed = 0;
            for key in keys.iter().filter(|key| !present.contains(&key.as_str())) {
                removed += sqlx::query("DELETE FROM entries WHERE source = ? AND key = ?")
                    .bind(source)
                    .bind(key)
                    .execute(&mut **transaction)
                    .await?
                    .rows_affected() as usize;
            }
            Ok(removed)
        }
        .await;
        turn.finish(answer).await
    }

    /// How many entries each source has in the store.
    pub async fn entry_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT source, COUNT(*) FROM entries GROUP BY source")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// How many entries each of `sources` has stored, none included: reads only their rows.
    pub async fn entry_counts_of(
        &self,
        sources: impl IntoIterator<Item = &str>,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let sources: Vec<&str> = sources.into_iter().collect();
        Ok(sqlx::query_as(
            "SELECT value, (SELECT COUNT(*) FROM entries WHERE source = value) FROM json_each(?1)",
        )
        .bind(serde_json::to_string(&sources).expect("names serialize"))
        .fetch_all(&self.pool)
        .await?)
    }

    /// The newest `limit` entries, newest first.
    pub async fn latest(&self, limit: usize) -> Result<Vec<Entry>, StoreError> {
        let rows = sqlx::query(select_entries!("ORDER BY published DESC, id LIMIT ?"))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// The newest entries stored under, or also carried by, any of `sources`: `limit` of them
    /// after skipping the `skip` newest.
    pub async fn latest_from(
        &self,
        sources: &[&str],
        limit: usize,
        skip: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        // Two plans for one question. A few sources: gather their rows by source and sort them.
        // Many (the merged feed): walk the date index newest first and stop once the page is
        // full; gathering would read and sort every stored row at every render.
        let query = if sources.len() < WALK_BY_DATE_FROM_SOURCES {
            select_entries!(
                "WHERE source IN (SELECT value FROM json_each(?1))
                    OR id IN (SELECT entry_id FROM entry_sources
                              WHERE source IN (SELECT value FROM json_each(?1)))
                 ORDER BY published DESC, id LIMIT ?2 OFFSET ?3"
            )
        } else {
            select_entries!(
                "INDEXED BY entries_by_date
                 WHERE source IN (SELECT value FROM json_each(?1))
                    OR id IN (SELECT entry_id FROM entry_sources
                              WHERE source IN (SELECT value FROM json_each(?1)))
                 ORDER BY published DESC, id LIMIT ?2 OFFSET ?3"
            )
        };
        let sources = serde_json::to_string(sources).expect("names serialize");
        let rows = sqlx::query(query)
            .bind(sources)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .bind(i64::try_from(skip).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// Every entry stored under `source`.
    pub async fn entries_of(&self, source: &str) -> Result<Vec<Entry>, StoreError> {
        let rows = sqlx::query(select_entries!("WHERE source = ?"))
            .bind(source)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(entry_from_row).collect()
    }

    pub async fn entry(&self, id: &EntryId) -> Result<Option<Entry>, StoreError> {
        let row = sqlx::query(select_entries!("WHERE id = ?"))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(entry_from_row).transpose()
    }

    /// Succeeds when the database answers a query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Waits for in-flight queries and closes every connection, checkpointing the WAL.
    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }
}

async fn save_source_record(
    transaction: &mut Transaction<'_, Sqlite>,
    name: &str,
    record: &SourceRecord,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO source_state (name, url, etag, last_modified, moved_to, gone)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET url = excluded.url, etag = excluded.etag,
            last_modified = excluded.last_modified, moved_to = excluded.moved_to,
            gone = excluded.gone",
    )
    .bind(name)
    .bind(&record.url)
    .bind(&record.validators.etag)
    .bind(&record.validators.last_modified)
    .bind(&record.moved_to)
    .bind(record.gone)
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

/// Marks which of `source`'s entries are in the document just fetched (`keys`), then prunes
/// those that are not and are older than `max_age` or beyond `max_entries_per_source`, leaving
/// tombstones. Returns how many were pruned.
async fn prune(
    transaction: &mut Transaction<'_, Sqlite>,
    source: &str,
    keys: &[&str],
    rules: &RetentionSettings,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let keys = serde_json::to_string(keys).expect("keys serialize");
    // Only rows whose mark changes are written: SQLite rewrites a whole row, body and all, for
    // any update of it.
    sqlx::query(
        "UPDATE entries SET in_document = NOT in_document
         WHERE source = ?2 AND in_document != (key IN (SELECT value FROM json_each(?1)))",
    )
    .bind(&keys)
    .bind(source)
    .execute(&mut **transaction)
    .await?;
    let oldest_kept =
        now - chrono::TimeDelta::from_std(rules.max_age).unwrap_or(chrono::TimeDelta::MAX);
    let pruned: Vec<(String, String)> = sqlx::query_as(
        "DELETE FROM entries WHERE source = ?1 AND in_document = 0 AND (published < ?2 OR id NOT IN
            (SELECT id FROM entries WHERE source = ?1 ORDER BY published DESC, id LIMIT ?3))
         RETURNING id, key",
    )
    .bind(source)
    .bind(oldest_kept.timestamp_millis())
    .bind(i64::try_from(rules.max_entries_per_source).unwrap_or(i64::MAX))
    .fetch_all(&mut **transaction)
    .await?;
    for (id, key) in &pruned {
        sqlx::query("INSERT OR REPLACE INTO tombstones (source, key, pruned_at) VALUES (?, ?, ?)")
            .bind(source)
            .bind(key)
            .bind(now.timestamp_millis())
            .execute(&mut **transaction)
            .await?;
        sqlx::query("DELETE FROM entry_sources WHERE entry_id = ?")
            .bind(id)
            .execute(&mut **transaction)
            .await?;
    }
    Ok(pruned.len())
}

fn entry_from_row(row: &SqliteRow) -> Result<Entry, StoreError> {
    let id: String = row.try_get("id")?;
    let corrupt = |what: String| StoreError::Corrupt {
        id: id.clone(),
        what,
    };
    let millis = |column: &str| -> Result<Option<DateTime<Utc>>, StoreError> {
        let value: Option<i64> = row.try_get(column)?;
        value
            .map(|ms| {
                DateTime::from_timestamp_millis(ms)
                    .ok_or_else(|| corrupt(format!("{column} {ms} is out of range")))
            })
            .transpose()
    };
    let authors: String = row.try_get("authors")?;
    let categories: String = row.try_get("categories")?;
    let enclosures: String = row.try_get("enclosures")?;
    Ok(Entry {
        id: EntryId::parse(&id).ok_or_else(|| corrupt("the id is not 16 hex digits".into()))?,
        source: row.try_get("source")?,
        key: row.try_get("key")?,
        title: row.try_get("title")?,
        link: row.try_get("link")?,
        authors: serde_json::from_str::<Vec<Person>>(&authors)
            .map_err(|error| corrupt(format!("authors: {error}")))?,
        published: millis("published")?,
        updated: millis("updated")?,
        summary: row.try_get("summary")?,
        content: row.try_get("content")?,
        categories: serde_json::from_str(&categories)
            .map_err(|error| corrupt(format!("categories: {error}")))?,
        enclosures: serde_json::from_str(&enclosures)
            .map_err(|error| corrupt(format!("enclosures: {error}")))?,
        image: row.try_get("image")?,
        content_hash: ContentHash::from_stored(row.try_get("content_hash")?),
        also_in: row
            .try_get::<Option<String>, _>("also_in")?
            .map(|sources| sources.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default(),
    })
}
