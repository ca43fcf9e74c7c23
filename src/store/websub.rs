//! What WebSub keeps: the hub's subscriptions to our feeds, and which of them has been
//! delivered which rendering, so a restart delivers nothing twice and replicas deliver each
//! change once; and our own subscriptions to the hubs of our sources (`PushRecord`), which
//! any replica may be called back about.

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

/// Where our subscription to a source's hub stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushState {
    /// Asked for; the hub has not verified it yet.
    Requested,
    /// Verified: the hub pushes until `lease_until`.
    Active,
    /// Verified, but polls found entries the hub did not push: polled as before, and asked
    /// again later.
    Silent,
    /// The source left the config or moved: ended, until the hub confirms.
    Unsubscribing,
}

impl PushState {
    pub fn as_str(self) -> &'static str {
        match self {
            PushState::Requested => "requested",
            PushState::Active => "active",
            PushState::Silent => "silent",
            PushState::Unsubscribing => "unsubscribing",
        }
    }

    fn parse(text: &str) -> Option<PushState> {
        [
            PushState::Requested,
            PushState::Active,
            PushState::Silent,
            PushState::Unsubscribing,
        ]
        .into_iter()
        .find(|state| state.as_str() == text)
    }
}

/// Our subscription of one source to its hub, known by the callback's `token`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushRecord {
    pub token: String,
    pub source: String,
    /// The source's URL when it subscribed: a new URL ends the subscription.
    pub url: String,
    pub hub: String,
    pub topic: String,
    pub secret: String,
    pub state: PushState,
    pub requested_at: DateTime<Utc>,
    pub lease_until: Option<DateTime<Utc>>,
    pub last_push: Option<DateTime<Utc>>,
}

/// A `websub_pushes` row as the databases give it.
pub(super) type PushRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
);

impl TryFrom<PushRow> for PushRecord {
    type Error = StoreError;

    fn try_from(row: PushRow) -> Result<PushRecord, StoreError> {
        let (token, source, url, hub, topic, secret, state, requested_at, lease_until, last_push) =
            row;
        let time = |millis: i64| DateTime::from_timestamp_millis(millis).unwrap_or_default();
        Ok(PushRecord {
            state: PushState::parse(&state).ok_or_else(|| StoreError::Corrupt {
                id: token.clone(),
                what: format!("{state:?} is not a WebSub subscription state"),
            })?,
            token,
            source,
            url,
            hub,
            topic,
            secret,
            requested_at: time(requested_at),
            lease_until: lease_until.map(time),
            last_push: last_push.map(time),
        })
    }
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

    /// The subscriptions whose lease runs at `now`.
    pub async fn hub_subscriptions(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<HubSubscription>, StoreError> {
        on_database!(self, |queries, pool| queries::hub_subscriptions(pool, now)
            .await)
    }

    /// Deletes the subscriptions whose lease ended by `now`.
    pub async fn hub_forget_expired(&self, now: DateTime<Utc>) -> Result<(), StoreError> {
        write_on_database!(
            self,
            |queries, transaction| queries::hub_forget_expired(transaction, now),
            changed: |_nothing| Vec::new()
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

    /// The subscription of `source` to its hub that is not being ended, if any.
    pub async fn push_of(&self, source: &str) -> Result<Option<PushRecord>, StoreError> {
        on_database!(self, |queries, pool| queries::push_of(pool, source).await)
    }

    /// The subscription called back at `token`.
    pub async fn push_by_token(&self, token: &str) -> Result<Option<PushRecord>, StoreError> {
        on_database!(self, |queries, pool| queries::push_by_token(pool, token)
            .await)
    }

    pub async fn all_pushes(&self) -> Result<Vec<PushRecord>, StoreError> {
        on_database!(self, |queries, pool| queries::all_pushes(pool).await)
    }

    pub async fn save_push(&self, push: &PushRecord) -> Result<(), StoreError> {
        write_on_database!(
            self,
            |queries, transaction| queries::save_push(transaction, push),
            changed: |_nothing| Vec::new()
        )
    }

    pub async fn delete_push(&self, token: &str) -> Result<(), StoreError> {
        write_on_database!(
            self,
            |queries, transaction| queries::delete_push(transaction, token),
            changed: |_nothing| Vec::new()
        )
    }
}
