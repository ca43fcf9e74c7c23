//! Turns at writing, with group commit.
//!
//! This process's writers take turns on a mutex rather than in SQLite's busy handler, where
//! one waiting for the lock sleeps up to 100 ms at a time. A writer that finishes while others
//! wait for their turn leaves the transaction open for them and waits for its commit: a commit
//! writes every page its transaction touched, and the id, content-hash and link indexes take
//! random keys, so one poll per transaction wrote the same index pages over and over. A writer
//! that finishes with nobody waiting commits at once. Each writer's work runs in a savepoint, so
//! a failing one undoes only itself; a commit that fails fails every writer it carried, and no
//! writer returns before its work is committed.
//!
//! A turn is a guard (`Turn`) rather than a closure: the futures of closures that borrow their
//! transaction cannot be shown to be `Send`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use sqlx::{Sqlite, SqlitePool, Transaction};
use tokio::sync::{Mutex, MutexGuard, watch};

use super::StoreError;

/// A transaction carries at most this many writers' work.
const MAX_WRITERS_PER_COMMIT: usize = 32;
/// How long a writer waits for the writers it left the transaction open for before it takes
/// its turn again and commits itself (when one of them gave up before its turn).
const COMMIT_WAIT: Duration = Duration::from_secs(1);

/// How often the WAL is copied into the database file when something was committed: off the
/// writers' path, on another connection. SQLite's own checkpoint, in the committing writer,
/// stays as a backstop for a WAL grown past `super::WAL_BACKSTOP_PAGES`.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// A transaction's outcome, once committed or failed.
type Outcome = Option<Result<(), String>>;

pub(super) struct Writer {
    /// A pool of one connection, kept open: the writers' own, whose page cache lasts from one
    /// transaction to the next as long as nobody else writes.
    connection: SqlitePool,
    open: Mutex<Open>,
    /// Writers waiting for their turn.
    queued: AtomicUsize,
    /// Counts commits, for the checkpointer to tell whether there is anything to copy.
    commits: Arc<AtomicU64>,
    checkpointer: tokio::task::JoinHandle<()>,
}

/// The transaction left open for the next writer, if any.
#[derive(Default)]
struct Open {
    transaction: Option<Transaction<'static, Sqlite>>,
    /// Counts transactions begun, to tell whether the open one is a writer's own.
    generation: u64,
    writers: usize,
    outcome: Option<watch::Sender<Outcome>>,
    /// A writer gave up in the middle of its turn.
    abandoned: bool,
}

impl Writer {
    /// Writes on `connection` and checkpoints on one of `others`. Needs a tokio runtime: it
    /// starts the checkpointer.
    pub(super) fn new(connection: SqlitePool, others: SqlitePool) -> Writer {
        let commits = Arc::new(AtomicU64::new(0));
        Writer {
            checkpointer: tokio::spawn(checkpoint_when_written(others, Arc::clone(&commits))),
            connection,
            open: Mutex::default(),
            queued: AtomicUsize::new(0),
            commits,
        }
    }

    /// Waits for this writer's turn: its work then goes into `Turn::transaction` and ends with
    /// `Turn::finish`.
    pub(super) async fn turn(&self) -> Result<Turn<'_>, StoreError> {
        let mut open = {
            let _queued = Queued::enter(&self.queued);
            self.open.lock().await
        };
        if open.abandoned {
            // Its work cannot be told from the others': none of it is kept.
            let error = StoreError::Commit("a writer sharing the transaction gave up".into());
            fail(&mut open, &error);
        }
        if open.transaction.is_none() {
            // IMMEDIATE takes the lock up front, for writers in other processes: a deferred
            // transaction that reads first fails with "database is locked" when it tries to
            // upgrade while another writes, since SQLite cannot wait then.
            open.transaction = Some(self.connection.begin_with("BEGIN IMMEDIATE").await?);
            open.generation += 1;
            open.writers = 0;
            open.outcome = Some(watch::channel(None).0);
        }
        open.writers += 1;
        let transaction = open.transaction.as_mut().expect("opened above");
        if let Err(error) = savepoint(transaction, "SAVEPOINT writer").await {
            fail(&mut open, &error);
            return Err(error);
        }
        Ok(Turn {
            writer: self,
            open: Some(open),
        })
    }

    /// Waits for a turn in progress and closes the writers' connection.
    pub(super) async fn close(&self) {
        self.connection.close().await;
    }
}

/// One writer's turn: its work, in a savepoint of the open transaction.
pub(super) struct Turn<'w> {
    writer: &'w Writer,
    /// Until `finish`.
    open: Option<MutexGuard<'w, Open>>,
}

impl Turn<'_> {
    pub(super) fn transaction(&mut self) -> &mut Transaction<'static, Sqlite> {
        self.open
            .as_mut()
            .and_then(|open| open.transaction.as_mut())
            .expect("a turn holds the open transaction until it finishes")
    }

    /// Ends the turn with the answer of its work: keeps the work (or undoes it, when it failed)
    /// and returns the answer once the transaction is committed.
    pub(super) async fn finish<T>(
        mut self,
        answer: Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut open = self.open.take().expect("finished once");
        let transaction = open.transaction.as_mut().expect("open during the turn");
        let ended = match &answer {
            Ok(_) => savepoint(transaction, "RELEASE writer").await,
            // Fails when SQLite already rolled back the whole transaction (a full disk, say).
            Err(_) => match savepoint(transaction, "ROLLBACK TO writer").await {
                Ok(()) => savepoint(transaction, "RELEASE writer").await,
                Err(error) => Err(error),
            },
        };
        if let Err(error) = ended {
            fail(&mut open, &error);
            return Err(answer.err().unwrap_or(error));
        }
        let nobody_waits = self.writer.queued.load(Ordering::SeqCst) == 0;
        if nobody_waits || open.writers >= MAX_WRITERS_PER_COMMIT {
            commit(&mut open, &self.writer.commits).await?;
            return answer;
        }
        let generation = open.generation;
        let mut outcome = open
            .outcome
            .as_ref()
            .expect("open with its transaction")
            .subscribe();
        drop(open);
        loop {
            let committed = tokio::time::timeout(COMMIT_WAIT, outcome.wait_for(Option::is_some));
            if let Ok(Ok(result)) = committed.await {
                let result = result.clone().expect("waited for an outcome");
                return result.map_err(StoreError::Commit).and(answer);
            }
            let mut open = self.writer.open.lock().await;
            if open.generation == generation && open.transaction.is_some() {
                commit(&mut open, &self.writer.commits).await?;
                return answer;
            }
        }
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        // Dropped before `finish`: its work is in the transaction, half done.
        if let Some(open) = self.open.as_mut() {
            open.abandoned = true;
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.checkpointer.abort();
    }
}

async fn checkpoint_when_written(pool: SqlitePool, commits: Arc<AtomicU64>) {
    let mut ticks = tokio::time::interval(CHECKPOINT_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut checkpointed = 0;
    while !pool.is_closed() {
        ticks.tick().await;
        let committed = commits.load(Ordering::SeqCst);
        if committed == checkpointed {
            continue;
        }
        // PASSIVE copies what no reader still needs and never waits for writers or readers.
        match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            Ok(_) => checkpointed = committed,
            Err(error) => tracing::debug!("WAL checkpoint: {error}"),
        }
    }
}

/// Counts a writer as waiting for its turn until dropped (when it gets it, or gives up).
struct Queued<'a>(&'a AtomicUsize);

impl<'a> Queued<'a> {
    fn enter(queued: &'a AtomicUsize) -> Self {
        queued.fetch_add(1, Ordering::SeqCst);
        Queued(queued)
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn savepoint(
    transaction: &mut Transaction<'static, Sqlite>,
    statement: &'static str,
) -> Result<(), StoreError> {
    sqlx::query(statement).execute(&mut **transaction).await?;
    Ok(())
}

/// Commits the open transaction and tells the writers waiting on it.
async fn commit(open: &mut Open, commits: &AtomicU64) -> Result<(), StoreError> {
    let transaction = open.transaction.take().expect("a transaction is open");
    let result = transaction.commit().await.map_err(StoreError::from);
    commits.fetch_add(1, Ordering::SeqCst);
    let outcome = result.as_ref().map(drop).map_err(ToString::to_string);
    if let Some(waiting) = open.outcome.take() {
        waiting.send_replace(Some(outcome));
    }
    result
}

/// Drops the open transaction after `error` undid it, failing the writers waiting on it.
fn fail(open: &mut Open, error: &StoreError) {
    open.transaction = None;
    open.abandoned = false;
    if let Some(waiting) = open.outcome.take() {
        waiting.send_replace(Some(Err(error.to_string())));
    }
}
