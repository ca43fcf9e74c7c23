//! The running daemon: one `App` value that owns the store, the fetcher, the status board and
//! the renderer, and starts, reloads and stops the tasks that poll sources and serve HTTP.
//!
//! Each other job has its own module: `poll` (one poll, recorded), `articles` (the articles its
//! entries want, after it), `pollers` (the registry of polling tasks), `pushes` (documents
//! the sources' WebSub hubs push, read as polls' are), `render` (batched
//! rendering), `replicas` (sharing a store with other replicas) and `config_watch` (following
//! edits of the config file). The WebSub hub (`websub::hub`) delivers each rendering's changes.
//!
//! The binary and the integration tests start exactly the same `App`, so what the tests see is
//! what users get.

mod articles;
mod config_watch;
mod poll;
mod pollers;
mod pushes;
mod render;
mod replicas;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use chrono::Utc;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::{Config, ConfigError, Overrides};
use crate::connections;
use crate::fetch::Fetcher;
use crate::metrics::Metrics;
use crate::model::SEEDS_SOURCE;
use crate::server::{self, ServerState};
use crate::status::{Health, StatusBoard};
use crate::store::{Policy, Store, StoreError};
use crate::websub::hub::Hub;
use crate::websub::subscriber::{Pushed, Subscriber};

use pollers::Pollers;
use render::Renderer;
use replicas::Outage;

/// Pushed documents taken and waiting to be read, at most: a hub pushing faster than they are
/// read has the rest dropped (it pushes again at the next change, and polls still run).
const PUSHES_WAITING: usize = 64;

/// How long a stop waits for polls under way to finish their writes before cutting them off.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

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
    /// The configuration in force; a reload swaps it whole.
    config: ArcSwap<Config>,
    /// Command-line and environment settings, applied again at every reload.
    overrides: Overrides,
    store: Store,
    /// Shared with the hub, which calls subscribers back with it.
    fetcher: Arc<ArcSwap<Fetcher>>,
    status: Arc<StatusBoard>,
    metrics: Arc<Metrics>,
    /// Redoes the published documents that polls and reloads changed.
    renderer: Arc<Renderer>,
    /// Takes subscriptions to the feeds and delivers their changes (WebSub).
    hub: Arc<Hub>,
    /// Subscribes sources to their hubs and takes what the hubs push (WebSub).
    subscriber: Arc<Subscriber>,
    /// The documents `subscriber` took, until `start` reads them.
    pushed: std::sync::Mutex<Option<mpsc::Receiver<Pushed>>>,
    /// The running polling tasks: remote sources by name, and the seeds folder's.
    pollers: std::sync::Mutex<Pollers>,
    /// Turns true when the daemon stops: polling loops end after the poll under way.
    stop: watch::Sender<bool>,
    /// On a shared store: whether it stopped answering this replica.
    shared_store_outage: Outage,
}

impl App {
    /// Opens the store and renders what it already holds, so the feeds are served complete from
    /// the first request, before any source has answered. `overrides` were applied to `config`
    /// and are applied again at every reload.
    pub async fn open(config: Config, overrides: Overrides) -> Result<App, AppError> {
        let store = Store::open_configured(&config, policy(&config)).await?;
        let status = Arc::new(StatusBoard::default());
        if let Some(seeds) = &config.seeds {
            status.register(SEEDS_SOURCE, &seeds.dir.display().to_string());
        }
        for source in config.sources() {
            status.register(&source.name, source.url.as_str());
        }
        status.update_config(|state| {
            state.path = config.path.display().to_string();
            state.loaded_at = Some(Utc::now());
        });
        let metrics = Arc::new(Metrics::default());
        let config = Arc::new(config);
        // The first reads of the whole store: where they find it damaged, the error says so.
        let renderer = Renderer::open(
            store.clone(),
            Arc::clone(&status),
            Arc::clone(&metrics),
            &config,
        )
        .await
        .map_err(|error| AppError::Store(error.in_store(&config.storage_path)))?;
        let fetcher = Arc::new(ArcSwap::from_pointee(Fetcher::new(
            &config.fetch,
            &config.feed.base_url,
        )));
        let hub = Hub::new(
            store.clone(),
            Arc::clone(&renderer.publisher),
            Arc::clone(&fetcher),
            Arc::clone(&status),
            Arc::clone(&metrics),
        );
        let (push_sender, pushed) = mpsc::channel(PUSHES_WAITING);
        let subscriber = Subscriber::new(
            store.clone(),
            Arc::clone(&fetcher),
            Arc::clone(&status),
            push_sender,
        );
        Ok(App {
            subscriber: Arc::new(subscriber),
            pushed: std::sync::Mutex::new(Some(pushed)),
            fetcher,
            config: ArcSwap::new(config),
            overrides,
            store,
            status,
            metrics,
            renderer: Arc::new(renderer),
            hub: Arc::new(hub),
            pollers: std::sync::Mutex::default(),
            stop: watch::Sender::new(false),
            shared_store_outage: Outage::default(),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> Arc<Config> {
        self.config.load_full()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Reads the config file again and applies what changed: sources added, removed or
    /// changed, seeds, fetch and dedup settings, and everything the feeds say about themselves.
    /// An invalid file changes nothing and is reported (log, `/status`, the index) until an
    /// edit fixes it; `server.listen`, `storage.path` and `storage.url` wait for a restart.
    pub async fn reload(self: &Arc<Self>) -> Result<(), ConfigError> {
        let running = self.config();
        let mut newer = match Config::load_with(&running.path, &self.overrides) {
            Ok(newer) => newer,
            Err(error) => {
                tracing::error!("config not reloaded, the previous one stays in force: {error}");
                self.status
                    .update_config(|state| state.error = Some(error.to_string()));
                self.metrics.reload(false);
                self.renderer.status_changed();
                self.renderer.render(&running).await;
                return Err(error);
            }
        };
        let needs_restart = running.needing_restart(&newer);
        if !needs_restart.is_empty() {
            tracing::warn!(
                "{} changed in {}: restart tributary to apply",
                needs_restart.join(" and "),
                running.path.display()
            );
        }
        newer.listen = running.listen;
        newer.storage_path.clone_from(&running.storage_path);
        newer.storage_url.clone_from(&running.storage_url);
        self.status.update_config(|state| {
            state.error = None;
            state.needs_restart = needs_restart.iter().map(|key| key.to_string()).collect();
            state.loaded_at = Some(Utc::now());
        });
        let newer = Arc::new(newer);
        self.config.store(Arc::clone(&newer));
        self.store.set_policy(policy(&newer));
        if running.fetch != newer.fetch || running.feed.base_url != newer.feed.base_url {
            self.fetcher
                .store(Arc::new(Fetcher::new(&newer.fetch, &newer.feed.base_url)));
        }
        let (added, removed) = self.schedule_sources(&newer);
        self.subscriber.end_departed(&newer).await;
        if running.seeds != newer.seeds {
            self.schedule_seeds(&newer, None);
        }
        tracing::info!(
            added = added.join(", "),
            removed = removed.join(", "),
            sources = newer.sources().len(),
            "config reloaded"
        );
        self.metrics.reload(true);
        self.renderer.everything_changed();
        self.renderer.render(&newer).await;
        Ok(())
    }

    /// Polls every source and the seeds folder once, concurrently, as `tributary once` does.
    /// Returns how many sources succeeded and how many failed (the seeds folder included).
    pub async fn poll_everything_once(&self) -> (usize, usize) {
        let config = self.config();
        let polls = config
            .sources()
            .iter()
            .map(|source| self.poll_with_articles(source));
        futures_util::future::join(
            futures_util::future::join_all(polls),
            self.read_seeds_and_record(),
        )
        .await;
        self.renderer.render(&config).await;
        let board = self.status.sources();
        let succeeded = board
            .iter()
            .filter(|source| source.state == Health::Ok)
            .count();
        (succeeded, board.len() - succeeded)
    }

    /// Writes the current rendering into `dir` (created if missing) for static hosting.
    pub fn write_documents(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir)?;
        let rendered = self.renderer.publisher.current();
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

    /// Binds the HTTP listener, then starts serving, polling every source and the seeds folder
    /// right away and afterwards on their schedules, and following edits of the config file.
    pub async fn start(self) -> Result<RunningApp, AppError> {
        let addr = self.config().listen;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| AppError::Listen { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| AppError::Listen { addr, source })?;
        let app = Arc::new(self);
        // Local files are read before the first request is answered, so even a fresh store
        // serves the seeds from the start.
        let next_seeds_read = app.poll_seeds().await;

        let (stop_serving, stopped) = oneshot::channel::<()>();
        let server = server::Server::new(ServerState {
            publisher: Arc::clone(&app.renderer.publisher),
            store: app.store.clone(),
            status: Arc::clone(&app.status),
            metrics: Arc::clone(&app.metrics),
            last_ping: Default::default(),
            hub: Arc::clone(&app.hub),
            subscriber: Arc::clone(&app.subscriber),
        });
        let server = tokio::spawn(async move {
            connections::serve(listener, server, async {
                let _ = stopped.await;
            })
            .await;
        });

        let renderer = {
            let config_of = Arc::clone(&app);
            app.renderer
                .keep_rendering(move || config_of.config(), app.stop.subscribe())
        };
        let hub = app.hub.keep_delivering(app.stop.subscribe());
        let pushes = app.take_pushes();
        app.subscriber.end_departed(&app.config()).await;
        app.follow_other_replicas();
        let config = app.config();
        app.schedule_seeds(&config, next_seeds_read);
        app.schedule_sources(&config);
        let config_watch = app.watch_config();
        tracing::info!(
            "serving {} feeds from {} sources{} on http://{local_addr}/",
            config.feed.title,
            config.sources().len(),
            if config.seeds.is_some() {
                " and the seeds folder"
            } else {
                ""
            },
        );
        Ok(RunningApp {
            addr: local_addr,
            app,
            config_watch,
            renderer,
            hub,
            pushes,
            stop_serving,
            server,
        })
    }
}

/// The store's rules from the config.
fn policy(config: &Config) -> Policy {
    Policy {
        dedup: config.dedup,
        retention: config.retention,
    }
}

/// Every configured producer: the remote sources and the seeds folder. Entries of sources that
/// left the config stay stored but are no longer published.
fn source_names(config: &Config) -> Vec<&str> {
    let seeds = config.seeds.as_ref().map(|_| SEEDS_SOURCE);
    config
        .sources()
        .iter()
        .map(|source| source.name.as_str())
        .chain(seeds)
        .collect()
}

/// A started daemon; `shutdown` stops it cleanly.
pub struct RunningApp {
    /// The address the HTTP server actually listens on (useful with port 0).
    pub addr: SocketAddr,
    app: Arc<App>,
    config_watch: JoinHandle<()>,
    renderer: JoinHandle<()>,
    hub: JoinHandle<()>,
    pushes: JoinHandle<()>,
    stop_serving: oneshot::Sender<()>,
    server: JoinHandle<()>,
}

impl RunningApp {
    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// Stops scheduling, lets polls under way finish their writes (at most `SHUTDOWN_GRACE`,
    /// then they are cut off: an unfinished transaction rolls back, and the next start polls
    /// again), lets open HTTP requests finish, and closes the store.
    pub async fn shutdown(self) {
        self.app.stop.send_replace(true);
        let mut tasks = self
            .app
            .pollers
            .lock()
            .expect("no code panics holding the pollers")
            .take_all();
        tasks.extend([self.config_watch, self.renderer, self.hub, self.pushes]);
        let aborts: Vec<_> = tasks.iter().map(JoinHandle::abort_handle).collect();
        let finished =
            tokio::time::timeout(SHUTDOWN_GRACE, futures_util::future::join_all(tasks)).await;
        if finished.is_err() {
            tracing::warn!(
                "polls still under way after {}s were cut off; they run again at the next start",
                SHUTDOWN_GRACE.as_secs()
            );
            for abort in aborts {
                abort.abort();
            }
        }
        let _ = self.stop_serving.send(());
        let _ = self.server.await;
        self.app.store.close().await;
    }
}
