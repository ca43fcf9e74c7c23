//! Several replicas of the real binary on one PostgreSQL database: each source is polled once
//! per due time by one of them, a killed replica's sources pass to the others within the lease,
//! and every replica serves the same feed, byte for byte.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use common::*;

const SOURCES: usize = 200;

/// The tests here take turns: each runs several daemons against one PostgreSQL server, and on
/// two cores their timings hold only one test at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
/// The sources' schedule, every `PERIOD`.
const SCHEDULE: &str = "*/10 * * * * *";
const PERIOD: TimeDelta = TimeDelta::seconds(10);
const LEASE: Duration = Duration::from_secs(6);
/// How long the origin takes to answer: polls are in flight for a while, to kill one mid-poll.
const ANSWER_DELAY: Duration = Duration::from_millis(200);

fn path(source: usize) -> String {
    format!("/feeds/{source}.xml")
}

/// Source `source`'s document: its first `items` stories.
fn document(source: usize, items: usize) -> String {
    let items: Vec<(String, String, String, &str)> = (0..items)
        .map(|item| {
            (
                format!("s{source}-{item}"),
                format!("Story {item} of source {source}"),
                format!("<p>Story {item} of source {source}, as reported on the river.</p>"),
                "Mon, 01 Jan 2024 00:00:00 GMT",
            )
        })
        .collect();
    let items: Vec<(&str, &str, &str, &str)> = items
        .iter()
        .map(|(guid, title, body, date)| (guid.as_str(), title.as_str(), body.as_str(), *date))
        .collect();
    rss_document(&format!("Source {source}"), &items)
}

fn serve_all(origin: &Origin, items: usize) {
    for source in 0..SOURCES {
        origin.reply(
            &path(source),
            Reply::ok("application/rss+xml", document(source, items)).delay(ANSWER_DELAY),
        );
    }
}

fn config(origin: &Origin) -> String {
    let sources: String = (0..SOURCES)
        .map(|source| {
            format!(
                "  - name: \"s{source}\"\n    url: \"{}\"\n",
                origin.url(&path(source))
            )
        })
        .collect();
    format!(
        "feed:\n  title: \"Replicated river\"\n  base_url: \"http://feeds.test\"\n  max_entries: 500\n\
         server:\n  listen: \"127.0.0.1:0\"\n\
         storage:\n  lease: {}s\n\
         schedule: \"{SCHEDULE}\"\n\
         fetch:\n  min_interval: 0s\n  jitter: 0s\n  timeout: 2s\n  max_per_host: 16\n  max_concurrent: 16\n\
         sources:\n{sources}",
        LEASE.as_secs()
    )
}

fn replica(workspace: &Workspace, database: &str) -> Daemon {
    let mut command = tributary();
    command
        .arg("--config")
        .arg(workspace.config_path())
        .env("TRIBUTARY_DATABASE_URL", database);
    Daemon::start(command)
}

/// The times each source was requested at, by source.
fn requests_by_source(origin: &Origin) -> BTreeMap<usize, Vec<DateTime<Utc>>> {
    (0..SOURCES)
        .map(|source| {
            let times = origin
                .requests_for(&path(source))
                .iter()
                .map(|request| request.at)
                .collect();
            (source, times)
        })
        .collect()
}

/// How many requests each source had in the period that begins at `start`.
fn requests_in_period(origin: &Origin, start: DateTime<Utc>) -> BTreeMap<usize, usize> {
    requests_by_source(origin)
        .into_iter()
        .map(|(source, times)| {
            let within = times
                .iter()
                .filter(|at| **at >= start && **at < start + PERIOD)
                .count();
            (source, within)
        })
        .collect()
}

/// Sleeps until `time`.
async fn until(time: DateTime<Utc>) {
    tokio::time::sleep((time - Utc::now()).to_std().unwrap_or_default()).await;
}

/// The start of the next period.
fn next_period() -> DateTime<Utc> {
    Utc::now().duration_trunc(PERIOD).unwrap() + PERIOD
}

/// The sources whose lease the replica with process id `pid` holds.
async fn leases_of(database: &sqlx::PgPool, pid: u32) -> BTreeSet<usize> {
    let sources: Vec<String> =
        sqlx::query_scalar("SELECT source FROM poll_leases WHERE holder LIKE $1")
            .bind(format!("%-{pid}-%"))
            .fetch_all(database)
            .await
            .unwrap();
    sources
        .iter()
        .map(|name| name.trim_start_matches('s').parse().unwrap())
        .collect()
}

async fn merged_atom(daemon: &Daemon) -> Fetched {
    get(daemon.addr, "/feed.atom").await
}

/// One story in order (start, a period, one replica killed, take-over, a rejoin, one feed): each
/// step needs the state the previous one left, so it stays one function.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_poll_each_source_once_per_due_time_take_over_the_dead_and_serve_one_feed() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let Some(url) = fresh_postgres_database().await else {
        return;
    };
    let origin = Origin::start().await;
    serve_all(&origin, 1);
    let workspace = Workspace::new();
    std::fs::write(workspace.config_path(), config(&origin)).unwrap();
    let mut replicas = vec![
        replica(&workspace, &url),
        replica(&workspace, &url),
        replica(&workspace, &url),
    ];
    let database = sqlx::PgPool::connect(&url).await.unwrap();

    // Start-up: every source is polled once, by whichever replica took it first.
    wait_for("every source polled", || async {
        let polled = requests_by_source(&origin)
            .values()
            .filter(|times| !times.is_empty())
            .count();
        (polled == SOURCES).then_some(())
    })
    .await;

    // A whole period: each source once.
    let first = next_period();
    until(first + PERIOD).await;
    let once: BTreeMap<usize, usize> = (0..SOURCES).map(|source| (source, 1)).collect();
    assert_eq!(
        requests_in_period(&origin, first),
        once,
        "period at {first}"
    );

    // The next period: one replica dies while it holds leases, polls in flight.
    let second = first + PERIOD;
    let victim = replicas.remove(0);
    let victim_pid = victim.child.id();
    wait_for("the replica holding leases", || async {
        (!leases_of(&database, victim_pid).await.is_empty()).then_some(())
    })
    .await;
    drop(victim); // SIGKILL
    let killed_at = Utc::now();
    // A dead process changes nothing more: these are the leases it died with.
    let orphaned = leases_of(&database, victim_pid).await;
    assert!(!orphaned.is_empty());
    until(second + PERIOD).await;
    // Its last renewal was before it died: its leases end within one lease of the kill.
    let leases_end = killed_at + TimeDelta::from_std(LEASE).unwrap();
    for (source, times) in requests_by_source(&origin) {
        let in_period: Vec<&DateTime<Utc>> = times
            .iter()
            .filter(|at| **at >= second && **at < second + PERIOD)
            .collect();
        let after_kill = in_period.iter().filter(|at| ***at > killed_at).count();
        if orphaned.contains(&source) {
            // Its poll died with the replica, begun or not; another replica took the source
            // over once the lease ran out, and only one did.
            assert_eq!(after_kill, 1, "s{source} after the kill: {in_period:?}");
            let taken_over = in_period.last().unwrap();
            assert!(
                **taken_over <= leases_end + TimeDelta::seconds(2),
                "s{source} was taken over at {taken_over}, the dead replica's leases ended by {leases_end}"
            );
            assert!(in_period.len() <= 2, "s{source}: {in_period:?}");
        } else {
            assert_eq!(in_period.len(), 1, "s{source} in the period at {second}");
        }
    }

    // With two replicas left, and a new story in every source: each source once again.
    serve_all(&origin, 2);
    let third = second + PERIOD;
    until(third + PERIOD).await;
    assert_eq!(
        requests_in_period(&origin, third),
        once,
        "period at {third}"
    );

    // A replica joins again; all three serve the same feed, which holds every story, whichever
    // replica stored it.
    replicas.push(replica(&workspace, &url));
    let served = wait_for("the three replicas serving one feed", || async {
        let mut feeds = Vec::new();
        for replica in &replicas {
            feeds.push(merged_atom(replica).await);
        }
        let etags: BTreeSet<Option<String>> = feeds.iter().map(|feed| feed.etag.clone()).collect();
        (etags.len() == 1 && titles(&parse(&feeds[0].body)).len() == 2 * SOURCES).then_some(feeds)
    })
    .await;
    assert!(served[0].etag.is_some());
    assert!(
        served.iter().all(|feed| feed.body == served[0].body),
        "same ETag, same bytes"
    );
    database.close().await;
}

/// Connections to database `name` on the test server are refused (`allow` false) or taken
/// again, and those open are cut: the database is gone, as far as a replica can tell.
async fn allow_connections(name: &str, allow: bool) {
    let server = sqlx::PgPool::connect(&test_postgres_server().unwrap())
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {name} ALLOW_CONNECTIONS {allow}"
    )))
    .execute(&server)
    .await
    .unwrap();
    if !allow {
        sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
            .bind(name)
            .execute(&server)
            .await
            .unwrap();
    }
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_serves_through_a_database_outage_says_so_once_and_resumes() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let Some(url) = fresh_postgres_database().await else {
        return;
    };
    let name = url::Url::parse(&url).unwrap().path()[1..].to_string();
    let origin = Origin::start().await;
    let sources = 3;
    let serve = |items| {
        for source in 0..sources {
            origin.serve(
                &path(source),
                "application/rss+xml",
                document(source, items),
            );
        }
    };
    serve(1);
    let workspace = Workspace::new();
    let listed: Vec<(String, String)> = (0..sources)
        .map(|source| (format!("s{source}"), origin.url(&path(source))))
        .collect();
    let listed: Vec<(&str, &str, &str)> = listed
        .iter()
        .map(|(name, url)| (name.as_str(), url.as_str(), "* * * * * *"))
        .collect();
    workspace.write_config(&listed);
    let daemon = replica(&workspace, &url);
    let entries_served = |count: usize| {
        let addr = daemon.addr;
        async move {
            let feed = get(addr, "/feed.atom").await;
            (feed.status == 200 && titles(&parse(&feed.body)).len() == count).then_some(())
        }
    };
    wait_for("the first stories served", || entries_served(sources)).await;

    allow_connections(&name, false).await;
    daemon.wait_for_log("the shared store does not answer");
    serve(2);
    // Every source is due every second; a line per source and attempt would flood the log.
    tokio::time::sleep(Duration::from_secs(3)).await;
    wait_for("the stored stories served meanwhile", || {
        entries_served(sources)
    })
    .await;
    allow_connections(&name, true).await;
    let meanwhile = daemon.log_until("the shared store answers again");
    // A poll under way when the database went fails, and cannot hand its lease back: once
    // each; a rendering under way cannot read the store: once. Then the remote sources wait for
    // the store rather than fail a poll each. The seeds folder, read on the same schedule
    // without a lease, fails its reads as with a broken disk.
    let mut said = BTreeMap::new();
    for line in &meanwhile {
        if !(line.contains("WARN") || line.contains("ERROR")) || line.contains("source=\"seeds\"") {
            continue;
        }
        let kind = [
            "poll failed",
            "cannot hand the source's turn back",
            "cannot read the store to re-render",
        ]
        .into_iter()
        .find(|kind| line.contains(kind))
        .unwrap_or_else(|| panic!("unexpected while the database was away: {line}"));
        let source = line.split("source=").nth(1).unwrap_or_default();
        *said.entry((kind, source.to_string())).or_insert(0) += 1;
    }
    assert!(said.values().all(|times| *times == 1), "{said:#?}");
    wait_for("the new stories served", || entries_served(2 * sources)).await;
}

/// Two replicas render every change of the merged feed; a reader subscribed at one of them
/// (WebSub) is pushed each change once, by one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_push_each_change_to_a_websub_subscriber_once() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let Some(url) = fresh_postgres_database().await else {
        return;
    };
    let origin = Origin::start().await;
    origin.serve(&path(0), "application/rss+xml", document(0, 1));
    let workspace = Workspace::new();
    workspace.write_config(&[("s0", &origin.url(&path(0)), "* * * * * *")]);
    workspace.edit_config("fetch:\n", "fetch:\n  allow_private_addresses: true\n");
    let (first, second) = (replica(&workspace, &url), replica(&workspace, &url));
    wait_for("both replicas serve the story", || async {
        let mut served = Vec::new();
        for daemon in [&first, &second] {
            served.push(titles(&parse(&merged_atom(daemon).await.body)).len());
        }
        (served == [1, 1]).then_some(())
    })
    .await;

    let reader = common::websub::Subscriber::start().await;
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("hub.mode", "subscribe"),
            ("hub.topic", "http://feeds.test/feed.atom"),
            ("hub.callback", &reader.url("/inbox")),
        ])
        .finish();
    let asked = reqwest::Client::new()
        .post(format!("http://{}/websub", first.addr))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), 202);
    wait_for("the verification", || async {
        (!reader.verifications().is_empty()).then_some(())
    })
    .await;

    for items in 2..=4 {
        origin.serve(&path(0), "application/rss+xml", document(0, items));
        wait_for(&format!("the delivery of {items} stories"), || async {
            let deliveries = reader.deliveries();
            (deliveries.len() >= items - 1).then_some(())
        })
        .await;
        // Both replicas render this change; the second to look finds it taken.
        wait_for("both replicas serve it", || async {
            let mut served = Vec::new();
            for daemon in [&first, &second] {
                served.push(titles(&parse(&merged_atom(daemon).await.body)).len());
            }
            (served == [items, items]).then_some(())
        })
        .await;
    }
    // A few more polls, which change nothing.
    let polls = origin.requests_for(&path(0)).len();
    wait_for("more polls", || async {
        (origin.requests_for(&path(0)).len() >= polls + 4).then_some(())
    })
    .await;
    let deliveries = reader.deliveries();
    assert_eq!(deliveries.len(), 3, "each of the three changes once");
    let stories: Vec<usize> = deliveries
        .iter()
        .map(|delivery| titles(&parse(&String::from_utf8_lossy(&delivery.body))).len())
        .collect();
    assert_eq!(stories, [2, 3, 4]);
}
