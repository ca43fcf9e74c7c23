//! Replicas sharing one PostgreSQL store: each source is polled by one replica at a time, the
//! one holding its lease, and every replica renders again what the others wrote. On a store of
//! its own, a replica polls every source itself and follows no one.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::Source;
use crate::store::{Claim, Coordination, StoreError};

use super::App;

/// How often a replica looks for entries the others wrote.
const OTHERS_CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// How soon a replica asks again for a source's turn when the database did not answer.
const CLAIM_RETRY: Duration = Duration::from_secs(5);
/// The least wait before asking for a source's turn again: a replica whose clock runs ahead of
/// the database's would otherwise ask in a busy loop until the database's clock catches up.
const CLAIM_MIN_WAIT: Duration = Duration::from_millis(200);
/// A poll renews its lease every third of a lease, and not more often than this.
const MIN_RENEWAL_INTERVAL: Duration = Duration::from_millis(100);

/// Whether the shared store has stopped answering: said once when it stops and once when it
/// answers again, rather than once per source and attempt (thousands of lines a minute).
#[derive(Default)]
pub(super) struct Outage(AtomicBool);

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

impl App {
    /// Polls `source` like `poll_with_articles` when it is this replica's turn: always on a store
    /// of its own; on a shared one, while it holds the source's lease, which it renews every
    /// third of a lease until the poll ends, so a slow poll keeps it. Returns when to poll it,
    /// or ask for its turn, next.
    pub(super) async fn poll_in_turn(&self, source: &Source) -> Option<DateTime<Utc>> {
        let Some(coordination) = self.store.coordination() else {
            return self.poll_with_articles(source).await;
        };
        if let Claim::NotBefore(then) = self.claim(coordination, source).await {
            return then;
        }
        let next = tokio::select! {
            next = self.poll_with_articles(source) => next,
            never = self.keep_renewing(coordination, source) => match never {},
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

    /// Renews this replica's lease of `source` every third of a lease, until dropped.
    async fn keep_renewing(&self, coordination: &Coordination, source: &Source) -> Infallible {
        let lease = self.config.load().poll_lease;
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
    }

    /// Whether this replica may poll `source` now on a shared store, or when to ask again.
    async fn claim(&self, coordination: &Coordination, source: &Source) -> Claim {
        let lease = self.config.load().poll_lease;
        match coordination
            .claim(&source.name, source.url.as_str(), lease)
            .await
        {
            Ok(Claim::NotBefore(Some(then))) => {
                self.shared_store_outage.answered();
                Claim::NotBefore(Some(then.max(Utc::now() + CLAIM_MIN_WAIT)))
            }
            Ok(claim) => {
                self.shared_store_outage.answered();
                claim
            }
            Err(error) => {
                self.shared_store_outage.failed(&error);
                Claim::NotBefore(Some(Utc::now() + CLAIM_RETRY))
            }
        }
    }

    /// On a shared store, renders the feeds again when other replicas change sources' entries,
    /// until the daemon stops.
    pub(super) fn follow_other_replicas(self: &Arc<Self>) {
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
                            app.renderer.sources_changed(changed);
                            app.renderer.wake();
                        }
                    }
                    Err(error) => app.shared_store_outage.failed(&error),
                }
            }
        });
    }
}
