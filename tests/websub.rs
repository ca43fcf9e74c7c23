//! WebSub with tributary as the hub of its own feeds: the feeds name the hub; a reader's
//! callback server subscribes at `POST /websub`, confirms, and is pushed every new rendering,
//! signed; refusals, unconfirmed requests, unsubscribing, leases, retries and restarts.

mod common;

use std::net::SocketAddr;

use common::websub::{Delivery, HubParty, Signing, Subscriber, sign};
use common::*;

const TOPIC: &str = "http://feeds.test/feed.atom";

/// A workspace polling one origin feed every second, whose hub takes callbacks on loopback
/// (`allow_private_addresses`) and leases as short as a second; `more` is added to the config.
async fn hub_workspace(origin: &Origin, more: &str) -> Workspace {
    let workspace = Workspace::new();
    let config = Workspace::config_text(&[("news", &origin.url("/feed.xml"), "* * * * * *")])
        .replace("fetch:\n", "fetch:\n  allow_private_addresses: true\n")
        + "websub:\n  min_lease: 1s\n"
        + more;
    std::fs::write(workspace.config_path(), config).unwrap();
    workspace
}

/// A daemon (its origin serving story 1, its workspace) serving that story, with `more`
/// config as `hub_workspace` takes it.
async fn hub_daemon(more: &str) -> (Origin, Workspace, tributary::RunningApp) {
    let origin = Origin::start().await;
    serve_stories(&origin, 1);
    let workspace = hub_workspace(&origin, more).await;
    let running = start_app(&workspace).await;
    wait_for_entries(running.addr, 1).await;
    (origin, workspace, running)
}

/// The origin's feed with stories 1 to `count`.
fn serve_stories(origin: &Origin, count: usize) {
    let items: Vec<(String, String)> = (1..=count)
        .map(|n| (format!("story-{n}"), format!("Story {n}")))
        .collect();
    let items: Vec<(&str, &str, &str, &str)> = items
        .iter()
        .map(|(guid, title)| {
            (
                guid.as_str(),
                title.as_str(),
                "<p>Words.</p>",
                "Mon, 01 Jan 2024 00:00:00 GMT",
            )
        })
        .collect();
    origin.serve(
        "/feed.xml",
        "application/rss+xml",
        rss_document("News", &items),
    );
}

/// POSTs a subscription request to the daemon's hub; its status and body.
async fn ask(addr: SocketAddr, fields: &[(&str, &str)]) -> (u16, String) {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/websub"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn subscribe(addr: SocketAddr, callback: &str, more: &[(&str, &str)]) {
    let mut fields = vec![
        ("hub.mode", "subscribe"),
        ("hub.topic", TOPIC),
        ("hub.callback", callback),
    ];
    fields.extend_from_slice(more);
    assert_eq!(ask(addr, &fields).await.0, 202);
}

/// Waits until `subscriber` has had `count` deliveries.
async fn deliveries(subscriber: &Subscriber, count: usize) -> Vec<Delivery> {
    wait_for(&format!("{count} deliveries"), || async {
        let deliveries = subscriber.deliveries();
        (deliveries.len() >= count).then_some(deliveries)
    })
    .await
}

/// Waits until `subscriber` has been asked to confirm `count` times.
async fn verified(subscriber: &Subscriber, count: usize) {
    wait_for(&format!("{count} verifications"), || async {
        (subscriber.verifications().len() >= count).then_some(())
    })
    .await;
}

/// Waits for the next poll of `news` to be over.
async fn next_poll(addr: SocketAddr) {
    let before = status_of(addr, "news").await["last_attempt"].clone();
    wait_for_status(addr, "news", "another poll", |s| {
        s["last_attempt"] != before
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_feed_names_its_hub_and_itself() {
    let (_origin, workspace, running) = hub_daemon("").await;
    for (path, hub_link) in [
        (
            "/feed.atom",
            "<link href=\"http://feeds.test/websub\" rel=\"hub\"/>",
        ),
        (
            "/feed.rss",
            "<atom:link href=\"http://feeds.test/websub\" rel=\"hub\"/>",
        ),
        (
            "/feed.json",
            "\"hubs\": [\n    {\n      \"type\": \"WebSub\",\n      \"url\": \"http://feeds.test/websub\"",
        ),
        (
            "/sources/news/feed.atom",
            "<link href=\"http://feeds.test/websub\" rel=\"hub\"/>",
        ),
    ] {
        let served = get(running.addr, path).await;
        assert!(served.body.contains(hub_link), "{path}: {}", served.body);
        assert_eq!(
            served.headers["link"],
            format!(
                "<http://feeds.test/websub>; rel=\"hub\", <http://feeds.test{path}>; rel=\"self\""
            ),
            "{path}"
        );
    }
    running.shutdown().await;

    // websub.hub: false names no hub, and takes no subscription.
    workspace.edit_config("websub:\n", "websub:\n  hub: false\n");
    let running = start_app(&workspace).await;
    let served = get(running.addr, "/feed.atom").await;
    assert!(!served.body.contains("rel=\"hub\""), "{}", served.body);
    assert!(served.headers.get("link").is_none());
    let (status, said) = ask(
        running.addr,
        &[
            ("hub.mode", "subscribe"),
            ("hub.topic", TOPIC),
            ("hub.callback", "http://127.0.0.1:9/"),
        ],
    )
    .await;
    assert_eq!(
        (status, said.trim()),
        (
            404,
            "this tributary is not a WebSub hub (websub.hub is false in its config)"
        )
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirmed_subscriber_is_pushed_each_new_rendering_signed() {
    let (origin, workspace, running) = hub_daemon("").await;
    let subscriber = Subscriber::start().await;
    subscribe(
        running.addr,
        &subscriber.url("/inbox?reader=7"),
        &[("hub.secret", "s3cret")],
    )
    .await;
    verified(&subscriber, 1).await;
    let asked = &subscriber.verifications()[0];
    assert_eq!(asked["hub.mode"], "subscribe");
    assert_eq!(asked["hub.topic"], TOPIC);
    assert_eq!(
        asked["hub.lease_seconds"], "864000",
        "the default lease, ten days"
    );
    assert_eq!(asked["reader"], "7", "the callback's own query is kept");
    // What the subscriber has now is not pushed again: neither polls that change nothing nor
    // a reload that renders the same bytes push anything.
    workspace.edit_config("timeout: 5s", "timeout: 6s");
    wait_for("the reload", || async {
        let metrics = get(running.addr, "/metrics").await.body;
        metrics
            .contains("tributary_config_reloads_total{result=\"applied\"} 1")
            .then_some(())
    })
    .await;
    next_poll(running.addr).await;
    next_poll(running.addr).await;
    assert!(subscriber.deliveries().is_empty());

    serve_stories(&origin, 2);
    let delivery = deliveries(&subscriber, 1).await.remove(0);
    let served = get(running.addr, "/feed.atom").await;
    assert_eq!(delivery.path, "/inbox");
    assert_eq!(delivery.body, served.bytes, "the whole new feed");
    assert!(served.body.contains("Story 2"));
    assert_eq!(
        delivery.header("content-type"),
        Some("application/atom+xml; charset=utf-8")
    );
    assert_eq!(
        delivery.header("link"),
        Some(
            "<http://feeds.test/websub>; rel=\"hub\", <http://feeds.test/feed.atom>; rel=\"self\""
        )
    );
    assert_eq!(
        delivery.header("x-hub-signature"),
        Some(sign("s3cret", &delivery.body).as_str())
    );
    next_poll(running.addr).await;
    assert_eq!(subscriber.deliveries().len(), 1, "once per change");
    let hub = &get(running.addr, "/status").await;
    let hub: serde_json::Value = serde_json::from_str(&hub.body).unwrap();
    assert_eq!(hub["hub"]["subscriptions"], 1);
    assert_eq!(hub["hub"]["delivered"], 1);
    let metrics = get(running.addr, "/metrics").await.body;
    assert!(
        metrics.contains("tributary_websub_subscriptions 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tributary_websub_deliveries_total{outcome=\"delivered\"} 1"),
        "{metrics}"
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_that_are_not_for_us_or_lead_to_private_addresses_are_refused() {
    let origin = Origin::start().await;
    serve_stories(&origin, 1);
    // The address rule in force: no allow_private_addresses.
    let workspace = Workspace::new();
    workspace.write_config(&[("news", &origin.url("/feed.xml"), "* * * * * *")]);
    let running = start_app(&workspace).await;
    let subscriber = Subscriber::start().await;
    let callback = subscriber.url("/inbox");
    for (fields, expected) in [
        (
            [
                ("hub.mode", "subscribe"),
                ("hub.topic", TOPIC),
                ("hub.callback", callback.as_str()),
            ],
            "hub.callback: refused 127.0.0.1: it leads to 127.0.0.1, which is not a public address",
        ),
        (
            [
                ("hub.mode", "subscribe"),
                ("hub.topic", "http://elsewhere.test/feed.atom"),
                ("hub.callback", "https://reader.example/in"),
            ],
            "hub.topic \"http://elsewhere.test/feed.atom\" is not a feed served here",
        ),
        (
            [
                ("hub.mode", "subscribe"),
                ("hub.topic", "http://feeds.test/sources/nope/feed.atom"),
                ("hub.callback", "https://reader.example/in"),
            ],
            "is not a feed served here",
        ),
        (
            [
                ("hub.mode", "follow"),
                ("hub.topic", TOPIC),
                ("hub.callback", "https://reader.example/in"),
            ],
            "hub.mode \"follow\" is neither \"subscribe\" nor \"unsubscribe\"",
        ),
        (
            [
                ("hub.mode", "subscribe"),
                ("hub.topic", TOPIC),
                ("hub.callback", "ftp://reader.example/in"),
            ],
            "hub.callback \"ftp://reader.example/in\" is not an http(s) URL",
        ),
    ] {
        let (status, said) = ask(running.addr, &fields).await;
        assert_eq!(status, 400, "{said}");
        assert!(said.contains(expected), "{said}");
    }
    let long_secret = "x".repeat(200);
    let (status, said) = ask(
        running.addr,
        &[
            ("hub.mode", "subscribe"),
            ("hub.topic", TOPIC),
            ("hub.callback", "https://reader.example/in"),
            ("hub.secret", &long_secret),
        ],
    )
    .await;
    assert_eq!(
        (status, said.trim()),
        (
            400,
            "hub.secret is 200 bytes long; it must be shorter than 200"
        )
    );
    let (status, _) = ask(
        running.addr,
        &[
            ("hub.mode", "subscribe"),
            ("hub.topic", &"x".repeat(20_000)),
        ],
    )
    .await;
    assert_eq!(status, 413, "the body is capped");
    assert_eq!(
        subscriber.requests(),
        0,
        "no request reached the loopback callback"
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unconfirmed_unsubscribed_and_expired_subscribers_are_not_pushed() {
    let (origin, _workspace, running) = hub_daemon("").await;
    let (silent, leaving, brief, staying) = (
        Subscriber::start().await,
        Subscriber::start().await,
        Subscriber::start().await,
        Subscriber::start().await,
    );
    silent.confirm(false);
    subscribe(running.addr, &silent.url("/"), &[]).await;
    subscribe(running.addr, &leaving.url("/"), &[]).await;
    subscribe(running.addr, &brief.url("/"), &[("hub.lease_seconds", "1")]).await;
    subscribe(running.addr, &staying.url("/"), &[]).await;
    for subscriber in [&silent, &leaving, &brief, &staying] {
        verified(subscriber, 1).await;
    }
    assert_eq!(brief.verifications()[0]["hub.lease_seconds"], "1");
    let (status, _) = ask(
        running.addr,
        &[
            ("hub.mode", "unsubscribe"),
            ("hub.topic", TOPIC),
            ("hub.callback", &leaving.url("/")),
        ],
    )
    .await;
    assert_eq!(status, 202);
    verified(&leaving, 2).await;
    assert_eq!(leaving.verifications()[1]["hub.mode"], "unsubscribe");
    assert!(!leaving.verifications()[1].contains_key("hub.lease_seconds"));
    // The brief lease ends.
    let after_lease = chrono::Utc::now() + chrono::Duration::milliseconds(1500);
    wait_for("the brief lease to end", || async {
        (chrono::Utc::now() > after_lease).then_some(())
    })
    .await;

    serve_stories(&origin, 2);
    deliveries(&staying, 1).await;
    next_poll(running.addr).await;
    for subscriber in [&silent, &leaving, &brief] {
        assert!(subscriber.deliveries().is_empty());
    }
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_delivery_is_retried_and_subscriptions_survive_a_restart() {
    let (origin, workspace, running) = hub_daemon("").await;
    let subscriber = Subscriber::start().await;
    subscribe(running.addr, &subscriber.url("/"), &[]).await;
    verified(&subscriber, 1).await;

    subscriber.fail_next(1);
    serve_stories(&origin, 2);
    let tries = deliveries(&subscriber, 2).await;
    assert_eq!(tries[0].status, 500);
    assert_eq!(tries[1].status, 202);
    assert_eq!(tries[0].body, tries[1].body, "the same change again");
    let status: serde_json::Value =
        serde_json::from_str(&get(running.addr, "/status").await.body).unwrap();
    assert_eq!(status["hub"]["failed"], 1);
    running.shutdown().await;

    // After a restart the subscription is still there, the rendering it had is not pushed
    // again, and the next change is.
    let running = start_app(&workspace).await;
    next_poll(running.addr).await;
    next_poll(running.addr).await;
    assert_eq!(subscriber.deliveries().len(), 2);
    serve_stories(&origin, 3);
    let third = deliveries(&subscriber, 3).await.remove(2);
    assert!(String::from_utf8_lossy(&third.body).contains("Story 3"));
    running.shutdown().await;
}

// tributary as a subscriber to its sources' hubs.

/// A loopback port free now, for a daemon whose `base_url` must name it before it starts.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An RSS feed of `stories` (by number) naming `hub` as its hub and `topic` as itself.
fn feed_with_hub(hub: &str, topic: &str, stories: &[usize]) -> String {
    let items: String = stories
        .iter()
        .map(|n| {
            format!(
                "<item><guid>story-{n}</guid><title>Story {n}</title><description>Words.</description>\
                 <pubDate>Mon, 0{n} Jan 2024 00:00:00 GMT</pubDate></item>"
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\"><channel>\
         <title>News</title><link>https://news.example/</link><description>d</description>\
         <atom:link rel=\"hub\" href=\"{hub}\"/><atom:link rel=\"self\" href=\"{topic}\"/>{items}</channel></rss>"
    )
}

/// A publisher on loopback whose feed (story 1) names its hub, which grants leases of `lease`
/// seconds: the hub, the origin, and the feed's URL.
async fn publisher(lease: usize) -> (HubParty, Origin, String) {
    let hub = HubParty::start(lease).await;
    let origin = Origin::start().await;
    let topic = origin.url("/feed.xml");
    origin.serve(
        "/feed.xml",
        "application/rss+xml",
        feed_with_hub(&hub.url(), &topic, &[1]),
    );
    (hub, origin, topic)
}

/// A daemon at a known port (its callbacks must be reachable) polling `origin`'s feed every
/// second, with `more` config; the workspace and the port.
fn subscriber_workspace(origin: &Origin, more: &str) -> (Workspace, u16) {
    let port = free_port();
    let workspace = Workspace::new();
    let config = Workspace::config_text(&[("news", &origin.url("/feed.xml"), "* * * * * *")])
        .replace("http://feeds.test", &format!("http://127.0.0.1:{port}"))
        .replace("127.0.0.1:0", &format!("127.0.0.1:{port}"))
        .replace("fetch:\n", "fetch:\n  allow_private_addresses: true\n")
        + "websub:\n  min_lease: 1s\n"
        + more;
    std::fs::write(workspace.config_path(), config).unwrap();
    (workspace, port)
}

/// Waits until the board says `news` is pushed (its subscription confirmed).
async fn pushed(addr: SocketAddr) -> serde_json::Value {
    wait_for_status(addr, "news", "push confirmed", |status| {
        status["push"]["state"] == "active"
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_naming_a_hub_is_subscribed_and_its_pushes_are_read_at_once() {
    let (hub, origin, topic) = publisher(864_000).await;
    let (workspace, port) = subscriber_workspace(&origin, "");
    let running = start_app(&workspace).await;
    pushed(running.addr).await;
    let asked = &hub.requests()[0];
    assert_eq!(asked["hub.mode"], "subscribe");
    assert_eq!(asked["hub.topic"], topic);
    let callback_prefix = format!("http://127.0.0.1:{port}/websub/callback/news/");
    assert!(
        asked["hub.callback"].starts_with(&callback_prefix),
        "{asked:?}"
    );
    assert!(asked["hub.secret"].len() >= 32, "a secret of its own");
    assert_eq!(asked["hub.lease_seconds"], "864000");
    // From the poll after the hub confirmed, polled only for safety: six hours on.
    wait_for_status(running.addr, "news", "the safety poll", |status| {
        let next = status["next_poll"].as_str().unwrap();
        chrono::DateTime::parse_from_rfc3339(next).unwrap()
            > chrono::Utc::now() + chrono::Duration::hours(5)
    })
    .await;
    let polls = origin.requests_for("/feed.xml").len();

    // A push is read as a poll would be, and the feeds show it.
    let body = feed_with_hub(&hub.url(), &topic, &[1, 2]);
    assert_eq!(
        hub.publish("application/rss+xml", &body, Signing::Own)
            .await,
        [202]
    );
    wait_for_entries(running.addr, 2).await;
    assert_eq!(
        origin.requests_for("/feed.xml").len(),
        polls,
        "no poll was needed"
    );
    let status = status_of(running.addr, "news").await;
    assert!(status["push"]["last_push"].is_string(), "{status}");

    // A push with a wrong or no signature is answered 2xx (§8) and dropped.
    let forged = feed_with_hub(&hub.url(), &topic, &[1, 2, 3]);
    assert_eq!(
        hub.publish("application/rss+xml", &forged, Signing::With("guessed"))
            .await,
        [202]
    );
    assert_eq!(
        hub.publish("application/rss+xml", &forged, Signing::Unsigned)
            .await,
        [202]
    );
    // Pushes are read in turn: once a later good one is read, the forged ones would have been.
    let body = feed_with_hub(&hub.url(), &topic, &[1, 2, 4]);
    assert_eq!(
        hub.publish("application/rss+xml", &body, Signing::Own)
            .await,
        [202]
    );
    wait_for_entries(running.addr, 3).await;
    let (atom, _) = served_feeds(running.addr).await;
    assert_eq!(
        titles(&atom),
        ["Story 4", "Story 2", "Story 1"],
        "story 3 was forged: not taken"
    );
    running.shutdown().await;

    // After a restart the subscription holds: pushes are still taken.
    let running = start_app(&workspace).await;
    pushed(running.addr).await;
    let body = feed_with_hub(&hub.url(), &topic, &[1, 2, 4, 5]);
    assert_eq!(
        hub.publish("application/rss+xml", &body, Signing::Own)
            .await,
        [202]
    );
    wait_for_entries(running.addr, 4).await;
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_is_renewed_and_polling_resumes_when_the_hub_goes_away() {
    // A hub granting two-second leases.
    let (hub, origin, _) = publisher(2).await;
    let (workspace, _) = subscriber_workspace(&origin, "");
    let running = start_app(&workspace).await;
    pushed(running.addr).await;
    // Renewed before the lease ends, with the same callback.
    wait_for("a renewal", || async {
        (hub.requests().len() >= 2).then_some(())
    })
    .await;
    let requests = hub.requests();
    assert_eq!(requests[1]["hub.mode"], "subscribe");
    assert_eq!(requests[1]["hub.callback"], requests[0]["hub.callback"]);

    // The hub goes away: renewals fail, the lease ends, and polls come every second again.
    hub.stop().await;
    let gone_at = chrono::Utc::now();
    wait_for("polls on schedule", || async {
        let recent = origin
            .requests_for("/feed.xml")
            .iter()
            .filter(|request| request.at > gone_at + chrono::Duration::seconds(3))
            .count();
        (recent >= 2).then_some(())
    })
    .await;
    let status = status_of(running.addr, "news").await;
    assert_ne!(status["push"]["state"], "active", "{status}");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_that_moves_or_leaves_the_config_is_unsubscribed() {
    let (hub, origin, topic) = publisher(3600).await;
    let moved = origin.url("/moved.xml");
    origin.serve(
        "/moved.xml",
        "application/rss+xml",
        feed_with_hub(&hub.url(), &moved, &[1]),
    );
    let (workspace, _) = subscriber_workspace(&origin, "");
    let running = start_app(&workspace).await;
    pushed(running.addr).await;
    let first = hub.subscribers()[0].0.clone();

    // A new URL: the old subscription ends, and the new one gets a callback of its own.
    workspace.edit_config("/feed.xml", "/moved.xml");
    wait_for("the move", || async {
        let subscribers = hub.subscribers();
        (subscribers.len() == 1 && subscribers[0].0 != first).then_some(())
    })
    .await;
    let ended = hub
        .requests()
        .into_iter()
        .find(|request| request["hub.mode"] == "unsubscribe")
        .unwrap();
    assert_eq!(
        (ended["hub.callback"].as_str(), ended["hub.topic"].as_str()),
        (first.as_str(), topic.as_str())
    );

    // Removed: its subscription ends too.
    let text = std::fs::read_to_string(workspace.config_path()).unwrap();
    let without = text.replace(
        &format!("  - name: \"news\"\n    url: \"{moved}\"\n    schedule: \"* * * * * *\"\n"),
        "",
    );
    workspace.rename_config(&without.replace("sources:\n", "sources: []\n"));
    wait_for("the unsubscription", || async {
        hub.subscribers().is_empty().then_some(())
    })
    .await;
    let last = hub.requests().pop().unwrap();
    assert_eq!(last["hub.mode"], "unsubscribe");
    assert_eq!(last["hub.topic"], moved);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_at_a_private_address_is_not_asked_unless_allowed() {
    let (hub, origin, _) = publisher(3600).await;
    let (workspace, _) = subscriber_workspace(&origin, "");
    workspace.edit_config("  allow_private_addresses: true\n", "");
    let running = start_app(&workspace).await;
    wait_for_entries(running.addr, 1).await;
    next_poll(running.addr).await;
    assert!(hub.requests().is_empty(), "the hub is on loopback");
    let status = status_of(running.addr, "news").await;
    assert_eq!(status["push"]["state"], "requested", "{status}");
    running.shutdown().await;
}

/// Both ways at once: a publisher's hub pushes a new story to tributary, which stores it,
/// renders, and pushes the new merged feed to a reader subscribed at tributary's hub.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_story_pushed_by_a_source_s_hub_reaches_a_reader_subscribed_to_ours() {
    let (hub, origin, topic) = publisher(864_000).await;
    let (workspace, port) = subscriber_workspace(&origin, "");
    let running = start_app(&workspace).await;
    pushed(running.addr).await;
    let reader = Subscriber::start().await;
    let our_feed = format!("http://127.0.0.1:{port}/feed.atom");
    let (status, _) = ask(
        running.addr,
        &[
            ("hub.mode", "subscribe"),
            ("hub.topic", &our_feed),
            ("hub.callback", &reader.url("/reader")),
            ("hub.secret", "reader-secret"),
        ],
    )
    .await;
    assert_eq!(status, 202);
    verified(&reader, 1).await;

    // The publisher posts story 2: its hub pushes the feed to tributary.
    let story = feed_with_hub(&hub.url(), &topic, &[1, 2]);
    origin.serve("/feed.xml", "application/rss+xml", story.clone());
    assert_eq!(
        hub.publish("application/rss+xml", &story, Signing::Own)
            .await,
        [202]
    );
    let delivery = deliveries(&reader, 1).await.remove(0);
    let delivered = parse(&String::from_utf8_lossy(&delivery.body));
    assert_eq!(titles(&delivered), ["Story 2", "Story 1"]);
    assert_eq!(
        delivery.header("x-hub-signature"),
        Some(sign("reader-secret", &delivery.body).as_str())
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_hub_denies_a_new_subscriber_and_renews_the_ones_it_holds() {
    let (origin, _workspace, running) = hub_daemon("  max_subscriptions: 1\n").await;
    let (held, turned_away) = (Subscriber::start().await, Subscriber::start().await);
    subscribe(running.addr, &held.url("/"), &[]).await;
    verified(&held, 1).await;
    let (status, said) = ask(
        running.addr,
        &[
            ("hub.mode", "subscribe"),
            ("hub.topic", TOPIC),
            ("hub.callback", &turned_away.url("/")),
        ],
    )
    .await;
    if status == 202 {
        // Taken before the hub counted its subscriptions again: denied once verified (§5.2).
        verified(&turned_away, 2).await;
        let denied = &turned_away.verifications()[1];
        assert_eq!(denied["hub.mode"], "denied");
        assert!(
            denied["hub.reason"].contains("websub.max_subscriptions"),
            "{denied:?}"
        );
    } else {
        assert_eq!(status, 503, "{said}");
    }
    // The one held renews.
    subscribe(running.addr, &held.url("/"), &[]).await;
    verified(&held, 2).await;
    assert_eq!(held.verifications()[1]["hub.mode"], "subscribe");

    serve_stories(&origin, 2);
    deliveries(&held, 1).await;
    next_poll(running.addr).await;
    assert!(turned_away.deliveries().is_empty());
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_requests_is_turned_away_not_queued() {
    let (_origin, _workspace, running) = hub_daemon("").await;
    // A callback host that takes connections and never answers: every verification waits.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut connections = Vec::new();
        while let Ok((connection, _)) = silent.accept().await {
            connections.push(connection);
        }
    });
    let mut answers = Vec::new();
    for n in 0..70 {
        let callback = format!("http://{silent_addr}/reader/{n}");
        let (status, _) = ask(
            running.addr,
            &[
                ("hub.mode", "subscribe"),
                ("hub.topic", TOPIC),
                ("hub.callback", &callback),
            ],
        )
        .await;
        answers.push(status);
    }
    assert_eq!(answers.iter().filter(|status| **status == 202).count(), 64);
    assert_eq!(answers[64..], [503; 6]);
    held.abort();
    running.shutdown().await;
}
