//! Operating the real binary: config.yaml edited while it runs (in place and by rename, broken
//! and fixed), the environment, SIGTERM in the middle of a poll, /metrics, JSON logs and the
//! `sources` and `healthcheck` commands.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::Value;

use common::*;

/// The yearly schedule: after the first poll, a source is only polled again when told.
const RARELY: &str = "0 0 1 1 *";

async fn status(addr: SocketAddr) -> Value {
    serde_json::from_str(&get(addr, "/status").await.body).unwrap()
}

async fn source_names(addr: SocketAddr) -> Vec<String> {
    status(addr).await["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|source| source["name"].as_str().unwrap().to_string())
        .collect()
}

/// Waits until the served Atom feed's titles are `expected` (in order).
async fn wait_for_titles(addr: SocketAddr, expected: &[&str]) {
    wait_for(&format!("the feed to hold {expected:?}"), || async {
        let (atom, _) = served_feeds(addr).await;
        (titles(&atom) == expected).then_some(())
    })
    .await;
}

/// What `tributary sources` prints for `workspace` (stdout, stderr).
fn sources_listing(workspace: &Workspace) -> (String, String) {
    let listing = tributary()
        .arg("sources")
        .arg("--config")
        .arg(workspace.config_path())
        .output()
        .unwrap();
    assert!(listing.status.success(), "{listing:?}");
    (
        String::from_utf8(listing.stdout).unwrap(),
        String::from_utf8(listing.stderr).unwrap(),
    )
}

fn origin_item(title: &str, day: u32) -> String {
    rss_document(
        title,
        &[(
            &format!("{title}-1"),
            title,
            &format!("<p>The whole story of {title}, told at length for the readers.</p>"),
            &format!("Mon, {day:02} Jan 2024 00:00:00 GMT"),
        )],
    )
}

/// Edits in order on one running daemon (add, remove, retitle, break, fix, move): each step needs
/// the state the previous one left, so it stays one function.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_edits_apply_while_the_daemon_runs() {
    let origin = Origin::start().await;
    origin.serve("/a.xml", "application/rss+xml", origin_item("Alpha", 1));
    origin.serve("/b.xml", "application/rss+xml", origin_item("Beta", 2));
    let (a, b) = (origin.url("/a.xml"), origin.url("/b.xml"));
    let workspace = Workspace::new();
    workspace.write_config(&[("a", &a, RARELY)]);
    let daemon = Daemon::start({
        let mut command = tributary();
        command.arg("--config").arg(workspace.config_path());
        command
    });
    wait_for_titles(daemon.addr, &["Alpha"]).await;

    // Added in place: polled at once, well within 5 s.
    let edited = Instant::now();
    workspace.write_config(&[("a", &a, RARELY), ("b", &b, RARELY)]);
    wait_for_titles(daemon.addr, &["Beta", "Alpha"]).await;
    assert!(
        edited.elapsed() < Duration::from_secs(5),
        "the new source took {:?}",
        edited.elapsed()
    );

    // Removed by rename (vim, sed -i): no longer published nor shown, its entries kept.
    workspace.rename_config(&Workspace::config_text(&[("b", &b, RARELY)]));
    wait_for_titles(daemon.addr, &["Beta"]).await;
    assert_eq!(source_names(daemon.addr).await, ["b", "seeds"]);

    // A new title re-renders every document.
    workspace.rename_config(
        &Workspace::config_text(&[("b", &b, RARELY)]).replace("Test river", "Renamed river"),
    );
    wait_for("the new title", || async {
        let (atom, _) = served_feeds(daemon.addr).await;
        (atom.title.unwrap().content == "Renamed river").then_some(())
    })
    .await;

    // A broken edit keeps the running config and says where it is broken until fixed.
    std::fs::write(
        workspace.config_path(),
        Workspace::config_text(&[("b", &b, "every day")]),
    )
    .unwrap();
    let error = wait_for("the config error on /status", || async {
        status(daemon.addr).await["config"]["error"]
            .as_str()
            .map(str::to_string)
    })
    .await;
    let location = format!(
        "{}:22:15: sources[0].schedule",
        workspace.config_path().display()
    );
    assert!(error.starts_with(&location), "{error}");
    assert!(
        get(daemon.addr, "/")
            .await
            .body
            .contains("sources[0].schedule")
    );
    assert_eq!(source_names(daemon.addr).await, ["b", "seeds"]);
    let (atom, _) = served_feeds(daemon.addr).await;
    assert_eq!(atom.title.unwrap().content, "Renamed river");

    // Fixed with a faster schedule: the error goes and b is polled on the new schedule.
    let polls_before = origin.requests_for("/b.xml").len();
    workspace.write_config(&[("b", &b, "* * * * * *")]);
    wait_for("b polled on its new schedule", || async {
        (origin.requests_for("/b.xml").len() > polls_before + 1).then_some(())
    })
    .await;
    assert_eq!(status(daemon.addr).await["config"]["error"], Value::Null);

    // A new listen address waits for a restart; the daemon stays where it is.
    workspace.write_config(&[("b", &b, RARELY)]);
    let text = std::fs::read_to_string(workspace.config_path()).unwrap();
    std::fs::write(
        workspace.config_path(),
        text.replace("127.0.0.1:0", "127.0.0.1:1"),
    )
    .unwrap();
    let waiting = wait_for("server.listen to wait for a restart", || async {
        let needs = status(daemon.addr).await["config"]["needs_restart"].clone();
        (needs.as_array().is_some_and(|keys| !keys.is_empty())).then_some(needs)
    })
    .await;
    assert_eq!(waiting, serde_json::json!(["server.listen"]));
    assert!(
        daemon.terminate(),
        "SIGTERM ends the daemon with exit code 0"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_environment_fills_in_config_values_and_the_base_url() {
    let origin = Origin::start().await;
    origin.serve(
        "/feeds/s3cret.xml",
        "application/rss+xml",
        origin_item("Tokened", 3),
    );
    let workspace = Workspace::new();
    workspace.write_config(&[("private", &origin.url("/feeds/${FEED_TOKEN}.xml"), RARELY)]);

    // Without the variable the config is refused, naming it and where it is used.
    let output = tributary()
        .arg("check")
        .arg("--config")
        .arg(workspace.config_path())
        .env_remove("FEED_TOKEN")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    let expected = format!(
        "{}:21:10: sources[0].url: the environment variable FEED_TOKEN is not set",
        workspace.config_path().display()
    );
    assert!(stderr.contains(&expected), "{stderr}");

    let daemon = Daemon::start({
        let mut command = tributary();
        command
            .env("TRIBUTARY_CONFIG", workspace.config_path())
            .env("TRIBUTARY_BASE_URL", "https://river.example/")
            .env("FEED_TOKEN", "s3cret");
        command
    });
    wait_for_titles(daemon.addr, &["Tokened"]).await;
    let (atom, rss) = served_feeds(daemon.addr).await;
    assert_eq!(self_link(&atom), "https://river.example/feed.atom");
    assert_eq!(self_link(&rss), "https://river.example/feed.rss");
    assert!(daemon.terminate());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_poll_lets_it_finish_and_loses_nothing() {
    let origin = Origin::start().await;
    let items: Vec<[String; 3]> = (1..=3)
        .map(|n| {
            [
                format!("slow-{n}"),
                format!("Slow story {n}"),
                format!("<p>Story number {n} took the origin a while to send.</p>"),
            ]
        })
        .collect();
    let items: Vec<(&str, &str, &str, &str)> = items
        .iter()
        .map(|[key, title, body]| {
            (
                key.as_str(),
                title.as_str(),
                body.as_str(),
                "Mon, 01 Jan 2024 00:00:00 GMT",
            )
        })
        .collect();
    origin.reply(
        "/slow.xml",
        Reply::ok("application/rss+xml", rss_document("Slow", &items))
            .delay(Duration::from_secs(2)),
    );
    let workspace = Workspace::new();
    workspace.write_config(&[("slow", &origin.url("/slow.xml"), RARELY)]);
    let daemon = Daemon::start({
        let mut command = tributary();
        command.arg("--config").arg(workspace.config_path());
        command
    });
    wait_for("the poll to be under way", || async {
        (!origin.requests_for("/slow.xml").is_empty()).then_some(())
    })
    .await;
    assert!(daemon.terminate(), "SIGTERM mid-poll still exits with 0");

    let store = tributary::store::Store::open(&workspace.db_path(), Default::default())
        .await
        .unwrap();
    let stored: Vec<String> = store
        .latest(10)
        .await
        .unwrap()
        .into_iter()
        .map(|entry| entry.title)
        .collect();
    assert_eq!(stored.len(), 3, "the poll under way finished: {stored:?}");
    store.close().await;
}

/// One daemon, looked at from each operator's side in turn (metrics, JSON logs, `sources`,
/// `healthcheck`): starting it once keeps the test short to run, at the cost of its length.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_json_logs_sources_and_healthcheck() {
    let origin = Origin::start().await;
    origin.serve("/a.xml", "application/rss+xml", origin_item("Alpha", 1));
    let workspace = Workspace::new();
    workspace.add_shipped_seed();
    workspace.write_config(&[("a", &origin.url("/a.xml"), RARELY)]);
    let sources = || sources_listing(&workspace);
    let rows = |listing: &str| -> Vec<Vec<String>> {
        listing
            .lines()
            .map(|line| line.split_whitespace().map(str::to_string).collect())
            .collect()
    };

    // Before the first poll: nothing stored, and listing makes no store.
    let (listing, note) = sources();
    let before = rows(&listing);
    assert_eq!(before[1][..4], ["a", "0", "never", "polled"], "{listing}");
    assert!(note.contains("no store at"), "{note}");
    assert!(!workspace.db_path().exists());

    let daemon = Daemon::start({
        let mut command = tributary();
        command
            .args(["--log-format", "json", "--config"])
            .arg(workspace.config_path());
        command
    });
    wait_for_entries(daemon.addr, 2).await;
    let polled = daemon.wait_for_log("\"source\":\"a\"");
    let line: Value = serde_json::from_str(&polled).expect("a JSON log line");
    assert_eq!(line["fields"]["new"], 1, "{line}");

    assert_eq!(get(daemon.addr, "/nope.xml").await.status, 404);
    let metrics = wait_for("the polls in /metrics", || async {
        let metrics = get(daemon.addr, "/metrics").await;
        metrics
            .body
            .contains("tributary_polls_total{source=\"seeds\",outcome=\"ok\"}")
            .then_some(metrics)
    })
    .await;
    assert!(
        metrics
            .content_type
            .starts_with("application/openmetrics-text")
    );
    for expected in [
        "tributary_polls_total{source=\"a\",outcome=\"ok\"} 1\n",
        "tributary_entries_stored 2\n",
        "tributary_entries_new_total 2\n",
        "tributary_duplicates_dropped_total 0\n",
        "tributary_http_requests_total{route=\"/{file}\",status=\"404\"} 1\n",
        "tributary_poll_duration_seconds_count 1\n",
        "# EOF\n",
    ] {
        assert!(
            metrics.body.contains(expected),
            "{expected} in\n{}",
            metrics.body
        );
    }
    assert!(
        metrics
            .body
            .contains("tributary_http_requests_total{route=\"/{file}\",status=\"200\"}")
    );

    let healthcheck = |addr: SocketAddr| {
        tributary()
            .args(["healthcheck", "--listen", &addr.to_string()])
            .arg("--config")
            .arg(workspace.config_path())
            .output()
            .unwrap()
    };
    assert!(healthcheck(daemon.addr).status.success());
    let addr = daemon.addr;
    assert!(daemon.terminate());
    let down = healthcheck(addr);
    assert_eq!(down.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&down.stderr).contains("/healthz"));

    let (listing, _) = sources();
    let rows = rows(&listing);
    assert_eq!(rows[0], ["NAME", "ENTRIES", "STATE", "URL", "TAGS"]);
    assert_eq!(rows[1][..3], ["a", "1", "polled"], "{listing}");
    assert_eq!(rows[1].last(), Some(&origin.url("/a.xml")));
    assert_eq!(rows[2][..3], ["seeds", "1", "folder"], "{listing}");
}

/// `tributary sources` reads what the store remembers; a failed poll is remembered too, so it
/// says what `/status` says, and a success clears it.
#[tokio::test]
async fn sources_says_a_source_is_failing_as_status_does() {
    let origin = Origin::start().await;
    origin.reply("/a.xml", Reply::status(StatusCode::INTERNAL_SERVER_ERROR));
    let workspace = Workspace::new();
    workspace.write_config(&[("a", &origin.url("/a.xml"), "* * * * * *")]);
    let running = start_app(&workspace).await;
    let failing =
        wait_for_status(running.addr, "a", "a failure", |s| s["state"] == "failing").await;
    let (listing, _) = sources_listing(&workspace);
    let row = listing.lines().find(|line| line.starts_with("a ")).unwrap();
    assert!(
        row.contains("failing (1 in a row): ")
            && row.contains(failing["last_error"].as_str().unwrap()),
        "{listing}\n/status: {failing}"
    );

    origin.serve("/a.xml", "application/rss+xml", origin_item("Alpha", 1));
    wait_for_status(running.addr, "a", "a success", |s| s["state"] == "ok").await;
    let (listing, _) = sources_listing(&workspace);
    let row = listing.lines().find(|line| line.starts_with("a ")).unwrap();
    assert!(row.contains(" polled "), "{listing}");
    running.shutdown().await;
}
