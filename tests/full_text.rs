//! Full text (`full_text`): a loopback origin serves a summary-only feed and the article pages
//! its entries link to; the daemon publishes the articles, once per link, and never follows a
//! link to an address the config does not allow.

mod common;

use std::time::Duration;

use common::*;
use reqwest::StatusCode;

/// An article page: navigation, the story in `paragraphs`, a "latest news" list and a footer.
fn article_page(title: &str, paragraphs: &[&str]) -> String {
    let story: String = paragraphs.iter().map(|p| format!("<p>{p}</p>")).collect();
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head><body>\
         <nav><a href=\"/\">Home</a> <a href=\"/world\">World</a> <a href=\"/sport\">Sport</a></nav>\
         <main><article><h1>{title}</h1>{story}\
         <figure><img src=\"/photos/{title}.jpg\" alt=\"A photo\"><figcaption>Taken on the day.</figcaption></figure>\
         </article></main>\
         <aside><h2>Latest</h2><ul><li><a href=\"/x\">Budget passed</a></li><li><a href=\"/y\">Mayor resigns</a></li></ul></aside>\
         <footer>© The Loopback Gazette. All rights reserved.</footer></body></html>"
    )
}

const FLOOD: [&str; 3] = [
    "The river rose four metres overnight and the old stone bridge was closed to traffic at dawn, \
     the first closure since the great flood of 1953 that older residents still talk about.",
    "Engineers who inspected the piers in the morning said the structure held, but the road will \
     stay shut until divers have examined the footings, which could take the rest of the week.",
    "Ferries will run every half hour from the north quay in the meantime, and the council asked \
     drivers to use the ring road, where traffic was already backed up by eight o'clock.",
];

const HARVEST: [&str; 3] = [
    "Growers in the valley began the harvest two weeks early this year after a warm and dry \
     September ripened the grapes faster than anybody on the cooperative's board had expected.",
    "The cooperative hired forty extra pickers from the neighbouring towns, and the presses ran \
     through the night for the first time in a decade to keep up with the trailers arriving.",
    "Winemakers said the fruit was small but concentrated, and the first tanks of must were \
     already fermenting on Thursday, filling the square with a smell of yeast and sugar.",
];

/// An RSS document whose items link to `origin`; items are (path, title, summary).
fn feed_linking_to(origin: &Origin, items: &[(&str, &str, &str)]) -> String {
    let items: String = items
        .iter()
        .enumerate()
        .map(|(day, (path, title, summary))| {
            format!(
                "<item><title>{title}</title><link>{}</link><guid>{path}</guid>\
                 <pubDate>0{} Jan 2024 10:00:00 GMT</pubDate><description>{summary}</description></item>",
                origin.url(path),
                day + 1
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Gazette</title>\
         <link>{}</link><description>d</description>{items}</channel></rss>",
        origin.url("/")
    )
}

/// The test config, with `full_text` at the top level and `fetch` settings added.
fn config_with(sources: &[(&str, &str)], full_text: &str, fetch: &str) -> String {
    // Yearly: after the first poll at start, each test polls by hand.
    let sources: Vec<(&str, &str, &str)> = sources
        .iter()
        .map(|(name, url)| (*name, *url, "0 0 1 1 *"))
        .collect();
    Workspace::config_text(&sources).replace("  timeout: 5s\n", &format!("  timeout: 5s\n{fetch}"))
        + &format!("full_text: {full_text}\n")
}

async fn start(workspace: &Workspace, config: &str) -> tributary::RunningApp {
    std::fs::write(workspace.config_path(), config).unwrap();
    start_app(workspace).await
}

/// Polls `source` again by hand, articles included.
async fn poll_again(daemon: &tributary::RunningApp, source: &str) {
    let config = daemon.app().config();
    let source = config.source(source).expect("configured").clone();
    daemon.app().poll_source(&source).await;
}

/// The whole scenario of one summary-only feed, in one function: the articles are published,
/// a failure keeps the summary, and polling again asks for nothing; each step builds on the
/// state the one before left.
#[tokio::test]
async fn articles_are_published_in_every_format_and_fetched_once_per_link() {
    let origin = Origin::start().await;
    origin.serve(
        "/a",
        "text/html; charset=utf-8",
        article_page("Flood", &FLOOD),
    );
    origin.serve("/b", "text/html", article_page("Harvest", &HARVEST));
    origin.reply("/gone", Reply::status(StatusCode::NOT_FOUND));
    let items = [
        ("/a", "Bridge closed", "The river rose. Read more…"),
        ("/b", "Early harvest", "Grapes ripened early."),
        ("/gone", "Vanished story", "Only this teaser is left."),
    ];
    origin.serve(
        "/feed.xml",
        "application/rss+xml",
        feed_linking_to(&origin, &items),
    );
    // A second feed carries the same story later on: one entry, and one article.
    origin.serve(
        "/also.xml",
        "application/rss+xml",
        feed_linking_to(&origin, &[]),
    );
    let workspace = Workspace::new();
    let config = config_with(
        &[
            ("gazette", &origin.url("/feed.xml")),
            ("mirror", &origin.url("/also.xml")),
        ],
        "on",
        "  allow_private_addresses: true\n",
    );
    let daemon = start(&workspace, &config).await;
    let addr = daemon.addr;

    // RSS has one body per item, its description: there, the article.
    let (atom, _) = wait_for("the articles in the Atom and RSS feeds", || async {
        let (atom, rss) = served_feeds(addr).await;
        let whole = |feed: &feed_rs::model::Feed| {
            let bodies = feed.entries.iter().map(|entry| {
                let content = entry.content.as_ref().and_then(|c| c.body.clone());
                content.or_else(|| entry.summary.as_ref().map(|s| s.content.clone()))
            });
            bodies
                .flatten()
                .filter(|body| {
                    body.contains("divers have examined") || body.contains("forty extra pickers")
                })
                .count()
        };
        (whole(&atom) == 2 && whole(&rss) == 2).then_some((atom, rss))
    })
    .await;
    assert_eq!(atom.entries.len(), 3, "{:?}", titles(&atom));
    let flood = atom
        .entries
        .iter()
        .find(|e| e.title.as_ref().unwrap().content == "Bridge closed")
        .unwrap();
    let content = content_of(flood);
    assert!(content.contains("ring road"), "{content}");
    assert!(
        !content.contains("Budget passed"),
        "the page's list came along: {content}"
    );
    assert!(!content.contains("All rights reserved"), "{content}");
    assert!(
        content.contains(&origin.url("/photos/Flood.jpg")),
        "the image, absolute: {content}"
    );
    assert_eq!(
        flood
            .summary
            .as_ref()
            .map(|summary| summary.content.as_str()),
        Some("The river rose. Read more…"),
        "the source's summary stays the summary"
    );
    let vanished = atom
        .entries
        .iter()
        .find(|e| e.title.as_ref().unwrap().content == "Vanished story")
        .unwrap();
    assert_eq!(
        vanished
            .summary
            .as_ref()
            .map(|summary| summary.content.as_str()),
        Some("Only this teaser is left.")
    );
    assert!(vanished.content.is_none());
    let json: serde_json::Value =
        serde_json::from_str(&get(addr, "/feed.json").await.body).unwrap();
    let json_flood = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["title"] == "Bridge closed")
        .unwrap();
    assert!(
        json_flood["content_html"]
            .as_str()
            .unwrap()
            .contains("ring road")
    );
    assert_eq!(json_flood["summary"], "The river rose. Read more…");
    let stored = daemon.app().store().latest(10).await.unwrap();
    let flood_id = &stored
        .iter()
        .find(|entry| entry.title == "Bridge closed")
        .unwrap()
        .id;
    let page = get(addr, &format!("/entries/{flood_id}")).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("divers have examined the footings"),
        "{}",
        page.body
    );

    let status = wait_for_status(addr, "gazette", "its articles counted", |status| {
        status["articles"]["failed"] == 1
    })
    .await;
    assert_eq!(status["articles"]["fetched"], 2, "{status}");
    assert_eq!(status["articles"]["extracted"], 2, "{status}");
    assert!(
        status["articles"]["last_error"]
            .as_str()
            .unwrap()
            .contains("/gone"),
        "{status}"
    );
    let metrics = get(addr, "/metrics").await.body;
    assert!(
        metrics.contains("tributary_articles_total{source=\"gazette\",outcome=\"extracted\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tributary_articles_total{source=\"gazette\",outcome=\"failed\"} 1"),
        "{metrics}"
    );

    let article_requests = || ["/a", "/b", "/gone"].map(|path| origin.requests_for(path).len());
    assert_eq!(article_requests(), [1, 1, 1]);
    assert_eq!(status_of(addr, "mirror").await["articles"]["fetched"], 0);
    let feed_polls = origin.requests_for("/feed.xml").len();
    origin.serve(
        "/also.xml",
        "application/rss+xml",
        feed_linking_to(&origin, &items[..1]),
    );
    poll_again(&daemon, "gazette").await;
    poll_again(&daemon, "mirror").await;
    let (atom, _) = served_feeds(addr).await;
    assert_eq!(atom.entries.len(), 3, "the mirrored story is one entry");
    assert_eq!(origin.requests_for("/feed.xml").len(), feed_polls + 1);
    // Stored once per link; the failure is not due again for a quarter of an hour.
    assert_eq!(article_requests(), [1, 1, 1]);
    daemon.shutdown().await;
}

#[tokio::test]
async fn auto_fetches_only_the_articles_of_teasers() {
    let origin = Origin::start().await;
    origin.serve("/a", "text/html", article_page("Flood", &FLOOD));
    origin.serve("/b", "text/html", article_page("Harvest", &HARVEST));
    let whole_story = format!("<p>{}</p>", [HARVEST, HARVEST].concat().join("</p><p>"));
    let items = [
        (
            "/a",
            "Bridge closed",
            "The river rose four metres overnight.",
        ),
        ("/b", "Early harvest", whole_story.as_str()),
    ];
    let feed = feed_linking_to(&origin, &items)
        .replace(&whole_story, &format!("<![CDATA[{whole_story}]]>"));
    origin.serve("/feed.xml", "application/rss+xml", feed);
    let workspace = Workspace::new();
    let config = config_with(
        &[("gazette", &origin.url("/feed.xml"))],
        "auto",
        "  allow_private_addresses: true\n",
    );
    let daemon = start(&workspace, &config).await;
    wait_for_status(daemon.addr, "gazette", "the teaser's article", |status| {
        status["articles"]["extracted"] == 1
    })
    .await;
    poll_again(&daemon, "gazette").await;
    assert_eq!(origin.requests_for("/a").len(), 1);
    assert_eq!(
        origin.requests_for("/b").len(),
        0,
        "a whole entry's page was fetched"
    );
    let (atom, _) = served_feeds(daemon.addr).await;
    let harvest = atom
        .entries
        .iter()
        .find(|e| e.title.as_ref().unwrap().content == "Early harvest")
        .unwrap();
    assert!(
        harvest
            .summary
            .as_ref()
            .unwrap()
            .content
            .contains("forty extra pickers")
    );
    daemon.shutdown().await;
}

/// Links to loopback and private addresses, written as addresses, as names, or reached by a
/// redirect, are refused; `allow_private_addresses` lets the listed ones through. The listener
/// on 127.0.0.2 stands for a private service that must never see a request.
#[tokio::test]
async fn links_to_private_addresses_are_refused_unless_allowed() {
    let origin = Origin::start().await;
    let private = Origin::start_on("127.0.0.2:0".parse().unwrap()).await;
    private.serve("/secret", "text/html", article_page("Secret", &FLOOD));
    origin.serve("/a", "text/html", article_page("Flood", &FLOOD));
    origin.reply(
        "/moved",
        Reply::status(StatusCode::FOUND).header("location", private.url("/secret")),
    );
    let by_name = origin.url("/a").replace("127.0.0.1", "localhost");
    let feed = |links: &[&str]| {
        let items: String = links
            .iter()
            .enumerate()
            .map(|(n, link)| format!("<item><title>Story {n}</title><link>{link}</link><description>Teaser {n}.</description></item>"))
            .collect();
        format!(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>G</title><link>http://g.example/</link><description>d</description>{items}</channel></rss>"
        )
    };

    // Refused: every non-public address, written as one or as a name.
    origin.serve(
        "/feed.xml",
        "application/rss+xml",
        feed(&[
            &origin.url("/a"),
            &by_name,
            "http://10.0.0.1/story",
            &origin.url("/moved"),
        ]),
    );
    let workspace = Workspace::new();
    let daemon = start(
        &workspace,
        &config_with(&[("gazette", &origin.url("/feed.xml"))], "on", ""),
    )
    .await;
    let status = wait_for_status(daemon.addr, "gazette", "four refusals", |status| {
        status["articles"]["failed"] == 4
    })
    .await;
    assert!(
        status["articles"]["last_error"]
            .as_str()
            .unwrap()
            .contains("not a public address"),
        "{status}"
    );
    assert_eq!(origin.requests_for("/a").len(), 0);
    assert_eq!(origin.requests_for("/moved").len(), 0);
    daemon.shutdown().await;

    // Allowed: 127.0.0.1 alone. The redirect to 127.0.0.2 is refused where it leads.
    let workspace = Workspace::new();
    let allowed = "  allow_private_addresses: [\"127.0.0.1\"]\n";
    let daemon = start(
        &workspace,
        &config_with(&[("gazette", &origin.url("/feed.xml"))], "on", allowed),
    )
    .await;
    let status = wait_for_status(
        daemon.addr,
        "gazette",
        "the allowed links fetched",
        |status| status["articles"]["extracted"] == 2 && status["articles"]["failed"] == 2,
    )
    .await;
    assert_eq!(origin.requests_for("/a").len(), 2, "{status}");
    assert_eq!(origin.requests_for("/moved").len(), 1);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(private.requests(), 0, "the private service was reached");
    daemon.shutdown().await;
}

#[tokio::test]
async fn turning_full_text_on_by_a_reload_fetches_the_stored_entries_articles() {
    let origin = Origin::start().await;
    origin.serve("/a", "text/html", article_page("Flood", &FLOOD));
    let items = [("/a", "Bridge closed", "The river rose.")];
    origin.serve(
        "/feed.xml",
        "application/rss+xml",
        feed_linking_to(&origin, &items),
    );
    let workspace = Workspace::new();
    let config = config_with(
        &[("gazette", &origin.url("/feed.xml"))],
        "off",
        "  allow_private_addresses: true\n",
    );
    let daemon = start(&workspace, &config).await;
    wait_for_entries(daemon.addr, 1).await;
    poll_again(&daemon, "gazette").await;
    assert_eq!(origin.requests_for("/a").len(), 0, "off fetches nothing");
    workspace.edit_config("full_text: off", "full_text: on");
    daemon.app().reload().await.unwrap();
    poll_again(&daemon, "gazette").await;
    assert_eq!(origin.requests_for("/a").len(), 1);
    let (atom, _) = served_feeds(daemon.addr).await;
    assert!(content_of(&atom.entries[0]).contains("ring road"));
    daemon.shutdown().await;
}
