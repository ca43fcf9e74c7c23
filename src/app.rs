//! The running daemon: one `App` value that owns the store, the fetcher and the published
//! documents, and the tasks that poll sources on their schedules and serve HTTP.
//!
//! The binary and the integration tests start exactly the same `App`, so what the tests see is
//! what users get.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::net::TcpListener;
use tokio::sync::{Mutex, oneshot};
use tokio::task::JoinSet;

use crate::config::{Config, Source};
use crate::fetch::Fetcher;
use crate::model::SEEDS_SOURCE;
use crate::pipeline::{self, PollError, PollOutcome};
use crate::publish::Publisher;
use crate::scheduler::run_on_schedule;
use crate::server::{self, ServerState};
use crate::store::{Store, StoreError};

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
    /// Serializes "read the newest entries, render, swap" so an older rendering never replaces a
    /// newer one when two polls finish together.
    republishing: Mutex<()>,
}

impl App {
    /// Opens the store and renders what it already holds, so the feeds are served complete from
    /// the first request, before any source has answered.
    pub async fn open(config: Config) -> Result<App, AppError> {
        let store = Store::open(&config.storage_path).await?;
        let entries = store.latest(config.feed.max_entries).await?;
        let publisher = Arc::new(Publisher::new(&config.feed, &entries));
        Ok(App {
            fetcher: Fetcher::new(&config.feed.base_url),
            config: Arc::new(config),
            store,
            publisher,
            republishing: Mutex::new(()),
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Polls one remote source now, logs the outcome and re-renders if anything changed.
    pub async fn poll_source(&self, source: &Source) {
        let started = Instant::now();
        let result = pipeline::poll_source(&self.fetcher, &self.store, source).await;
        self.finish_poll(&source.name, source.url.as_str(), started, result)
            .await;
    }

    /// Reads the seeds folder now (if configured), logs the outcome and re-renders if needed.
    pub async fn poll_seeds(&self) {
        let Some(seeds) = &self.config.seeds else {
            return;
        };
        let started = Instant::now();
        let result = pipeline::poll_seeds(&self.store, &seeds.dir).await;
        let location = seeds.dir.display().to_string();
        self.finish_poll(SEEDS_SOURCE, &location, started, result)
            .await;
    }

    async fn finish_poll(
        &self,
        source: &str,
        location: &str,
        started: Instant,
        result: Result<PollOutcome, PollError>,
    ) {
        let elapsed_ms = started.elapsed().as_millis();
        match result {
            Ok(PollOutcome { status, counts }) => {
                tracing::info!(
                    source,
                    status = status.map_or_else(|| "-".to_string(), |s| s.to_string()),
                    new = counts.new,
                    updated = counts.updated,
                    duplicate = counts.duplicate,
                    unchanged = counts.unchanged,
                    ms = elapsed_ms,
                    "polled"
                );
                if counts.changed() {
                    self.republish().await;
                }
            }
            Err(error) => tracing::warn!(
                source,
                url = location,
                status = error
                    .status()
                    .map_or_else(|| "-".to_string(), |s| s.to_string()),
                ms = elapsed_ms,
                "poll failed, stored entries are kept, retrying on schedule: {error}"
            ),
        }
    }

    /// Renders the newest entries into the served documents.
    async fn republish(&self) {
        let _exclusive = self.republishing.lock().await;
        match self.store.latest(self.config.feed.max_entries).await {
            Ok(entries) => self.publisher.publish(&self.config.feed, &entries),
            Err(error) => tracing::error!(
                "cannot read the store to re-render the feeds; serving the previous rendering: {error}"
            ),
        }
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

        if app.config.seeds.is_some() {
            let app = Arc::clone(&app);
            tasks.spawn(async move {
                let schedule = app.config.schedule.clone();
                run_on_schedule(SEEDS_SOURCE, &schedule, || app.poll_seeds()).await;
            });
        }
        for source in app.config.sources.clone() {
            let app = Arc::clone(&app);
            tasks.spawn(async move {
                run_on_schedule(&source.name, &source.schedule, || app.poll_source(&source)).await;
            });
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
