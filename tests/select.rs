//! What the published feeds show of what is stored: filters, title prefixes in every format,
//! the fair merge, and rule edits applied from the store without fetching again.

mod common;

use std::net::SocketAddr;

use serde_json::Value;

use common::*;

/// Five stories from a chatty source, one of them sponsored, all newer than a quiet source's
/// two.
async fn chatty_and_quiet() -> Origin {
    let origin = Origin::start().await;
    let chatty: Vec<[String; 4]> = (1..=5)
        .map(|n| {
            let title = if n == 3 {
                "Sponsored: A3".to_string()
            } else {
                format!("A{n}")
            };
            [
                format!("a-{n}"),
                title,
                format!("<p>Chatty story number {n}, with enough words to stand alone.</p>"),
                format!("Mon, {:02} Jan 2024 00:00:00 GMT", 10 + n),
            ]
        })
        .collect();
    let quiet: Vec<[String; 4]> = (1..=2)
        .map(|n| {
            [
                format!("b-{n}"),
                format!("B{n}"),
                format!("<p>Quiet story number {n}, with enough words to stand alone.</p>"),
                format!("Mon, {n:02} Jan 2024 00:00:00 GMT"),
            ]
        })
        .collect();
    let as_items = |items: &[[String; 4]]| -> String {
        let items: Vec<(&str, &str, &str, &str)> = items
            .iter()
            .map(|[key, title, body, date]| {
                (key.as_str(), title.as_str(), body.as_str(), date.as_str())
            })
            .collect();
        rss_document("Origin", &items)
    };
    origin.serve("/a.xml", "application/rss+xml", as_items(&chatty));
    origin.serve("/b.xml", "application/rss+xml", as_items(&quiet));
    origin
}

fn json_titles(addr_body: &str) -> Vec<String> {
    let feed: Value = serde_json::from_str(addr_body).unwrap();
    feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["title"].as_str().unwrap().to_string())
        .collect()
}

async fn all_formats(addr: SocketAddr) -> [Vec<String>; 3] {
    let (atom, rss) = served_feeds(addr).await;
    [
        titles(&atom),
        titles(&rss),
        json_titles(&get(addr, "/feed.json").await.body),
    ]
}

async fn hidden_by_filters(addr: SocketAddr, source: &str) -> Value {
    let status: Value = serde_json::from_str(&get(addr, "/status").await.body).unwrap();
    status["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["name"] == source)
        .unwrap()["hidden_by_filters"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_prefixes_and_the_fair_merge_apply_and_rule_edits_need_no_fetch() {
    let origin = chatty_and_quiet().await;
    let workspace = Workspace::new();
    let sources = [
        ("a", origin.url("/a.xml"), "0 0 1 1 *"),
        ("b", origin.url("/b.xml"), "0 0 1 1 *"),
    ];
    let sources: Vec<(&str, &str, &str)> = sources
        .iter()
        .map(|(name, url, schedule)| (*name, url.as_str(), *schedule))
        .collect();
    let plain = Workspace::config_text(&sources).replace("max_entries: 50", "max_entries: 4");
    let ruled = plain.replace(
        "sources:",
        "max_per_source: 2\ntitle_prefix: \"[{source}] \"\n\
         filters:\n  exclude: [{title: \"sponsored\"}]\nsources:",
    );
    std::fs::write(workspace.config_path(), &ruled).unwrap();
    let running = start_app(&workspace).await;

    // Newest first, at most two from the chatty source, the sponsored story left out, and
    // every title saying where it came from, in all three formats.
    let expected = ["[a] A5", "[a] A4", "[b] B2", "[b] B1"];
    wait_for("the fair merge", || async {
        (all_formats(running.addr).await[0] == expected).then_some(())
    })
    .await;
    for titles in all_formats(running.addr).await {
        assert_eq!(titles, expected);
    }
    // A source's own feed has no prefixes, and its filters still apply.
    let own = parse(&get(running.addr, "/sources/a/feed.atom").await.body);
    assert_eq!(titles(&own), ["A5", "A4", "A2", "A1"]);
    // The board counts a source's hidden entries at the rendering that follows its poll, which
    // may come a rendering after the merged feed already shows them.
    wait_for("a's hidden entry on the board", || async {
        (hidden_by_filters(running.addr, "a").await == 1).then_some(())
    })
    .await;
    assert_eq!(hidden_by_filters(running.addr, "b").await, 0);

    // Without the rules, the stored entries come back at once: nothing is fetched again.
    let fetched = origin.requests();
    std::fs::write(workspace.config_path(), &plain).unwrap();
    wait_for("the rules to be gone", || async {
        (all_formats(running.addr).await[0] == ["A5", "A4", "Sponsored: A3", "A2"]).then_some(())
    })
    .await;
    wait_for("nothing hidden on the board", || async {
        (hidden_by_filters(running.addr, "a").await == 0).then_some(())
    })
    .await;
    assert_eq!(origin.requests(), fetched, "a rule edit fetches nothing");
    running.shutdown().await;
}
