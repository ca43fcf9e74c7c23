//! One poll as the daemon runs it: the pipeline does the work, and its result is recorded once
//! — in the log, the metrics, the status board and the scheduler's next time — and marked for
//! the renderer.

use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::config::Source;
use crate::model::SEEDS_SOURCE;
use crate::parse::MAX_ENTRIES_PER_DOCUMENT;
use crate::pipeline::{self, PollOutcome, Polled};
use crate::scheduler::{self, Politeness};
use crate::status::Repaired;

use super::App;

impl App {
    /// Polls one remote source now, records and logs the outcome, re-renders if anything
    /// changed, fetches the articles its entries want and renders them, and returns when to
    /// poll it next (`None`: never, it is gone).
    pub async fn poll_source(&self, source: &Source) -> Option<DateTime<Utc>> {
        let next = self.poll_and_record(source).await;
        self.renderer.render(&self.config()).await;
        self.fetch_articles(source).await;
        self.renderer.render(&self.config()).await;
        next
    }

    /// Reads the seeds folder now (if configured), records and logs the outcome, re-renders if
    /// needed, and returns when to read it next.
    pub async fn poll_seeds(&self) -> Option<DateTime<Utc>> {
        let next = self.read_seeds_and_record().await;
        self.renderer.render(&self.config()).await;
        next
    }

    /// Polls `source` and records how it went, leaving the rendering to the renderer. Returns
    /// when to poll it next: its schedule, or later after failures.
    pub(super) async fn poll_and_record(&self, source: &Source) -> Option<DateTime<Utc>> {
        let started = Instant::now();
        let fetcher = self.fetcher.load_full();
        let polled = pipeline::poll_source(&fetcher, &self.store, source).await;
        self.metrics.poll(
            &source.name,
            (&polled).into(),
            Some(started.elapsed().as_secs_f64()),
        );
        let failures = self.failures_after(&source.name, &polled);
        let now = Utc::now();
        let fetch = &self.config.load().fetch;
        let rules = Politeness {
            min_interval: fetch.min_interval,
            jitter: fetch.jitter,
        };
        let result = (&polled).into();
        let next = scheduler::next_poll(
            &source.schedule,
            rules,
            result,
            failures,
            now,
            fastrand::f64(),
        );
        let next = self
            .subscriber
            .after_poll(&self.config(), source, &polled, next)
            .await;
        self.record(&source.name, started, &polled, failures, next);
        next
    }

    /// Reads the seeds folder and records how it went, leaving the rendering to the renderer.
    /// Returns when to read it next: on the top-level schedule, failed or not.
    pub(super) async fn read_seeds_and_record(&self) -> Option<DateTime<Utc>> {
        let config = self.config();
        let seeds = config.seeds.as_ref()?;
        let started = Instant::now();
        let polled = pipeline::poll_seeds(&self.store, seeds).await;
        self.metrics.poll(SEEDS_SOURCE, (&polled).into(), None);
        let failures = self.failures_after(SEEDS_SOURCE, &polled);
        let next = config.schedule.next_after(Utc::now());
        self.record(SEEDS_SOURCE, started, &polled, failures, next);
        next
    }

    /// How many polls of `source` have failed in a row, `polled` included.
    fn failures_after(&self, source: &str, polled: &Polled) -> u32 {
        match polled {
            Ok(_) => 0,
            Err(_) => self.status.consecutive_failures(source) + 1,
        }
    }

    /// Records a finished poll of `source` in the log, the ingest metrics and on the status
    /// board, and marks what the renderer must redo.
    fn record(
        &self,
        source: &str,
        started: Instant,
        polled: &Polled,
        failures: u32,
        next: Option<DateTime<Utc>>,
    ) {
        let newly_repaired = self
            .status
            .record_poll(source, polled, failures, Utc::now(), next);
        let log = PollLog {
            source,
            ms: started.elapsed().as_millis(),
            next: next.map_or_else(|| "never".to_string(), |next| next.to_rfc3339()),
        };
        match polled {
            Ok(outcome) => {
                log.polled(outcome, newly_repaired.as_ref());
                self.metrics
                    .ingested(outcome.counts.new, outcome.counts.duplicate);
                if outcome.counts.changed() {
                    self.renderer.source_changed(source);
                    return;
                }
            }
            Err(error) => log.failed(&self.status.url(source).unwrap_or_default(), error),
        }
        self.renderer.status_changed();
    }
}

/// The log lines of one finished poll.
struct PollLog<'a> {
    source: &'a str,
    ms: u128,
    next: String,
}

impl PollLog<'_> {
    /// A poll that succeeded; `newly_repaired`: the repairs its document needed, when the
    /// previous one needed none.
    fn polled(&self, outcome: &PollOutcome, newly_repaired: Option<&Repaired>) {
        let source = self.source;
        let status = outcome
            .status
            .map_or_else(|| "-".to_string(), |status| status.to_string());
        tracing::info!(
            source,
            status,
            new = outcome.counts.new,
            updated = outcome.counts.updated,
            duplicate = outcome.counts.duplicate,
            unchanged = outcome.counts.unchanged,
            removed = outcome.counts.removed,
            pruned = outcome.counts.pruned,
            ms = self.ms,
            next = self.next,
            "polled"
        );
        if outcome.unread_entries > 0 {
            tracing::warn!(
                source,
                "the document has {} entries more than the {MAX_ENTRIES_PER_DOCUMENT} read from each document: they were left out",
                outcome.unread_entries
            );
        }
        if let Some(warning) = &outcome.warning {
            tracing::warn!(source, "{warning}");
        }
        if let Some(moved) = &outcome.moved_to {
            tracing::warn!(
                source,
                "moved permanently to {moved}: polling it there from now on; update its url in the config"
            );
        }
        if let Some(repaired) = newly_repaired {
            tracing::warn!(
                source,
                "the document is not well-formed: read with {} repair(s), the first {}; see `tributary parse {}`",
                repaired.count,
                repaired.first.first().map_or("", String::as_str),
                outcome.url
            );
        }
    }

    fn failed(&self, url: &str, error: &pipeline::PollError) {
        tracing::warn!(
            source = self.source,
            url,
            status = error
                .status()
                .map_or_else(|| "-".to_string(), |status| status.to_string()),
            ms = self.ms,
            "poll failed, stored entries are kept, next attempt {}: {error}",
            self.next
        );
    }
}
