//! What WebSub keeps: the hub's subscriptions to our feeds, and which of them has been
//! delivered which rendering, so a restart delivers nothing twice and replicas deliver each
//! change once.

use chrono::{DateTime, Utc};

use super::{Backend, Store, StoreError, statements};

/// A verified subscription to one of our feeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubSubscription {
    /// The feed's path below `base_url`, e.g. `/feed.atom`.
    pub topic: String,
    pub callback: String,
    pub secret: Option<String>,
    pub expires_at: DateTime<Utc>,
    /// The hash of the last rendering delivered, or being delivered.
    pub delivered: Option<String>,
}

/// A subscription verified with its subscriber, to be saved.
#[derive(Debug, Clone, Copy)]
pub struct HubRequest<'a> {
    pub topic: &'a str,
    pub callback: &'a str,
    pub secret: Option<&'a str>,
    pub expires_at: DateTime<Utc>,
    /// The rendering the subscriber has now: a new subscription is told of the next change.
    pub delivered: Option<&'a str>,
}

impl Store {
    /// Saves (or renews) a verified subscription, unless `max` others are held: then `false`.
    pub async fn hub_subscribe(
        &self,
        request: &HubRequest<'_>,
        max: usize,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        write_on_database!(
            self,
            |queries, transaction| queries::hub_subscribe(transaction, request, max, now),
            changed: |_saved| Vec::new()
        )
    }

    pub async fn hub_unsubscribe(&self, topic: &str, callback: &str) -> Result<(), StoreError> {
        write_on_database!(
            self,
            |queries, transaction| queries::hub_unsubscribe(transaction, topic, callback),
            changed: |_nothing| Vec::new()
        )
    }

    /// The subscriptions whose lease runs at `now`; those whose lease ended are forgotten.
    pub async fn hub_subscriptions(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<HubSubscription>, StoreError> {
        write_on_database!(
            self,
            |queries, transaction| queries::hub_subscriptions(transaction, now),
            changed: |_subscriptions| Vec::new()
        )
    }

    /// Takes the delivery of `rendering` (which read the store at `read_at`) of `topic` to
    /// `callback`: `true` for the one caller of every replica that takes it, `false` when it
    /// was taken, a newer rendering was, or the subscription is gone.
    pub async fn hub_take_delivery(
        &self,
        topic: &str,
        callback: &str,
        rendering: &str,
        read_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        write_on_database!(
            self,
            |queries, transaction| queries::hub_take_delivery(
                transaction,
                topic,
                callback,
                rendering,
                read_at
            ),
            changed: |_taken| Vec::new()
        )
    }
}
