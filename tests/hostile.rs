//! Hostile origins against the real binary: documents built to exhaust a parser and servers
//! that misbehave on the wire. Each gives a clear error or a bounded result for its own source;
//! the daemon keeps serving, its memory stays bounded, and a well-behaved source beside them
//! is polled as usual.

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const RSS: &str = "application/rss+xml";
const NEVER: &str = "0 0 1 1 *";

/// The most memory (peak resident set) the daemon may take while it fetches and reads the
/// documents below at once, each within the default 10 MiB body cap: about 180 MB in a debug
/// build. Without a cap on the entries read per document, the one with 100,000 entries alone
/// took about 220 MB; without one on the tags of a body given to the tree builder, 400,000 stray
/// `</p>`s took 180 MB (and the ones below more than the deadline in a debug build).
const MEMORY_BOUND_KB: u64 = 256 * 1024;

/// An RSS document around `items` (already XML), after `prolog` (a DOCTYPE, say).
fn rss_with(prolog: &str, items: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>{prolog}<rss version=\"2.0\"><channel>\
         <title>Hostile</title><link>https://hostile.example/</link><description>d</description>\
         {items}</channel></rss>"
    )
}

fn item(guid: &str, title: &str, body: &str) -> String {
    format!(
        "<item><guid>{guid}</guid><title>{title}</title><link>https://hostile.example/{guid}</link>\
         <description>{body}</description></item>"
    )
}

/// Ten levels of entities, each ten of the one before: a billion "lol"s if expanded.
fn billion_laughs() -> String {
    let mut prolog = String::from("<!DOCTYPE rss [<!ENTITY lol0 \"lol\">");
    for level in 1..10 {
        let previous = format!("&lol{};", level - 1);
        prolog.push_str(&format!("<!ENTITY lol{level} \"{}\">", previous.repeat(10)));
    }
    prolog.push_str("]>");
    rss_with(&prolog, &item("laughs", "&lol9;", "&lol9;"))
}

fn brotli(bytes: &[u8]) -> Vec<u8> {
    let mut compressed = Vec::new();
    let mut writer = brotli::CompressorWriter::new(&mut compressed, 1 << 16, 11, 22);
    writer.write_all(bytes).unwrap();
    drop(writer);
    compressed
}

/// The daemon's peak resident set, from the kernel.
fn peak_memory_kb(daemon: &Daemon) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", daemon.child.id())).unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .expect("/proc/PID/status has VmHWM");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn start_daemon(workspace: &Workspace) -> Daemon {
    let mut command = tributary();
    command.arg("--config").arg(workspace.config_path());
    Daemon::start(command)
}

/// The title and body of the one entry of source `name`, from its served Atom feed, which
/// must stay well-formed XML.
async fn served_entry(addr: SocketAddr, name: &str) -> (String, String) {
    let atom = parse(&get(addr, &format!("/sources/{name}/feed.atom")).await.body);
    assert_eq!(atom.entries.len(), 1, "{name}");
    let entry = &atom.entries[0];
    let body = entry
        .content
        .as_ref()
        .and_then(|content| content.body.clone())
        .or_else(|| {
            entry
                .summary
                .as_ref()
                .map(|summary| summary.content.clone())
        })
        .unwrap_or_default();
    (entry.title.as_ref().unwrap().content.clone(), body)
}

/// One daemon polls every hostile document at once, as it would meet them: the steps are long
/// because each document is checked against the same run, not because they depend on each other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_documents_give_an_error_or_a_bounded_result_for_their_source_alone() {
    let origin = Origin::start().await;
    origin.serve("/laughs", RSS, billion_laughs());
    origin.serve(
        "/xxe",
        RSS,
        rss_with(
            "<!DOCTYPE rss [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>",
            &item("xxe", "&xxe;", "&xxe;"),
        ),
    );
    origin.serve(
        "/long-title",
        RSS,
        rss_with("", &item("long", &"A".repeat(5 * 1024 * 1024), "b")),
    );
    let many: String = (0..100_000)
        .map(|n| format!("<item><guid>{n}</guid><title>t{n}</title></item>"))
        .collect();
    origin.serve("/many", RSS, rss_with("", &many));
    // 2,500,000 empty elements: the tree stops growing at a million nodes.
    origin.serve(
        "/elements",
        RSS,
        rss_with("", &item("elements", "elements", &"<x/>".repeat(2_500_000))),
    );
    let nested = format!("{}{}", "<x>".repeat(10_000), "</x>".repeat(10_000));
    origin.serve(
        "/nested",
        RSS,
        rss_with("", &item("nested", &format!("deep{nested}"), &nested)),
    );
    // 200,000 `<div>`s, escaped in the description: as HTML, each would nest in the
    // one before.
    origin.serve(
        "/nested-html",
        RSS,
        rss_with(
            "",
            &item("nested-html", "tags", &"&lt;div&gt;x ".repeat(200_000)),
        ),
    );
    // Stray `</p>`s: the tree builder makes an empty paragraph of each.
    origin.serve(
        "/stray-tags",
        RSS,
        rss_with(
            "",
            &item("stray-tags", "tags", &"&lt;/p&gt;y ".repeat(300_000)),
        ),
    );
    origin.serve(
        "/nul",
        RSS,
        rss_with("", &item("nul", "nul\u{0}title", "nul\u{0}body")),
    );
    // Bytes that are not UTF-8 in a UTF-8 document are read as windows-1252 (0xFF is `ÿ`).
    let mut invalid_utf8 = rss_with("", &item("utf8", "bad TITLE", "bad BODY")).into_bytes();
    for marker in [b"TITLE".as_slice(), b"BODY"] {
        let at = invalid_utf8
            .windows(marker.len())
            .position(|window| window == marker)
            .unwrap();
        invalid_utf8[at] = 0xFF;
    }
    origin.reply("/utf8", Reply::ok(RSS, invalid_utf8));
    origin.serve(
        "/page",
        "text/html",
        "<!DOCTYPE html><html><head><title>Home</title></head><body><p>Welcome</p></body></html>",
    );
    origin.serve(
        "/fine",
        RSS,
        rss_with("", &item("fine", "A fine entry", "fine body")),
    );
    let sources = [
        "laughs",
        "xxe",
        "long-title",
        "many",
        "elements",
        "nested",
        "nested-html",
        "stray-tags",
        "nul",
        "utf8",
        "page",
        "fine",
    ];
    let urls: Vec<String> = sources
        .iter()
        .map(|name| origin.url(&format!("/{name}")))
        .collect();
    let config: Vec<(&str, &str, &str)> = sources
        .iter()
        .zip(&urls)
        .map(|(name, url)| (*name, url.as_str(), NEVER))
        .collect();
    let workspace = Workspace::new();
    workspace.write_config(&config);
    let daemon = start_daemon(&workspace);
    let addr = daemon.addr;

    let page = wait_for_status(addr, "page", "a failure", |s| s["state"] == "failing").await;
    assert!(
        page["last_error"]
            .as_str()
            .unwrap()
            .contains("not a feed document"),
        "{page}"
    );
    for name in sources.iter().filter(|name| **name != "page") {
        wait_for_status(addr, name, "a successful poll", |s| s["state"] == "ok").await;
    }
    wait_for_status(addr, "many", "the first entries stored", |s| {
        s["entries"] == tributary::parse::MAX_ENTRIES_PER_DOCUMENT
    })
    .await;
    daemon.wait_for_log("90000 entries more than the 10000 read from each document");

    // Entities a document declares are not expanded, and nothing is read from outside it.
    let laughs = served_entry(addr, "laughs").await;
    assert_eq!(laughs.0, "&lol9;");
    assert!(laughs.1.len() < 100, "{laughs:?}");
    let xxe = served_entry(addr, "xxe").await;
    assert_eq!(xxe.0, "&xxe;");
    assert!(!xxe.1.contains("root:"), "{xxe:?}");
    let (long_title, _) = served_entry(addr, "long-title").await;
    assert_eq!(long_title.chars().count(), 1_000);
    assert!(long_title.ends_with('…'));
    assert_eq!(served_entry(addr, "nested").await.0, "deep");
    assert_eq!(served_entry(addr, "elements").await.0, "elements");
    let (_, text) = served_entry(addr, "nested-html").await;
    assert!(
        text.starts_with("x x x") && !text.contains('<'),
        "{}",
        &text[..40]
    );
    assert_eq!(
        served_entry(addr, "nul").await,
        ("nultitle".to_string(), "nulbody".to_string())
    );
    assert_eq!(
        served_entry(addr, "utf8").await,
        ("bad \u{FF}ITLE".to_string(), "bad \u{FF}ODY".to_string())
    );
    assert_eq!(served_entry(addr, "fine").await.0, "A fine entry");
    let peak = peak_memory_kb(&daemon);
    assert!(peak < MEMORY_BOUND_KB, "peak memory {peak} kB");
    assert!(daemon.terminate());
}

/// A server on 127.0.0.1:0 that reads each request's head and hands the connection to
/// `misbehave`.
async fn raw_server<Behaviour, Done>(misbehave: Behaviour) -> SocketAddr
where
    Behaviour: Fn(TcpStream) -> Done + Send + Sync + 'static,
    Done: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).await.unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            tokio::spawn(misbehave(stream));
        }
    });
    addr
}

/// One daemon meets every misbehaving server at once; long because each is checked against the
/// same run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misbehaving_servers_fail_alone_and_the_daemon_keeps_serving() {
    // Accepts, reads the request, and never answers.
    let silent = raw_server(|stream| async move {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        drop(stream);
    })
    .await;
    // Announces 100,000 bytes, sends a few, and resets the connection.
    let reset = raw_server(|mut stream| async move {
        let head =
            format!("HTTP/1.1 200 OK\r\nContent-Type: {RSS}\r\nContent-Length: 100000\r\n\r\n");
        stream.write_all(head.as_bytes()).await.unwrap();
        stream
            .write_all(b"<?xml version=\"1.0\"?><rss><channel>")
            .await
            .unwrap();
        stream.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        stream.set_zero_linger().unwrap();
        drop(stream);
    })
    .await;
    // A chunked body that never ends.
    let endless = raw_server(|mut stream| async move {
        let head =
            format!("HTTP/1.1 200 OK\r\nContent-Type: {RSS}\r\nTransfer-Encoding: chunked\r\n\r\n");
        stream.write_all(head.as_bytes()).await.unwrap();
        let chunk = format!("10000\r\n{}\r\n", " ".repeat(0x10000));
        while stream.write_all(chunk.as_bytes()).await.is_ok() {}
    })
    .await;
    let origin = Origin::start().await;
    // 20 MiB of spaces, a few hundred bytes once compressed.
    origin.reply(
        "/brotli-bomb",
        Reply::ok(RSS, brotli(&vec![b' '; 20 * 1024 * 1024])).header("content-encoding", "br"),
    );
    origin.serve(
        "/fine",
        RSS,
        rss_with("", &item("fine", "A fine entry", "fine body")),
    );
    let urls = [
        ("silent", format!("http://{silent}/feed")),
        ("reset", format!("http://{reset}/feed")),
        ("endless", format!("http://{endless}/feed")),
        ("brotli-bomb", origin.url("/brotli-bomb")),
        ("fine", origin.url("/fine")),
    ];
    let config: Vec<(&str, &str, &str)> = urls
        .iter()
        .map(|(name, url)| (*name, url.as_str(), NEVER))
        .collect();
    let workspace = Workspace::new();
    workspace.write_config(&config);
    workspace.edit_config("timeout: 5s", "timeout: 3s");
    let daemon = start_daemon(&workspace);
    let addr = daemon.addr;

    // Served while the silent server still holds its poll.
    let (atom, _) = wait_for_entries(addr, 1).await;
    assert_eq!(titles(&atom), ["A fine entry"]);
    assert_eq!(status_of(addr, "silent").await["state"], "pending");
    assert_eq!(get(addr, "/healthz").await.status, 200);

    let failure = |name: &'static str| async move {
        let status = wait_for_status(addr, name, "a failure", |s| s["state"] == "failing").await;
        status["last_error"].as_str().unwrap().to_string()
    };
    let silent = failure("silent").await;
    assert!(silent.contains("timed out"), "{silent}");
    let reset = failure("reset").await;
    assert!(reset.contains("Connection reset by peer"), "{reset}");
    let endless = failure("endless").await;
    assert!(endless.contains("larger than 10485760 bytes"), "{endless}");
    let bomb = failure("brotli-bomb").await;
    assert!(bomb.contains("larger than 10485760 bytes"), "{bomb}");
    let peak = peak_memory_kb(&daemon);
    assert!(peak < MEMORY_BOUND_KB, "peak memory {peak} kB");
    assert!(daemon.terminate());
}
