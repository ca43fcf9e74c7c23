//! The store against a real SQLite file in a temp folder and a real PostgreSQL database: dedup
//! outcomes, persistence, retention and concurrent polls, the same tests on both.

mod common;

use chrono::{TimeZone, Utc};
use sqlx::Connection;
use std::time::Duration;
use tributary::dedup;
use tributary::model::{Enclosure, Entry, EntryId, Person};

use tributary::config::RetentionSettings;
use tributary::parse::parse_changes;
use tributary::store::{ArticleOutcome, HubRequest, IngestCounts, Policy, SourceRecord, Store};

/// Where a test's store lives: each test below runs once on a SQLite file and once on a fresh
/// PostgreSQL database (`on_both_stores!`).
enum Place {
    File(tempfile::TempDir),
    Postgres(String),
}

/// The SQLite file in a `Place::File`, in a folder the store creates.
const SQLITE_FILE: &str = "nested/folder/t.db";

impl Place {
    /// Opens the store here, again after a close.
    async fn open(&self, policy: Policy) -> Store {
        match self {
            Place::File(dir) => Store::open(&dir.path().join(SQLITE_FILE), policy).await,
            Place::Postgres(url) => Store::connect(url, policy).await,
        }
        .unwrap()
    }
}

impl Place {
    /// Makes the store look as one written before entries had revisions.
    async fn forget_revisions(&self) {
        self.execute(&["UPDATE entries SET revision = NULL"]).await;
    }

    /// Makes every removal of an entry fail, as a stop or a full disk halfway through a write
    /// would.
    async fn refuse_removals(&self) {
        match self {
            Place::File(_) => {
                self.execute(&["CREATE TRIGGER refuse_removal BEFORE DELETE ON entries \
                     BEGIN SELECT RAISE(ABORT, 'removal refused'); END"])
                    .await;
            }
            Place::Postgres(_) => {
                self.execute(&[
                    "CREATE FUNCTION refuse_removal() RETURNS trigger AS $$ \
                     BEGIN RAISE EXCEPTION 'removal refused'; END $$ LANGUAGE plpgsql",
                    "CREATE TRIGGER refuse_removal BEFORE DELETE ON entries \
                     FOR EACH ROW EXECUTE FUNCTION refuse_removal()",
                ])
                .await;
            }
        }
    }

    /// Runs `statements` on a connection of its own, beside the store.
    async fn execute(&self, statements: &[&'static str]) {
        match self {
            Place::File(dir) => {
                let path = dir.path().join(SQLITE_FILE);
                let mut connection = sqlx::sqlite::SqliteConnection::connect(&format!(
                    "sqlite://{}",
                    path.display()
                ))
                .await
                .unwrap();
                for statement in statements {
                    sqlx::query(*statement)
                        .execute(&mut connection)
                        .await
                        .unwrap();
                }
            }
            Place::Postgres(url) => {
                let mut connection = sqlx::postgres::PgConnection::connect(url).await.unwrap();
                for statement in statements {
                    sqlx::query(*statement)
                        .execute(&mut connection)
                        .await
                        .unwrap();
                }
            }
        }
    }
}

/// Runs each test function named, taking a `Place`, on SQLite and on PostgreSQL.
macro_rules! on_both_stores {
    ($($test:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::Place::File(tempfile::tempdir().unwrap())).await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    if let Some(url) = crate::common::fresh_postgres_database().await {
                        super::$test(super::Place::Postgres(url)).await;
                    }
                }
            )*
        }
    };
}

on_both_stores!(
    ingest_sorts_entries_into_new_updated_duplicate_and_unchanged,
    each_entry_of_a_poll_sees_the_ones_before_it,
    entries_of_a_source_that_left_are_removed_and_others_kept,
    a_folder_is_stored_whole_or_not_at_all,
    undated_entries_keep_their_document_order_with_distinct_dates,
    entries_survive_closing_and_reopening_the_store,
    concurrent_polls_of_many_sources_all_land,
    retention_prunes_only_what_left_the_document_and_tombstones_keep_it_out,
    retention_keeps_the_newest_entries_per_source,
    entries_whose_bytes_are_known_are_not_read_again,
    a_new_title_date_link_author_tag_or_enclosure_alone_is_an_update,
    entries_stored_before_revisions_are_rewritten_once_keeping_their_dates,
    an_article_is_wanted_until_decided_for_its_link_and_published_in_place_of_the_content,
    hub_subscriptions_are_capped_expire_and_each_change_is_taken_once,
);

/// Without a PostgreSQL server the PostgreSQL half passes without running, and a plain
/// `cargo test` must still show that it did not run, and how to run it.
#[test]
fn skipped_postgres_tests_say_so_in_a_plain_run() {
    let run = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "on_postgres::entries_survive_closing_and_reopening_the_store",
        ])
        .env_remove(common::TEST_POSTGRES)
        .env_remove("CI")
        .output()
        .unwrap();
    assert!(run.status.success(), "{run:?}");
    let said = String::from_utf8_lossy(&run.stderr);
    assert!(
        said.contains("SKIPPED on_postgres::entries_survive_closing_and_reopening_the_store")
            && said.contains("to run them, set it to postgres://"),
        "{said}"
    );
}

fn entry(source: &str, key: &str, title: &str, body: &str, day: u32) -> Entry {
    // Long enough for the text alone to tell stories apart.
    let body = format!("{body}<p>Reported by our correspondents on the river.</p>");
    Entry {
        id: EntryId::derive(source, key),
        source: source.to_string(),
        key: key.to_string(),
        title: title.to_string(),
        link: Some(format!("https://{source}.example/{key}")),
        authors: Vec::new(),
        published: Some(Utc.with_ymd_and_hms(2024, 1, day, 0, 0, 0).unwrap()),
        updated: None,
        summary: None,
        content: Some(body.clone()),
        categories: vec!["news".to_string()],
        enclosures: vec![Enclosure {
            url: format!("https://{source}.example/{key}.mp3"),
            mime_type: Some("audio/mpeg".to_string()),
            length: Some(1234),
        }],
        image: Some(format!("https://{source}.example/{key}.jpg")),
        content_hash: dedup::content_hash(Some(&body), None, title, None),
        also_in: Vec::new(),
    }
}

async fn stored_titles(store: &Store) -> Vec<String> {
    let entries = store.latest(100).await.unwrap();
    entries.into_iter().map(|entry| entry.title).collect()
}

fn counts(new: usize, updated: usize, duplicate: usize, unchanged: usize) -> IngestCounts {
    IngestCounts {
        new,
        updated,
        duplicate,
        unchanged,
        newly_also_in: 0,
        removed: 0,
        pruned: 0,
        tombstoned: 0,
    }
}

/// A store at `place` holding one entry, stored `now`.
async fn one_entry_stored(place: &Place) -> (Store, chrono::DateTime<Utc>, Entry) {
    let store = place.open(Policy::default()).await;
    let now = Utc::now();
    let original = entry("a", "1", "One", "<p>First story.</p>", 1);
    store
        .ingest(std::slice::from_ref(&original), None, now)
        .await
        .unwrap();
    (store, now, original)
}

/// Each of these edits leaves the body, and so the content hash, as it was.
async fn a_new_title_date_link_author_tag_or_enclosure_alone_is_an_update(place: Place) {
    let (store, now, original) = one_entry_stored(&place).await;
    type Edit = fn(&mut Entry);
    let edits: [(&str, Edit); 7] = [
        ("title", |entry| entry.title = "One, retitled".into()),
        ("date", |entry| {
            entry.published = Some(Utc.with_ymd_and_hms(2024, 1, 2, 0, 0, 0).unwrap())
        }),
        ("link", |entry| {
            entry.link = Some("https://a.example/one".into())
        }),
        ("author", |entry| {
            entry.authors = vec![Person {
                name: "Ann".into(),
                email: None,
                uri: None,
            }]
        }),
        ("tags", |entry| entry.categories.push("rivers".into())),
        ("enclosure", |entry| entry.enclosures.clear()),
        ("image", |entry| entry.image = None),
    ];
    let mut edited = original;
    for (what, edit) in edits {
        edit(&mut edited);
        assert_eq!(
            store.ingest(&[edited.clone()], None, now).await.unwrap(),
            counts(0, 1, 0, 0),
            "a new {what}"
        );
        let stored = store.entry(&edited.id).await.unwrap().unwrap();
        assert_eq!(
            stored,
            Entry {
                updated: stored.updated,
                ..edited.clone()
            },
            "the {what} edit is stored"
        );
        assert!(stored.updated.is_some(), "an update is dated");
    }
    assert_eq!(
        store.ingest(&[edited], None, now).await.unwrap(),
        counts(0, 0, 0, 1)
    );
}

/// A store from before revisions has none: an entry read again is written again, as it may have
/// changed, but not dated as updated, as it may not have.
async fn entries_stored_before_revisions_are_rewritten_once_keeping_their_dates(place: Place) {
    let (store, now, original) = one_entry_stored(&place).await;
    place.forget_revisions().await;

    let retitled = Entry {
        title: "One, retitled before the upgrade".into(),
        ..original
    };
    assert_eq!(
        store
            .ingest(std::slice::from_ref(&retitled), None, now)
            .await
            .unwrap(),
        counts(0, 1, 0, 0)
    );
    assert_eq!(store.entry(&retitled.id).await.unwrap().unwrap(), retitled);
    assert_eq!(
        store.ingest(&[retitled], None, now).await.unwrap(),
        counts(0, 0, 0, 1)
    );
}

async fn ingest_sorts_entries_into_new_updated_duplicate_and_unchanged(place: Place) {
    let store = place.open(Policy::default()).await;
    let now = Utc::now();

    let first = [
        entry("a", "1", "One", "<p>First story.</p>", 1),
        entry("a", "2", "Two", "<p>Second story.</p>", 2),
        // Same body as a/1 in the same poll: stored once.
        entry("a", "3", "One again", "<p>FIRST   story.</p>", 3),
    ];
    assert_eq!(
        store.ingest(&first, None, now).await.unwrap(),
        counts(2, 0, 1, 0)
    );
    // The same document again changes nothing.
    assert_eq!(
        store.ingest(&first, None, now).await.unwrap(),
        counts(0, 0, 1, 2)
    );

    // Another source carrying a/2's body: a duplicate; a/2 edited: an update.
    let second = [
        entry("b", "x", "Two elsewhere", "<div>Second story.</div>", 5),
        entry(
            "a",
            "2",
            "Two, edited",
            "<p>Second story, corrected.</p>",
            2,
        ),
    ];
    // b/x's story is a/2's: a/2 now lists b as a source that carried it too.
    assert_eq!(
        store.ingest(&second, None, now).await.unwrap(),
        IngestCounts {
            newly_also_in: 1,
            ..counts(0, 1, 1, 0)
        }
    );

    let latest = store.latest(10).await.unwrap();
    let titles: Vec<&str> = latest.iter().map(|entry| entry.title.as_str()).collect();
    assert_eq!(titles, ["Two, edited", "One"]);
    // An update without a date of its own is dated when it was seen: second in its document,
    // a millisecond before the first.
    assert_eq!(
        latest[0].updated.map(|date| date.timestamp_millis()),
        Some(now.timestamp_millis() - 1)
    );
    assert_eq!(latest[1].categories, ["news"]);
    assert_eq!(store.latest(1).await.unwrap().len(), 1);
    let one = store
        .entry(&EntryId::derive("a", "1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(one, latest[1]);
    assert!(
        store
            .entry(&EntryId::derive("a", "9"))
            .await
            .unwrap()
            .is_none()
    );
}

/// Within one poll, each entry is judged as if every entry before it were already stored.
async fn each_entry_of_a_poll_sees_the_ones_before_it(place: Place) {
    let store = place.open(Policy::default()).await;
    let now = Utc::now();
    let old_story = "<p>The old story of the mill.</p>";
    store
        .ingest(&[entry("a", "1", "One", old_story, 1)], None, now)
        .await
        .unwrap();

    let poll = [
        // a/1 is rewritten, so its old story is free again: a/2 telling it is new.
        entry(
            "a",
            "1",
            "One, rewritten",
            "<p>A new story of the mill.</p>",
            1,
        ),
        entry("a", "2", "Two", old_story, 2),
        // One id twice (a broken feed): the second is an update of the first.
        entry("a", "3", "Three", "<p>A third story.</p>", 3),
        entry(
            "a",
            "3",
            "Three, again",
            "<p>A third story, told again.</p>",
            3,
        ),
    ];
    assert_eq!(
        store.ingest(&poll, None, now).await.unwrap(),
        counts(2, 2, 0, 0)
    );
    let mut titles = stored_titles(&store).await;
    titles.sort();
    assert_eq!(titles, ["One, rewritten", "Three, again", "Two"]);
}

async fn entries_of_a_source_that_left_are_removed_and_others_kept(place: Place) {
    let store = place.open(Policy::default()).await;
    let entries = [
        entry("seeds", "a.txt", "A", "<p>A.</p>", 1),
        entry("seeds", "b.txt", "B", "<p>B.</p>", 2),
        entry("other", "a.txt", "Other", "<p>Other.</p>", 3),
    ];
    store.ingest(&entries, None, Utc::now()).await.unwrap();
    let still_there = [entries[1].clone()];
    let counts = store
        .ingest_folder("seeds", &still_there, Utc::now())
        .await
        .unwrap();
    assert_eq!(counts.removed, 1);
    let titles = stored_titles(&store).await;
    assert_eq!(titles, ["Other", "B"]);
}

/// A folder's new entries and the removal of its deleted files' are one write: when the
/// removal fails, the new entries are not stored either, and the folder is read again whole
/// at the next poll.
async fn a_folder_is_stored_whole_or_not_at_all(place: Place) {
    let store = place.open(Policy::default()).await;
    let before = [entry("seeds", "a.txt", "A", "<p>A.</p>", 1)];
    store
        .ingest_folder("seeds", &before, Utc::now())
        .await
        .unwrap();
    place.refuse_removals().await;
    // a.txt was deleted and b.txt written.
    let after = [entry("seeds", "b.txt", "B", "<p>B.</p>", 2)];
    let refused = store.ingest_folder("seeds", &after, Utc::now()).await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(stored_titles(&store).await, ["A"]);
}

async fn undated_entries_keep_their_document_order_with_distinct_dates(place: Place) {
    let store = place.open(Policy::default()).await;
    let undated: Vec<Entry> = ["Newest", "Middle", "Oldest"]
        .iter()
        .enumerate()
        .map(|(key, title)| Entry {
            published: None,
            ..entry(
                "a",
                &key.to_string(),
                title,
                &format!("<p>{title} story.</p>"),
                1,
            )
        })
        .collect();
    let now = Utc::now();
    store.ingest(&undated, None, now).await.unwrap();

    let stored = store.latest(10).await.unwrap();
    let titles: Vec<&str> = stored.iter().map(|entry| entry.title.as_str()).collect();
    assert_eq!(titles, ["Newest", "Middle", "Oldest"]);
    let dates: Vec<_> = stored.iter().map(|entry| entry.date().unwrap()).collect();
    assert_eq!(dates[0].timestamp_millis(), now.timestamp_millis());
    assert!(dates[0] > dates[1] && dates[1] > dates[2], "{dates:?}");
}

async fn entries_survive_closing_and_reopening_the_store(place: Place) {
    let store = place.open(Policy::default()).await;
    let written = entry("a", "1", "Kept", "<p>Kept story.</p>", 1);
    store
        .ingest(std::slice::from_ref(&written), None, Utc::now())
        .await
        .unwrap();
    store.close().await;
    if let Place::File(dir) = &place {
        // Closing every connection, the writer's own included, copies the WAL into the
        // database file: a copy of the file alone, taken once the daemon stopped, holds every
        // entry.
        let wal = dir.path().join(SQLITE_FILE).with_extension("db-wal");
        assert!(
            std::fs::metadata(&wal).map_or(true, |wal| wal.len() == 0),
            "{wal:?} is left behind"
        );
    }

    let reopened = place.open(Policy::default()).await;
    assert_eq!(reopened.latest(10).await.unwrap(), vec![written]);
}

async fn concurrent_polls_of_many_sources_all_land(place: Place) {
    let store = place.open(Policy::default()).await;
    let mut polls = tokio::task::JoinSet::new();
    for source in 0..16 {
        let store = store.clone();
        polls.spawn(async move {
            let entries: Vec<Entry> = (0..20)
                .map(|n| {
                    entry(
                        &format!("s{source}"),
                        &n.to_string(),
                        "t",
                        &format!("<p>Story {n} of source {source}.</p>"),
                        1 + n % 28,
                    )
                })
                .collect();
            store.ingest(&entries, None, Utc::now()).await
        });
    }
    while let Some(result) = polls.join_next().await {
        assert_eq!(result.unwrap().unwrap().new, 20);
    }
    assert_eq!(store.latest(1000).await.unwrap().len(), 16 * 20);
}

/// Source r's entries of January 1st to 4th, 2024.
fn four_days() -> Vec<Entry> {
    (1..=4)
        .map(|day| {
            let body = format!("<p>Story of day {day}.</p>");
            entry("r", &day.to_string(), &format!("Day {day}"), &body, day)
        })
        .collect()
}

fn record() -> SourceRecord {
    SourceRecord {
        url: "https://r.example/feed".to_string(),
        ..SourceRecord::default()
    }
}

async fn retention_prunes_only_what_left_the_document_and_tombstones_keep_it_out(place: Place) {
    let policy = Policy {
        retention: RetentionSettings {
            max_age: Duration::from_secs(30 * 86400),
            max_entries_per_source: 1000,
        },
        ..Policy::default()
    };
    let store = place.open(policy).await;
    let now = Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap();
    let old = four_days();
    // All older than 30 days, but all still in the document: nothing goes.
    let counts = store
        .ingest(&old, Some(("r", &record())), now)
        .await
        .unwrap();
    assert_eq!((counts.new, counts.pruned), (4, 0));

    // Only day 4 is left in the document: days 1 to 3 are pruned.
    let counts = store
        .ingest(&old[3..], Some(("r", &record())), now)
        .await
        .unwrap();
    assert_eq!(counts.pruned, 3);
    let titles = stored_titles(&store).await;
    assert_eq!(titles, ["Day 4"]);

    // The source serves day 1 again: the tombstone keeps it out.
    let again = [old[0].clone(), old[3].clone()];
    let counts = store
        .ingest(&again, Some(("r", &record())), now)
        .await
        .unwrap();
    assert_eq!((counts.new, counts.tombstoned, counts.unchanged), (0, 1, 1));
    assert_eq!(store.latest(10).await.unwrap().len(), 1);
}

async fn retention_keeps_the_newest_entries_per_source(place: Place) {
    let policy = Policy {
        retention: RetentionSettings {
            max_age: Duration::from_secs(100 * 365 * 86400),
            max_entries_per_source: 2,
        },
        ..Policy::default()
    };
    let store = place.open(policy).await;
    let entries = four_days();
    store
        .ingest(&entries, Some(("r", &record())), Utc::now())
        .await
        .unwrap();
    let counts = store
        .ingest(&entries[3..], Some(("r", &record())), Utc::now())
        .await
        .unwrap();
    assert_eq!(counts.pruned, 2);
    let titles = stored_titles(&store).await;
    assert_eq!(titles, ["Day 4", "Day 3"]);
}

#[tokio::test]
async fn a_store_from_a_newer_release_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = Store::open(&path, Policy::default()).await.unwrap();
    store
        .ingest(
            &[entry("a", "1", "Kept", "<p>Kept.</p>", 1)],
            None,
            Utc::now(),
        )
        .await
        .unwrap();
    store.close().await;
    // What a newer release would leave behind: a migration this binary does not know.
    let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", path.display()))
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (9999, 'from the future', 1, x'00', 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let before = std::fs::read(&path).unwrap();

    let error = Store::open(&path, Policy::default())
        .await
        .err()
        .expect("refused");
    let message = error.to_string();
    assert!(
        message.contains("schema version 9999, newer than this tributary knows"),
        "{message}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the file was not changed"
    );
}

/// An RSS document of (guid, body) items, as a publisher re-serves it between polls.
fn rss_items(items: &[(&str, &str)]) -> String {
    let items: String = items
        .iter()
        .map(|(guid, body)| {
            format!(
                "<item><title>{guid}</title><guid>{guid}</guid>\
                 <description>&lt;p&gt;{body}, as reported on the river today.&lt;/p&gt;</description></item>"
            )
        })
        .collect();
    format!("<rss version=\"2.0\"><channel><title>News</title>{items}</channel></rss>")
}

async fn entries_whose_bytes_are_known_are_not_read_again(place: Place) {
    let store = place.open(Policy::default()).await;
    let url = url::Url::parse("https://news.example/feed.rss").unwrap();
    let now = Utc::now();
    let poll = |document: String| {
        let store = store.clone();
        let url = url.clone();
        async move {
            let known = store.raw_hashes("news").await.unwrap();
            let changes =
                parse_changes("news", document.as_bytes(), None, &url, now, &known).unwrap();
            let read: Vec<String> = changes.entries.iter().map(|e| e.key.clone()).collect();
            let counts = store
                .ingest_changes(&changes, "news", &record(), now)
                .await
                .unwrap();
            (read, changes.unchanged_keys, counts)
        }
    };

    let first = rss_items(&[("a", "Alpha"), ("b", "Beta"), ("c", "Gamma")]);
    let (read, known, counts) = poll(first.clone()).await;
    assert_eq!(
        (read, known),
        (vec!["a".into(), "b".into(), "c".into()], vec![])
    );
    assert_eq!(counts, self::counts(3, 0, 0, 0));

    // The same bytes again: nothing is read, everything is still in the document.
    let (read, known, counts) = poll(first).await;
    assert_eq!(
        (read, known),
        (vec![], vec!["a".into(), "b".into(), "c".into()])
    );
    assert_eq!(counts, self::counts(0, 0, 0, 3));

    // b edited, d new, c gone: only b and d are read, from a document without a.
    let (read, known, counts) = poll(rss_items(&[
        ("d", "Delta"),
        ("a", "Alpha"),
        ("b", "Beta, corrected"),
    ]))
    .await;
    assert_eq!(
        (read, known),
        (vec!["d".into(), "b".into()], vec!["a".into()])
    );
    assert_eq!(counts, self::counts(1, 1, 0, 1));
    let stored = store.entries_of("news").await.unwrap();
    let body = |key: &str| {
        let entry = stored.iter().find(|entry| entry.key == key).unwrap();
        entry.summary.clone().or(entry.content.clone()).unwrap()
    };
    assert_eq!(
        body("b"),
        "<p>Beta, corrected, as reported on the river today.</p>"
    );
    assert_eq!(body("a"), "<p>Alpha, as reported on the river today.</p>");
    assert_eq!(stored.len(), 4, "c left the document but stays stored");
}

#[test]
fn json_feed_entries_are_always_read() {
    let document = r#"{"version": "https://jsonfeed.org/version/1.1", "title": "J",
        "items": [{"id": "1", "content_text": "One story told at length."}]}"#;
    let url = url::Url::parse("https://j.example/feed.json").unwrap();
    let changes = parse_changes(
        "j",
        document.as_bytes(),
        None,
        &url,
        Utc::now(),
        &Default::default(),
    )
    .unwrap();
    assert_eq!(changes.entries.len(), 1);
    assert_eq!(changes.raw_hashes, [None]);
}

/// The article rows of one entry through their life: wanted, failed and due again later,
/// extracted and published, wanted again when the link changes, gone with the entry.
async fn an_article_is_wanted_until_decided_for_its_link_and_published_in_place_of_the_content(
    place: Place,
) {
    let (store, now, original) = one_entry_stored(&place).await;
    let wanted = |at| store.articles_wanted("a", false, at, 10);
    let first = wanted(now).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].entry_id, original.id);
    assert_eq!(first[0].link, "https://a.example/1");
    assert_eq!(first[0].body, original.content);
    assert_eq!(first[0].attempts, 0);

    let retry_at = now + chrono::TimeDelta::minutes(15);
    let failed = ArticleOutcome::Failed {
        error: "HTTP 503".to_string(),
        attempts: 1,
        retry_at: Some(retry_at),
    };
    store
        .save_article("a", &first[0], &failed, now)
        .await
        .unwrap();
    assert!(wanted(now).await.unwrap().is_empty(), "not due yet");
    let again = wanted(retry_at).await.unwrap();
    assert_eq!(again[0].attempts, 1);

    let article = ArticleOutcome::Extracted {
        html: "<p>The whole story.</p>".to_string(),
    };
    store
        .save_article("a", &again[0], &article, now)
        .await
        .unwrap();
    assert!(wanted(retry_at).await.unwrap().is_empty());
    let published = store.entry(&original.id).await.unwrap().unwrap();
    assert_eq!(
        published.content.as_deref(),
        Some("<p>The whole story.</p>")
    );
    assert_eq!(published.summary, original.content, "the entry's own words");

    let mut moved = original.clone();
    moved.link = Some("https://a.example/1-moved".to_string());
    store.ingest(&[moved], None, now).await.unwrap();
    let published = store.entry(&original.id).await.unwrap().unwrap();
    assert_eq!(
        published.content, original.content,
        "an article of the old link"
    );
    let wanted_again = wanted(now).await.unwrap();
    assert_eq!(wanted_again[0].link, "https://a.example/1-moved");
    assert_eq!(wanted_again[0].attempts, 0);
    store
        .save_article("a", &wanted_again[0], &ArticleOutcome::Whole, now)
        .await
        .unwrap();
    assert!(wanted(now).await.unwrap().is_empty(), "auto found it whole");
    assert_eq!(
        store
            .articles_wanted("a", true, now, 10)
            .await
            .unwrap()
            .len(),
        1,
        "on wants it"
    );
}

async fn hub_subscriptions_are_capped_expire_and_each_change_is_taken_once(place: Place) {
    let store = place.open(Policy::default()).await;
    let now = Utc::now();
    let request = |callback, lease_seconds| HubRequest {
        topic: "/feed.atom",
        callback,
        secret: Some("s3cret"),
        expires_at: now + chrono::Duration::seconds(lease_seconds),
        delivered: Some("rendering-1"),
    };
    assert!(
        store
            .hub_subscribe(&request("https://a.example/", 60), 2, now)
            .await
            .unwrap()
    );
    assert!(
        store
            .hub_subscribe(&request("https://b.example/", 1), 2, now)
            .await
            .unwrap()
    );
    assert!(
        !store
            .hub_subscribe(&request("https://c.example/", 60), 2, now)
            .await
            .unwrap(),
        "two held: a third is refused"
    );
    assert!(
        store
            .hub_subscribe(&request("https://a.example/", 120), 2, now)
            .await
            .unwrap(),
        "a renewal is not a third"
    );
    let later = now + chrono::Duration::seconds(5);
    let held = store.hub_subscriptions(later).await.unwrap();
    assert_eq!(held.len(), 1, "b's lease ended: {held:?}");
    assert_eq!(held[0].callback, "https://a.example/");
    assert_eq!(held[0].delivered.as_deref(), Some("rendering-1"));
    store.hub_forget_expired(later).await.unwrap();
    assert_eq!(
        store.hub_subscriptions(now).await.unwrap().len(),
        1,
        "b's row is gone"
    );

    // Two replicas (two handles on one store) race for a change: one takes it. One that read
    // the store before the taken rendering was made cannot take an older rendering back.
    let other = place.open(Policy::default()).await;
    let (first, second) = tokio::join!(
        store.hub_take_delivery("/feed.atom", "https://a.example/", "rendering-2", later),
        other.hub_take_delivery("/feed.atom", "https://a.example/", "rendering-2", later),
    );
    assert!(first.unwrap() ^ second.unwrap(), "exactly one takes it");
    let stale = later - chrono::Duration::seconds(1);
    assert!(
        !other
            .hub_take_delivery("/feed.atom", "https://a.example/", "rendering-1", stale)
            .await
            .unwrap()
    );
    let newer = later + chrono::Duration::seconds(1);
    assert!(
        other
            .hub_take_delivery("/feed.atom", "https://a.example/", "rendering-3", newer)
            .await
            .unwrap()
    );

    store
        .hub_unsubscribe("/feed.atom", "https://a.example/")
        .await
        .unwrap();
    assert!(store.hub_subscriptions(later).await.unwrap().is_empty());
}
