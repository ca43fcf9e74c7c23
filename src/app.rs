//! The running daemon: one `App` value that owns the store, the fetcher, the status board and
//! the published documents, and the tasks that poll sources and serve HTTP.
//!
//! The binary and the integration tests start exactly the same `App`, so what the tests see is
//! what users get.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::task::JoinSet;

use crate::config::{Config, Source};
use crate::fetch::Fetcher;
use crate::model::SEEDS_SOURCE;
use crate::pipeline::{self, PollError, PollOutcome};
use crate::publish::{Feeds, Publisher, Slice};
use crate::scheduler::{self, Politeness, PollResult, keep_polling};
use crate::seeds::watch;
use crate::server::{self, ServerState};
use crate::status::{Health, StatusBoard};
use crate::store::{Policy, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "cannot listen on {addr}: {source} (is another process using it? set server.listen or TRIBUTARY_LISTEN)"
    )]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

pub struct App {
    config: Arc<Config>,
    store: Store,
    fetcher: Fetcher,
    publisher: Arc<Publisher>,
    status: Arc<StatusBoard>,
    /// Serializes "read the newest entries, render, swap" so an older rendering never replaces a
    /// newer one when two polls finish together.
    republishing: Mutex<()>,
}

impl App {
    /// Opens the store and renders what it already holds, so the feeds are served complete from
    /// the first request, before any source has answered.
    pub async fn open(config: Config) -> Result<App, AppError> {
        let policy = Policy {
            dedup: config.dedup,
            retention: config.retention,
        };
        let store = Store::open(&config.storage_path, policy).await?;
        let status = Arc::new(StatusBoard::default());
        if let Some(seeds) = &config.seeds {
            status.register(SEEDS_SOURCE, &seeds.dir.display().to_string());
        }
        for source in &config.sources {
            status.register(&source.name, source.url.as_str());
        }
        status.set_entry_counts(&store.entry_counts().await?);
        let entries = store.latest(config.feed.max_entries).await?;
        let slices = render_slices(&store, &config).await?;
        let publisher = Arc::new(Publisher::new(
            &config.feed,
            &entries,
            slices,
            &status.snapshot(),
        ));
        Ok(App {
            fetcher: Fetcher::new(&config.fetch, &config.feed.base_url),
            config: Arc::new(config),
            store,
            publisher,
            status,
            republishing: Mutex::new(()),
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Polls one remote source now, records and logs the outcome, re-renders if anything
    /// changed, and returns when to poll it next (`None`: never, it is gone).
    pub async fn poll_source(&self, source: &Source) -> Option<DateTime<Utc>> {
        let started = Instant::now();
        let result = pipeline::poll_source(&self.fetcher, &self.store, source).await;
        let now = Utc::now();
        let poll_result = match &result {
            Ok(_) => PollResult::Success,
            Err(PollError::Gone) => PollResult::Gone,
            Err(PollError::Fetch(error)) => PollResult::Failure {
                retry_after: error.retry_after(),
            },
            Err(_) => PollResult::Failure { retry_after: None },
        };
        let failures = self
            .status
            .update(&source.name, |status| match poll_result {
                PollResult::Success => 0,
                _ => status.consecutive_failures + 1,
            })
            .unwrap_or_default();
        let rules = Politeness {
            min_interval: self.config.fetch.min_interval,
            jitter: self.config.fetch.jitter,
        };
        let next = scheduler::next_poll(
            &source.schedule,
            rules,
            poll_result,
            failures,
            now,
            fastrand::f64(),
        );
        self.finish_poll(&source.name, started, now, next, result)
            .await;
        next
    }

    /// Reads the seeds folder now (if configured), records and logs the outcome, re-renders if
    /// needed, and returns when to read it next.
    pub async fn poll_seeds(&self) -> Option<DateTime<Utc>> {
        let seeds = self.config.seeds.as_ref()?;
        let started = Instant::now();
        let result = pipeline::poll_seeds(&self.store, seeds).await;
        let now = Utc::now();
        let next = self.config.schedule.next_after(now);
        self.finish_poll(SEEDS_SOURCE, started, now, next, result)
            .await;
        next
    }

    async fn finish_poll(
        &self,
        source: &str,
        started: Instant,
        now: DateTime<Utc>,
        next: Option<DateTime<Utc>>,
        result: Result<PollOutcome, PollError>,
    ) {
        let elapsed_ms = started.elapsed().as_millis();
        let next_text = next.map_or_else(|| "never".to_string(), |next| next.to_rfc3339());
        let changed = match &result {
            Ok(outcome) => {
                let status = outcome
                    .status
                    .map_or_else(|| "-".to_string(), |s| s.to_string());
                tracing::info!(
                    source,
                    status,
                    new = outcome.counts.new,
                    updated = outcome.counts.updated,
                    duplicate = outcome.counts.duplicate,
                    unchanged = outcome.counts.unchanged,
                    removed = outcome.counts.removed,
                    pruned = outcome.counts.pruned,
                    ms = elapsed_ms,
                    next = next_text,
                    "polled"
                );
                if let Some(moved) = &outcome.moved_to {
                    tracing::warn!(
                        source,
                        "moved permanently to {moved}: polling it there from now on; update its url in the config"
                    );
                }
                outcome.counts.changed()
            }
            Err(error) => {
                tracing::warn!(
                    source,
                    url = self
                        .status
                        .update(source, |s| s.url.clone())
                        .unwrap_or_default(),
                    status = error
                        .status()
                        .map_or_else(|| "-".to_string(), |s| s.to_string()),
                    ms = elapsed_ms,
                    "poll failed, stored entries are kept, next attempt {next_text}: {error}"
                );
                false
            }
        };
        self.status.update(source, |status| {
            status.last_attempt = Some(now);
            status.next_poll = next;
            status.http_status = result
                .as_ref()
                .map_or_else(PollError::status, |outcome| outcome.status);
            match &result {
                Ok(outcome) => {
                    status.state = Health::Ok;
                    status.last_success = Some(now);
                    status.last_error = None;
                    status.consecutive_failures = 0;
                    status.url.clone_from(&outcome.url);
                }
                Err(error) => {
                    status.state = match error {
                        PollError::Gone => Health::Gone,
                        _ => Health::Failing,
                    };
                    status.last_error = Some(error.to_string());
                    status.consecutive_failures += 1;
                }
            }
        });
        self.republish(changed).await;
    }

    /// Renders the served documents: the feeds when entries changed, the index always (it
    /// shows every source's health).
    async fn republish(&self, entries_changed: bool) {
        let _exclusive = self.republishing.lock().await;
        if !entries_changed {
            self.publisher
                .publish_status(&self.config.feed, &self.status.snapshot());
            return;
        }
        let read = async {
            self.status
                .set_entry_counts(&self.store.entry_counts().await?);
            let entries = self.store.latest(self.config.feed.max_entries).await?;
            let slices = render_slices(&self.store, &self.config).await?;
            Ok::<_, StoreError>((entries, slices))
        };
        match read.await {
            Ok((entries, slices)) => {
                self.publisher.publish(
                    &self.config.feed,
                    &entries,
                    slices,
                    &self.status.snapshot(),
                );
            }
            Err(error) => tracing::error!(
                "cannot read the store to re-render the feeds; serving the previous rendering: {error}"
            ),
        }
    }

    /// Polls every source and the seeds folder once, concurrently, as `tributary once` does.
    /// Returns how many sources succeeded and how many failed (the seeds folder included).
    pub async fn poll_everything_once(&self) -> (usize, usize) {
        let polls = self
            .config
            .sources
            .iter()
            .map(|source| self.poll_source(source));
        futures_util::future::join(futures_util::future::join_all(polls), self.poll_seeds()).await;
        let board = self.status.snapshot();
        let succeeded = board
            .iter()
            .filter(|source| source.state == Health::Ok)
            .count();
        (succeeded, board.len() - succeeded)
    }

    /// Writes the current rendering into `dir` (created if missing) for static hosting.
    pub fn write_documents(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir)?;
        let rendered = self.publisher.current();
        let mut written = Vec::new();
        for (name, document) in [
            ("feed.atom", &rendered.merged.atom),
            ("feed.rss", &rendered.merged.rss),
            ("feed.json", &rendered.merged.json),
            ("index.html", &rendered.index),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, &document.body)?;
            written.push(path);
        }
        Ok(written)
    }

    /// Closes the store; for one-shot runs that never `start`.
    pub async fn close(&self) {
        self.store.close().await;
    }

    /// Binds the HTTP listener, then starts serving and polling every source and the seeds
    /// folder right away and afterwards on their schedules.
    pub async fn start(self) -> Result<RunningApp, AppError> {
        let addr = self.config.listen;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| AppError::Listen { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| AppError::Listen { addr, source })?;
        let app = Arc::new(self);
        let mut tasks = JoinSet::new();

        let (stop_serving, stopped) = oneshot::channel::<()>();
        let router = server::router(ServerState {
            publisher: Arc::clone(&app.publisher),
            store: app.store.clone(),
            config: Arc::clone(&app.config),
            status: Arc::clone(&app.status),
            cache_control: cache_control(&app.config),
            opml: Arc::new(crate::publish::opml_document(&app.config)),
        });
        let server = tokio::spawn(async move {
            let result = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(error) = result {
                tracing::error!("the HTTP server stopped: {error}");
            }
        });

        if let Some(seeds) = &app.config.seeds {
            let polling = Arc::clone(&app);
            tasks.spawn(async move { keep_polling(|| polling.poll_seeds()).await });
            let (changed, mut changes) = mpsc::channel(1);
            match watch::watch(seeds, changed) {
                Ok(watcher) => {
                    let app = Arc::clone(&app);
                    tasks.spawn(async move {
                        // The watcher lives as long as this task.
                        let _watcher = watcher;
                        while changes.recv().await.is_some() {
                            app.poll_seeds().await;
                        }
                    });
                }
                Err(error) => tracing::warn!(
                    "cannot watch the seeds folder {}: {error}; changes show at the scheduled rescans (try seeds.watch: poll)",
                    seeds.dir.display()
                ),
            }
        }
        for source in app.config.sources.clone() {
            let app = Arc::clone(&app);
            tasks.spawn(async move { keep_polling(|| app.poll_source(&source)).await });
        }
        tracing::info!(
            "serving {} feeds from {} sources{} on http://{local_addr}/",
            app.config.feed.title,
            app.config.sources.len(),
            if app.config.seeds.is_some() {
                " and the seeds folder"
            } else {
                ""
            },
        );
        Ok(RunningApp {
            addr: local_addr,
            app,
            tasks,
            stop_serving,
            server,
        })
    }
}

/// The feeds of every source (the seeds folder included) and of every tag, by URL prefix.
async fn render_slices(
    store: &Store,
    config: &Config,
) -> Result<HashMap<String, Feeds>, StoreError> {
    let mut wanted: Vec<(String, String, Vec<&str>)> = Vec::new();
    let seeds = config.seeds.as_ref().map(|_| SEEDS_SOURCE);
    for name in config
        .sources
        .iter()
        .map(|source| source.name.as_str())
        .chain(seeds)
    {
        wanted.push((format!("/sources/{name}"), name.to_string(), vec![name]));
    }
    let mut tags: Vec<&str> = config
        .sources
        .iter()
        .flat_map(|source| source.tags.iter().map(String::as_str))
        .collect();
    tags.sort_unstable();
    tags.dedup();
    for tag in tags {
        let members = config
            .sources
            .iter()
            .filter(|source| source.tags.iter().any(|t| t == tag))
            .map(|source| source.name.as_str())
            .collect();
        wanted.push((format!("/tags/{tag}"), format!("#{tag}"), members));
    }
    let mut slices = HashMap::with_capacity(wanted.len());
    for (prefix, label, members) in wanted {
        let entries = store.latest_from(&members, config.feed.max_entries).await?;
        let slice = Slice {
            settings: &config.feed,
            title: format!("{}: {label}", config.feed.title),
            prefix: prefix.clone(),
            query: String::new(),
        };
        slices.insert(prefix, Feeds::render(&slice, entries.into()));
    }
    Ok(slices)
}

/// Readers may keep a feed for one period of the default schedule: it cannot change sooner
/// unless a seed file does, and then a conditional request is cheap.
fn cache_control(config: &Config) -> axum::http::HeaderValue {
    let now = Utc::now();
    let period = config
        .schedule
        .next_after(now)
        .and_then(|next| Some((config.schedule.next_after(next)? - next).num_seconds()))
        .unwrap_or(0)
        .max(0);
    axum::http::HeaderValue::from_str(&format!("public, max-age={period}"))
        .expect("a valid header value")
}

/// A started daemon; `shutdown` stops it cleanly.
pub struct RunningApp {
    /// The address the HTTP server actually listens on (useful with port 0).
    pub addr: SocketAddr,
    app: Arc<App>,
    tasks: JoinSet<()>,
    stop_serving: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
}

impl RunningApp {
    pub fn app(&self) -> &App {
        &self.app
    }

    /// Stops polling, lets open HTTP requests finish, and closes the store. A poll cut short
    /// here loses nothing: its transaction was not committed and the next start polls again.
    pub async fn shutdown(mut self) {
        self.tasks.shutdown().await;
        let _ = self.stop_serving.send(());
        let _ = self.server.await;
        self.app.store.close().await;
    }
}
