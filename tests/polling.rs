//! Polling like a good citizen, against origins on loopback that answer 304, 429, 503, 410,
//! redirect chains, slow and oversized bodies. Decisions are read from the scheduler's own
//! state (`/status`: next poll, failures) and from the requests the origin counted.

mod common;

use std::io::Write;
use std::time::Duration;

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use common::*;
use serde_json::Value;

const RSS: &str = "application/rss+xml";

fn feed(guid: &str) -> String {
    rss_document(
        "Origin",
        &[(
            guid,
            &format!("Item {guid}"),
            &format!("<p>Body of {guid}.</p>"),
            "Mon, 01 Jan 2024 00:00:00 GMT",
        )],
    )
}

fn date(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a date: {value}"))
        .parse()
        .unwrap()
}

/// Seconds from the last attempt to the next poll, as the scheduler decided.
fn planned_wait(status: &Value) -> f64 {
    (date(&status["next_poll"]) - date(&status["last_attempt"])).as_seconds_f64()
}

#[tokio::test]
async fn conditional_gets_send_the_validators_and_a_304_changes_nothing_even_after_a_restart() {
    let origin = Origin::start().await;
    origin.reply(
        "/feed",
        Reply::ok(RSS, feed("a"))
            .header("etag", "\"v1\"")
            .header("last-modified", "Mon, 01 Jan 2024 00:00:00 GMT"),
    );
    let workspace = Workspace::new();
    workspace.write_config(&[("origin", &origin.url("/feed"), "* * * * * *")]);
    let running = start_app(&workspace).await;
    let first = wait_for_entries(running.addr, 1).await;
    let etag = get(running.addr, "/feed.atom").await.etag;

    let status =
        wait_for_status(running.addr, "origin", "a 304", |s| s["http_status"] == 304).await;
    assert_eq!(status["state"], "ok");
    assert_eq!(status["entries"], 1);
    assert_eq!(status["last_error"], Value::Null);
    assert_eq!(status["consecutive_failures"], 0);
    let requests = origin.requests_for("/feed");
    assert_eq!(requests[0].if_none_match, None);
    assert_eq!(requests[1].if_none_match.as_deref(), Some("\"v1\""));
    assert_eq!(
        requests[1].if_modified_since.as_deref(),
        Some("Mon, 01 Jan 2024 00:00:00 GMT")
    );
    assert!(
        requests[0]
            .user_agent
            .as_deref()
            .unwrap()
            .starts_with("tributary/")
    );
    assert!(
        requests[0]
            .user_agent
            .as_deref()
            .unwrap()
            .ends_with("(+http://feeds.test)")
    );
    assert_eq!(get(running.addr, "/feed.atom").await.etag, etag);
    assert_eq!(
        titles(&served_feeds(running.addr).await.0),
        titles(&first.0)
    );

    // The index shows the same health once the renderer has run (within a quarter second).
    let index = wait_for("the index to show the 304", || async {
        let index = get(running.addr, "/").await.body;
        index
            .contains(&format!(
                ">origin</a><br><small><a href=\"{url}\">{url}</a></small></td>\
                 <td>ok</td><td>304</td><td>1</td>",
                url = origin.url("/feed")
            ))
            .then_some(index)
    })
    .await;
    assert!(index.contains("<h2>Sources</h2>"), "{index}");
    running.shutdown().await;

    // The validators were stored: the first poll after a restart is conditional too.
    let seen_before = origin.requests_for("/feed").len();
    let running = start_app(&workspace).await;
    wait_for("a poll after the restart", || async {
        (origin.requests_for("/feed").len() > seen_before).then_some(())
    })
    .await;
    let after_restart = &origin.requests_for("/feed")[seen_before];
    assert_eq!(after_restart.if_none_match.as_deref(), Some("\"v1\""));
    running.shutdown().await;
}

#[tokio::test]
async fn retry_after_is_honoured_for_that_source_only() {
    let origin = Origin::start().await;
    origin.reply(
        "/busy",
        Reply::status(StatusCode::TOO_MANY_REQUESTS).header("retry-after", "3600"),
    );
    origin.reply(
        "/down",
        Reply::status(StatusCode::SERVICE_UNAVAILABLE).header("retry-after", "120"),
    );
    origin.serve("/fine", RSS, feed("f"));
    let workspace = Workspace::new();
    workspace.write_config(&[
        ("busy", &origin.url("/busy"), "* * * * * *"),
        ("down", &origin.url("/down"), "* * * * * *"),
        ("fine", &origin.url("/fine"), "* * * * * *"),
    ]);
    let running = start_app(&workspace).await;

    let busy = wait_for_status(running.addr, "busy", "a 429", |s| s["http_status"] == 429).await;
    assert_eq!(busy["state"], "failing");
    assert!((3599.0..3601.0).contains(&planned_wait(&busy)), "{busy}");
    assert!(
        busy["last_error"].as_str().unwrap().contains("429"),
        "{busy}"
    );
    let down = wait_for_status(running.addr, "down", "a 503", |s| s["http_status"] == 503).await;
    assert!((119.0..121.0).contains(&planned_wait(&down)), "{down}");

    // The other source on the same host keeps its own pace.
    wait_for("three polls of the fine source", || async {
        (origin.requests_for("/fine").len() >= 3).then_some(())
    })
    .await;
    assert_eq!(origin.requests_for("/busy").len(), 1);
    assert_eq!(origin.requests_for("/down").len(), 1);
    running.shutdown().await;
}

#[tokio::test]
async fn a_first_failure_is_retried_soon_then_failures_back_off_exponentially() {
    let origin = Origin::start().await;
    origin.reply("/broken", Reply::status(StatusCode::INTERNAL_SERVER_ERROR));
    let workspace = Workspace::new();
    workspace.write_config(&[("broken", &origin.url("/broken"), "* * * * * *")]);
    let running = start_app(&workspace).await;

    // Every second when healthy. A first failure is retried after the period (up to a tenth
    // sooner); after n failures, 2^(n-1) periods plus up to 10%.
    for (failures, waits) in [(1, 0.8..=1.5), (2, 1.9..=2.8), (3, 3.9..=5.0)] {
        let status = wait_for_status(running.addr, "broken", "failures", |s| {
            s["consecutive_failures"] == failures
        })
        .await;
        assert!(waits.contains(&planned_wait(&status)), "{status}");
        assert_eq!(status["http_status"], 500);
    }
    running.shutdown().await;
}

#[tokio::test]
async fn gone_stops_polling_until_the_url_changes() {
    let origin = Origin::start().await;
    origin.reply("/gone", Reply::status(StatusCode::GONE));
    let workspace = Workspace::new();
    workspace.write_config(&[("old", &origin.url("/gone"), "* * * * * *")]);
    let running = start_app(&workspace).await;
    let status = wait_for_status(running.addr, "old", "gone", |s| s["state"] == "gone").await;
    assert_eq!(status["next_poll"], Value::Null);
    assert!(
        status["last_error"].as_str().unwrap().contains("410 Gone"),
        "{status}"
    );
    // Asked again, it does not even send a request.
    let app = running.app();
    assert_eq!(app.poll_source(&app.config().sources()[0]).await, None);
    assert_eq!(origin.requests_for("/gone").len(), 1);
    running.shutdown().await;

    // A restart remembers.
    let running = start_app(&workspace).await;
    wait_for_status(running.addr, "old", "gone again", |s| s["state"] == "gone").await;
    assert_eq!(origin.requests_for("/gone").len(), 1);
    running.shutdown().await;

    // A new URL in the config is polled.
    origin.serve("/new", RSS, feed("n"));
    workspace.write_config(&[("old", &origin.url("/new"), "* * * * * *")]);
    let running = start_app(&workspace).await;
    wait_for_status(running.addr, "old", "ok at the new url", |s| {
        s["state"] == "ok"
    })
    .await;
    running.shutdown().await;
}

#[tokio::test]
async fn permanent_redirects_move_the_source_and_temporary_ones_do_not() {
    let origin = Origin::start().await;
    origin.reply(
        "/old",
        Reply::status(StatusCode::MOVED_PERMANENTLY).header("location", "/middle"),
    );
    origin.reply(
        "/middle",
        Reply::status(StatusCode::PERMANENT_REDIRECT).header("location", "/new"),
    );
    origin.serve("/new", RSS, feed("moved"));
    origin.reply(
        "/elsewhere",
        Reply::status(StatusCode::FOUND).header("location", "/new"),
    );
    origin.reply(
        "/loop",
        Reply::status(StatusCode::MOVED_PERMANENTLY).header("location", "/loop"),
    );
    let workspace = Workspace::new();
    workspace.write_config(&[
        ("moved", &origin.url("/old"), "* * * * * *"),
        ("temporary", &origin.url("/elsewhere"), "* * * * * *"),
        ("looping", &origin.url("/loop"), "0 0 1 1 *"),
    ]);
    let running = start_app(&workspace).await;

    let moved = wait_for_status(running.addr, "moved", "the new url", |s| {
        s["url"] == origin.url("/new")
    })
    .await;
    assert_eq!(moved["state"], "ok");
    wait_for("polls straight at the new url", || async {
        (origin.requests_for("/new").len() >= 4).then_some(())
    })
    .await;
    assert_eq!(
        origin.requests_for("/old").len(),
        1,
        "a permanent move is remembered"
    );

    let temporary = status_of(running.addr, "temporary").await;
    assert_eq!(temporary["url"], origin.url("/elsewhere"));
    assert!(
        origin.requests_for("/elsewhere").len() >= 2,
        "a temporary redirect is not"
    );

    let looping = wait_for_status(running.addr, "looping", "a failure", |s| {
        s["state"] == "failing"
    })
    .await;
    assert!(
        looping["last_error"]
            .as_str()
            .unwrap()
            .contains("more than 5 redirects"),
        "{looping}"
    );
    assert_eq!(origin.requests_for("/loop").len(), 6);
    running.shutdown().await;
}

#[tokio::test]
async fn slow_and_oversized_bodies_fail_alone() {
    let origin = Origin::start().await;
    // 60 bytes at one per 100 ms: longer than the 1 s timeout.
    origin.reply(
        "/slow",
        Reply::ok(RSS, vec![b' '; 60]).trickle(Duration::from_millis(100)),
    );
    // 20 MiB of zeros, gzipped to a few KiB: stops at the 10 MiB cap after decompression.
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(&vec![0u8; 20 * 1024 * 1024]).unwrap();
    origin.reply(
        "/bomb",
        Reply::ok(RSS, gzip.finish().unwrap()).header("content-encoding", "gzip"),
    );
    origin.serve("/fine", RSS, feed("f"));
    let workspace = Workspace::new();
    workspace.write_config(&[
        ("slow", &origin.url("/slow"), "0 0 1 1 *"),
        ("bomb", &origin.url("/bomb"), "0 0 1 1 *"),
        ("fine", &origin.url("/fine"), "0 0 1 1 *"),
    ]);
    workspace.edit_config("timeout: 5s", "timeout: 1s");
    let running = start_app(&workspace).await;

    let slow = wait_for_status(running.addr, "slow", "a failure", |s| {
        s["state"] == "failing"
    })
    .await;
    assert!(
        slow["last_error"].as_str().unwrap().contains("timed out"),
        "{slow}"
    );
    let bomb = wait_for_status(running.addr, "bomb", "a failure", |s| {
        s["state"] == "failing"
    })
    .await;
    assert!(
        bomb["last_error"]
            .as_str()
            .unwrap()
            .contains("larger than 10485760 bytes"),
        "{bomb}"
    );
    wait_for_status(running.addr, "fine", "ok", |s| {
        s["state"] == "ok" && s["entries"] == 1
    })
    .await;
    running.shutdown().await;
}

#[tokio::test]
async fn at_most_two_requests_reach_one_host_at_once() {
    let origin = Origin::start().await;
    let mut sources = Vec::new();
    for n in 0..6 {
        let path = format!("/feed{n}");
        origin.reply(
            &path,
            Reply::ok(RSS, feed(&format!("g{n}"))).delay(Duration::from_millis(300)),
        );
        sources.push((format!("s{n}"), origin.url(&path)));
    }
    let workspace = Workspace::new();
    let config: Vec<(&str, &str, &str)> = sources
        .iter()
        .map(|(name, url)| (name.as_str(), url.as_str(), "0 0 1 1 *"))
        .collect();
    workspace.write_config(&config);
    let running = start_app(&workspace).await;
    wait_for_entries(running.addr, 6).await;
    assert_eq!(origin.max_in_flight(), 2);
    running.shutdown().await;
}

#[tokio::test]
async fn min_interval_holds_back_an_eager_schedule() {
    let origin = Origin::start().await;
    origin.serve("/feed", RSS, feed("a"));
    let workspace = Workspace::new();
    workspace.write_config(&[("eager", &origin.url("/feed"), "* * * * * *")]);
    workspace.edit_config("min_interval: 0s", "min_interval: 1h");
    let running = start_app(&workspace).await;
    let status = wait_for_status(running.addr, "eager", "a poll", |s| s["state"] == "ok").await;
    assert!(
        (3599.0..3601.0).contains(&planned_wait(&status)),
        "{status}"
    );
    running.shutdown().await;
}

/// `tributary_entries_stored` as /metrics shows it.
async fn entries_stored_metric(addr: std::net::SocketAddr) -> i64 {
    let metrics = get(addr, "/metrics").await.body;
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("tributary_entries_stored "))
        .unwrap_or_else(|| panic!("no tributary_entries_stored in\n{metrics}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn stored_entry_counts_follow_each_poll_down_as_well_as_up() {
    // A rendering recounts only the sources whose polls changed something, and corrects the
    // total by the difference: a pruning poll must bring both down.
    let item =
        |guid: &'static str, date: &'static str| (guid, guid, "<p>A story of its own.</p>", date);
    let newest = item("a3", "Wed, 03 Jan 2024 00:00:00 GMT");
    let origin = Origin::start().await;
    let three = [
        newest,
        item("a2", "Tue, 02 Jan 2024 00:00:00 GMT"),
        item("a1", "Mon, 01 Jan 2024 00:00:00 GMT"),
    ];
    origin.serve("/a", RSS, rss_document("A", &three));
    let b = [item("b1", "Mon, 01 Jan 2024 00:00:00 GMT")];
    origin.serve("/b", RSS, rss_document("B", &b));
    let workspace = Workspace::new();
    workspace.write_config(&[
        ("a", &origin.url("/a"), "* * * * * *"),
        ("b", &origin.url("/b"), "0 0 1 1 *"),
    ]);
    workspace.edit_config(
        "max_age: 36500d",
        "max_age: 36500d\n    max_entries_per_source: 1",
    );
    let running = start_app(&workspace).await;
    wait_for_status(running.addr, "a", "3 entries", |s| s["entries"] == 3).await;
    wait_for_status(running.addr, "b", "1 entry", |s| s["entries"] == 1).await;
    wait_for("4 entries stored in /metrics", || async {
        (entries_stored_metric(running.addr).await == 4).then_some(())
    })
    .await;

    // The two older stories leave a's document: retention keeps one entry per source.
    origin.serve("/a", RSS, rss_document("A", &[newest]));
    wait_for_status(running.addr, "a", "1 entry", |s| s["entries"] == 1).await;
    wait_for("2 entries stored in /metrics", || async {
        (entries_stored_metric(running.addr).await == 2).then_some(())
    })
    .await;
    assert_eq!(status_of(running.addr, "b").await["entries"], 1);
    running.shutdown().await;
}
