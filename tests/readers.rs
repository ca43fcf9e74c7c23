//! Real feed readers against the real binary: newsboat and Python's feedparser must see the
//! entries our store holds, with ids, links and dates, for both /feed.atom and /feed.rss.
//! `.ci/run` installs both (Debian's newsboat, feedparser from PyPI). Where they are missing
//! outside CI (a fresh machine, offline), the test says so and passes, so that `cargo test`
//! still works there; under CI (`CI=true`) their absence is a failure.

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};

use common::*;
use tributary::store::{Policy, Store};

const FEEDPARSER: &str = r#"
import json, sys, feedparser
feed = feedparser.parse(sys.argv[1])
print(json.dumps({
    "bozo": int(feed.bozo),
    "error": str(feed.get("bozo_exception", "")),
    "entries": [
        {"title": e.get("title"), "id": e.get("id"), "link": e.get("link"),
         "published": bool(e.get("published_parsed"))}
        for e in feed.entries
    ],
}))
"#;

fn feedparser(url: &str) -> serde_json::Value {
    let output = Command::new("python3")
        .args(["-c", FEEDPARSER, url])
        .output()
        .expect("python3 runs (feedparser comes from `pip install feedparser`, as .ci/run does)");
    assert!(output.status.success(), "feedparser failed: {output:?}");
    serde_json::from_slice(&output.stdout).unwrap()
}

/// newsboat's titles for `url`, read from its cache after a non-interactive reload.
async fn newsboat(workspace: &Workspace, url: &str, name: &str) -> BTreeSet<String> {
    let urls = workspace.path().join(format!("{name}.urls"));
    let cache = workspace.path().join(format!("{name}.cache.db"));
    std::fs::write(&urls, format!("{url}\n")).unwrap();
    let status = Command::new("newsboat")
        .arg("--url-file")
        .arg(&urls)
        .arg("--cache-file")
        .arg(&cache)
        .args(["--execute", "reload"])
        .env("HOME", workspace.path())
        .stdin(Stdio::null())
        .status()
        .expect("newsboat runs (Debian's package, as .ci/run installs)");
    assert!(status.success(), "newsboat reload failed");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", cache.display()))
        .await
        .unwrap();
    let titles: Vec<String> = sqlx::query_scalar("SELECT title FROM rss_item")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    titles.into_iter().collect()
}

/// Whether both readers are installed; outside CI, a missing one skips the test.
fn readers_available() -> bool {
    let newsboat = Command::new("newsboat")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let feedparser = Command::new("python3")
        .args(["-c", "import feedparser"])
        .output()
        .is_ok_and(|o| o.status.success());
    if newsboat && feedparser {
        return true;
    }
    let missing = format!("newsboat installed: {newsboat}, feedparser installed: {feedparser}");
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI must have both readers ({missing}): see .ci/run"
    );
    eprintln!("skipped: {missing}; install them (see .ci/run) to run this test");
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn newsboat_and_feedparser_see_what_the_store_holds() {
    if !readers_available() {
        return;
    }
    let origin = Origin::start().await;
    origin.serve(
        "/news.rss",
        "application/rss+xml",
        rss_document(
            "News",
            &[
                (
                    "n-1",
                    "Fish &amp; chips",
                    "<p>A story about fish and chips by the river bank.</p>",
                    "Tue, 02 Jan 2024 10:00:00 GMT",
                ),
                (
                    "n-2",
                    "Floods recede",
                    "<p>Water levels fell for the third day in a row, officials said.</p>",
                    "Wed, 03 Jan 2024 08:30:00 +0100",
                ),
            ],
        ),
    );
    let workspace = Workspace::new();
    workspace.add_shipped_seed();
    workspace.write_config(&[("news", &origin.url("/news.rss"), "0 0 1 1 *")]);
    let running = start_app(&workspace).await;
    wait_for_entries(running.addr, 3).await;

    let store = Store::open(&workspace.db_path(), Policy::default())
        .await
        .unwrap();
    let stored: BTreeSet<String> = store
        .latest(100)
        .await
        .unwrap()
        .into_iter()
        .map(|entry| entry.title)
        .collect();
    store.close().await;

    for path in ["/feed.atom", "/feed.rss"] {
        let url = format!("http://{}{path}", running.addr);
        let parsed = feedparser(&url);
        assert_eq!(parsed["bozo"], 0, "{path}: {}", parsed["error"]);
        let entries = parsed["entries"].as_array().unwrap();
        let titles: BTreeSet<String> = entries
            .iter()
            .map(|e| e["title"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(titles, stored, "feedparser on {path}");
        for entry in entries {
            assert!(
                entry["id"].as_str().is_some_and(|id| !id.is_empty()),
                "{path}: {entry}"
            );
            assert!(
                entry["link"]
                    .as_str()
                    .is_some_and(|link| link.starts_with("http")),
                "{path}: {entry}"
            );
            assert_eq!(entry["published"], true, "{path}: {entry}");
        }

        let seen = newsboat(&workspace, &url, &path[1..].replace('.', "-")).await;
        assert_eq!(seen, stored, "newsboat on {path}");
    }
    running.shutdown().await;
}
