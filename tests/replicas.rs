//! Several replicas of the real binary on one PostgreSQL database: each source is polled once
//! per due time by one of them, a killed replica's sources pass to the others within the lease,
//! and every replica serves the same feed, byte for byte.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use common::*;

const SOURCES: usize = 200;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_poll_each_source_once_per_due_time_take_over_the_dead_and_serve_one_feed() {
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
    let lease_end = second + TimeDelta::from_std(LEASE).unwrap();
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
                **taken_over >= lease_end && **taken_over < lease_end + TimeDelta::seconds(3),
                "s{source} was taken over at {taken_over}, its lease ended at {lease_end}"
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
