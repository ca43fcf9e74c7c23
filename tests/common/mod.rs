//! Test harness: origin servers on 127.0.0.1:0, a temp folder holding config.yaml, seeds and the
//! SQLite file, and helpers to read what the daemon serves. Waits poll a condition against a
//! deadline; nothing sleeps for a fixed time and hopes.

#![allow(dead_code)] // each test binary uses its own subset of these helpers

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

pub const DEADLINE: Duration = Duration::from_secs(20);

/// The seed document the project ships and is tested against.
pub const SHIPPED_SEED: &str = "000_a43e32de84514409.txt";

/// A feed publisher on loopback. Documents can be replaced while it runs; `stop` takes it down.
pub struct Origin {
    pub addr: SocketAddr,
    state: Arc<OriginState>,
    task: tokio::task::JoinHandle<()>,
}

/// What the origin answers on one path: status, Content-Type and body.
type Document = (StatusCode, &'static str, Vec<u8>);

#[derive(Default)]
struct OriginState {
    documents: Mutex<HashMap<String, Document>>,
    requests: AtomicUsize,
}

impl Origin {
    pub async fn start() -> Origin {
        let state = Arc::new(OriginState::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
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

    pub fn serve(&self, path: &str, content_type: &'static str, body: impl Into<String>) {
        self.serve_status(path, StatusCode::OK, content_type, body);
    }

    pub fn serve_bytes(&self, path: &str, content_type: &'static str, body: Vec<u8>) {
        self.respond(path, StatusCode::OK, content_type, body);
    }

    pub fn serve_status(
        &self,
        path: &str,
        status: StatusCode,
        content_type: &'static str,
        body: impl Into<String>,
    ) {
        self.respond(path, status, content_type, body.into().into_bytes());
    }

    fn respond(&self, path: &str, status: StatusCode, content_type: &'static str, body: Vec<u8>) {
        self.state
            .documents
            .lock()
            .unwrap()
            .insert(path.to_string(), (status, content_type, body));
    }

    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// Takes the origin down: its port stops answering.
    pub async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

async fn serve_origin(State(state): State<Arc<OriginState>>, uri: Uri) -> Response {
    state.requests.fetch_add(1, Ordering::SeqCst);
    let documents = state.documents.lock().unwrap();
    match documents.get(uri.path()) {
        Some((status, content_type, body)) => (
            *status,
            [(header::CONTENT_TYPE, *content_type)],
            body.clone(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
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

    /// Writes config.yaml listening on an ephemeral port with the given sources
    /// (name, url, schedule); the seeds folder is rescanned every second.
    pub fn write_config(&self, sources: &[(&str, &str, &str)]) {
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
        std::fs::write(
            self.config_path(),
            format!(
                "feed:\n  title: \"Test river\"\n  description: \"merged\"\n  base_url: \"http://feeds.test\"\n  max_entries: 50\n\
                 server:\n  listen: \"127.0.0.1:0\"\nstorage:\n  path: \"data/tributary.db\"\n\
                 schedule: \"* * * * * *\"\nseeds:\n  dir: \"seeds\"\n\
                 fetch:\n  min_interval: 0s\n  jitter: 0s\n  timeout: 5s\n{sources}"
            ),
        )
        .unwrap();
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
    tributary::App::open(workspace.config())
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
    pub body: String,
}

pub async fn get(addr: SocketAddr, path: &str) -> Fetched {
    get_with(addr, path, &[]).await
}

pub async fn get_with(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Fetched {
    let mut request = reqwest::Client::new().get(format!("http://{addr}{path}"));
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
    Fetched {
        status: response.status().as_u16(),
        content_type: header(header::CONTENT_TYPE.as_str()).unwrap_or_default(),
        etag: header(header::ETAG.as_str()),
        body: response.text().await.unwrap(),
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
