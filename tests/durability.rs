//! kill -9 at many moments while the real binary ingests a large source: each time, the store
//! holds either nothing of that poll or all of it, never a part, never a duplicate, and is never
//! corrupt; a final run completes it exactly.

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};

use common::*;
use tributary::model::EntryId;
use tributary::store::{Policy, Store};

const ITEMS: usize = 2000;
/// Kills per run of the test, spread evenly over a little more than a whole run.
const KILLS: u32 = 12;

fn run_once(workspace: &Workspace) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tributary"));
    command
        .arg("once")
        .arg("--config")
        .arg(workspace.config_path())
        .stderr(Stdio::null());
    command
}

fn big_feed() -> String {
    let guids: Vec<String> = (0..ITEMS).map(|n| format!("big-{n}")).collect();
    let bodies: Vec<String> = (0..ITEMS)
        .map(|n| {
            format!("<p>Story number {n} of the big source, told at length so it is unique.</p>")
        })
        .collect();
    let items: Vec<(&str, &str, &str, &str)> = guids
        .iter()
        .zip(&bodies)
        .map(|(guid, body)| {
            (
                guid.as_str(),
                guid.as_str(),
                body.as_str(),
                "Mon, 01 Jan 2024 00:00:00 GMT",
            )
        })
        .collect();
    rss_document("Big", &items)
}

async fn stored_ids(workspace: &Workspace) -> BTreeSet<String> {
    let store = Store::open(&workspace.db_path(), Policy::default())
        .await
        .unwrap();
    let ids = store
        .latest(ITEMS * 2)
        .await
        .unwrap()
        .into_iter()
        .map(|entry| entry.id.to_string())
        .collect();
    store.close().await;
    ids
}

async fn integrity(workspace: &Workspace) -> String {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", workspace.db_path().display()))
        .await
        .unwrap();
    let verdict: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    verdict
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_ingest_loses_at_most_the_poll_in_flight_and_never_half_of_it() {
    let origin = Origin::start().await;
    origin.serve("/big.rss", "application/rss+xml", big_feed());
    let workspace = Workspace::new();
    workspace.write_config(&[("big", &origin.url("/big.rss"), "0 0 1 1 *")]);
    let expected: BTreeSet<String> = (0..ITEMS)
        .map(|n| EntryId::derive("big", &format!("big-{n}")).to_string())
        .collect();

    // How long a whole run takes here, so the kills can be spread across all of it.
    let started = std::time::Instant::now();
    let status = run_once(&workspace).status().unwrap();
    assert!(status.success());
    let whole_run = started.elapsed();
    assert_eq!(stored_ids(&workspace).await, expected);

    let mut interrupted = 0;
    let mut complete = 0;
    for step in 0..KILLS {
        // From the request to well past the end, so some kills land after the commit even
        // when a run is slower than the one timed (a busy CI machine: 1.3 times was too little).
        let delay = whole_run.mul_f64(2.0 * f64::from(step) / f64::from(KILLS));
        // A fresh store each time, so every kill lands on a first, full ingest.
        let _ = std::fs::remove_dir_all(workspace.path().join("data"));
        let requests = origin.requests();
        let mut child = run_once(&workspace).spawn().unwrap();
        wait_for("the daemon to ask for the big feed", || async {
            (origin.requests() > requests).then_some(())
        })
        .await;
        // The moment of the kill moves through the fetch, the parse and the write.
        tokio::time::sleep(delay).await;
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        interrupted += usize::from(!status.success());

        let stored = stored_ids(&workspace).await;
        assert!(
            stored.is_empty() || stored == expected,
            "after a kill at +{delay:?} the store holds {} of {ITEMS} entries",
            stored.len()
        );
        assert_eq!(
            integrity(&workspace).await,
            "ok",
            "after a kill at +{delay:?}"
        );
        complete += usize::from(!stored.is_empty());
    }
    eprintln!("{interrupted} of {KILLS} runs killed; {complete} had committed the poll");
    assert!(
        complete > 0,
        "no kill came after the commit: the kills do not span a whole run"
    );
    assert!(
        interrupted > 0,
        "no kill landed before the run finished: make the source larger"
    );

    // A run left alone completes the poll exactly, on top of whatever the last kill left.
    let status = run_once(&workspace).status().unwrap();
    assert!(status.success());
    assert_eq!(stored_ids(&workspace).await, expected);
}
