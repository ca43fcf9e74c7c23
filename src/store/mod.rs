//! Persistence of entries, behind one small interface: in one SQLite file (the default), or in
//! PostgreSQL shared by several replicas.
//!
//! The store owns the schema (migrations per database in `migrations/`, applied at open) and
//! the dedup rules that need to see what is already stored: an entry is new, an update of the
//! same (source, key), unchanged, or a duplicate of a body already stored under another entry
//! (`ingest`). Each source poll is written whole or not at all: on SQLite in a savepoint of a
//! transaction it may share with polls that finished beside it (`writer`), on PostgreSQL in a
//! transaction of its own under the replicas' write lock (`postgres`). Both run the same
//! statements (`statements`). It renders nothing.

mod ingest;
mod postgres;
mod sqlite;
mod statements;
mod writer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;

use crate::config::{Config, DedupSettings, RetentionSettings};
use crate::fetch::Validators;
use crate::model::{ContentHash, Entry, EntryId, Person};
use crate::parse::{Changes, RawHash};
pub use postgres::{Claim, Coordination};
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
    #[error(
        "cannot connect to the PostgreSQL store {url}: {source} (is PostgreSQL running and \
         reachable from here, and are the database, user and password in storage.url right?)"
    )]
    Connect { url: String, source: sqlx::Error },
    #[error("cannot migrate the store {store}: {source}")]
    Migrate {
        store: String,
        source: sqlx::migrate::MigrateError,
    },
    #[error(
        "the store {store} has schema version {found}, newer than this tributary knows \
         ({known}): it was written by a newer release; run that release, or point storage.path \
         or storage.url elsewhere (the store was not changed)"
    )]
    NewerSchema {
        store: String,
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

/// SQLite's primary result code in `error`: extended codes carry it in their low byte. None
/// for PostgreSQL's errors, whose codes are SQLSTATEs.
fn primary_code(error: &sqlx::Error) -> Option<i32> {
    let error = error.as_database_error()?;
    error.try_downcast_ref::<sqlx::sqlite::SqliteError>()?;
    let code = error.code()?.parse::<i32>().ok()?;
    Some(code & 0xff)
}

/// Refuses a store written by a newer tributary, before anything touches it: `applied` is the
/// newest migration it has.
fn refuse_newer_schema(
    migrator: &Migrator,
    applied: Option<i64>,
    store: &str,
) -> Result<(), StoreError> {
    let known = migrator
        .iter()
        .map(|migration| migration.version)
        .max()
        .unwrap_or(0);
    match applied.filter(|found| *found > known) {
        Some(found) => Err(StoreError::NewerSchema {
            store: store.to_string(),
            found,
            known,
        }),
        None => Ok(()),
    }
}

/// The newest migration applied to a store; none before the first.
const APPLIED_SCHEMA: &str = "SELECT MAX(version) FROM _sqlx_migrations";

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

/// What the store keeps about a remote source between polls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceRecord {
    /// The configured URL this record belongs to.
    pub url: String,
    pub validators: Validators,
    pub moved_to: Option<String>,
    pub gone: bool,
    /// Consecutive failed polls, and the last one's error; 0 and `None` after a success.
    pub failures: u32,
    pub last_error: Option<String>,
    /// For a page source: how many items its recipe found on the last good poll.
    pub page_items: Option<u32>,
}

/// An entry whose article is wanted (`Store::articles_wanted`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantedArticle {
    pub entry_id: EntryId,
    pub link: String,
    /// The entry's own body, HTML: its content, else its summary.
    pub body: Option<String>,
    /// The fetches of this link that failed so far.
    pub attempts: u32,
}

/// What became of an entry's article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArticleOutcome {
    /// Fetched and extracted: sanitized HTML.
    Extracted { html: String },
    /// Not fetched: the entry's own body is whole (`full_text: auto`).
    Whole,
    /// Fetching or extracting failed, `attempts` times in all; tried again from `retry_at`, or
    /// never when `None`.
    Failed {
        error: String,
        attempts: u32,
        retry_at: Option<DateTime<Utc>>,
    },
}

/// The source a poll's entries came from, and what else the poll saw.
struct Poll<'a> {
    name: &'a str,
    record: &'a SourceRecord,
    /// Keys of entries still in the document that were not read again.
    unchanged_keys: &'a [String],
}

/// The database behind a store.
#[derive(Clone)]
enum Backend {
    Sqlite {
        readers: SqlitePool,
        /// Every write goes through it.
        writer: Arc<Writer>,
    },
    Postgres {
        pool: PgPool,
        writer: postgres::Writer,
        coordination: Coordination,
    },
}

/// Runs `$use` with `$queries` naming the statements of the store's database and `$pool` its
/// pool of readers.
macro_rules! on_database {
    ($store:expr, |$queries:ident, $pool:ident| $use:expr) => {
        match &$store.backend {
            Backend::Sqlite { readers: $pool, .. } => {
                use statements::sqlite as $queries;
                $use
            }
            Backend::Postgres { pool: $pool, .. } => {
                use statements::postgres as $queries;
                $use
            }
        }
    };
}

/// Runs `$write` in one transaction on the store's writer, with `$queries` naming the statements
/// of its database and `$transaction` the transaction, and commits it if the write succeeded.
/// On PostgreSQL the commit records `$changed`, the sources whose entries the write changed
/// (from its answer, `$answer`), for the other replicas to render again.
macro_rules! write_on_database {
    ($store:expr, |$queries:ident, $transaction:ident| $write:expr, changed: |$answer:ident| $changed:expr) => {
        match &$store.backend {
            Backend::Sqlite { writer, .. } => {
                use statements::sqlite as $queries;
                let mut turn = writer.turn().await?;
                let $transaction = turn.transaction();
                let answer = $write.await;
                turn.finish(answer).await
            }
            Backend::Postgres { writer, .. } => {
                use statements::postgres as $queries;
                let mut turn = writer.begin().await?;
                let $transaction = &mut turn.transaction;
                let $answer = $write.await?;
                let changed: Vec<&str> = $changed;
                turn.commit(&changed).await?;
                Ok($answer)
            }
        }
    };
}

// After the macros above, which it uses.
mod websub;
pub use websub::{HubRequest, HubSubscription, PushRecord, PushState};

/// A handle to the entry store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    /// Shared by every clone, so a config reload reaches all of them.
    policy: Arc<Mutex<Policy>>,
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

impl Store {
    /// Opens the store `config` names: its `storage.url` (PostgreSQL) when set, else the SQLite
    /// file at its `storage.path`.
    pub async fn open_configured(config: &Config, policy: Policy) -> Result<Store, StoreError> {
        match &config.storage_url {
            Some(url) => Store::connect(url, policy).await,
            None => Store::open(&config.storage_path, policy).await,
        }
    }

    /// Opens (creating if needed) the SQLite file at `path` and applies pending migrations.
    pub async fn open(path: &Path, policy: Policy) -> Result<Store, StoreError> {
        let (readers, writer) = sqlite::open(path).await?;
        Ok(Store {
            backend: Backend::Sqlite { readers, writer },
            policy: Arc::new(Mutex::new(policy)),
        })
    }

    /// Connects to the PostgreSQL database at `url` (`postgres://user:password@host/database`)
    /// and applies pending migrations. Several replicas may share it.
    pub async fn connect(url: &str, policy: Policy) -> Result<Store, StoreError> {
        let pool = postgres::connect(url).await?;
        let replica = format!(
            "{}-{}-{:08x}",
            std::env::var("HOSTNAME").unwrap_or_else(|_| "replica".to_string()),
            std::process::id(),
            fastrand::u32(..)
        );
        let replica: Arc<str> = replica.into();
        Ok(Store {
            backend: Backend::Postgres {
                writer: postgres::Writer::new(pool.clone(), Arc::clone(&replica)),
                coordination: Coordination::new(pool.clone(), replica),
                pool,
            },
            policy: Arc::new(Mutex::new(policy)),
        })
    }

    /// How this replica shares polling and feeds with others on the same database: `None` for
    /// a SQLite store, which one process owns.
    pub fn coordination(&self) -> Option<&Coordination> {
        match &self.backend {
            Backend::Sqlite { .. } => None,
            Backend::Postgres { coordination, .. } => Some(coordination),
        }
    }

    #[cfg(test)]
    fn sqlite_readers(&self) -> Option<&SqlitePool> {
        match &self.backend {
            Backend::Sqlite { readers, .. } => Some(readers),
            Backend::Postgres { .. } => None,
        }
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
        on_database!(self, |queries, pool| queries::raw_hashes(pool, source)
            .await)
    }

    async fn write_poll(
        &self,
        entries: &[Entry],
        raw_hashes: &[Option<RawHash>],
        poll: Option<Poll<'_>>,
        now: DateTime<Utc>,
    ) -> Result<IngestCounts, StoreError> {
        let policy = self.policy();
        let poll = poll.as_ref();
        write_on_database!(
            self,
            |queries, transaction| queries::write_poll(
                transaction,
                entries,
                raw_hashes,
                poll,
                &policy,
                now
            ),
            changed: |counts| match (counts.changed(), poll) {
                (false, _) => Vec::new(),
                (true, Some(poll)) => vec![poll.name],
                (true, None) => {
                    let mut sources: Vec<&str> =
                        entries.iter().map(|entry| entry.source.as_str()).collect();
                    sources.dedup();
                    sources
                }
            }
        )
    }

    /// Stores what a folder of files holds now as the whole of `source`: its entries, and the
    /// removal of those whose files are gone, in one transaction, so that a stop halfway
    /// cannot keep a deleted file's entry beside the new ones.
    pub async fn ingest_folder(
        &self,
        source: &str,
        entries: &[Entry],
        now: DateTime<Utc>,
    ) -> Result<IngestCounts, StoreError> {
        let policy = self.policy();
        let raw_hashes = vec![None; entries.len()];
        let present: Vec<&str> = entries.iter().map(|entry| entry.key.as_str()).collect();
        write_on_database!(
            self,
            |queries, transaction| async {
                let mut counts =
                    queries::write_poll(transaction, entries, &raw_hashes, None, &policy, now)
                        .await?;
                counts.removed = queries::remove_absent(transaction, source, &present).await?;
                Ok::<_, StoreError>(counts)
            },
            changed: |counts| if counts.changed() { vec![source] } else { Vec::new() }
        )
    }

    /// The entries of `source` whose article is wanted, newest first, at most `limit`: those
    /// whose link was never tried, then failures due again by `now`, then, if `whole_too`,
    /// those whose own body was found whole before.
    pub async fn articles_wanted(
        &self,
        source: &str,
        whole_too: bool,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<WantedArticle>, StoreError> {
        on_database!(self, |queries, pool| queries::articles_wanted(
            pool, source, whole_too, now, limit
        )
        .await)
    }

    /// Records what became of the article of `wanted`, an entry of `source`. An extracted one
    /// is published with the entry from the next rendering.
    pub async fn save_article(
        &self,
        source: &str,
        wanted: &WantedArticle,
        outcome: &ArticleOutcome,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let extracted = matches!(outcome, ArticleOutcome::Extracted { .. });
        write_on_database!(
            self,
            |queries, transaction| queries::save_article(transaction, wanted, outcome, now),
            changed: |_nothing| if extracted { vec![source] } else { Vec::new() }
        )
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
        on_database!(self, |queries, pool| queries::source_record(
            pool, name, url
        )
        .await)
    }

    /// Saves what a poll that stored no entries taught about a source (a 410, say).
    pub async fn save_source_record(
        &self,
        name: &str,
        record: &SourceRecord,
    ) -> Result<(), StoreError> {
        write_on_database!(
            self,
            |queries, transaction| queries::save_source_record(transaction, name, record),
            changed: |_nothing| Vec::new()
        )
    }

    /// How many entries each source has in the store.
    pub async fn entry_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        on_database!(self, |queries, pool| queries::entry_counts(pool).await)
    }

    /// How many entries each of `sources` has stored, none included: reads only their rows.
    pub async fn entry_counts_of(
        &self,
        sources: impl IntoIterator<Item = &str>,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let sources: Vec<&str> = sources.into_iter().collect();
        on_database!(self, |queries, pool| queries::entry_counts_of(
            pool, &sources
        )
        .await)
    }

    /// The newest `limit` entries, newest first.
    pub async fn latest(&self, limit: usize) -> Result<Vec<Entry>, StoreError> {
        on_database!(self, |queries, pool| queries::latest(pool, limit).await)
    }

    /// The newest entries stored under, or also carried by, any of `sources`: `limit` of them
    /// after skipping the `skip` newest.
    pub async fn latest_from(
        &self,
        sources: &[&str],
        limit: usize,
        skip: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        on_database!(self, |queries, pool| queries::latest_from(
            pool, sources, limit, skip
        )
        .await)
    }

    /// Every entry stored under `source`.
    pub async fn entries_of(&self, source: &str) -> Result<Vec<Entry>, StoreError> {
        on_database!(self, |queries, pool| queries::entries_of(pool, source)
            .await)
    }

    pub async fn entry(&self, id: &EntryId) -> Result<Option<Entry>, StoreError> {
        on_database!(self, |queries, pool| queries::entry(pool, id).await)
    }

    /// Succeeds when the database answers a query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_database!(self, |queries, pool| queries::ping(pool).await)
    }

    /// Waits for in-flight queries and closes every connection (on SQLite, checkpointing the
    /// WAL).
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite { readers, writer } => {
                writer.close().await;
                readers.close().await;
            }
            Backend::Postgres { pool, .. } => pool.close().await,
        }
    }
}

/// An entry as the `entries` table holds it, with the other sources it was seen in
/// (`also_in`, space-separated).
#[derive(sqlx::FromRow)]
struct StoredEntry {
    id: String,
    source: String,
    key: String,
    title: String,
    link: Option<String>,
    authors: String,
    published: i64,
    updated: Option<i64>,
    summary: Option<String>,
    content: Option<String>,
    categories: String,
    enclosures: String,
    image: Option<String>,
    content_hash: String,
    also_in: Option<String>,
    /// The article extracted from the entry's link (`full_text`), if any.
    article: Option<String>,
}

impl TryFrom<StoredEntry> for Entry {
    type Error = StoreError;

    fn try_from(stored: StoredEntry) -> Result<Entry, StoreError> {
        let corrupt = |what: String| StoreError::Corrupt {
            id: stored.id.clone(),
            what,
        };
        let time = |column: &str, ms: i64| {
            DateTime::from_timestamp_millis(ms)
                .ok_or_else(|| corrupt(format!("{column} {ms} is out of range")))
        };
        let mut also_in: Vec<String> = stored
            .also_in
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        // In one order whatever order the database aggregated them in, so every replica
        // renders the same bytes.
        also_in.sort_unstable();
        // With its article, an entry's content is the article, and its own words its summary.
        let (summary, content) = match stored.article {
            Some(article) => (stored.summary.or(stored.content), Some(article)),
            None => (stored.summary, stored.content),
        };
        Ok(Entry {
            id: EntryId::parse(&stored.id)
                .ok_or_else(|| corrupt("the id is not 16 hex digits".into()))?,
            authors: serde_json::from_str::<Vec<Person>>(&stored.authors)
                .map_err(|error| corrupt(format!("authors: {error}")))?,
            published: Some(time("published", stored.published)?),
            updated: stored.updated.map(|ms| time("updated", ms)).transpose()?,
            categories: serde_json::from_str(&stored.categories)
                .map_err(|error| corrupt(format!("categories: {error}")))?,
            enclosures: serde_json::from_str(&stored.enclosures)
                .map_err(|error| corrupt(format!("enclosures: {error}")))?,
            content_hash: ContentHash::from_stored(stored.content_hash),
            also_in,
            source: stored.source,
            key: stored.key,
            title: stored.title,
            link: stored.link,
            summary,
            content,
            image: stored.image,
        })
    }
}
