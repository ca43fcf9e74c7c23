//! Turns at writing, with group commit.
//!
//! This process's writers take turns on a mutex rather than in SQLite's busy handler, where
//! one waiting for the lock sleeps up to 100 ms at a time. A writer that finishes while others
//! wait for their turn leaves the transaction open for them and waits for its commit: a commit
//! writes every page its transaction touched, and the id, content-hash and link indexes take
//! random keys, so one poll per transaction wrote the same index pages over and over. A writer
//! that finishes with nobody waiting commits at once. Each writer's work runs in a savepoint, so
//! a failing one undoes only itself; a commit that fails fails every writer it carried, and so
//! does a writer dropped in the middle of its turn (its half-done work cannot be told from
//! theirs). No writer returns before its work is committed.
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
/// stays as a backstop for a WAL grown past `super::sqlite::WAL_BACKSTOP_PAGES`.
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
    /// The writers' connection cannot write: SQLite opens a file it may not write read-only,
    /// and stays so. The next transaction begins on a fresh connection.
    read_only_connection: bool,
}

impl Open {
    /// Remembers that the connection must be replaced when `error` says it cannot write.
    fn note(&mut self, error: &StoreError) {
        self.read_only_connection |= error.is_read_only();
    }
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
        if open.transaction.is_none() {
            let begun = self
                .begin(std::mem::take(&mut open.read_only_connection))
                .await;
            if let Err(error) = &begun {
                open.note(error);
            }
            open.transaction = Some(begun?);
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

    /// Begins the writers' transaction. IMMEDIATE takes the lock up front, for writers in other
    /// processes: a deferred transaction that reads first fails with "database is locked" when
    /// it tries to upgrade while another writes, since SQLite cannot wait then.
    ///
    /// The connection is replaced first when it was found read-only (`replace`): one opened
    /// while the disk was read-only would refuse to write for ever, long after the disk takes
    /// writes again. On some failures (a full disk, an I/O error) SQLite rolls the whole
    /// transaction back by itself; sqlx's own ROLLBACK then fails, it goes on counting the
    /// transaction as open, and refuses every later BEGIN on that connection. Such a connection
    /// is replaced too. Without either, one full or read-only disk stopped all writing until a
    /// restart.
    async fn begin(&self, replace: bool) -> Result<Transaction<'static, Sqlite>, StoreError> {
        if replace {
            self.replace_connection().await?;
        }
        match self.connection.begin_with("BEGIN IMMEDIATE").await {
            Err(sqlx::Error::InvalidSavePointStatement) => {
                tracing::warn!(
                    "the store's writing connection was left in a failed transaction: opening a new one"
                );
                self.replace_connection().await?;
                Ok(self.connection.begin_with("BEGIN IMMEDIATE").await?)
            }
            begun => Ok(begun?),
        }
    }

    /// Closes the writers' connection: the pool opens a fresh one when next asked.
    async fn replace_connection(&self) -> Result<(), StoreError> {
        let mut stale = self.connection.acquire().await?;
        stale.close_on_drop();
        Ok(())
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
        if let Err(error) = &answer {
            open.note(error);
        }
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
        // Dropped before `finish` (its poll was cancelled): its work is in the transaction, half
        // done, and cannot be told from the others'. None of it is kept; the writers waiting
        // on this transaction learn that theirs is not kept either.
        if let Some(open) = self.open.as_mut() {
            let error = StoreError::Commit("a writer sharing the transaction gave up".into());
            fail(open, &error);
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
    if let Err(error) = &result {
        open.note(error);
    }
    commits.fetch_add(1, Ordering::SeqCst);
    let outcome = result.as_ref().map(drop).map_err(ToString::to_string);
    if let Some(waiting) = open.outcome.take() {
        waiting.send_replace(Some(outcome));
    }
    result
}

/// Drops the open transaction (sqlx rolls back a transaction dropped open) after `error`,
/// failing the writers waiting on it.
fn fail(open: &mut Open, error: &StoreError) {
    open.note(error);
    open.transaction = None;
    if let Some(waiting) = open.outcome.take() {
        waiting.send_replace(Some(Err(error.to_string())));
    }
}

#[cfg(test)]
mod tests {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

    use super::*;

    /// A writer on a fresh store in `folder` with one table, `notes`, whose `text` is unique;
    /// and a pool to read it with.
    async fn writer_in(folder: &std::path::Path) -> (Writer, SqlitePool) {
        let options = SqliteConnectOptions::new()
            .filename(folder.join("t.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let readers = SqlitePoolOptions::new()
            .connect_with(options.clone())
            .await
            .unwrap();
        sqlx::query("CREATE TABLE notes (text TEXT NOT NULL UNIQUE)")
            .execute(&readers)
            .await
            .unwrap();
        let connection = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .unwrap();
        (Writer::new(connection, readers.clone()), readers)
    }

    /// Stores `text` in `turn`'s transaction: fails when a note says it already.
    async fn insert(turn: &mut Turn<'_>, text: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO notes (text) VALUES (?)")
            .bind(text)
            .execute(&mut **turn.transaction())
            .await?;
        Ok(())
    }

    /// One writer's whole turn: stores `text`.
    async fn write(writer: &Writer, text: &str) -> Result<(), StoreError> {
        let mut turn = writer.turn().await?;
        let answer = insert(&mut turn, text).await;
        turn.finish(answer).await
    }

    async fn until_queued(writer: &Writer, writers: usize) {
        while writer.queued.load(Ordering::SeqCst) < writers {
            tokio::task::yield_now().await;
        }
    }

    async fn notes(readers: &SqlitePool) -> Vec<String> {
        sqlx::query_scalar("SELECT text FROM notes ORDER BY text")
            .fetch_all(readers)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_failing_writer_in_a_group_commit_undoes_only_its_own_work() {
        let folder = tempfile::tempdir().unwrap();
        let (writer, readers) = writer_in(folder.path()).await;
        let mut first = writer.turn().await.unwrap();
        insert(&mut first, "a").await.unwrap();
        // The others queue while the first holds its turn, so that all four share one commit.
        let first_done = async {
            until_queued(&writer, 3).await;
            first.finish(Ok(())).await
        };
        let (first, b, a_again, c) = tokio::join!(
            first_done,
            write(&writer, "b"),
            write(&writer, "a"),
            write(&writer, "c")
        );
        assert!(
            first.is_ok() && b.is_ok() && c.is_ok(),
            "{first:?} {b:?} {c:?}"
        );
        let error = a_again.expect_err("a note that exists fails").to_string();
        assert!(error.contains("UNIQUE"), "{error}");
        assert_eq!(writer.commits.load(Ordering::SeqCst), 1, "one group commit");
        assert_eq!(notes(&readers).await, ["a", "b", "c"]);
    }

    #[tokio::test]
    async fn a_writer_dropped_mid_turn_fails_the_writers_of_its_transaction() {
        let folder = tempfile::tempdir().unwrap();
        let (writer, readers) = writer_in(folder.path()).await;
        let mut first = writer.turn().await.unwrap();
        insert(&mut first, "a").await.unwrap();
        let first_done = async {
            until_queued(&writer, 1).await;
            first.finish(Ok(())).await
        };
        let cancelled = async {
            let mut second = writer.turn().await.unwrap();
            insert(&mut second, "b").await.unwrap();
            // As when its poll is cancelled: the turn ends without `finish`.
            drop(second);
        };
        let (first, ()) = tokio::join!(first_done, cancelled);
        let error = first.expect_err("the first writer's work went with the transaction");
        assert!(error.to_string().contains("gave up"), "{error}");
        assert!(notes(&readers).await.is_empty());

        write(&writer, "c").await.unwrap();
        assert_eq!(notes(&readers).await, ["c"]);
    }
}
