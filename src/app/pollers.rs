//! The registry of polling tasks: one per remote source, and the seeds folder's rescans and
//! watcher. A reload starts, restarts and stops them to match the config; a stop collects them.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::{Config, SeedsSettings, Source};
use crate::model::SEEDS_SOURCE;
use crate::scheduler::keep_polling;
use crate::seeds::watch as seeds_watch;

use super::App;

/// The running polling tasks.
#[derive(Default)]
pub(super) struct Pollers {
    /// Each remote source's task, by name, with the settings it polls by.
    sources: HashMap<String, (Source, JoinHandle<()>)>,
    /// The rescans on schedule and the watcher's, for the seeds settings in force.
    seeds: Vec<JoinHandle<()>>,
}

impl Pollers {
    /// Takes every task out, for a stop to wait for.
    pub(super) fn take_all(&mut self) -> Vec<JoinHandle<()>> {
        std::mem::take(&mut self.sources)
            .into_values()
            .map(|(_, task)| task)
            .chain(self.seeds.drain(..))
            .collect()
    }
}

impl App {
    fn pollers(&self) -> std::sync::MutexGuard<'_, Pollers> {
        self.pollers
            .lock()
            .expect("no code panics holding the pollers")
    }

    /// Starts a polling task for every source of `config` that has none or whose schedule or
    /// way of fetching and reading changed, and stops those of sources that left. Returns the names added and
    /// removed.
    pub(super) fn schedule_sources(
        self: &Arc<Self>,
        config: &Config,
    ) -> (Vec<String>, Vec<String>) {
        let mut pollers = self.pollers();
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
            // The first poll: now for a new source, or one fetched or read differently (URL,
            // headers, recipe), else at the new schedule's next time.
            let first = match pollers.sources.get_mut(&source.name) {
                None => None,
                Some((running, _)) if !running.reads_like(source) => None,
                Some((running, _)) if running.schedule != source.schedule => {
                    source.schedule.next_after(Utc::now())
                }
                Some((running, _)) => {
                    // Only what slices and articles read changed (tags, filters, full_text):
                    // they read it from the config in force.
                    *running = source.clone();
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
            let task = self.keep_polling_source(source.clone(), first);
            pollers
                .sources
                .insert(source.name.clone(), (source.clone(), task));
        }
        (added, removed)
    }

    /// Polls `source` in turn, the first time at `first` (now when `None`), then on schedule.
    fn keep_polling_source(
        self: &Arc<Self>,
        source: Source,
        first: Option<DateTime<Utc>>,
    ) -> JoinHandle<()> {
        let app = Arc::clone(self);
        tokio::spawn(keep_polling(first, self.stop.subscribe(), move || {
            let app = Arc::clone(&app);
            let source = source.clone();
            // Boxed, so that a poller waiting for its next time holds a few bytes rather than
            // room for a whole poll.
            Box::pin(async move {
                let next = app.poll_in_turn(&source).await;
                app.renderer.wake();
                next
            })
        }))
    }

    /// (Re)starts reading the seeds folder of `config` on schedule, the first time at `first`
    /// (now when `None`), and on change.
    pub(super) fn schedule_seeds(self: &Arc<Self>, config: &Config, first: Option<DateTime<Utc>>) {
        let mut pollers = self.pollers();
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
                    let next = app.read_seeds_and_record().await;
                    app.renderer.wake();
                    next
                }
            },
        )));
        pollers.seeds.extend(self.watch_seeds(seeds));
    }

    /// Reads the seeds folder again whenever a file in it changes, until the daemon stops;
    /// `None` when the settings ask for no watching or the folder cannot be watched.
    fn watch_seeds(self: &Arc<Self>, seeds: &SeedsSettings) -> Option<JoinHandle<()>> {
        let (changed, mut changes) = mpsc::channel(1);
        let watcher = match seeds_watch::watch(seeds, changed) {
            Ok(watcher) => watcher?,
            Err(error) => {
                tracing::warn!(
                    "cannot watch the seeds folder {}: {error}; changes show at the scheduled rescans (try seeds.watch: poll)",
                    seeds.dir.display()
                );
                return None;
            }
        };
        let app = Arc::clone(self);
        let mut stop = self.stop.subscribe();
        Some(tokio::spawn(async move {
            // The watcher lives as long as this task.
            let _watcher = watcher;
            loop {
                tokio::select! {
                    change = changes.recv() => if change.is_none() { return },
                    _ = stop.wait_for(|stopped| *stopped) => return,
                }
                app.read_seeds_and_record().await;
                app.renderer.wake();
            }
        }))
    }
}
