//! Persistence of entries in SQLite, behind one small interface.
//!
//! The store owns the schema (migrations in `migrations/`, applied at open) and the dedup rules
//! that need to see what is already stored: an entry is new, an update of the same (source, key),
//! unchanged, or a duplicate of a body already stored under another entry. Each source poll is
//! written in one transaction, so a crash loses at most the poll in flight. It renders nothing.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

use crate::model::{ContentHash, Entry, EntryId, Person};

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
    #[error("store query failed: {0}")]
    Query(#[from] sqlx::Error),
    #[error("stored entry {id} is corrupt: {what}")]
    Corrupt { id: String, what: String },
}

/// What one ingest did with the entries it was given.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IngestCounts {
    pub new: usize,
    pub updated: usize,
    /// Entries whose body is already stored under another entry (first seen wins).
    pub duplicate: usize,
    pub unchanged: usize,
}

impl IngestCounts {
    /// Whether the published feeds need a new rendering.
    pub fn changed(&self) -> bool {
        self.new + self.updated > 0
    }
}

/// A handle to the entry store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
}

/// How long a writer waits for another one before failing with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

impl Store {
    /// Opens (creating if needed) the SQLite file at `path` and applies pending migrations.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(folder) = path
            .parent()
            .filter(|folder| !folder.as_os_str().is_empty())
        {
            std::fs::create_dir_all(folder).map_err(|source| StoreError::CreateFolder {
                path: folder.to_path_buf(),
                source,
            })?;
        }
        let open_error = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        let options = SqliteConnectOptions::from_str("sqlite:")
            .map_err(open_error)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // With WAL, NORMAL is durable against application crashes and never corrupts; it
            // can lose the last commits on power loss, which a re-poll recovers.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(open_error)?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Store { pool })
    }

    /// Stores the entries of one poll in one transaction; `now` is their first-seen time.
    pub async fn ingest(
        &self,
        entries: &[Entry],
        now: DateTime<Utc>,
    ) -> Result<IngestCounts, StoreError> {
        // IMMEDIATE takes the write lock up front, so concurrent polls queue on busy_timeout.
        // A deferred transaction that reads first would fail with "database is locked" when
        // it tries to upgrade while another poll writes: SQLite cannot wait in that case.
        let mut transaction = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut counts = IngestCounts::default();
        for entry in entries {
            match ingest_one(&mut transaction, entry, now).await? {
                Outcome::New => counts.new += 1,
                Outcome::Updated => counts.updated += 1,
                Outcome::Duplicate => counts.duplicate += 1,
                Outcome::Unchanged => counts.unchanged += 1,
            }
        }
        transaction.commit().await?;
        Ok(counts)
    }

    /// The newest `limit` entries, newest first.
    pub async fn latest(&self, limit: usize) -> Result<Vec<Entry>, StoreError> {
        let rows = sqlx::query("SELECT * FROM entries ORDER BY published DESC, id LIMIT ?")
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(entry_from_row).collect()
    }

    pub async fn entry(&self, id: &EntryId) -> Result<Option<Entry>, StoreError> {
        let row = sqlx::query("SELECT * FROM entries WHERE id = ?")
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
        self.pool.close().await;
    }
}

enum Outcome {
    New,
    Updated,
    Duplicate,
    Unchanged,
}

async fn ingest_one(
    transaction: &mut Transaction<'_, Sqlite>,
    entry: &Entry,
    now: DateTime<Utc>,
) -> Result<Outcome, StoreError> {
    let stored_hash: Option<String> =
        sqlx::query_scalar("SELECT content_hash FROM entries WHERE id = ?")
            .bind(entry.id.as_str())
            .fetch_optional(&mut **transaction)
            .await?;
    if stored_hash.as_deref() == Some(entry.content_hash.as_str()) {
        return Ok(Outcome::Unchanged);
    }
    let body_stored_elsewhere: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM entries WHERE content_hash = ? AND id != ?)",
    )
    .bind(entry.content_hash.as_str())
    .bind(entry.id.as_str())
    .fetch_one(&mut **transaction)
    .await?;
    if body_stored_elsewhere {
        return Ok(Outcome::Duplicate);
    }
    let authors = serde_json::to_string(&entry.authors).expect("authors serialize");
    let categories = serde_json::to_string(&entry.categories).expect("categories serialize");
    let enclosures = serde_json::to_string(&entry.enclosures).expect("enclosures serialize");
    let published = entry.date().map(|date| date.timestamp_millis());
    if stored_hash.is_some() {
        sqlx::query(
            "UPDATE entries SET title = ?, link = ?, authors = ?, published = COALESCE(?, published),
                updated = ?, summary = ?, content = ?, categories = ?, enclosures = ?, image = ?,
                content_hash = ?
             WHERE id = ?",
        )
        .bind(&entry.title)
        .bind(&entry.link)
        .bind(authors)
        .bind(published)
        .bind(entry.updated.unwrap_or(now).timestamp_millis())
        .bind(&entry.summary)
        .bind(&entry.content)
        .bind(categories)
        .bind(enclosures)
        .bind(&entry.image)
        .bind(entry.content_hash.as_str())
        .bind(entry.id.as_str())
        .execute(&mut **transaction)
        .await?;
        return Ok(Outcome::Updated);
    }
    sqlx::query(
        "INSERT INTO entries (id, source, key, title, link, authors, published, updated, summary,
            content, categories, enclosures, image, content_hash, first_seen)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(entry.id.as_str())
    .bind(&entry.source)
    .bind(&entry.key)
    .bind(&entry.title)
    .bind(&entry.link)
    .bind(authors)
    .bind(published.unwrap_or(now.timestamp_millis()))
    .bind(entry.updated.map(|date| date.timestamp_millis()))
    .bind(&entry.summary)
    .bind(&entry.content)
    .bind(categories)
    .bind(enclosures)
    .bind(&entry.image)
    .bind(entry.content_hash.as_str())
    .bind(now.timestamp_millis())
    .execute(&mut **transaction)
    .await?;
    Ok(Outcome::New)
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
    })
}
