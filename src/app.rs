//! The running daemon: one `App` value that owns the store, the fetcher, the status board and
//! the published documents, and the tasks that poll sources and serve HTTP.
//!
//! The binary and the integration tests start exactly the same `App`, so what the tests see is
//! what users get.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, Notify, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::{self, Config, ConfigError, Overrides, Source};
use crate::connections;
use crate::fetch::Fetcher;
use crate::metrics::{self, Metrics};
use crate::model::{Entry, SEEDS_SOURCE};
use crate::parse::MAX_ENTRIES_PER_DOCUMENT;
use crate::pipeline::{self, PollError, PollOutcome};
use crate::publish::Publisher;
use crate::scheduler::{self, Politeness, PollResult, keep_polling};
use crate::seeds::watch as seeds_watch;
use crate::select::{self, Picking, Selection};
use crate::server::{self, ServerState};
use crate::status::{Health, StatusBoard};
use crate::store::{Claim, Coordination, Policy, Store, StoreError};

/// How long a stop waits for polls under way to finish their writes before cutting them off.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How often the config file is compared even without a notification: inotify does not see
/// writes made through another mount of the file (a file bind-mounted into a container), nor
/// network filesystems.
const CONFIG_CHECK_INTERVAL: Duration = Duration::from_secs(2);

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
    fetcher: ArcSwap<Fetcher>,
    publisher: Arc<Publisher>,
    status: Arc<StatusBoard>,
    metrics: Arc<Metrics>,
    /// Serializes "read the newest entries, render, swap" so an older rendering never replaces a
    /// newer one when two polls finish together.
    republishing: Mutex<()>,
    /// What changed since the last rendering.
    pending: std::sync::Mutex<Pending>,
    /// Wakes the renderer (see `start`), which coalesces the changes of many polls.
    render_wanted: Notify,
    /// The running polling tasks: remote sources by name, and the seeds folder's.
    pollers: std::sync::Mutex<Pollers>,
    /// Turns true when the daemon stops: polling loops end after the poll under way.
    stop: watch::Sender<bool>,
    /// On a shared store: whether it stopped answering this replica.
    shared_store_outage: Outage,
}

/// What the next rendering must redo.
#[derive(Default)]
struct Pending {
    /// Sources whose stored entries changed: the merged feed and their slices.
    sources: HashSet<String>,
    /// Every document (the config changed).
    everything: bool,
    /// Only health changed: the index.
    status: bool,
}

/// On a shared store: how often a replica looks for entries the others wrote, and how soon it
/// asks again for a source's turn when the database did not answer.
const OTHERS_CHECK_INTERVAL: Duration = Duration::from_secs(1);
const CLAIM_RETRY: Duration = Duration::from_secs(5);
/// The least wait before asking for a source's turn again: a replica whose clock runs ahead of
/// the database's would otherwise ask in a busy loop until the database's clock catches up.
const CLAIM_MIN_WAIT: Duration = Duration::from_millis(200);
/// A poll renews its lease every third of a lease, and not more often than this.
const MIN_RENEWAL_INTERVAL: Duration = Duration::from_millis(100);

/// Whether the shared store has stopped answering: said once when it stops and once when it
/// answers again, rather than once per source and attempt (thousands of lines a minute).
#[derive(Default)]
struct Outage(AtomicBool);

impl Outage {
    fn failed(&self, error: &StoreError) {
        if self.0.swap(true, Ordering::SeqCst) {
            tracing::debug!("the shared store still does not answer: {error}");
        } else {
            tracing::warn!(
                "the shared store does not answer: {error}; polling waits for it, the feeds stored so far are served, trying again every {}s",
                CLAIM_RETRY.as_secs()
            );
        }
    }

    fn answered(&self) {
        if self.0.swap(false, Ordering::SeqCst) {
            tracing::info!("the shared store answers again: polling resumes");
        }
    }
}

/// While polls keep finishing, the feeds are rendered at most this often: a poll cycle of
/// thousands of sources renders a few times a second, not once per source.
const RENDER_INTERVAL: Duration = Duration::from_millis(250);

#[derive(Default)]
struct Pollers {
    sources: HashMap<String, (Source, JoinHandle<()>)>,
    /// The rescans on schedule and the watcher's, for the seeds settings in force.
    seeds: Vec<JoinHandle<()>>,
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
        // The first reads of the whole store: where they find it damaged, the error says so.
        let store_path = config.storage_path.clone();
        let in_store = |error: StoreError| AppError::Store(error.in_store(&store_path));
        count_entries(&store, &status, &metrics, None)
            .await
            .map_err(in_store)?;
        count_hidden(&store, &config, &status, &source_names(&config))
            .await
            .map_err(in_store)?;
        let config = Arc::new(config);
        let entries = pick_merged(&store, &config).await.map_err(in_store)?;
        let publisher = Arc::new(Publisher::new(
            store.clone(),
            Arc::clone(&config),
            &entries,
            &status.snapshot(),
        ));
        metrics.rendered();
        Ok(App {
            fetcher: ArcSwap::from_pointee(Fetcher::new(&config.fetch, &config.feed.base_url)),
            config: ArcSwap::new(config),
            overrides,
            store,
            publisher,
            status,
            metrics,
            republishing: Mutex::new(()),
            pending: std::sync::Mutex::default(),
            render_wanted: Notify::new(),
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

    /// Polls one remote source now, records and logs the outcome, re-renders if anything
    /// changed, and returns when to poll it next (`None`: never, it is gone).
    pub async fn poll_source(&self, source: &Source) -> Option<DateTime<Utc>> {
        let next = self.poll_source_for_later(source).await;
        self.render_pending().await;
        next
    }

    /// Polls `source` like `poll_source_for_later` when it is this replica's turn: always on a
    /// store of its own; on a shared one, while it holds the source's lease, which it renews
    /// every third of a lease until the poll ends, so a slow poll keeps it. Returns when to
    /// poll it, or ask for its turn, next.
    async fn poll_in_turn(&self, source: &Source) -> Option<DateTime<Utc>> {
        let Some(coordination) = self.store.coordination() else {
            return self.poll_source_for_later(source).await;
        };
        if let Claim::NotBefore(then) = self.claim(coordination, source).await {
            return then;
        }
        let lease = self.config.load().poll_lease;
        let renewing = async {
            let mut ticks = tokio::time::interval((lease / 3).max(MIN_RENEWAL_INTERVAL));
            ticks.tick().await;
            loop {
                ticks.tick().await;
                if let Err(error) = coordination
                    .renew(&source.name, source.url.as_str(), lease)
                    .await
                {
                    tracing::debug!(source = source.name, "cannot renew the lease: {error}");
                }
            }
        };
        let next = tokio::select! {
            next = self.poll_source_for_later(source) => next,
            never = renewing => never,
        };
        if let Err(error) = coordination
            .release(&source.name, source.url.as_str(), next)
            .await
        {
            tracing::warn!(
                source = source.name,
                "cannot hand the source's turn back to the shared store; it passes on when the lease ends: {error}"
            );
        }
        next
    }

    /// Whether this replica may poll `source` now on a shared store, or when to ask again.
    async fn claim(&self, coordination: &Coordination, source: &Source) -> Claim {
        let lease = self.config.load().poll_lease;
        match coordination
            .claim(&source.name, source.url.as_str(), lease)
            .await
        {
            Ok(claim) => {
                self.shared_store_outage.answered();
                match claim {
                    Claim::NotBefore(Some(then)) => {
                        Claim::NotBefore(Some(then.max(Utc::now() + CLAIM_MIN_WAIT)))
                    }
                    claim => claim,
                }
            }
            Err(error) => {
                self.shared_store_outage.failed(&error);
                Claim::NotBefore(Some(Utc::now() + CLAIM_RETRY))
            }
        }
    }

    /// Polls like `poll_source`, leaving the rendering to the renderer.
    async fn poll_source_for_later(&self, source: &Source) -> Option<DateTime<Utc>> {
        let started = Instant::now();
        let fetcher = self.fetcher.load_full();
        let result = pipeline::poll_source(&fetcher, &self.store, source).await;
        let now = Utc::now();
        let poll_result = match &result {
            Ok(_) => PollResult::Success,
            Err(PollError::Gone) => PollResult::Gone,
            Err(PollError::Fetch(error)) => PollResult::Failure {
                retry_after: error.retry_after(),
            },
            Err(_) => PollResult::Failure { retry_after: None },
        };
        self.metrics.poll(
            &source.name,
            match &result {
                Ok(outcome) if outcome.status == Some(304) => metrics::PollOutcome::not_modified,
                Ok(_) => metrics::PollOutcome::ok,
                Err(PollError::Gone) => metrics::PollOutcome::gone,
                Err(_) => metrics::PollOutcome::failed,
            },
            Some(started.elapsed().as_secs_f64()),
        );
        let failures = self
            .status
            .update(&source.name, |status| match poll_result {
                PollResult::Success => 0,
                _ => status.consecutive_failures + 1,
            })
            .unwrap_or_default();
        let fetch = &self.config.load().fetch;
        let rules = Politeness {
            min_interval: fetch.min_interval,
            jitter: fetch.jitter,
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
        let next = self.poll_seeds_for_later().await;
        self.render_pending().await;
        next
    }

    /// Reads the seeds folder like `poll_seeds`, leaving the rendering to the renderer.
    async fn poll_seeds_for_later(&self) -> Option<DateTime<Utc>> {
        let config = self.config();
        let seeds = config.seeds.as_ref()?;
        let started = Instant::now();
        let result = pipeline::poll_seeds(&self.store, seeds).await;
        self.metrics.poll(
            SEEDS_SOURCE,
            match &result {
                Ok(_) => metrics::PollOutcome::ok,
                Err(_) => metrics::PollOutcome::failed,
            },
            None,
        );
        let now = Utc::now();
        let next = config.schedule.next_after(now);
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
                if outcome.unread_entries > 0 {
                    tracing::warn!(
                        source,
                        "the document has {} entries more than the {MAX_ENTRIES_PER_DOCUMENT} read from each document: they were left out",
                        outcome.unread_entries
                    );
                }
                if let Some(moved) = &outcome.moved_to {
                    tracing::warn!(
                        source,
                        "moved permanently to {moved}: polling it there from now on; update its url in the config"
                    );
                }
                self.metrics
                    .ingested(outcome.counts.new, outcome.counts.duplicate);
                let changed = outcome.counts.changed();
                if changed
                    && let Err(error) =
                        count_hidden(&self.store, &self.config(), &self.status, &[source]).await
                {
                    tracing::warn!(source, "cannot count the entries filters hide: {error}");
                }
                changed
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
                    // A 304 says the document is the one whose repairs are shown.
                    if outcome.status != Some(304) {
                        if status.repaired.is_none()
                            && let Some(repaired) = &outcome.repaired
                        {
                            tracing::warn!(
                                source,
                                "the document is not well-formed: read with {} repair(s), the first {}; see `tributary parse {}`",
                                repaired.count,
                                repaired.first.first().map_or("", String::as_str),
                                outcome.url
                            );
                        }
                        status.repaired.clone_from(&outcome.repaired);
                    }
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
        let mut pending = self.pending.lock().expect("no code panics holding it");
        pending.status = true;
        if changed {
            pending.sources.insert(source.to_string());
        }
    }

    /// Renders what changed since the last rendering: the merged feeds and the slices of the
    /// sources whose entries changed (everything after a config change), or only the index when
    /// only health changed.
    async fn render_pending(&self) {
        let _exclusive = self.republishing.lock().await;
        let pending = std::mem::take(&mut *self.pending.lock().expect("no code panics holding it"));
        if !pending.everything && pending.sources.is_empty() {
            if pending.status {
                self.publisher.publish_status(&self.status.snapshot());
            }
            return;
        }
        let config = self.config();
        let changed = (!pending.everything).then_some(&pending.sources);
        let read = async {
            count_entries(&self.store, &self.status, &self.metrics, changed).await?;
            pick_merged(&self.store, &config).await
        };
        match read.await {
            Ok(entries) => {
                self.publisher.publish(
                    Arc::clone(&config),
                    &entries,
                    changed,
                    &self.status.snapshot(),
                );
                self.metrics.rendered();
            }
            Err(error) => {
                tracing::error!(
                    "cannot read the store to re-render the feeds; serving the previous rendering: {error}"
                );
                // Try again at the next change.
                let mut again = self.pending.lock().expect("no code panics holding it");
                again.everything |= pending.everything;
                again.sources.extend(pending.sources);
            }
        }
    }

    /// Marks that the feeds must be rendered and wakes the renderer.
    fn render_soon(&self) {
        self.render_wanted.notify_one();
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
                self.pending
                    .lock()
                    .expect("no code panics holding it")
                    .status = true;
                self.render_pending().await;
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
        if let Err(error) =
            count_hidden(&self.store, &newer, &self.status, &source_names(&newer)).await
        {
            tracing::warn!("cannot count the entries filters hide: {error}");
        }
        self.pending
            .lock()
            .expect("no code panics holding it")
            .everything = true;
        self.render_pending().await;
        Ok(())
    }

    /// Starts a polling task for every source of `config` that has none or whose URL or
    /// schedule changed, and stops those of sources that left. Returns the names added and
    /// removed.
    fn schedule_sources(self: &Arc<Self>, config: &Config) -> (Vec<String>, Vec<String>) {
        let mut pollers = self
            .pollers
            .lock()
            .expect("no code panics holding the pollers");
        let mut removed = Vec::new();
        pollers.sources.retain(|name, (_, task)| {
            let stays = config.source(name).is_some();
            if !stays {
                task.abort();
                self.status.unregister(name);
                self.metrics.forget_source(name);
                removed.push(name.clone());
            }
            stays
        });
        let mut added = Vec::new();
        for source in config.sources() {
            // The first poll: now for a new source or URL, else at the new schedule's next time.
            let first = match pollers.sources.get(&source.name) {
                None => None,
                Some((running, _)) if running.url != source.url => None,
                Some((running, _)) if running.schedule != source.schedule => {
                    source.schedule.next_after(Utc::now())
                }
                Some(_) => {
                    // Only tags changed: they matter to the slices, not to polling.
                    pollers.sources.get_mut(&source.name).expect("present").0 = source.clone();
                    continue;
                }
            };
            match pollers.sources.remove(&source.name) {
                Some((running, task)) => {
                    task.abort();
                    if running.url != source.url {
                        self.status.register(&source.name, source.url.as_str());
                    }
                }
                None => {
                    self.status.register(&source.name, source.url.as_str());
                    added.push(source.name.clone());
                }
            }
            let app = Arc::clone(self);
            let polled = source.clone();
            let task = tokio::spawn(keep_polling(first, self.stop.subscribe(), move || {
                let app = Arc::clone(&app);
                let source = polled.clone();
                // Boxed, so that a poller waiting for its next time holds a few bytes rather
                // than room for a whole poll (6 KB each, 60 MB for 10,000 sources).
                Box::pin(async move {
                    let next = app.poll_in_turn(&source).await;
                    app.render_soon();
                    next
                })
            }));
            pollers
                .sources
                .insert(source.name.clone(), (source.clone(), task));
        }
        (added, removed)
    }

    /// (Re)starts reading the seeds folder of `config` on schedule, the first time at `first`
    /// (now when `None`), and on change.
    fn schedule_seeds(self: &Arc<Self>, config: &Config, first: Option<DateTime<Utc>>) {
        let mut pollers = self
            .pollers
            .lock()
            .expect("no code panics holding the pollers");
        for task in pollers.seeds.drain(..) {
            task.abort();
        }
        let Some(seeds) = &config.seeds else {
            self.status.unregister(SEEDS_SOURCE);
            return;
        };
        self.status
            .register(SEEDS_SOURCE, &seeds.dir.display().to_string());
        let app = Arc::clone(self);
        pollers.seeds.push(tokio::spawn(keep_polling(
            first,
            self.stop.subscribe(),
            move || {
                let app = Arc::clone(&app);
                async move {
                    let next = app.poll_seeds_for_later().await;
                    app.render_soon();
                    next
                }
            },
        )));
        let (changed, mut changes) = mpsc::channel(1);
        match seeds_watch::watch(seeds, changed) {
            Ok(None) => {}
            Ok(Some(watcher)) => {
                let app = Arc::clone(self);
                let mut stop = self.stop.subscribe();
                pollers.seeds.push(tokio::spawn(async move {
                    // The watcher lives as long as this task.
                    let _watcher = watcher;
                    loop {
                        tokio::select! {
                            change = changes.recv() => if change.is_none() { return },
                            _ = stop.wait_for(|stopped| *stopped) => return,
                        }
                        app.poll_seeds_for_later().await;
                        app.render_soon();
                    }
                }));
            }
            Err(error) => tracing::warn!(
                "cannot watch the seeds folder {}: {error}; changes show at the scheduled rescans (try seeds.watch: poll)",
                seeds.dir.display()
            ),
        }
    }

    /// Renders what polls changed, when woken, at most every `RENDER_INTERVAL`, until the
    /// daemon stops.
    fn keep_rendering(self: &Arc<Self>) -> JoinHandle<()> {
        let app = Arc::clone(self);
        let mut stop = self.stop.subscribe();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = app.render_wanted.notified() => {}
                    _ = stop.wait_for(|stopped| *stopped) => return,
                }
                app.render_pending().await;
                tokio::time::sleep(RENDER_INTERVAL).await;
            }
        })
    }

    /// On a shared store, renders the feeds again when other replicas change sources' entries,
    /// until the daemon stops.
    fn follow_other_replicas(self: &Arc<Self>) {
        let Some(coordination) = self.store.coordination().cloned() else {
            return;
        };
        let app = Arc::clone(self);
        let mut stop = self.stop.subscribe();
        tokio::spawn(async move {
            // From the first change on: the first look renders again whatever was ever changed,
            // and so what other replicas changed since this one rendered at open.
            let mut seen = 0;
            let mut ticks = tokio::time::interval(OTHERS_CHECK_INTERVAL);
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    _ = stop.wait_for(|stopped| *stopped) => return,
                }
                match coordination.changes(&mut seen).await {
                    Ok(changed) => {
                        app.shared_store_outage.answered();
                        if !changed.is_empty() {
                            app.pending
                                .lock()
                                .expect("no code panics holding it")
                                .sources
                                .extend(changed);
                            app.render_soon();
                        }
                    }
                    Err(error) => app.shared_store_outage.failed(&error),
                }
            }
        });
    }

    /// Reloads the config when its file changes (a notification, or the periodic comparison)
    /// and on SIGHUP, until the daemon stops.
    fn watch_config(self: &Arc<Self>) -> JoinHandle<()> {
        let app = Arc::clone(self);
        let path = self.config().path.clone();
        let mut stop = self.stop.subscribe();
        tokio::spawn(async move {
            let (changed, mut changes) = mpsc::channel(1);
            let _watcher = config::watch::watch(&path, changed)
                .inspect_err(|error| {
                    tracing::warn!(
                        "cannot watch {}: {error}; edits are noticed within {}s or on SIGHUP",
                        path.display(),
                        CONFIG_CHECK_INTERVAL.as_secs()
                    );
                })
                .ok();
            let mut hangups = hangup_signals();
            let mut ticks = tokio::time::interval(CONFIG_CHECK_INTERVAL);
            let mut last_seen = std::fs::read(&path).ok();
            loop {
                let forced = tokio::select! {
                    _ = stop.wait_for(|stopped| *stopped) => return,
                    _ = changes.recv() => false,
                    _ = ticks.tick() => false,
                    _ = hangups.recv() => true,
                };
                let now_seen = std::fs::read(&path).ok();
                if forced {
                    tracing::info!("SIGHUP: reloading {}", path.display());
                } else if now_seen == last_seen {
                    continue;
                }
                let now_seen = settled_content(&path, now_seen).await;
                if !forced && now_seen.as_ref().is_none_or(Vec::is_empty) {
                    // Missing or empty for the moment of a rename or of a write that truncated
                    // it first (an empty config would remove every source): look again later.
                    continue;
                }
                last_seen = now_seen;
                let _ = app.reload().await;
            }
        })
    }

    /// Polls every source and the seeds folder once, concurrently, as `tributary once` does.
    /// Returns how many sources succeeded and how many failed (the seeds folder included).
    pub async fn poll_everything_once(&self) -> (usize, usize) {
        let config = self.config();
        let polls = config
            .sources()
            .iter()
            .map(|source| self.poll_source_for_later(source));
        futures_util::future::join(
            futures_util::future::join_all(polls),
            self.poll_seeds_for_later(),
        )
        .await;
        self.render_pending().await;
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
            publisher: Arc::clone(&app.publisher),
            store: app.store.clone(),
            status: Arc::clone(&app.status),
            metrics: Arc::clone(&app.metrics),
            last_ping: Default::default(),
        });
        let server = tokio::spawn(async move {
            connections::serve(listener, server, async {
                let _ = stopped.await;
            })
            .await;
        });

        let renderer = app.keep_rendering();
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

/// Brings the board's stored-entry counts, and the metric of their total, up to date: of the
/// sources in `changed` (a poll changes only its own source's entries), else of all. Counting
/// all of them at every rendering cost a read of every stored row four times a second.
async fn count_entries(
    store: &Store,
    status: &StatusBoard,
    metrics: &Metrics,
    changed: Option<&HashSet<String>>,
) -> Result<(), StoreError> {
    // The total can be corrected only by sources whose previous count the board holds.
    match changed.filter(|changed| status.lists_all(*changed)) {
        Some(changed) => {
            let counts = store
                .entry_counts_of(changed.iter().map(String::as_str))
                .await?;
            metrics.add_entries_stored(status.set_entry_counts(&counts));
        }
        None => {
            let counts = store.entry_counts().await?;
            status.set_all_entry_counts(&counts);
            metrics.set_entries_stored(counts.iter().map(|(_, count)| count).sum());
        }
    }
    Ok(())
}

/// Records on the board how many stored entries of each of `sources` the filters hide.
async fn count_hidden(
    store: &Store,
    config: &Config,
    status: &StatusBoard,
    sources: &[&str],
) -> Result<(), StoreError> {
    let selection = Selection::new(config, Utc::now());
    for source in sources {
        let hidden = select::hidden_count(store, &selection, source).await?;
        status.update(source, |status| status.hidden_by_filters = hidden);
    }
    Ok(())
}

/// The content of `path`, first read as `seen`, once two reads a moment apart agree (or after a
/// few tries): an editor or `echo >` writing it in several steps is not read halfway.
async fn settled_content(path: &Path, mut seen: Option<Vec<u8>>) -> Option<Vec<u8>> {
    for _ in 0..5 {
        tokio::time::sleep(CONFIG_SETTLE).await;
        let again = std::fs::read(path).ok();
        if again == seen {
            break;
        }
        seen = again;
    }
    seen
}

/// How long a config file must stay the same before it is read as edited.
const CONFIG_SETTLE: Duration = Duration::from_millis(100);

/// SIGHUP, the conventional "read your config again"; never fires where there is none.
fn hangup_signals() -> mpsc::Receiver<()> {
    let (sender, receiver) = mpsc::channel(1);
    #[cfg(unix)]
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(mut hangups) => {
            tokio::spawn(async move {
                while hangups.recv().await.is_some() {
                    let _ = sender.try_send(());
                }
            });
        }
        Err(error) => tracing::warn!("cannot handle SIGHUP: {error}"),
    }
    #[cfg(not(unix))]
    drop(sender);
    receiver
}

/// What the merged feeds show: newest first, by the config's selection and fair merge.
async fn pick_merged(store: &Store, config: &Config) -> Result<Vec<Entry>, StoreError> {
    select::pick(
        store,
        &Selection::new(config, Utc::now()),
        &Picking {
            sources: &source_names(config),
            limit: config.feed.max_entries,
            per_source: config.feed.max_per_source,
            prefix_titles: true,
        },
    )
    .await
}

/// A started daemon; `shutdown` stops it cleanly.
pub struct RunningApp {
    /// The address the HTTP server actually listens on (useful with port 0).
    pub addr: SocketAddr,
    app: Arc<App>,
    config_watch: JoinHandle<()>,
    renderer: JoinHandle<()>,
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
        let tasks: Vec<JoinHandle<()>> = {
            let mut pollers = self
                .app
                .pollers
                .lock()
                .expect("no code panics holding the pollers");
            let sources = std::mem::take(&mut pollers.sources);
            sources
                .into_values()
                .map(|(_, task)| task)
                .chain(pollers.seeds.drain(..))
                .chain([self.config_watch, self.renderer])
                .collect()
        };
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
