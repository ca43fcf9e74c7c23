//! Batched rendering: polls mark what they changed, and one renderer redoes the documents those
//! changes touch, at most every `RENDER_INTERVAL`, so a cycle of thousands of polls renders a
//! few times a second rather than once per source.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{Mutex, Notify, watch};
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::model::Entry;
use crate::publish::Publisher;
use crate::select::{self, Picking, Selection};
use crate::status::StatusBoard;
use crate::store::{Store, StoreError};

use super::source_names;

/// While polls keep finishing, the feeds are rendered at most this often: a poll cycle of
/// thousands of sources renders a few times a second, not once per source.
const RENDER_INTERVAL: Duration = Duration::from_millis(250);

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

/// Renders the published documents from the store: what changed since the last rendering.
pub(super) struct Renderer {
    store: Store,
    status: Arc<StatusBoard>,
    metrics: Arc<Metrics>,
    pub(super) publisher: Arc<Publisher>,
    /// Serializes "read the newest entries, render, swap" so an older rendering never replaces a
    /// newer one when two polls finish together.
    rendering: Mutex<()>,
    pending: std::sync::Mutex<Pending>,
    /// Wakes `keep_rendering`.
    wanted: Notify,
    /// Whether the last rendering could not read the store.
    store_failing: AtomicBool,
}

impl Renderer {
    /// Renders everything `store` holds, so the feeds are served complete from the first
    /// request, before any source has answered.
    pub(super) async fn open(
        store: Store,
        status: Arc<StatusBoard>,
        metrics: Arc<Metrics>,
        config: &Arc<Config>,
    ) -> Result<Renderer, StoreError> {
        count_entries(&store, &status, &metrics, None).await?;
        count_hidden(&store, config, &status, &source_names(config)).await?;
        let entries = pick_merged(&store, config).await?;
        let publisher = Publisher::new(
            store.clone(),
            Arc::clone(config),
            &entries,
            &status.snapshot(),
        );
        metrics.rendered();
        Ok(Renderer {
            store,
            status,
            metrics,
            publisher: Arc::new(publisher),
            rendering: Mutex::new(()),
            pending: std::sync::Mutex::default(),
            wanted: Notify::new(),
            store_failing: AtomicBool::new(false),
        })
    }

    /// The entries of `source` changed: its slice and the merged feeds are redone.
    pub(super) fn source_changed(&self, source: &str) {
        self.sources_changed([source.to_string()]);
    }

    pub(super) fn sources_changed(&self, sources: impl IntoIterator<Item = String>) {
        let mut pending = self.pending();
        pending.status = true;
        pending.sources.extend(sources);
    }

    /// Only health changed: the index is redone.
    pub(super) fn status_changed(&self) {
        self.pending().status = true;
    }

    /// The config changed: every document is redone.
    pub(super) fn everything_changed(&self) {
        self.pending().everything = true;
    }

    /// Wakes `keep_rendering` to render what is pending.
    pub(super) fn wake(&self) {
        self.wanted.notify_one();
    }

    /// Renders what changed since the last rendering: the merged feeds and the slices of the
    /// sources whose entries changed (everything after a config change), or only the index
    /// when only health changed.
    pub(super) async fn render(&self, config: &Arc<Config>) {
        let _exclusive = self.rendering.lock().await;
        let pending = std::mem::take(&mut *self.pending());
        if !pending.everything && pending.sources.is_empty() {
            if pending.status {
                self.publisher.publish_status(&self.status.snapshot());
            }
            return;
        }
        let changed = (!pending.everything).then_some(&pending.sources);
        let read_at = Utc::now();
        let read = async {
            let sources = match changed {
                Some(changed) => changed.iter().map(String::as_str).collect(),
                None => source_names(config),
            };
            count_hidden(&self.store, config, &self.status, &sources).await?;
            count_entries(&self.store, &self.status, &self.metrics, changed).await?;
            pick_merged(&self.store, config).await
        };
        match read.await {
            Ok(entries) => {
                let status = self.status.snapshot();
                self.publisher
                    .publish(Arc::clone(config), &entries, changed, &status, read_at);
                self.metrics.rendered();
                if self.store_failing.swap(false, Ordering::Relaxed) {
                    tracing::info!("the store answers again: the feeds are up to date");
                }
            }
            Err(error) => {
                // Said once until a rendering succeeds: it is tried again at every change.
                if !self.store_failing.swap(true, Ordering::Relaxed) {
                    tracing::error!(
                        "cannot read the store to re-render the feeds; serving the previous rendering until it answers: {error}"
                    );
                }
                let mut again = self.pending();
                again.everything |= pending.everything;
                again.sources.extend(pending.sources);
            }
        }
    }

    /// Renders what polls changed, when woken, at most every `RENDER_INTERVAL`, until `stop`
    /// turns true. `config` is read at each rendering: a reload swaps it.
    pub(super) fn keep_rendering(
        self: &Arc<Self>,
        config: impl Fn() -> Arc<Config> + Send + 'static,
        mut stop: watch::Receiver<bool>,
    ) -> JoinHandle<()> {
        let renderer = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = renderer.wanted.notified() => {}
                    _ = stop.wait_for(|stopped| *stopped) => return,
                }
                renderer.render(&config()).await;
                tokio::time::sleep(RENDER_INTERVAL).await;
            }
        })
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().expect("no code panics holding it")
    }
}

/// Brings the board's stored-entry counts, and the metric of their total, up to date: of the
/// sources in `changed` (a poll changes only its own source's entries), else of all. Counting
/// all of them at every rendering would read every stored row at each rendering.
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
