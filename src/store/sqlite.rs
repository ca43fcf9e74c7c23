//! The store in one SQLite file: opening it (WAL, the writer's own connection, migrations in
//! `migrations/sqlite`) and the SQL only SQLite reads.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::statements::{Dialect, select_entries};
use super::writer::Writer;
use super::{APPLIED_SCHEMA, StoreError, is_damage, refuse_newer_schema};

pub(super) const SQL: Dialect = Dialect {
    entry_counts_of: "SELECT value, (SELECT COUNT(*) FROM entries WHERE source = value)
        FROM json_each($1)",
    latest_from_few: select_entries!(
        "WHERE source IN (SELECT value FROM json_each($1))
            OR id IN (SELECT entry_id FROM entry_sources
                      WHERE source IN (SELECT value FROM json_each($1)))
         ORDER BY published DESC, id LIMIT $2 OFFSET $3"
    ),
    // Many sources (the merged feed): walk the date index newest first and stop once the page
    // is full; gathering each source's rows would read and sort every stored row at every
    // render.
    latest_from_many: select_entries!(
        "INDEXED BY entries_by_date
         WHERE source IN (SELECT value FROM json_each($1))
            OR id IN (SELECT entry_id FROM entry_sources
                      WHERE source IN (SELECT value FROM json_each($1)))
         ORDER BY published DESC, id LIMIT $2 OFFSET $3"
    ),
    find_stored: "WITH incoming AS (
            SELECT key AS position, value->>'id' AS id, value->>'source' AS source,
                value->>'key' AS key, value->>'hash' AS hash, value->>'link' AS link
            FROM json_each($1))
         SELECT stored.content_hash, stored.raw_hash, stored.revision,
            EXISTS (SELECT 1 FROM tombstones
                WHERE tombstones.source = incoming.source AND tombstones.key = incoming.key),
            (SELECT json_array(original.id, original.source) FROM entries AS original
                WHERE original.id != incoming.id
                -- The index keys of migration 0007, then the whole values.
                AND (($2 AND substr(original.content_hash, 1, 16) = substr(incoming.hash, 1, 16)
                        AND original.content_hash = incoming.hash)
                    OR ($3 AND substr(original.canonical_link, -24) = substr(incoming.link, -24)
                        AND original.canonical_link = incoming.link))
                AND ($4 OR original.source = incoming.source)
                LIMIT 1)
         FROM incoming LEFT JOIN entries AS stored ON stored.id = incoming.id
         ORDER BY incoming.position",
    set_raw_hashes: "UPDATE entries SET raw_hash = value->>1 FROM json_each($1)
        WHERE entries.id = value->>0",
    add_also_in: "INSERT OR IGNORE INTO entry_sources (entry_id, source)
        SELECT value->>0, value->>1 FROM json_each($1)",
    // Only rows whose mark changes are written: SQLite rewrites a whole row, body and all, for
    // any update of it.
    mark_in_document: "UPDATE entries SET in_document = NOT in_document
        WHERE source = $2 AND in_document != (key IN (SELECT value FROM json_each($1)))",
};

/// A writer copies the WAL into the database file itself once it holds this many pages (4 KiB
/// each); normally the checkpointer has done it long before.
pub(super) const WAL_BACKSTOP_PAGES: &str = "10000";

/// The writer's page cache, in KiB (negative, as `cache_size` takes it); readers keep SQLite's
/// default of about 2 MB. A larger cache on the writer's own connection shortens a poll cycle of
/// many new sources, since the indexes it updates stay in memory; more than 16 MB gained
/// nothing further.
const WRITER_CACHE_KIB: &str = "-16384";

/// How long a writer waits for another one before failing with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens (creating if needed) the SQLite file at `path` and applies pending migrations;
/// returns the readers' pool and the writer.
pub(super) async fn open(path: &Path) -> Result<(SqlitePool, Arc<Writer>), StoreError> {
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
    let store = path.display().to_string();
    let migrator = sqlx::migrate!("./migrations/sqlite");
    let applied = sqlx::query_scalar(APPLIED_SCHEMA)
        .fetch_one(&pool)
        .await
        .unwrap_or(None);
    if let Err(error) = refuse_newer_schema(&migrator, applied, &store) {
        pool.close().await;
        return Err(error);
    }
    migrator.run(&pool).await.map_err(|source| match source {
        sqlx::migrate::MigrateError::Execute(source) => open_error(source),
        source => StoreError::Migrate { store, source },
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
    Ok((pool.clone(), Arc::new(Writer::new(writing, pool))))
}

#[cfg(test)]
mod tests {
    use super::SQL;
    use crate::store::{Policy, Store};

    /// A poll's lookups search indexes: a scan of `entries` would make every poll cost more
    /// as the store grows, and SQLite picks one silently when a lookup stops matching its
    /// index's expression (migration 0007).
    #[tokio::test]
    async fn a_polls_lookups_search_indexes_and_scan_no_stored_rows() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db"), Policy::default())
            .await
            .unwrap();
        let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            // A constant with a prefix: nothing outside the code reaches this SQL.
            "EXPLAIN QUERY PLAN {}",
            SQL.find_stored
        )))
        .bind("[]")
        .bind(true)
        .bind(true)
        .bind(true)
        .fetch_all(store.sqlite_readers().expect("a SQLite store"))
        .await
        .unwrap();
        let steps: Vec<&str> = plan.iter().map(|(.., detail)| detail.as_str()).collect();
        for index in ["entries_by_hash", "entries_by_link"] {
            assert!(
                steps
                    .iter()
                    .any(|step| step.contains(&format!("SEARCH original USING INDEX {index}"))),
                "no search of {index} in {steps:#?}"
            );
        }
        for table in ["stored", "original", "tombstones"] {
            assert!(
                !steps
                    .iter()
                    .any(|step| step.starts_with(&format!("SCAN {table}"))),
                "{table} is scanned: {steps:#?}"
            );
        }
    }
}
