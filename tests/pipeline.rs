//! End to end through the library: origins on loopback and a seeds folder → the same App the
//! binary runs → what `/feed.atom`, `/feed.rss`, `/` and `/entries/{id}` serve.

mod common;

use std::collections::HashSet;

use common::*;

const RSS: &str = "application/rss+xml";
const ATOM: &str = "application/atom+xml";

/// The body one outlet publishes, another republishes with other markup, and a seed file copies.
const SHARED_STORY: &str =
    "The river council approved the new bridge on Monday. Work starts in spring.";

/// Replaces what the news origin serves.
fn serve_news(origin: &Origin, items: &[(&str, &str, &str, &str)]) {
    origin.serve("/news.rss", RSS, rss_document("News", items));
}

fn rss_news() -> String {
    rss_document(
        "News",
        &[
            (
                "news-1",
                "Bridge approved",
                &format!("<p>{SHARED_STORY}</p>"),
                "Tue, 02 Jan 2024 10:00:00 GMT",
            ),
            (
                "news-2",
                "Floods recede",
                "<p>Water levels fell for the third day.</p>",
                "Wed, 03 Jan 2024 08:30:00 +0100",
            ),
        ],
    )
}

fn atom_blog() -> String {
    atom_document(
        "Blog",
        &[
            (
                "urn:blog:1",
                "Council news",
                // Same text as news-1: different markup, white space and case.
                "<div>THE RIVER council   approved the <em>new bridge</em>\n on Monday.</div><div>Work starts in spring.</div>",
                "2024-01-05T12:00:00Z",
            ),
            kayak_entry(),
        ],
    )
}

fn kayak_entry() -> (&'static str, &'static str, &'static str, &'static str) {
    (
        "urn:blog:2",
        "Kayak season",
        "<p>The kayak club opens <a href=\"/club\">its doors</a>.</p>",
        "2024-01-04T09:00:00+02:00",
    )
}

#[tokio::test]
async fn merged_feeds_hold_every_source_once_newest_first_and_survive_a_restart() {
    // The blog is not up yet, so news-1 is seen first whatever order the start-up polls run in.
    let origin = Origin::start().await;
    origin.serve("/news.rss", RSS, rss_news());
    let workspace = Workspace::new();
    workspace.add_shipped_seed();
    workspace.write_config(&[
        ("news", &origin.url("/news.rss"), "0 0 1 1 *"),
        ("blog", &origin.url("/blog.atom"), "0 0 1 1 *"),
    ]);
    let running = start_app(&workspace).await;
    wait_for_entries(running.addr, 3).await;

    // Now the blog republishes news-1's story and a seed file copies it: both are duplicates.
    origin.serve("/blog.atom", ATOM, atom_blog());
    workspace.add_seed("copy.txt", &format!("date 2024-01-06\n\n{SHARED_STORY}\n"));
    let app = running.app();
    app.poll_source(&app.config().sources()[1]).await;
    app.poll_seeds().await;

    // news-1, news-2, blog-2 and the shipped seed.
    let (atom, rss) = served_feeds(running.addr).await;
    let expected_titles = [
        "Kayak season",
        "Floods recede",
        "Bridge approved",
        "Kim Kardashian has issued a public plea for President Joe Biden to “stop another Armenian genocide,” asking the U.S.…",
    ];
    assert_eq!(titles(&atom), expected_titles);
    assert_eq!(titles(&rss), expected_titles);

    // Newest first, dates in UTC as the sources gave them.
    let dates: Vec<String> = atom
        .entries
        .iter()
        .map(|entry| entry.published.unwrap().to_rfc3339())
        .collect();
    assert_eq!(
        dates,
        [
            "2024-01-04T07:00:00+00:00",
            "2024-01-03T07:30:00+00:00",
            "2024-01-02T10:00:00+00:00",
            "2023-09-09T00:00:00+00:00",
        ]
    );
    let rss_dates: Vec<_> = rss.entries.iter().map(|entry| entry.published).collect();
    let atom_dates: Vec<_> = atom.entries.iter().map(|entry| entry.published).collect();
    assert_eq!(rss_dates, atom_dates);

    // Links are absolute: relative ones resolved against the document, seeds get permalinks.
    let links: Vec<&str> = atom
        .entries
        .iter()
        .map(|entry| entry.links[0].href.as_str())
        .collect();
    assert_eq!(
        &links[..3],
        [
            origin.url("/posts/Kayak%20season").as_str(),
            "https://news.example/news-2",
            "https://news.example/news-1",
        ]
    );
    assert!(
        links[3].starts_with("http://feeds.test/entries/"),
        "{}",
        links[3]
    );
    let kayak = content_of(&atom.entries[0]);
    assert!(
        kayak.contains(&format!("href=\"{}\"", origin.url("/club"))),
        "{kayak}"
    );

    // Ids are unique, and the same in both formats.
    let ids: HashSet<&str> = atom.entries.iter().map(|entry| entry.id.as_str()).collect();
    assert_eq!(ids.len(), 4);
    let rss_ids: HashSet<&str> = rss.entries.iter().map(|entry| entry.id.as_str()).collect();
    assert_eq!(ids, rss_ids);

    // The feed documents describe themselves.
    assert_eq!(self_link(&atom), "http://feeds.test/feed.atom");
    assert_eq!(atom.title.as_ref().unwrap().content, "Test river");

    // OPML lists the configured sources for import into a reader.
    let opml = get(running.addr, "/opml.xml").await;
    assert_eq!(opml.content_type, "text/x-opml; charset=utf-8");
    assert!(
        opml.body
            .starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?><opml version=\"2.0\">")
    );
    for (name, path) in [("news", "/news.rss"), ("blog", "/blog.atom")] {
        let outline = format!(
            "<outline type=\"rss\" text=\"{name}\" title=\"{name}\" xmlUrl=\"{}\"/>",
            origin.url(path)
        );
        assert!(opml.body.contains(&outline), "{}", opml.body);
    }

    let before_restart = get(running.addr, "/feed.atom").await.body;
    running.shutdown().await;
    origin.stop().await;

    // The origins are down now: everything comes back from the store, and polls that fail
    // or find nothing new change nothing.
    let running = start_app(&workspace).await;
    let app = running.app();
    for source in app.config().sources() {
        app.poll_source(source).await;
    }
    app.poll_seeds().await;
    let after_restart = get(running.addr, "/feed.atom").await;
    assert_eq!(after_restart.body, before_restart);
    running.shutdown().await;
}

/// A daemon whose only source is the seeds folder holding the shipped seed.
async fn start_with_the_shipped_seed() -> (Workspace, tributary::RunningApp) {
    let workspace = Workspace::new();
    workspace.add_shipped_seed();
    workspace.write_config(&[]);
    let running = start_app(&workspace).await;
    (workspace, running)
}

#[tokio::test]
async fn the_shipped_seed_is_published_with_its_date_title_and_permalink() {
    let (_workspace, running) = start_with_the_shipped_seed().await;
    let (atom, rss) = wait_for_entries(running.addr, 1).await;

    for feed in [&atom, &rss] {
        let entry = &feed.entries[0];
        assert!(
            entry
                .title
                .as_ref()
                .unwrap()
                .content
                .starts_with("Kim Kardashian has issued a public plea"),
        );
        assert_eq!(
            entry.published.unwrap().to_rfc3339(),
            "2023-09-09T00:00:00+00:00"
        );
    }
    let atom_entry = &atom.entries[0];
    let content = content_of(atom_entry);
    assert!(
        content.starts_with("<p>Kim Kardashian has issued a public plea"),
        "{content}"
    );
    assert!(
        content.contains("<a href=\"https://t.co/s53lRb59iz\">"),
        "{content}"
    );
    assert_eq!(content.matches("<p>").count(), 12, "one <p> per paragraph");

    let permalink = &atom_entry.links[0].href;
    let path = permalink
        .strip_prefix("http://feeds.test")
        .expect("permalinks are under base_url");
    let page = get(running.addr, path).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.content_type, "text/html; charset=utf-8");
    assert!(
        page.body
            .contains("<h1>Kim Kardashian has issued a public plea")
    );
    assert!(
        page.body
            .contains("rel=\"alternate\" type=\"application/atom+xml\"")
    );

    for path in ["/feed.atom", "/feed.rss", "/", path] {
        let body = get(running.addr, path).await.body;
        assert!(!body.contains("LOADING"), "{path} shows scraper noise");
        assert!(!body.contains("ERROR"), "{path} shows scraper noise");
    }
    running.shutdown().await;
}

#[tokio::test]
async fn endpoints_answer_with_their_content_types_etags_and_autodiscovery() {
    let (_workspace, running) = start_with_the_shipped_seed().await;
    wait_for_entries(running.addr, 1).await;

    let atom = get(running.addr, "/feed.atom").await;
    assert_eq!(atom.content_type, "application/atom+xml; charset=utf-8");
    let rss = get(running.addr, "/feed.rss").await;
    assert_eq!(rss.content_type, "application/rss+xml; charset=utf-8");
    assert!(
        rss.body
            .contains("<atom:link href=\"http://feeds.test/feed.rss\" rel=\"self\"")
    );

    let index = get(running.addr, "/").await;
    assert_eq!(index.content_type, "text/html; charset=utf-8");
    assert!(index.body.contains(
        "<link rel=\"alternate\" type=\"application/atom+xml\" title=\"Test river (Atom)\" href=\"http://feeds.test/feed.atom\">"
    ));
    assert!(index.body.contains(
        "<link rel=\"alternate\" type=\"application/rss+xml\" title=\"Test river (RSS)\" href=\"http://feeds.test/feed.rss\">"
    ));

    let etag = atom.etag.clone().expect("feeds carry an ETag");
    let again = get_with(running.addr, "/feed.atom", &[("if-none-match", &etag)]).await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    let stale = get_with(running.addr, "/feed.atom", &[("if-none-match", "\"old\"")]).await;
    assert_eq!(stale.status, 200);

    // Compressed once per rendering, chosen by Accept-Encoding, each encoding with its own ETag.
    let header = |fetched: &Fetched, name: &str| {
        fetched
            .headers
            .get(name)
            .map(|value| value.to_str().unwrap().to_string())
    };
    assert_eq!(header(&atom, "vary").as_deref(), Some("Accept-Encoding"));
    assert!(
        header(&atom, "cache-control")
            .unwrap()
            .starts_with("public, max-age=")
    );
    let gzipped = get_with(running.addr, "/feed.atom", &[("accept-encoding", "gzip")]).await;
    assert_eq!(
        header(&gzipped, "content-encoding").as_deref(),
        Some("gzip")
    );
    let mut unzipped = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(&gzipped.bytes[..]),
        &mut unzipped,
    )
    .unwrap();
    assert_eq!(unzipped, atom.body);
    assert_ne!(gzipped.etag, Some(etag.clone()));
    let brotli = get_with(
        running.addr,
        "/feed.atom",
        &[("accept-encoding", "gzip, br")],
    )
    .await;
    assert_eq!(header(&brotli, "content-encoding").as_deref(), Some("br"));
    assert!(brotli.bytes.len() < atom.bytes.len());
    let gzip_etag = gzipped.etag.unwrap();
    let revalidated = get_with(
        running.addr,
        "/feed.atom",
        &[("accept-encoding", "gzip"), ("if-none-match", &gzip_etag)],
    )
    .await;
    assert_eq!(revalidated.status, 304);

    // Last-Modified is the newest entry's date; If-Modified-Since answers 304 from it.
    let last_modified = header(&atom, "last-modified").unwrap();
    assert_eq!(last_modified, "Sat, 09 Sep 2023 00:00:00 GMT");
    let since = get_with(
        running.addr,
        "/feed.rss",
        &[("if-modified-since", &last_modified)],
    )
    .await;
    assert_eq!(since.status, 304);
    let older = get_with(
        running.addr,
        "/feed.rss",
        &[("if-modified-since", "Fri, 08 Sep 2023 00:00:00 GMT")],
    )
    .await;
    assert_eq!(older.status, 200);

    // HEAD answers the headers alone.
    let head = request_with(reqwest::Method::HEAD, running.addr, "/feed.atom", &[]).await;
    assert_eq!(head.status, 200);
    assert!(head.bytes.is_empty());
    assert_eq!(head.etag, Some(etag.clone()));

    // JSON Feed 1.1.
    let json = get(running.addr, "/feed.json").await;
    assert_eq!(json.content_type, "application/feed+json; charset=utf-8");
    let feed: serde_json::Value = serde_json::from_str(&json.body).unwrap();
    assert_eq!(feed["version"], "https://jsonfeed.org/version/1.1");
    assert_eq!(feed["feed_url"], "http://feeds.test/feed.json");
    assert_eq!(feed["items"][0]["date_published"], "2023-09-09T00:00:00Z");
    assert!(
        feed["items"][0]["title"]
            .as_str()
            .unwrap()
            .starts_with("Kim Kardashian")
    );

    assert_eq!(get(running.addr, "/healthz").await.status, 200);
    assert_eq!(
        get(running.addr, "/entries/0123456789abcdef").await.status,
        404
    );
    assert_eq!(get(running.addr, "/entries/not-an-id").await.status, 404);
    running.shutdown().await;
}

/// The count of one `http_requests` series in a `/metrics` exposition.
fn requests_counted(metrics: &str, route: &str, status: u16) -> u64 {
    let series = format!("tributary_http_requests_total{{route=\"{route}\",status=\"{status}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&series))
        .map_or(0, |count| count.parse().unwrap())
}

/// The documents at paths of their own are answered before the router (issue #28). Asked for
/// with GET or HEAD, plain, compressed, revalidated or not, each answer has the status, headers
/// and bytes of the router's answer for the same document (asked for with an empty query, which
/// only the router takes), and `/metrics` counts both in the same series.
#[tokio::test]
async fn documents_answered_before_the_router_answer_as_the_router_does() {
    let workspace = Workspace::new();
    workspace.add_shipped_seed();
    workspace.write_config(&[]);
    // Polled once a year: the index, which shows when each source was polled, keeps its bytes
    // while the test compares answers.
    workspace.edit_config("schedule: \"* * * * * *\"", "schedule: \"0 0 1 1 *\"");
    let running = start_app(&workspace).await;
    wait_for_entries(running.addr, 1).await;
    let addr = running.addr;
    let metrics_before = get(addr, "/metrics").await.body;

    let mut answered = std::collections::HashMap::<(&str, u16), u64>::new();
    for (path, route) in [
        ("/feed.atom", "/{file}"),
        ("/feed.rss", "/{file}"),
        ("/feed.json", "/{file}"),
        ("/", "/"),
        ("/opml.xml", "/opml.xml"),
    ] {
        let plain = get(addr, path).await;
        let gzipped = get_with(addr, path, &[("accept-encoding", "gzip")]).await;
        *answered.entry((route, 200)).or_default() += 2;
        let etag = plain.etag.clone().unwrap();
        let gzip_etag = gzipped.etag.clone().unwrap();
        // The feeds have the newest entry's date; the index and the list none.
        let last_modified = plain
            .headers
            .get("last-modified")
            .map_or("Sat, 09 Sep 2023 00:00:00 GMT", |date| {
                date.to_str().unwrap()
            });
        // How it is asked for, and the status it must get (the If-Modified-Since one: a 304
        // for the feeds, a 200 for the pages without a date).
        type Case<'a> = (reqwest::Method, &'a [(&'a str, &'a str)], Option<u16>);
        let listed = format!("\"stale\", W/{etag}");
        let cases: [Case; 12] = [
            (reqwest::Method::GET, &[], Some(200)),
            (
                reqwest::Method::GET,
                &[("accept-encoding", "gzip")],
                Some(200),
            ),
            (
                reqwest::Method::GET,
                &[("accept-encoding", "gzip, br")],
                Some(200),
            ),
            (reqwest::Method::GET, &[("if-none-match", &etag)], Some(304)),
            // Weak comparison: listed among others, weak, or another encoding's ETag.
            (
                reqwest::Method::GET,
                &[("if-none-match", &listed)],
                Some(304),
            ),
            (
                reqwest::Method::GET,
                &[("if-none-match", &gzip_etag)],
                Some(304),
            ),
            (
                reqwest::Method::GET,
                &[("if-none-match", "\"other\", W/\"x\"")],
                Some(200),
            ),
            (
                reqwest::Method::GET,
                &[("accept-encoding", "gzip"), ("if-none-match", &gzip_etag)],
                Some(304),
            ),
            (
                reqwest::Method::GET,
                &[("if-modified-since", last_modified)],
                None,
            ),
            (reqwest::Method::HEAD, &[], Some(200)),
            (
                reqwest::Method::HEAD,
                &[("accept-encoding", "br")],
                Some(200),
            ),
            (
                reqwest::Method::HEAD,
                &[("if-none-match", &etag)],
                Some(304),
            ),
        ];
        for (method, headers, status) in &cases {
            let direct = request_with(method.clone(), addr, path, headers).await;
            let routed = request_with(method.clone(), addr, &format!("{path}?"), headers).await;
            let case = format!("{method} {path} {headers:?}");
            if let Some(status) = status {
                assert_eq!(direct.status, *status, "{case}");
            }
            assert_eq!(direct.status, routed.status, "{case}");
            let mut direct_headers = direct.headers.clone();
            let mut routed_headers = routed.headers.clone();
            direct_headers.remove("date");
            routed_headers.remove("date");
            assert_eq!(direct_headers, routed_headers, "{case}");
            assert_eq!(direct.bytes, routed.bytes, "{case}");
            if direct.status == 304 {
                assert!(direct.bytes.is_empty(), "{case}");
                for name in ["etag", "vary", "cache-control"] {
                    assert!(direct.headers.contains_key(name), "{name} in {case}");
                }
            }
            if *method == reqwest::Method::HEAD && direct.status == 200 {
                assert!(direct.bytes.is_empty(), "{case}");
                let length: usize = direct.headers["content-length"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!(length > 0, "{case}");
            }
            *answered.entry((route, direct.status)).or_default() += 2;
        }
    }

    let metrics_after = get(addr, "/metrics").await.body;
    for (&(route, status), &count) in &answered {
        let before = requests_counted(&metrics_before, route, status);
        assert_eq!(
            requests_counted(&metrics_after, route, status) - before,
            count,
            "{route} {status} in\n{metrics_after}"
        );
    }
    running.shutdown().await;
}

#[tokio::test]
async fn re_polling_an_unchanged_source_changes_nothing_and_updates_are_applied() {
    let origin = Origin::start().await;
    origin.serve("/news.rss", RSS, rss_news());
    let workspace = Workspace::new();
    workspace.write_config(&[("news", &origin.url("/news.rss"), "* * * * * *")]);
    let running = start_app(&workspace).await;
    wait_for_entries(running.addr, 2).await;
    let first = get(running.addr, "/feed.atom").await;

    let polls = origin.requests();
    wait_for("two more polls", || async {
        (origin.requests() >= polls + 2).then_some(())
    })
    .await;
    let later = get(running.addr, "/feed.atom").await;
    assert_eq!(
        later.etag, first.etag,
        "an unchanged source must not change the feed"
    );

    // The publisher edits news-2: same guid, new text → updated in place, not a second entry.
    serve_news(
        &origin,
        &[(
            "news-2",
            "Floods recede further",
            "<p>Water levels fell for the fourth day in a row.</p>",
            "Wed, 03 Jan 2024 08:30:00 +0100",
        )],
    );
    let (atom, _) = wait_for("the edited entry", || async {
        let (atom, rss) = served_feeds(running.addr).await;
        titles(&atom)
            .contains(&"Floods recede further".to_string())
            .then_some((atom, rss))
    })
    .await;
    // news-1 left the document but stays stored; news-2 was replaced, not doubled.
    assert_eq!(titles(&atom), ["Floods recede further", "Bridge approved"]);
    let id = atom.entries[0].id.clone();

    // Retitled with the same text, long enough for dedup's content hash to leave the title out.
    serve_news(
        &origin,
        &[(
            "news-2",
            "Floods recede for a fourth day",
            "<p>Water levels fell for the fourth day in a row.</p>",
            "Wed, 03 Jan 2024 08:30:00 +0100",
        )],
    );
    let atom = wait_for("the retitled entry", || async {
        let (atom, _) = served_feeds(running.addr).await;
        titles(&atom)
            .contains(&"Floods recede for a fourth day".to_string())
            .then_some(atom)
    })
    .await;
    assert_eq!(atom.entries.len(), 2);
    assert_eq!(atom.entries[0].id, id, "a retitled entry keeps its id");
    running.shutdown().await;
}

/// `/status` and the index are true from the first poll after a restart: the entries stored
/// before it are counted, and the seeds folder read at start-up shows as read.
#[tokio::test]
async fn status_and_index_are_true_from_the_first_poll_after_a_restart() {
    let origin = Origin::start().await;
    origin.serve("/news.rss", RSS, rss_news());
    let workspace = Workspace::new();
    workspace.add_shipped_seed();
    // Yearly: each start polls once, right away, and not again while the test runs.
    workspace.write_config(&[("news", &origin.url("/news.rss"), "0 0 1 1 *")]);
    let running = start_app(&workspace).await;
    wait_for_entries(running.addr, 3).await;
    running.shutdown().await;

    let running = start_app(&workspace).await;
    let news = wait_for_status(running.addr, "news", "polled", |s| s["state"] == "ok").await;
    assert_eq!(news["entries"], 2, "{news}");
    let seeds = status_of(running.addr, "seeds").await;
    assert_eq!(
        (&seeds["state"], &seeds["entries"]),
        (&"ok".into(), &1.into()),
        "{seeds}"
    );
    assert!(seeds["last_attempt"].is_string(), "{seeds}");

    // The index says the same, and its rows link to each source's own feed.
    let cells = wait_for("the index after the first poll", || async {
        let index = get(running.addr, "/").await.body;
        let cells = [index_row(&index, "news"), index_row(&index, "seeds")];
        (cells[0][1] == "ok").then_some(cells)
    })
    .await;
    assert_eq!(
        (&*cells[0][3], &*cells[1][1], &*cells[1][3]),
        ("2", "ok", "1")
    );
    for source in ["news", "seeds"] {
        let feed = get(running.addr, &format!("/sources/{source}/feed.atom")).await;
        assert_eq!(
            feed.status, 200,
            "the index links to /sources/{source}/feed.atom"
        );
    }
    running.shutdown().await;
}

/// The cells of source `name`'s row in the index's sources table, as text.
fn index_row(index: &str, name: &str) -> Vec<String> {
    let start = format!("<tr><td><a href=\"sources/{name}/feed.atom\">{name}</a>");
    let row = &index[index
        .find(&start)
        .unwrap_or_else(|| panic!("no row linking {name} to its feed in\n{index}"))..];
    let row = &row[..row.find("</tr>").unwrap()];
    row.split("<td>")
        .skip(1)
        .map(|cell| cell.split("</td>").next().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_failing_source_keeps_its_entries_and_does_not_affect_the_others() {
    let origin = Origin::start().await;
    origin.serve("/news.rss", RSS, rss_news());
    origin.serve("/blog.atom", ATOM, atom_document("Blog", &[kayak_entry()]));
    let workspace = Workspace::new();
    workspace.write_config(&[
        ("news", &origin.url("/news.rss"), "* * * * * *"),
        ("blog", &origin.url("/blog.atom"), "* * * * * *"),
        ("missing", &origin.url("/nothing-here"), "* * * * * *"),
        ("huge", &origin.url("/huge.rss"), "* * * * * *"),
    ]);
    // Over the 10 MiB body cap: refused without reading it all, and nothing else suffers.
    let huge_item = ("huge-1", "Huge", "x", "Mon, 01 Jan 2024 00:00:00 GMT");
    let mut huge = rss_document("Huge", &[huge_item]);
    huge.insert_str(
        huge.len() - "</channel></rss>".len(),
        &" ".repeat(11 * 1024 * 1024),
    );
    origin.serve("/huge.rss", RSS, huge);
    let running = start_app(&workspace).await;
    wait_for_entries(running.addr, 3).await;

    // The blog breaks: first garbage, then a server error. Its entries stay published.
    origin.serve("/blog.atom", ATOM, "<feed><entry>broken");
    let polls = origin.requests();
    wait_for("polls of the broken blog", || async {
        (origin.requests() >= polls + 6).then_some(())
    })
    .await;
    origin.reply(
        "/blog.atom",
        Reply::status(axum::http::StatusCode::INTERNAL_SERVER_ERROR).body("oops"),
    );
    // Meanwhile the news source keeps working.
    serve_news(
        &origin,
        &[(
            "news-3",
            "Ferry returns",
            "<p>The ferry runs again.</p>",
            "Fri, 05 Jan 2024 07:00:00 GMT",
        )],
    );
    let (atom, _) = wait_for_entries(running.addr, 4).await;
    assert_eq!(
        titles(&atom),
        [
            "Ferry returns",
            "Kayak season",
            "Floods recede",
            "Bridge approved"
        ]
    );
    running.shutdown().await;
}

/// A feed as sloppy publishers serve it: a PHP warning before it, a bare `&`, an undeclared
/// entity and an item never closed.
const SLOPPY_RSS: &str = "<br />\n<b>Warning</b>: headers already sent<br />\n\
    <?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Caf&eacute; news</title>\
    <item><guid>s-1</guid><title>Q&A with the mayor</title><link>https://news.test/?a=1&b=2</link>\
    <description>First.</description><pubDate>Tue, 02 Jan 2024 10:00:00 GMT</pubDate>\
    <item><guid>s-2</guid><title>Second</title><description>Second.</description>\
    <pubDate>Wed, 03 Jan 2024 10:00:00 GMT</pubDate></item></channel></rss>";

#[tokio::test]
async fn a_sloppy_feed_is_read_its_source_is_ok_and_status_and_index_say_what_was_repaired() {
    let origin = Origin::start().await;
    origin.serve("/sloppy.rss", RSS, SLOPPY_RSS);
    let workspace = Workspace::new();
    workspace.write_config(&[("sloppy", &origin.url("/sloppy.rss"), "* * * * * *")]);
    let running = start_app(&workspace).await;
    let (atom, _) = wait_for_entries(running.addr, 2).await;
    assert_eq!(titles(&atom), ["Second", "Q&A with the mayor"]);
    let status = wait_for_status(running.addr, "sloppy", "a poll", |s| s["state"] == "ok").await;
    let repaired = &status["repaired"];
    assert_eq!(repaired["count"], 5, "{status}");
    let first: Vec<&str> = repaired["first"]
        .as_array()
        .unwrap()
        .iter()
        .map(|repair| repair.as_str().unwrap())
        .collect();
    assert_eq!(
        first,
        [
            "<br> and what follows before the feed's root ignored at 1:1",
            "HTML entity &eacute; read as its character at 3:60",
            "a bare & read as itself at 3:111",
            "a bare & read as itself at 3:164",
            "unclosed <item> closed by the next one at 3:256",
        ]
    );
    let index = get(running.addr, "/").await;
    assert!(index.body.contains("ok <span title="), "{}", index.body);
    assert!(index.body.contains("(5 repaired)"));

    // Once the publisher fixes the feed, the source says so.
    origin.serve(
        "/sloppy.rss",
        RSS,
        rss_document(
            "Fixed",
            &[(
                "s-3",
                "Third",
                "<p>Third.</p>",
                "Thu, 04 Jan 2024 10:00:00 GMT",
            )],
        ),
    );
    wait_for_status(running.addr, "sloppy", "a well-formed document", |s| {
        s["repaired"].is_null()
    })
    .await;
    running.shutdown().await;
}

#[tokio::test]
async fn the_same_story_from_three_outlets_is_published_once_and_says_where_it_was_seen() {
    let origin = Origin::start().await;
    let story = "The river council approved the new bridge on Monday. Work starts in spring, said the mayor.";
    origin.serve(
        "/a.rss",
        RSS,
        rss_document(
            "A",
            &[(
                "a-1",
                "Bridge approved",
                &format!("<p>{story}</p>"),
                "Tue, 02 Jan 2024 10:00:00 GMT",
            )],
        ),
    );
    // Other markup, white space, quote style and a blog engine's footer: the same story.
    origin.serve(
        "/b.rss",
        RSS,
        rss_document(
            "B",
            &[
                (
                    "b-1",
                    "Council says yes",
                    "<div>THE RIVER council approved the   new <b>bridge</b> on Monday.</div><div>Work starts in spring, said the mayor.</div>\
                     <p>The post Bridge appeared first on B News.</p>",
                    "Tue, 02 Jan 2024 11:00:00 GMT",
                ),
                // One changed sentence: a different story.
                (
                    "b-2",
                    "Bridge rejected",
                    "<p>The river council rejected the new bridge on Monday. Work starts in spring, said the mayor.</p>",
                    "Tue, 02 Jan 2024 12:00:00 GMT",
                ),
            ],
        ),
    );
    // Different words, but the same article by its canonical link (tracking parameters aside).
    origin.serve(
        "/c.atom",
        ATOM,
        "<?xml version=\"1.0\"?><feed xmlns=\"http://www.w3.org/2005/Atom\"><title>C</title><id>urn:c</id>\
             <updated>2024-01-03T00:00:00Z</updated><entry><id>urn:c:1</id><title>Kayak news</title>\
             <updated>2024-01-03T00:00:00Z</updated>\
             <link href=\"https://news.example/a-2?utm_source=rss&amp;utm_medium=feed#comments\"/>\
             <content type=\"html\">A rewritten summary of the kayak club opening, long enough to count.</content></entry>\
             <entry><id>urn:c:2</id><title>Kayak original</title><updated>2024-01-03T00:00:00Z</updated>\
             <link href=\"https://news.example/a-2\"/><content type=\"html\">Placeholder text that differs from the other one entirely.</content></entry></feed>",
    );
    let workspace = Workspace::new();
    workspace.write_config(&[
        ("a", &origin.url("/a.rss"), "0 0 1 1 *"),
        ("b", &origin.url("/b.rss"), "0 0 1 1 *"),
        ("c", &origin.url("/c.atom"), "0 0 1 1 *"),
    ]);
    for tagged in ["a", "c"] {
        workspace.edit_config(
            &format!("  - name: \"{tagged}\"\n"),
            &format!("  - name: \"{tagged}\"\n    tags: [rivers]\n"),
        );
    }
    // Poll one after the other, so "first seen" is certain.
    let running = tributary::App::open(workspace.config(), Default::default())
        .await
        .unwrap();
    for source in running.config().sources() {
        running.poll_source(source).await;
    }
    let entries = running.store().latest(10).await.unwrap();
    let found: Vec<(&str, &str, Vec<String>)> = entries
        .iter()
        .map(|entry| {
            (
                entry.title.as_str(),
                entry.source.as_str(),
                entry.also_in.clone(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("Kayak news", "c", vec![]),
            ("Bridge rejected", "b", vec![]),
            ("Bridge approved", "a", vec!["b".to_string()]),
        ]
    );

    let running = running.start().await.unwrap();
    let (atom, rss) = served_feeds(running.addr).await;
    let approved = atom
        .entries
        .iter()
        .find(|e| e.title.as_ref().unwrap().content == "Bridge approved")
        .unwrap();
    let via: Vec<&str> = approved
        .categories
        .iter()
        .filter(|category| category.scheme.as_deref() == Some("urn:tributary:source"))
        .map(|category| category.term.as_str())
        .collect();
    assert_eq!(via, ["a", "b"]);
    assert_eq!(rss.entries.len(), 3);
    let index = get(running.addr, "/").await.body;
    assert!(
        index.contains("Bridge approved</a><br><small>a (also in b)"),
        "{index}"
    );

    // Slices: a source's feeds hold what it carried, a tag's what its sources carried.
    let slice_titles = |path: &'static str| async move {
        let mut found = titles(&parse(&get(running.addr, path).await.body));
        found.sort();
        found
    };
    assert_eq!(
        slice_titles("/sources/b/feed.atom").await,
        ["Bridge approved", "Bridge rejected"]
    );
    assert_eq!(slice_titles("/sources/c/feed.rss").await, ["Kayak news"]);
    assert_eq!(
        slice_titles("/tags/rivers/feed.atom").await,
        ["Bridge approved", "Kayak news"]
    );
    let json: serde_json::Value =
        serde_json::from_str(&get(running.addr, "/sources/a/feed.json").await.body).unwrap();
    assert_eq!(json["feed_url"], "http://feeds.test/sources/a/feed.json");
    let atom = parse(&get(running.addr, "/tags/rivers/feed.atom").await.body);
    assert_eq!(self_link(&atom), "http://feeds.test/tags/rivers/feed.atom");
    // ?limit=N: the newest N, with a self link naming the URL as served.
    let limited = parse(&get(running.addr, "/feed.atom?limit=2").await.body);
    assert_eq!(titles(&limited), ["Kayak news", "Bridge rejected"]);
    assert_eq!(self_link(&limited), "http://feeds.test/feed.atom?limit=2");
    assert_eq!(
        titles(&parse(
            &get(running.addr, "/sources/b/feed.rss?limit=1").await.body
        ))
        .len(),
        1
    );
    // A limit beyond the feed shows every entry, still under the URL as served.
    let beyond = parse(
        &get(running.addr, "/sources/b/feed.atom?limit=500")
            .await
            .body,
    );
    let whole = parse(&get(running.addr, "/sources/b/feed.atom").await.body);
    assert_eq!(
        (titles(&beyond).len(), titles(&beyond)),
        (2, titles(&whole))
    );
    assert_eq!(
        self_link(&beyond),
        "http://feeds.test/sources/b/feed.atom?limit=500"
    );
    for missing in [
        "/sources/nope/feed.atom",
        "/sources/a/feed.xml",
        "/tags/lakes/feed.rss",
        "/nope.xml",
    ] {
        assert_eq!(get(running.addr, missing).await.status, 404, "{missing}");
    }
    running.shutdown().await;
}
