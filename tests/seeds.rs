//! The seeds folder under a running daemon: every format, sub-folders, bad files, permalink
//! pages, and files added, edited and deleted while it runs.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// How fast a change in the folder must reach the served feed.
const WATCH_LATENCY: Duration = Duration::from_secs(2);

fn entry_titled<'a>(feed: &'a feed_rs::model::Feed, title: &str) -> &'a feed_rs::model::Entry {
    feed.entries
        .iter()
        .find(|entry| entry.title.as_ref().is_some_and(|t| t.content == title))
        .unwrap_or_else(|| panic!("no entry titled {title:?} in {:?}", titles(feed)))
}

fn categories(entry: &feed_rs::model::Entry) -> Vec<&str> {
    entry
        .categories
        .iter()
        .map(|category| category.term.as_str())
        .collect()
}

/// Waits at most `WATCH_LATENCY` for the served Atom feed to satisfy `check`.
async fn within_watch_latency(
    addr: std::net::SocketAddr,
    what: &str,
    check: impl Fn(&feed_rs::model::Feed) -> bool,
) {
    let started = Instant::now();
    loop {
        let (atom, _) = served_feeds(addr).await;
        if check(&atom) {
            return;
        }
        assert!(
            started.elapsed() < WATCH_LATENCY,
            "{what}: not in the feed within {WATCH_LATENCY:?}; it shows {:?}",
            titles(&atom)
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn every_format_and_sub_folder_becomes_an_entry() {
    let workspace = Workspace::new();
    workspace.add_shipped_seed();
    workspace.add_seed(
        "headers.txt",
        "date 2024-03-01\ntitle: A given title\nlink: https://example.org/original\nauthor: Ann Author\ntags: local, politics\n\nThe body. Second sentence.\n",
    );
    workspace.add_seed(
        "post.md",
        "---\ntitle: Markdown post\ndate: 2024-03-02T10:00:00+02:00\ntags: [md]\n---\nSome *emphasis* and a [link](https://example.org/md).\n",
    );
    workspace.add_seed(
        "draft.md",
        "---\ntitle: Not yet\ndraft: true\n---\nHidden.\n",
    );
    workspace.add_seed(
        "page.html",
        "<html><head><title>Saved page</title></head><body><p>Page text.</p><script>x()</script></body></html>",
    );
    std::fs::create_dir_all(workspace.seeds_dir().join("world/europe")).unwrap();
    workspace.add_seed(
        "world/europe/story.txt",
        "date 2024-03-03\n\nA story from abroad.\n",
    );
    for leftover in [
        ".hidden.txt",
        "notes.txt~",
        ".notes.txt.swp",
        "4913",
        "image.png",
    ] {
        workspace.add_seed(leftover, "Should never be published.");
    }
    workspace.write_config(&[]);
    let running = start_app(&workspace).await;
    let (atom, _) = wait_for_entries(running.addr, 5).await;
    assert!(
        !titles(&atom)
            .iter()
            .any(|title| title.contains("never") || title == "Not yet")
    );

    let headers = entry_titled(&atom, "A given title");
    assert_eq!(
        headers.published.unwrap().to_rfc3339(),
        "2024-03-01T00:00:00+00:00"
    );
    assert_eq!(headers.links[0].href, "https://example.org/original");
    assert_eq!(headers.authors[0].name.as_deref(), Some("Ann Author"));
    assert_eq!(categories(headers), ["local", "politics"]);
    assert_eq!(
        headers.summary.as_ref().unwrap().content,
        "The body. Second sentence."
    );

    let markdown = entry_titled(&atom, "Markdown post");
    assert_eq!(
        markdown.published.unwrap().to_rfc3339(),
        "2024-03-02T08:00:00+00:00"
    );
    assert!(content_of(markdown).contains("<em>emphasis</em>"));
    assert_eq!(categories(markdown), ["md"]);

    let page = entry_titled(&atom, "Saved page");
    assert_eq!(content_of(page), "<p>Page text.</p>");

    let story = entry_titled(&atom, "A story from abroad.");
    assert_eq!(categories(story), ["world", "europe"]);

    // The permalink page shows what the feed says.
    let permalink = headers.id.clone();
    let id_path = atom
        .entries
        .iter()
        .find(|entry| entry.id == permalink)
        .map(|entry| entry.links[0].href.clone())
        .unwrap();
    assert_eq!(id_path, "https://example.org/original");
    let shipped = entry_titled(
        &atom,
        "Kim Kardashian has issued a public plea for President Joe Biden to “stop another Armenian genocide,” asking the U.S.…",
    );
    let content = content_of(shipped);
    assert!(
        content.contains("<a href=\"https://t.co/s53lRb59iz\">"),
        "{content}"
    );
    assert!(
        content.contains(
            "<a href=\"https://pic.twitter.com/k9UzoUejW2\">pic.twitter.com/k9UzoUejW2</a>"
        ),
        "{content}"
    );
    assert!(
        content.contains("<a href=\"https://twitter.com/KimKardashian\">@KimKardashian</a>"),
        "{content}"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn bad_files_are_skipped_or_repaired_and_the_others_published() {
    let workspace = Workspace::new();
    workspace.add_seed("good.txt", "date 2024-01-01\n\nA good seed.\n");
    std::fs::write(
        workspace.seeds_dir().join("binary.txt"),
        b"\x00\x01\x02binary\x00",
    )
    .unwrap();
    std::fs::write(
        workspace.seeds_dir().join("latin.txt"),
        b"date 2024-01-02\n\nCaf\xe9 cr\xe8me.\n",
    )
    .unwrap();
    workspace.add_seed("empty.txt", "  \n\n ");
    workspace.add_seed("huge.txt", &"A long line. ".repeat(200));
    workspace.add_seed("undated.txt", "No date here.\n");
    // Front matter that cannot be used loses the key, not the entry.
    workspace.add_seed(
        "broken.md",
        "---\ntitle: Broken front matter\ndate: someday\ncolour: red\n---\nBody.\n",
    );
    // YAML 1.1 reads `no` as a boolean; a tag is a word.
    workspace.add_seed(
        "words.md",
        "---\ntitle: Words\ntags: [x, no]\ndate: 2024-01-03\n---\nBody.\n",
    );
    workspace.write_config(&[]);
    workspace.edit_config("dir: \"seeds\"", "dir: \"seeds\"\n  max_bytes: 1000");
    let running = start_app(&workspace).await;
    let (atom, _) = wait_for_entries(running.addr, 5).await;
    let mut found = titles(&atom);
    found.sort();
    assert_eq!(
        found,
        [
            "A good seed.",
            "Broken front matter",
            "Café crème.",
            "No date here.",
            "Words"
        ]
    );
    assert_eq!(categories(entry_titled(&atom, "Words")), ["x", "no"]);
    running.shutdown().await;
}

#[tokio::test]
async fn added_edited_and_deleted_files_show_within_two_seconds() {
    changes_show_within_two_seconds("native").await;
}

#[tokio::test]
async fn the_polling_watcher_sees_changes_too() {
    changes_show_within_two_seconds("poll").await;
}

/// A daemon on `workspace` whose seeds folder is read only when `watch` sees a change.
async fn start_watching(workspace: &Workspace, watch: &str) -> tributary::RunningApp {
    workspace.write_config(&[]);
    // Rescans on the schedule would hide a broken watcher: make them yearly.
    workspace.edit_config("schedule: \"* * * * * *\"", "schedule: \"0 0 1 1 *\"");
    workspace.edit_config(
        "dir: \"seeds\"",
        &format!("dir: \"seeds\"\n  watch: {watch}"),
    );
    start_app(workspace).await
}

async fn changes_show_within_two_seconds(watch: &str) {
    let workspace = Workspace::new();
    workspace.add_seed("first.txt", "date 2024-01-01\n\nThe first seed.\n");
    let running = start_watching(&workspace, watch).await;
    wait_for_entries(running.addr, 1).await;

    workspace.add_seed("second.txt", "date 2024-01-02\n\nA new seed.\n");
    within_watch_latency(running.addr, "the added file", |atom| {
        titles(atom).contains(&"A new seed.".to_string())
    })
    .await;
    let id = entry_titled(&served_feeds(running.addr).await.0, "A new seed.")
        .id
        .clone();

    workspace.add_seed("second.txt", "date 2024-01-02\n\nAn edited seed.\n");
    within_watch_latency(running.addr, "the edit", |atom| {
        titles(atom).contains(&"An edited seed.".to_string())
    })
    .await;
    let (atom, _) = served_feeds(running.addr).await;
    let edited = entry_titled(&atom, "An edited seed.");
    assert_eq!(edited.id, id, "an edit keeps the id");
    assert!(edited.updated.is_some());
    assert_eq!(atom.entries.len(), 2);

    std::fs::remove_file(workspace.seeds_dir().join("second.txt")).unwrap();
    within_watch_latency(running.addr, "the deletion", |atom| atom.entries.len() == 1).await;

    // Rescans read the files, which inotify reports too: they must not set off more rescans.
    // Showing that nothing happens takes a wait; a second is five debounce periods.
    let rescans_before = seeds_rescans(running.addr).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(seeds_rescans(running.addr).await, rescans_before);
    running.shutdown().await;
}

/// The body is long enough for dedup to tell it apart by its text alone, so the title is no
/// part of its content hash: an edit of the title or tags alone must still show.
#[tokio::test]
async fn a_new_title_or_new_tags_alone_show_within_two_seconds() {
    const BODY: &str =
        "Delta body text that is long enough to be a real entry in the merged feed.\n";
    let workspace = Workspace::new();
    workspace.add_seed("delta.txt", &format!("title: Delta live one\n\n{BODY}"));
    let running = start_watching(&workspace, "native").await;
    within_watch_latency(running.addr, "the first title", |atom| {
        titles(atom) == ["Delta live one"]
    })
    .await;
    let id = served_feeds(running.addr).await.0.entries[0].id.clone();

    workspace.add_seed("delta.txt", &format!("title: Delta live two\n\n{BODY}"));
    within_watch_latency(running.addr, "the new title", |atom| {
        titles(atom) == ["Delta live two"]
    })
    .await;

    workspace.add_seed(
        "delta.txt",
        &format!("title: Delta live two\ntags: rivers, bridges\n\n{BODY}"),
    );
    within_watch_latency(running.addr, "the new tags", |atom| {
        categories(&atom.entries[0]) == ["rivers", "bridges"]
    })
    .await;
    assert_eq!(
        served_feeds(running.addr).await.0.entries[0].id,
        id,
        "edits keep the id"
    );
    running.shutdown().await;
}

/// How many times the seeds folder was read, from /metrics.
async fn seeds_rescans(addr: std::net::SocketAddr) -> u64 {
    let metrics = get(addr, "/metrics").await.body;
    let line = metrics
        .lines()
        .find(|line| line.starts_with("tributary_polls_total{source=\"seeds\",outcome=\"ok\"}"))
        .unwrap_or_else(|| panic!("no seeds polls in\n{metrics}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}
