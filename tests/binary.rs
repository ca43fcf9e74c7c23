//! The real binary, as a user runs it: `tributary check` and `tributary` serving over HTTP.

mod common;

use common::*;

/// An origin serving one item titled `title`, and a workspace polling it beside the shipped seed.
async fn origin_and_shipped_seed(title: &str) -> (Origin, Workspace) {
    let origin = Origin::start().await;
    let item = (
        "o-1",
        title,
        "<p>An item from the origin.</p>",
        "Mon, 01 Jan 2024 00:00:00 GMT",
    );
    origin.serve(
        "/feed.xml",
        "application/rss+xml",
        rss_document("Origin", &[item]),
    );
    let workspace = Workspace::new();
    workspace.add_shipped_seed();
    workspace.write_config(&[("origin", &origin.url("/feed.xml"), "0 0 1 1 *")]);
    (origin, workspace)
}

#[test]
fn check_accepts_a_valid_config_and_names_file_line_column_key_for_a_broken_one() {
    let workspace = Workspace::new();
    workspace.write_config(&[("news", "https://news.example/feed", "0 * * * *")]);
    let output = tributary()
        .args(["check", "--config"])
        .arg(workspace.config_path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");

    std::fs::write(
        workspace.config_path(),
        "sources:\n  - name: \"a\"\n    url: \"https://a.example/\"\n    schedule: \"*/61 * * * *\"\n",
    )
    .unwrap();
    // TRIBUTARY_CONFIG names the file too.
    let output = tributary()
        .arg("check")
        .env("TRIBUTARY_CONFIG", workspace.config_path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    let expected = format!(
        "{}:4:15: sources[0].schedule: \"*/61 * * * *\" is not a valid cron expression (minute step must be 1-59)",
        workspace.config_path().display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
}

#[test]
fn the_shipped_config_is_valid() {
    let output = tributary()
        .arg("check")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
}

/// The check its first line suggests runs the binary the README's first command built, not a
/// second, debug build.
#[test]
fn the_shipped_config_suggests_checking_with_the_binary_the_readme_builds() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = std::fs::read_to_string(root.join("config.yaml")).unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let suggested = config.lines().next().unwrap();
    assert!(
        suggested.ends_with("check it with: target/release/tributary check"),
        "{suggested}"
    );
    assert!(
        readme.contains("\ncargo run --release "),
        "the README builds target/release/tributary"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_merged_feeds_over_http_and_stops_cleanly_on_sigterm() {
    let (_origin, workspace) = origin_and_shipped_seed("From the origin").await;

    let mut command = tributary();
    command.arg("--config").arg(workspace.config_path());
    let daemon = Daemon::start(command);
    // The seeds are read before the first request is answered, even into a fresh store.
    let first = get(daemon.addr, "/feed.atom").await.body;
    assert!(first.contains("Kim Kardashian"), "{first}");
    let (atom, rss) = wait_for_entries(daemon.addr, 2).await;
    assert_eq!(titles(&atom)[0], "From the origin");
    assert_eq!(titles(&rss)[0], "From the origin");
    assert!(titles(&atom)[1].starts_with("Kim Kardashian"));
    assert_eq!(get(daemon.addr, "/healthz").await.status, 200);
    let logged = daemon.wait_for_log("source=\"origin\"");
    assert!(logged.contains("new=1"), "{logged}");
    assert!(
        daemon.terminate(),
        "SIGTERM ends the daemon with exit code 0"
    );
    assert!(workspace.db_path().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_overrides_the_listen_address_and_the_store_path() {
    let workspace = Workspace::new();
    workspace.add_shipped_seed();
    workspace.write_config(&[]);
    // The configured address is taken: only the override lets the daemon start.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let config = std::fs::read_to_string(workspace.config_path())
        .unwrap()
        .replace("127.0.0.1:0", &taken.local_addr().unwrap().to_string());
    std::fs::write(workspace.config_path(), config).unwrap();
    let store = workspace.path().join("elsewhere/store.db");

    let mut command = tributary();
    command
        .env("TRIBUTARY_CONFIG", workspace.config_path())
        .env("TRIBUTARY_LISTEN", "127.0.0.1:0")
        .env("TRIBUTARY_DATA", &store);
    let daemon = Daemon::start(command);
    assert_ne!(daemon.addr, taken.local_addr().unwrap());
    wait_for_entries(daemon.addr, 1).await;
    assert!(daemon.terminate());
    assert!(store.exists());
    assert!(!workspace.db_path().exists());
}

#[test]
fn a_taken_port_is_a_clear_error() {
    let workspace = Workspace::new();
    workspace.write_config(&[]);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let output = tributary()
        .arg("--config")
        .arg(workspace.config_path())
        .env("TRIBUTARY_LISTEN", taken.local_addr().unwrap().to_string())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains(&format!("cannot listen on {}", taken.local_addr().unwrap())),
        "{stderr}"
    );
}

#[test]
fn parse_reports_a_file_as_json_with_nulls_for_missing_values() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/atom03.xml");
    let output = tributary()
        .args(["parse", "--json", fixture])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["feed"]["title"], "dive into mark");
    assert_eq!(report["feed"]["id"], serde_json::Value::Null);
    assert_eq!(
        report["feed"]["authors"][0]["email"],
        serde_json::Value::Null
    );
    let entry = &report["entries"][0];
    assert_eq!(entry["published"], "2003-12-13T12:29:29Z");
    assert_eq!(entry["updated"], "2003-12-13T18:30:02Z");
    assert_eq!(entry["content"], "<p>Escaped <b>HTML</b> content.</p>");
    assert_eq!(entry["enclosures"], serde_json::json!([]));
    assert_eq!(report["feed"]["hubs"], serde_json::json!([]));
    assert_eq!(report["feed"]["self"], serde_json::Value::Null);

    let output = tributary()
        .args(["parse", "/no/such/feed.xml"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("/no/such/feed.xml: cannot read it"),
        "{stderr}"
    );
}

#[test]
fn parse_reads_a_documents_first_entries_and_stops_quietly_when_its_reader_does() {
    let limit = tributary::parse::MAX_ENTRIES_PER_DOCUMENT;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("archive.xml");
    let items: Vec<(String, String)> = (0..limit + 5)
        .map(|n| (format!("g{n}"), format!("item {n}")))
        .collect();
    let items: Vec<(&str, &str, &str, &str)> = items
        .iter()
        .map(|(guid, title)| {
            (
                guid.as_str(),
                title.as_str(),
                "b",
                "Mon, 01 Jan 2024 00:00:00 GMT",
            )
        })
        .collect();
    std::fs::write(&path, rss_document("Archive", &items)).unwrap();

    let output = tributary()
        .args(["parse", "--json", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let entries = report["entries"].as_array().unwrap();
    assert_eq!(entries.len(), limit);
    assert_eq!(entries[limit - 1]["title"], format!("item {}", limit - 1));
    assert_eq!(report["unread_entries"], 5);

    // A reader that stops after the first line (`| head -1`): the report, far larger than a
    // pipe holds, ends there without a panic.
    let mut child = tributary()
        .args(["parse", path.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first_line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut first_line,
    )
    .unwrap();
    assert_eq!(first_line, "feed: Archive\n");
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parse_fetches_a_url_like_the_daemon_with_the_charset_from_the_header() {
    let origin = Origin::start().await;
    let latin1 = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/latin1_undeclared.xml"
    ))
    .unwrap();
    // The hub is named in a header value that is not ASCII (a title in UTF-8).
    origin.reply(
        "/feed",
        Reply::ok("application/rss+xml; charset=iso-8859-1", latin1).header(
            "link",
            "<https://hub.example/>; rel=\"hub\"; title=\"Café\", </feed>; rel=self",
        ),
    );
    let url = origin.url("/feed");
    let output = tokio::task::spawn_blocking(move || {
        tributary()
            .args(["parse", "--json", &url])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{output:?}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["feed"]["encoding"], "windows-1252");
    assert_eq!(
        report["feed"]["hubs"],
        serde_json::json!(["https://hub.example/"])
    );
    assert_eq!(report["feed"]["self"], origin.url("/feed"));
    assert_eq!(
        report["entries"][0]["title"],
        "Crème brûlée à la française, déjà vu"
    );
}

/// A news page: navigation, a story of three paragraphs with a relative link, a footer.
const NEWS_PAGE: &str = "<html><head><title>Bridge closed</title></head><body>\
    <nav><a href=\"/\">Home</a> <a href=\"/world\">World</a></nav><article><h1>Bridge closed</h1>\
    <p>The river rose four metres overnight and the old stone bridge was closed to traffic at dawn, \
    the first closure since the great flood that older residents still talk about.</p>\
    <p>Engineers said the piers held, but the road stays shut until divers have examined the \
    footings, which could take the rest of the week, the council said on Tuesday.</p>\
    <p>Ferries run every half hour from the north quay; see the <a href=\"/ferries\">timetable</a> \
    for the crossings, and use the ring road when driving into town.</p></article>\
    <footer>All rights reserved.</footer></body></html>";

#[test]
fn extract_reports_a_files_article_as_json_with_absolute_links() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("page.html");
    std::fs::write(&page, NEWS_PAGE).unwrap();
    let output = tributary()
        .args([
            "extract",
            "--json",
            "--url",
            "https://gazette.example/2026/bridge",
        ])
        .arg(&page)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["title"], "Bridge closed");
    assert_eq!(report["url"], "https://gazette.example/2026/bridge");
    let text = report["text"].as_str().unwrap();
    assert!(text.contains("closed to traffic at dawn,"), "{text}");
    assert!(
        text.contains("\n\nEngineers said"),
        "paragraphs apart: {text}"
    );
    assert!(!text.contains("All rights reserved"), "{text}");
    assert!(
        report["html"]
            .as_str()
            .unwrap()
            .contains("href=\"https://gazette.example/ferries\""),
        "{report}"
    );
    let text_report = tributary().arg("extract").arg(&page).output().unwrap();
    assert!(String::from_utf8_lossy(&text_report.stdout).starts_with("title: Bridge closed\n"));
}

/// A URL is fetched as the daemon fetches article links: the address rule included, lifted by
/// the config.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extract_fetches_a_url_like_the_daemon_with_the_address_rule() {
    let origin = Origin::start().await;
    origin.serve("/story", "text/html", NEWS_PAGE);
    let url = origin.url("/story");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    let run = move |config: std::path::PathBuf, url: String| {
        tokio::task::spawn_blocking(move || {
            tributary()
                .arg("--config")
                .arg(config)
                .args(["extract", &url])
                .output()
                .unwrap()
        })
    };
    let refused = run(config.clone(), url.clone()).await.unwrap();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("not a public address"), "{said}");
    assert!(said.contains("fetch.allow_private_addresses"), "{said}");
    assert_eq!(origin.requests_for("/story").len(), 0);
    std::fs::write(&config, "fetch:\n  allow_private_addresses: true\n").unwrap();
    let allowed = run(config, url).await.unwrap();
    assert!(allowed.status.success(), "{allowed:?}");
    assert!(String::from_utf8_lossy(&allowed.stdout).contains("ring road"));
}

const PAGES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pages");

/// What `suggest` prints for a URL pastes into `sources:` as it is, and `check` takes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suggest_prints_sources_to_paste_with_the_entries_they_give() {
    let origin = Origin::start().await;
    let page = std::fs::read_to_string(format!("{PAGES}/wordpress-archive.html")).unwrap();
    origin.serve("/category/vegetables/", "text/html; charset=utf-8", page);
    let url = origin.url("/category/vegetables/");
    let output = tokio::task::spawn_blocking({
        let url = url.clone();
        move || tributary().args(["suggest", &url]).output().unwrap()
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{output:?}");
    let printed = String::from_utf8(output.stdout).unwrap();
    let best = printed.split("\n\n").next().unwrap();
    assert!(best.starts_with("# 1 of 3: 7 items\n"), "{printed}");
    assert!(
        best.contains(&format!(
            "    url: \"{url}\"\n    html:\n      item: \"article.post\"\n"
        )),
        "{best}"
    );
    assert!(
        best.contains("#   2026-11-28T09:12:44Z  Overwintering kale under mesh  https://gardenpath.example.com/2026/11/28/overwintering-kale-under-mesh/"),
        "{best}"
    );

    let workspace = Workspace::new();
    std::fs::write(workspace.config_path(), format!("sources:\n{best}\n")).unwrap();
    let check = tributary()
        .args(["check", "--config"])
        .arg(workspace.config_path())
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");
}

#[test]
fn suggest_proposes_json_paths_and_says_when_a_page_has_no_list() {
    let output = tributary()
        .args(["suggest", "--json", &format!("{PAGES}/api-posts.json")])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let best = &report[0];
    assert_eq!(best["kind"], "json");
    assert_eq!(
        best["recipe"][0],
        serde_json::json!(["items", "$.data.posts[*]"])
    );
    assert_eq!(best["items"], 6);
    assert_eq!(
        best["preview"][0]["title"],
        "Restoring a 1930s letterpress, part three"
    );
    assert_eq!(best["preview"][0]["published"], "2026-12-01T08:00:00Z");

    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("about.html");
    std::fs::write(
        &page,
        "<html><body><h1>About us</h1><p>We make tea.</p></body></html>",
    )
    .unwrap();
    let output = tributary().arg("suggest").arg(&page).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("about.html: found no repeated structure with links"),
        "{said}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_polls_everything_writes_the_feeds_and_exits() {
    let (origin, workspace) = origin_and_shipped_seed("Fetched once").await;
    let out = workspace.path().join("public");
    let config = workspace.config_path();
    let output = tokio::task::spawn_blocking({
        let out = out.clone();
        move || {
            tributary()
                .arg("once")
                .arg("--config")
                .arg(&config)
                .arg("--out")
                .arg(&out)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{output:?}");
    let atom = parse(&std::fs::read_to_string(out.join("feed.atom")).unwrap());
    assert_eq!(titles(&atom)[0], "Fetched once");
    assert_eq!(atom.entries.len(), 2);
    assert!(out.join("feed.rss").exists() && out.join("index.html").exists());
    assert!(workspace.db_path().exists());

    // When every source fails, the exit code says so.
    origin.stop().await;
    workspace.edit_config("seeds:\n  dir: \"seeds\"\n", "");
    let config = workspace.config_path();
    let output = tokio::task::spawn_blocking(move || {
        tributary()
            .arg("once")
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("every source failed"), "{stderr}");
}
