//! Test harness: origin servers on 127.0.0.1:0, a temp folder holding config.yaml, seeds and the
//! SQLite file, and helpers to read what the daemon serves. Waits poll a condition against a
//! deadline; nothing sleeps for a fixed time and hopes.

#![allow(dead_code)] // each test binary uses its own subset of these helpers

use std::collections::HashMap;
use std::future::Future;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

pub mod websub;

pub const DEADLINE: Duration = Duration::from_secs(20);

/// The seed document the project ships and is tested against.
pub const SHIPPED_SEED: &str = "000_a43e32de84514409.txt";

/// A feed publisher on loopback. Replies can be replaced while it runs; it records every
/// request, answers `If-None-Match` with 304 when the reply has that ETag, and `stop` takes it
/// down.
pub struct Origin {
    pub addr: SocketAddr,
    state: Arc<OriginState>,
    task: tokio::task::JoinHandle<()>,
}

/// One canned answer.
#[derive(Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    /// Waits this long before answering.
    pub delay: Duration,
    /// Sends the body one byte per this interval: a slow server.
    pub trickle: Option<Duration>,
}

impl Reply {
    pub fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply::status(StatusCode::OK)
            .header("content-type", content_type)
            .body(body)
    }

    pub fn status(status: StatusCode) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: Duration::ZERO,
            trickle: None,
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Reply {
        self.body = body.into();
        self
    }

    pub fn delay(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    pub fn trickle(mut self, interval: Duration) -> Reply {
        self.trickle = Some(interval);
        self
    }
}

/// What the origin saw of one request.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    pub path: String,
    pub if_none_match: Option<String>,
    pub if_modified_since: Option<String>,
    pub user_agent: Option<String>,
    pub authorization: Option<String>,
    /// When it arrived.
    pub at: chrono::DateTime<chrono::Utc>,
}

#[derive(Default)]
struct OriginState {
    replies: Mutex<HashMap<String, Reply>>,
    seen: Mutex<Vec<SeenRequest>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl Origin {
    pub async fn start() -> Origin {
        Origin::start_on("127.0.0.1:0".parse().unwrap()).await
    }

    /// An origin on `addr`: on the port of one stopped before, it is that publisher back.
    pub async fn start_on(addr: SocketAddr) -> Origin {
        let state = Arc::new(OriginState::default());
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = Router::new()
            .fallback(serve_origin)
            .with_state(Arc::clone(&state));
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Origin { addr, state, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn serve(&self, path: &str, content_type: &str, body: impl Into<String>) {
        self.reply(path, Reply::ok(content_type, body.into()));
    }

    pub fn reply(&self, path: &str, reply: Reply) {
        self.state
            .replies
            .lock()
            .unwrap()
            .insert(path.to_string(), reply);
    }

    /// How many requests arrived, on any path.
    pub fn requests(&self) -> usize {
        self.state.seen.lock().unwrap().len()
    }

    /// The requests that arrived for `path`, oldest first.
    pub fn requests_for(&self, path: &str) -> Vec<SeenRequest> {
        let seen = self.state.seen.lock().unwrap();
        seen.iter()
            .filter(|request| request.path == path)
            .cloned()
            .collect()
    }

    /// The most requests that were ever being answered at the same time.
    pub fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }

    /// Takes the origin down: its port stops answering.
    pub async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

async fn serve_origin(
    State(state): State<Arc<OriginState>>,
    uri: Uri,
    headers: axum::http::HeaderMap,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string)
    };
    state.seen.lock().unwrap().push(SeenRequest {
        path: uri.path().to_string(),
        if_none_match: header("if-none-match"),
        if_modified_since: header("if-modified-since"),
        user_agent: header("user-agent"),
        authorization: header("authorization"),
        at: chrono::Utc::now(),
    });
    let reply = state.replies.lock().unwrap().get(uri.path()).cloned();
    let Some(reply) = reply else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.max_in_flight.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(reply.delay).await;
    state.in_flight.fetch_sub(1, Ordering::SeqCst);

    let etag = reply
        .headers
        .iter()
        .find(|(name, _)| *name == "etag")
        .map(|(_, v)| v.clone());
    if etag.is_some() && etag == header("if-none-match") {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let mut response = match reply.trickle {
        None => Response::new(axum::body::Body::from(reply.body)),
        Some(interval) => {
            let bytes = reply.body;
            let chunks = futures_util::stream::unfold(0usize, move |sent| {
                let bytes = bytes.clone();
                async move {
                    if sent >= bytes.len() {
                        return None;
                    }
                    tokio::time::sleep(interval).await;
                    let chunk = axum::body::Bytes::copy_from_slice(&bytes[sent..sent + 1]);
                    Some((Ok::<_, std::io::Error>(chunk), sent + 1))
                }
            });
            Response::new(axum::body::Body::from_stream(chunks))
        }
    };
    *response.status_mut() = reply.status;
    for (name, value) in reply.headers {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

/// An RSS 2.0 document; items are (guid, title, body, RFC 822 date).
pub fn rss_document(title: &str, items: &[(&str, &str, &str, &str)]) -> String {
    let items: String = items
        .iter()
        .map(|(guid, title, body, date)| {
            format!(
                "<item><title>{title}</title><link>https://news.example/{guid}</link>\
                 <guid isPermaLink=\"false\">{guid}</guid><pubDate>{date}</pubDate>\
                 <description><![CDATA[{body}]]></description></item>"
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>{title}</title>\
         <link>https://news.example/</link><description>d</description>{items}</channel></rss>"
    )
}

/// An Atom 1.0 document; entries are (id, title, body, RFC 3339 date).
pub fn atom_document(title: &str, entries: &[(&str, &str, &str, &str)]) -> String {
    let entries: String = entries
        .iter()
        .map(|(id, title, body, date)| {
            format!(
                "<entry><id>{id}</id><title>{title}</title><updated>{date}</updated>\
                 <link rel=\"alternate\" href=\"/posts/{title}\"/>\
                 <content type=\"html\">{}</content></entry>",
                escape_xml(body)
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><feed xmlns=\"http://www.w3.org/2005/Atom\">\
         <title>{title}</title><id>urn:test:{title}</id><updated>2024-01-01T00:00:00Z</updated>{entries}</feed>"
    )
}

fn escape_xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A temp folder with a seeds folder, a config.yaml and (once started) the SQLite file.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Workspace {
        let workspace = Workspace {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir(workspace.seeds_dir()).unwrap();
        workspace
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn seeds_dir(&self) -> PathBuf {
        self.path().join("seeds")
    }

    pub fn config_path(&self) -> PathBuf {
        self.path().join("config.yaml")
    }

    pub fn db_path(&self) -> PathBuf {
        self.path().join("data/tributary.db")
    }

    /// Copies the seed the project ships into this workspace's seeds folder.
    pub fn add_shipped_seed(&self) {
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("seeds")
            .join(SHIPPED_SEED);
        std::fs::copy(shipped, self.seeds_dir().join(SHIPPED_SEED)).unwrap();
    }

    pub fn add_seed(&self, name: &str, text: &str) {
        std::fs::write(self.seeds_dir().join(name), text).unwrap();
    }

    /// A config.yaml for tests, listening on an ephemeral port, with the given sources as
    /// (name, url, schedule): the seeds folder is rescanned every second, fetches are not held
    /// back by min_interval or jitter, and entries are kept for a century (the test documents
    /// are dated 2024, older than the default retention).
    pub fn config_text(sources: &[(&str, &str, &str)]) -> String {
        let sources: String = sources
            .iter()
            .map(|(name, url, schedule)| {
                format!("  - name: \"{name}\"\n    url: \"{url}\"\n    schedule: \"{schedule}\"\n")
            })
            .collect();
        let sources = if sources.is_empty() {
            "sources: []\n".to_string()
        } else {
            format!("sources:\n{sources}")
        };
        format!(
            "feed:\n  title: \"Test river\"\n  description: \"merged\"\n  base_url: \"http://feeds.test\"\n  max_entries: 50\n\
             server:\n  listen: \"127.0.0.1:0\"\nstorage:\n  path: \"data/tributary.db\"\n  retention:\n    max_age: 36500d\n\
             schedule: \"* * * * * *\"\nseeds:\n  dir: \"seeds\"\n\
             fetch:\n  min_interval: 0s\n  jitter: 0s\n  timeout: 5s\n{sources}"
        )
    }

    /// Writes config.yaml in place.
    pub fn write_config(&self, sources: &[(&str, &str, &str)]) {
        std::fs::write(self.config_path(), Workspace::config_text(sources)).unwrap();
    }

    /// Replaces config.yaml the way vim and `sed -i` save: a new file renamed over the old.
    pub fn rename_config(&self, text: &str) {
        let temporary = self.path().join(".config.yaml.new");
        std::fs::write(&temporary, text).unwrap();
        std::fs::rename(&temporary, self.config_path()).unwrap();
    }

    /// Replaces `from` with `to` in config.yaml, which must contain it.
    pub fn edit_config(&self, from: &str, to: &str) {
        let text = std::fs::read_to_string(self.config_path()).unwrap();
        assert!(text.contains(from), "config.yaml has no {from:?}");
        std::fs::write(self.config_path(), text.replace(from, to)).unwrap();
    }

    pub fn config(&self) -> tributary::Config {
        tributary::Config::load(&self.config_path()).unwrap()
    }
}

/// Starts the same App the binary runs, on this workspace's config.
pub async fn start_app(workspace: &Workspace) -> tributary::RunningApp {
    // The daemon's log lines show up in the output of a failing test.
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_ansi(false)
        .try_init();
    tributary::App::open(workspace.config(), Default::default())
        .await
        .unwrap()
        .start()
        .await
        .unwrap()
}

pub struct Fetched {
    pub status: u16,
    pub content_type: String,
    pub etag: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub bytes: Vec<u8>,
    /// The bytes as text (lossy for compressed bodies).
    pub body: String,
}

pub async fn get(addr: SocketAddr, path: &str) -> Fetched {
    get_with(addr, path, &[]).await
}

pub async fn get_with(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Fetched {
    request_with(reqwest::Method::GET, addr, path, headers).await
}

/// A request whose headers are exactly the ones given: no automatic decompression.
pub async fn request_with(
    method: reqwest::Method,
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> Fetched {
    let client = reqwest::Client::builder()
        .no_gzip()
        .no_brotli()
        .no_deflate()
        .build()
        .unwrap();
    let mut request = client.request(method, format!("http://{addr}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|value: &reqwest::header::HeaderValue| value.to_str().unwrap().to_string())
    };
    let status = response.status().as_u16();
    let content_type = header(header::CONTENT_TYPE.as_str()).unwrap_or_default();
    let etag = header(header::ETAG.as_str());
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap().to_vec();
    Fetched {
        status,
        content_type,
        etag,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        bytes,
    }
}

/// The served Atom and RSS feeds, read back with feed-rs (an independent parser).
pub async fn served_feeds(addr: SocketAddr) -> (feed_rs::model::Feed, feed_rs::model::Feed) {
    (
        parse(&get(addr, "/feed.atom").await.body),
        parse(&get(addr, "/feed.rss").await.body),
    )
}

pub fn parse(document: &str) -> feed_rs::model::Feed {
    feed_rs::parser::parse(document.as_bytes()).expect("we serve well-formed feeds")
}

pub fn titles(feed: &feed_rs::model::Feed) -> Vec<String> {
    feed.entries
        .iter()
        .map(|entry| entry.title.as_ref().unwrap().content.clone())
        .collect()
}

/// The href of a parsed feed's `rel="self"` link.
pub fn self_link(feed: &feed_rs::model::Feed) -> &str {
    let link = feed
        .links
        .iter()
        .find(|link| link.rel.as_deref() == Some("self"));
    &link.expect("the feed has a self link").href
}

/// The HTML content of a parsed entry.
pub fn content_of(entry: &feed_rs::model::Entry) -> &str {
    entry
        .content
        .as_ref()
        .and_then(|content| content.body.as_deref())
        .expect("the entry has content")
}

/// Re-evaluates `probe` until it returns `Some`, or fails the test at the deadline.
pub async fn wait_for<T, Probe, Check>(what: &str, mut probe: Probe) -> T
where
    Probe: FnMut() -> Check,
    Check: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {DEADLINE:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Source `name` as `/status` shows it.
pub async fn status_of(addr: std::net::SocketAddr, name: &str) -> serde_json::Value {
    let status: serde_json::Value = serde_json::from_str(&get(addr, "/status").await.body).unwrap();
    status["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|source| source["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no source {name} in /status: {status}"))
}

/// Waits until `/status` shows source `name` satisfying `check`, and returns that status.
pub async fn wait_for_status(
    addr: std::net::SocketAddr,
    name: &str,
    what: &str,
    check: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    wait_for(&format!("{name}: {what}"), || async {
        let status = status_of(addr, name).await;
        check(&status).then_some(status)
    })
    .await
}

/// Waits until the served Atom feed has exactly `count` entries and returns both feeds.
pub async fn wait_for_entries(
    addr: SocketAddr,
    count: usize,
) -> (feed_rs::model::Feed, feed_rs::model::Feed) {
    wait_for(&format!("{count} entries in the served feeds"), || async {
        let (atom, rss) = served_feeds(addr).await;
        (atom.entries.len() == count && rss.entries.len() == count).then_some((atom, rss))
    })
    .await
}

/// The built binary, with none of its environment settings inherited from the test run.
pub fn tributary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tributary"));
    command
        .env_remove("TRIBUTARY_CONFIG")
        .env_remove("TRIBUTARY_LISTEN")
        .env_remove("TRIBUTARY_DATA")
        .env_remove("TRIBUTARY_DATABASE_URL")
        .env_remove("TRIBUTARY_BASE_URL")
        .env_remove("TRIBUTARY_LOG_FORMAT")
        .env("RUST_LOG", "info");
    command
}

/// A running daemon; killed if the test fails before stopping it.
pub struct Daemon {
    pub child: Child,
    pub addr: SocketAddr,
    log: mpsc::Receiver<String>,
    /// Lines logged before the address line, not read yet: a fast start-up poll logs before it.
    before_address: Mutex<std::collections::VecDeque<String>>,
}

impl Daemon {
    /// Starts `command` and waits for the log line that says where it listens.
    pub fn start(mut command: Command) -> Daemon {
        let mut child = command.stderr(Stdio::piped()).spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (sender, log) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("daemon: {line}");
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut before_address = std::collections::VecDeque::new();
        let addr = loop {
            let line = log
                .recv_timeout(DEADLINE)
                .expect("the daemon logs the address it serves on");
            // Text or JSON log lines: the address runs up to the next '/'.
            match line.split(" on http://").nth(1) {
                Some(rest) => break rest.split('/').next().unwrap().parse().unwrap(),
                None => before_address.push_back(line),
            }
        };
        Daemon {
            child,
            addr,
            log,
            before_address: Mutex::new(before_address),
        }
    }

    /// Sends SIGTERM, as `docker stop` does, and returns whether it exited successfully.
    pub fn terminate(mut self) -> bool {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let deadline = std::time::Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the daemon ignored SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for a log line containing `text`, until the deadline even while other lines come.
    pub fn wait_for_log(&self, text: &str) -> String {
        self.log_until(text).pop().expect("the line waited for")
    }

    /// The log lines from the last one read up to the first containing `text`, which it waits
    /// for until the deadline.
    pub fn log_until(&self, text: &str) -> Vec<String> {
        let deadline = std::time::Instant::now() + DEADLINE;
        let mut lines = Vec::new();
        loop {
            let earlier = self.before_address.lock().unwrap().pop_front();
            let line = earlier.unwrap_or_else(|| {
                self.log
                    .recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
                    .unwrap_or_else(|_| panic!("no log line containing {text:?}"))
            });
            let found = line.contains(text);
            lines.push(line);
            if found {
                return lines;
            }
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Outside CI a test that cannot set up what it needs (a disk, a database) passes without
/// running; CI runs as root with what `.ci/run` installs and starts, so there it must work.
/// It says so once per reason and test binary, on the process's own stderr: the harness
/// captures `eprintln!` and shows it only with `--nocapture`, and a green run must not hide
/// what it did not test.
pub fn skip_unless_ci<T>(why: &str) -> Option<T> {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI must be able to run this test, but {why}"
    );
    static SAID: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut said = SAID
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !said.iter().any(|reason| reason == why) {
        said.push(why.to_string());
        let test = std::thread::current()
            .name()
            .unwrap_or("a test")
            .to_string();
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}, and the tests beside it that need the same: {why}"
        );
    }
    None
}

/// The PostgreSQL server tests may create databases on: a URL with a role allowed to
/// (`.ci/run` starts one on 127.0.0.1 and sets it).
pub const TEST_POSTGRES: &str = "TRIBUTARY_TEST_POSTGRES";

/// The URL of `TEST_POSTGRES`, or `None` (after saying why) when it is not set.
pub fn test_postgres_server() -> Option<String> {
    match std::env::var(TEST_POSTGRES) {
        Ok(server) => Some(server),
        Err(_) => skip_unless_ci(&format!(
            "{TEST_POSTGRES} names no PostgreSQL server; to run them, set it to \
             postgres://USER:PASSWORD@HOST:PORT/postgres for a role that may create databases \
             (.ci/run starts one)"
        )),
    }
}

/// The URL of a new, empty PostgreSQL database, or `None` (after saying why) when no server
/// is set up for tests.
pub async fn fresh_postgres_database() -> Option<String> {
    let server = test_postgres_server()?;
    let mut url = url::Url::parse(&server).expect("TRIBUTARY_TEST_POSTGRES is a URL");
    let name = format!("tributary_test_{:016x}", fastrand::u64(..));
    let admin = sqlx::PgPool::connect(&server)
        .await
        .unwrap_or_else(|error| panic!("cannot reach {TEST_POSTGRES}: {error}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    url.set_path(&name);
    Some(url.to_string())
}
