//! The store in PostgreSQL, shared by several replicas: connecting (migrations in
//! `migrations/postgres`), the SQL only PostgreSQL reads, and the coordination of replicas
//! through the database alone.
//!
//! Writes are serialized across every replica by a transaction-scoped advisory lock: dedup
//! decides "first seen wins" by what is stored, so two polls deciding at once could each store
//! the same story. Each write that changes a source's entries records it (`source_changes`), so
//! the other replicas render their feeds again (`Coordination::changes`). A replica polls a
//! source only while it holds the source's lease (`poll_leases`) and only once it is due, so
//! each due time is polled once; the poller renews the lease while it polls, and a lease left
//! to run out passes a dead replica's sources to the others.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions};
use sqlx::{Connection, Postgres, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::statements::{Dialect, select_entries};
use super::{APPLIED_SCHEMA, StoreError, refuse_newer_schema};

pub(super) const SQL: Dialect = Dialect {
    entry_counts_of: "SELECT value, (SELECT COUNT(*) FROM entries WHERE source = value)
        FROM jsonb_array_elements_text($1::jsonb) AS names (value)",
    latest_from_few: LATEST_FROM,
    latest_from_many: LATEST_FROM,
    find_stored: "WITH incoming AS (
            SELECT position, value->>'id' AS id, value->>'source' AS source,
                value->>'key' AS key, value->>'hash' AS hash, value->>'link' AS link
            FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS lookups (value, position))
         SELECT stored.content_hash, stored.raw_hash, stored.revision,
            EXISTS (SELECT 1 FROM tombstones
                WHERE tombstones.source = incoming.source AND tombstones.key = incoming.key),
            -- One lookup per index rather than an OR of both: on a table not analyzed yet (a
            -- new store filling up in its first minute) PostgreSQL scanned the whole table
            -- for the OR, once per incoming entry.
            (SELECT json_build_array(original.id, original.source)::text FROM (
                (SELECT id, source FROM entries
                    WHERE $2 AND content_hash = incoming.hash AND id != incoming.id
                    AND ($4 OR source = incoming.source) LIMIT 1)
                UNION ALL
                (SELECT id, source FROM entries
                    WHERE $3 AND canonical_link = incoming.link AND id != incoming.id
                    AND ($4 OR source = incoming.source) LIMIT 1)) AS original
                LIMIT 1)
         FROM incoming LEFT JOIN entries AS stored ON stored.id = incoming.id
         ORDER BY incoming.position",
    set_raw_hashes: "UPDATE entries SET raw_hash = (value->>1)::bigint
        FROM jsonb_array_elements($1::jsonb) AS pairs (value) WHERE entries.id = value->>0",
    add_also_in: "INSERT INTO entry_sources (entry_id, source)
        SELECT value->>0, value->>1 FROM jsonb_array_elements($1::jsonb) AS pairs (value)
        ON CONFLICT DO NOTHING",
    mark_in_document: "UPDATE entries SET in_document = NOT in_document
        WHERE source = $2 AND in_document != (key IN
            (SELECT value FROM jsonb_array_elements_text($1::jsonb) AS keys (value)))",
};

/// PostgreSQL plans one query for few sources and many alike.
const LATEST_FROM: &str = select_entries!(
    "WHERE source IN (SELECT value FROM jsonb_array_elements_text($1::jsonb) AS names (value))
        OR id IN (SELECT entry_id FROM entry_sources WHERE source IN
            (SELECT value FROM jsonb_array_elements_text($1::jsonb) AS names (value)))
     ORDER BY published DESC, id LIMIT $2 OFFSET $3"
);

/// The advisory lock every replica's writes take in turn ("trib" in ASCII).
const WRITE_LOCK: i64 = 0x7472_6962;

/// Connections per replica: readers rendering feeds, the poll that holds the write lock, and
/// the polls queued behind it.
const MAX_CONNECTIONS: u32 = 8;

/// Connects to the database at `url` and applies pending migrations (sqlx takes an advisory
/// lock for them, so replicas starting together migrate once).
pub(super) async fn connect(url: &str) -> Result<PgPool, StoreError> {
    let shown = redacted(url);
    let connect_error = |source| StoreError::Connect {
        url: shown.clone(),
        source,
    };
    // One connection first, for its error: the pool's would only say it timed out waiting.
    PgConnection::connect(url)
        .await
        .map_err(connect_error)?
        .close()
        .await
        .map_err(connect_error)?;
    let pool = PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(Duration::from_secs(10))
        // A wait for a connection is logged at debug: the store's own errors say what failed,
        // and at the start of a cycle every source's claim queues here for a moment.
        .acquire_slow_level(tracing::log::LevelFilter::Debug)
        .connect(url)
        .await
        .map_err(connect_error)?;
    let migrator = sqlx::migrate!("./migrations/postgres");
    // The table is missing until the first migration: nothing applied yet.
    let applied = sqlx::query_scalar(APPLIED_SCHEMA)
        .fetch_one(&pool)
        .await
        .unwrap_or(None);
    refuse_newer_schema(&migrator, applied, &shown)?;
    migrator
        .run(&pool)
        .await
        .map_err(|source| StoreError::Migrate {
            store: shown,
            source,
        })?;
    Ok(pool)
}

/// `url` with its password replaced, for messages.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "(an unreadable storage.url)".to_string(),
    }
}

/// This replica's writes: one at a time here, then one at a time across replicas.
#[derive(Clone)]
pub(super) struct Writer {
    pool: PgPool,
    /// Taken before a connection is: writes waiting for the advisory lock each hold a
    /// connection, and a replica's sixteen polls waiting there would leave no connection for
    /// its readers and its claims.
    turn: Arc<Mutex<()>>,
    replica: Arc<str>,
}

/// One write under way: its transaction holds the replicas' write lock until `commit`.
pub(super) struct WriteTurn {
    _turn: OwnedMutexGuard<()>,
    pub transaction: Transaction<'static, Postgres>,
    replica: Arc<str>,
}

impl Writer {
    pub(super) fn new(pool: PgPool, replica: Arc<str>) -> Writer {
        Writer {
            pool,
            turn: Arc::default(),
            replica,
        }
    }

    /// Waits for this replica's turn, then for the replicas' write lock, which the commit
    /// releases.
    pub(super) async fn begin(&self) -> Result<WriteTurn, StoreError> {
        let turn = Arc::clone(&self.turn).lock_owned().await;
        let mut transaction = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(WRITE_LOCK)
            .execute(&mut *transaction)
            .await?;
        Ok(WriteTurn {
            _turn: turn,
            transaction,
            replica: Arc::clone(&self.replica),
        })
    }
}

impl WriteTurn {
    /// Commits a write that changed the entries of `changed`, telling the other replicas so.
    pub(super) async fn commit(mut self, changed: &[&str]) -> Result<(), StoreError> {
        if !changed.is_empty() {
            sqlx::query(
                "INSERT INTO source_changes (source, number, replica)
                 SELECT value, nextval('change_numbers'), $2
                 FROM jsonb_array_elements_text($1::jsonb) AS names (value)
                 ON CONFLICT (source) DO UPDATE SET number = excluded.number,
                    replica = excluded.replica",
            )
            .bind(serde_json::to_string(changed).expect("names serialize"))
            .bind(&*self.replica)
            .execute(&mut *self.transaction)
            .await?;
        }
        self.transaction.commit().await?;
        Ok(())
    }
}

/// Whether this replica may poll a source now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// It holds the source's lease: it polls, then calls `Coordination::release`.
    Granted,
    /// Another replica polls it, or polled it and it is not due yet: ask again at this time
    /// (`None`: never, it is gone).
    NotBefore(Option<DateTime<Utc>>),
}

/// One replica's part in sharing the polling and the feeds with the others; cheap to clone.
#[derive(Clone)]
pub struct Coordination {
    pool: PgPool,
    /// This replica's name in leases and change records: unique per process.
    replica: Arc<str>,
}

impl Coordination {
    pub(super) fn new(pool: PgPool, replica: Arc<str>) -> Coordination {
        Coordination { pool, replica }
    }

    /// Takes the lease of source `name` at `url` for `lease` when the source is due and no other
    /// replica holds a live lease on it. This replica may take again a lease it holds: it polls
    /// each source from one task, so its last poll of the source has ended, and failed to give
    /// the lease back (the database was out of reach, say).
    pub async fn claim(&self, name: &str, url: &str, lease: Duration) -> Result<Claim, StoreError> {
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        // One round trip, as every replica asks for every source at each due time. A row per
        // source and URL: a new URL is due at once, whatever the old one was. Due times and
        // leases are compared by the database's clock: one clock for every replica, whatever
        // theirs say. Not granted, the answer is when to ask again: when the lease ends (to
        // take over from a replica that died), or when the source is due.
        let ask_at: Option<i64> = sqlx::query_scalar(
            "WITH now AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms),
             claimed AS (
                INSERT INTO poll_leases AS lease (source, url, due_at, holder, lease_until)
                SELECT $1, $2, 0, $3, now.ms + $4 FROM now
                ON CONFLICT (source, url) DO UPDATE
                    SET holder = excluded.holder, lease_until = excluded.lease_until
                    WHERE lease.due_at <= (SELECT ms FROM now)
                      AND (lease.holder IS NULL OR lease.holder = excluded.holder
                           OR lease.lease_until <= (SELECT ms FROM now))
                RETURNING NULL::bigint AS ask_at)
             SELECT ask_at FROM claimed
             UNION ALL
             SELECT CASE WHEN holder IS NULL THEN due_at ELSE lease_until END FROM poll_leases
             WHERE source = $1 AND url = $2 AND NOT EXISTS (SELECT 1 FROM claimed)",
        )
        .bind(name)
        .bind(url)
        .bind(&*self.replica)
        .bind(lease_ms)
        .fetch_one(&self.pool)
        .await?;
        let Some(ask_at) = ask_at else {
            return Ok(Claim::Granted);
        };
        Ok(Claim::NotBefore(match ask_at {
            i64::MAX => None,
            ms => DateTime::from_timestamp_millis(ms),
        }))
    }

    /// Extends this replica's lease of `name` at `url` to `lease` from now, while it polls.
    pub async fn renew(&self, name: &str, url: &str, lease: Duration) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE poll_leases
             SET lease_until = (extract(epoch FROM clock_timestamp()) * 1000)::bigint + $4
             WHERE source = $1 AND url = $2 AND holder = $3",
        )
        .bind(name)
        .bind(url)
        .bind(&*self.replica)
        .bind(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Gives the lease of `name` at `url` back after polling it, with the time it is due next
    /// (`None`: never). Does nothing when the lease expired and another replica took it.
    pub async fn release(
        &self,
        name: &str,
        url: &str,
        next: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE poll_leases SET holder = NULL, lease_until = 0, due_at = $4
             WHERE source = $1 AND url = $2 AND holder = $3",
        )
        .bind(name)
        .bind(url)
        .bind(&*self.replica)
        .bind(next.map_or(i64::MAX, |next| next.timestamp_millis()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The sources whose entries other replicas changed after change number `seen`, which
    /// moves on to the newest.
    pub async fn changes(&self, seen: &mut i64) -> Result<Vec<String>, StoreError> {
        let changes: Vec<(String, i64, String)> =
            sqlx::query_as("SELECT source, number, replica FROM source_changes WHERE number > $1")
                .bind(*seen)
                .fetch_all(&self.pool)
                .await?;
        *seen = changes
            .iter()
            .map(|(_, number, _)| *number)
            .max()
            .unwrap_or(*seen);
        Ok(changes
            .into_iter()
            .filter(|(.., replica)| *replica != *self.replica)
            .map(|(source, ..)| source)
            .collect())
    }
}
