//! tributary as the WebSub hub of its own feeds (WebSub §5.1–5.3, §7, §8): subscribers ask at
//! `POST /websub` to be told when one of our feeds changes, we check with their callback that
//! they asked (§5.3), keep the subscription in the store for its lease, and POST every new
//! rendering of the feed to them, signed with their secret.
//!
//! Callbacks are URLs strangers give us, so every request to one goes through the address
//! rule of untrusted links (`Fetcher::call_back`), at most `fetch.max_per_host` at once per
//! host. A change is delivered by the one replica that takes it in the store; a delivery that
//! fails is retried over about an hour (`RETRY_AFTER`), unless a newer rendering replaces it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::http::HeaderValue;
use chrono::Utc;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, LINK};
use serde::Deserialize;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;
use url::Url;

use super::signature;
use crate::config::Config;
use crate::fetch::Fetcher;
use crate::fetch::guard::{AddressRule, Refused};
use crate::metrics::{DeliveryLabel, Metrics};
use crate::publish::{Document, Publisher};
use crate::status::StatusBoard;
use crate::store::{HubRequest, HubSubscription, Store, StoreError};

/// The waits before each retry of a failed delivery: about an hour in all, then that change is
/// given up (a later one is delivered anew).
const RETRY_AFTER: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(2 * 60),
    Duration::from_secs(5 * 60),
    Duration::from_secs(10 * 60),
    Duration::from_secs(15 * 60),
    Duration::from_secs(30 * 60),
];

/// The longest `hub.secret` taken (§5.1: less than 200 bytes).
const MAX_SECRET: usize = 199;

/// Requests being verified at most: each costs a request to a URL a stranger chose, so a flood
/// of them is turned away rather than queued.
const MAX_VERIFYING: usize = 64;

/// How often subscriptions are looked at when no rendering asks, and those whose lease ended
/// forgotten.
const LOOK_EVERY: Duration = Duration::from_secs(60);

/// A subscription request's fields, as `application/x-www-form-urlencoded` (§5.1).
#[derive(Debug, Deserialize)]
pub struct SubscriptionForm {
    #[serde(rename = "hub.mode", default)]
    pub mode: String,
    #[serde(rename = "hub.topic", default)]
    pub topic: String,
    #[serde(rename = "hub.callback", default)]
    pub callback: String,
    #[serde(rename = "hub.lease_seconds")]
    pub lease_seconds: Option<String>,
    #[serde(rename = "hub.secret")]
    pub secret: Option<String>,
}

/// Why a subscription request was refused, as the 4xx answer's body says.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("this tributary is not a WebSub hub (websub.hub is false in its config)")]
    NotAHub,
    #[error("hub.mode {0:?} is neither \"subscribe\" nor \"unsubscribe\"")]
    Mode(String),
    #[error(
        "hub.topic {topic:?} is not a feed served here: use the URL of one, such as {base_url}/feed.atom, {base_url}/sources/NAME/feed.rss or {base_url}/tags/TAG/feed.json"
    )]
    Topic { topic: String, base_url: String },
    #[error("hub.callback {0:?} is not an http(s) URL")]
    Callback(String),
    #[error("hub.callback: {0}")]
    Address(#[from] Refused),
    #[error("hub.secret is {0} bytes long; it must be shorter than 200")]
    Secret(usize),
    #[error("hub.lease_seconds {0:?} is not a whole number of seconds")]
    Lease(String),
    #[error("this hub holds its most subscriptions ({0}, websub.max_subscriptions)")]
    Full(usize),
    #[error("this hub is verifying {MAX_VERIFYING} requests already; try again shortly")]
    Busy,
}

/// A request that passed the checks, to verify with its subscriber.
#[derive(Debug, Clone)]
struct Asked {
    subscribe: bool,
    /// The feed's path below `base_url`: what the store keeps, so a new `base_url` keeps the
    /// subscriptions.
    path: String,
    topic: String,
    callback: Url,
    lease: Duration,
    secret: Option<String>,
}

pub struct Hub {
    store: Store,
    publisher: Arc<Publisher>,
    fetcher: Arc<ArcSwap<Fetcher>>,
    status: Arc<StatusBoard>,
    metrics: Arc<Metrics>,
    /// Deliveries under way or waiting for a retry, by (topic path, callback), with the
    /// rendering each carries: a newer rendering takes the place, and the older one stops.
    in_flight: Mutex<HashMap<(String, String), String>>,
    /// Places for requests being verified (`MAX_VERIFYING`).
    verifying: Arc<Semaphore>,
}

impl Hub {
    pub fn new(
        store: Store,
        publisher: Arc<Publisher>,
        fetcher: Arc<ArcSwap<Fetcher>>,
        status: Arc<StatusBoard>,
        metrics: Arc<Metrics>,
    ) -> Hub {
        Hub {
            store,
            publisher,
            fetcher,
            status,
            metrics,
            in_flight: Mutex::default(),
            verifying: Arc::new(Semaphore::new(MAX_VERIFYING)),
        }
    }

    /// Takes a subscription request (§5.1): checks it at once, and verifies it with the
    /// subscriber afterwards (§5.3), so the caller answers 202 Accepted.
    pub async fn request(self: &Arc<Self>, form: SubscriptionForm) -> Result<(), Refusal> {
        let asked = self.check(form).await?;
        let place = Arc::clone(&self.verifying)
            .try_acquire_owned()
            .map_err(|_| Refusal::Busy)?;
        let hub = Arc::clone(self);
        tokio::spawn(async move {
            hub.verify(asked).await;
            drop(place);
        });
        Ok(())
    }

    async fn check(&self, form: SubscriptionForm) -> Result<Asked, Refusal> {
        let rendered = self.publisher.current();
        let config = &rendered.config;
        if !config.feed.hub {
            return Err(Refusal::NotAHub);
        }
        let subscribe = match form.mode.as_str() {
            "subscribe" => true,
            "unsubscribe" => false,
            _ => return Err(Refusal::Mode(form.mode)),
        };
        let not_a_topic = || Refusal::Topic {
            topic: form.topic.clone(),
            base_url: config.feed.base_url.clone(),
        };
        let path = form
            .topic
            .strip_prefix(&config.feed.base_url)
            .filter(|path| path.starts_with('/'))
            .ok_or_else(not_a_topic)?
            .to_string();
        if self.document(&path).await.is_none() {
            return Err(not_a_topic());
        }
        let callback = Url::parse(&form.callback)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https"))
            .ok_or_else(|| Refusal::Callback(form.callback.clone()))?;
        AddressRule::new(config.fetch.allow_private_addresses.clone()).check_url(&callback)?;
        let secret = form.secret.filter(|secret| !secret.is_empty());
        if let Some(secret) = &secret
            && secret.len() > MAX_SECRET
        {
            return Err(Refusal::Secret(secret.len()));
        }
        let asked_lease = form
            .lease_seconds
            .filter(|seconds| !seconds.trim().is_empty())
            .map(|seconds| {
                seconds
                    .trim()
                    .parse()
                    .map(Duration::from_secs)
                    .map_err(|_| Refusal::Lease(seconds.clone()))
            })
            .transpose()?;
        if subscribe && self.status.hub().subscriptions >= config.websub.max_subscriptions {
            // Renewals are let through: the store counts only the others.
            let held = self.store.hub_subscriptions(Utc::now()).await;
            let renewal = held.iter().flatten().any(|subscription| {
                subscription.topic == path && subscription.callback == callback.as_str()
            });
            if !renewal {
                return Err(Refusal::Full(config.websub.max_subscriptions));
            }
        }
        Ok(Asked {
            subscribe,
            path,
            topic: form.topic,
            callback,
            lease: config.websub.lease_for(asked_lease),
            secret,
        })
    }

    /// The current document at `path` (below `base_url`), if it is a feed we serve.
    async fn document(&self, path: &str) -> Option<Document> {
        let (prefix, file) = path.rsplit_once('/')?;
        let feeds = self.publisher.feeds(prefix, None).await.ok()??;
        feeds.by_file_name(file).cloned()
    }

    /// Asks the callback whether it wants what `asked` says (§5.3), and records the answer.
    async fn verify(&self, asked: Asked) {
        let challenge = signature::random_token(16);
        let mut url = asked.callback.clone();
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair(
                    "hub.mode",
                    if asked.subscribe {
                        "subscribe"
                    } else {
                        "unsubscribe"
                    },
                )
                .append_pair("hub.topic", &asked.topic)
                .append_pair("hub.challenge", &challenge);
            if asked.subscribe {
                query.append_pair("hub.lease_seconds", &asked.lease.as_secs().to_string());
            }
        }
        let fetcher = self.fetcher.load_full();
        let confirmed = match fetcher.call_back(&url, None).await {
            Ok((status, body)) => {
                status.is_success() && String::from_utf8_lossy(&body).trim() == challenge
            }
            Err(error) => {
                tracing::info!(callback = %asked.callback, "verifying a WebSub request: {error}");
                false
            }
        };
        if !confirmed {
            tracing::info!(
                callback = %asked.callback,
                topic = asked.topic,
                "the subscriber did not confirm; the request is dropped"
            );
            return;
        }
        let outcome = if asked.subscribe {
            self.save(&asked).await
        } else {
            self.store
                .hub_unsubscribe(&asked.path, asked.callback.as_str())
                .await
                .map(|()| true)
        };
        match outcome {
            Ok(true) => {
                tracing::info!(
                    callback = %asked.callback,
                    topic = asked.topic,
                    lease_seconds = asked.lease.as_secs(),
                    "WebSub {}",
                    if asked.subscribe {
                        "subscription verified"
                    } else {
                        "unsubscribed"
                    }
                );
            }
            Ok(false) => self.deny(&asked, &fetcher).await,
            Err(error) => tracing::error!(
                callback = %asked.callback,
                "cannot save a verified WebSub subscription: {error}"
            ),
        }
    }

    /// Saves a verified subscription; `false` when the hub is full.
    async fn save(&self, asked: &Asked) -> Result<bool, StoreError> {
        let now = Utc::now();
        let current = self.document(&asked.path).await;
        let config = self.config();
        let expires_at = now + chrono::Duration::from_std(asked.lease).unwrap_or_default();
        self.store
            .hub_subscribe(
                &HubRequest {
                    topic: &asked.path,
                    callback: asked.callback.as_str(),
                    secret: asked.secret.as_deref(),
                    expires_at,
                    delivered: current.as_ref().map(|document| document.hash.as_str()),
                },
                config.websub.max_subscriptions,
                now,
            )
            .await
    }

    /// Tells the callback its subscription was refused (§5.2).
    async fn deny(&self, asked: &Asked, fetcher: &Fetcher) {
        let mut url = asked.callback.clone();
        url.query_pairs_mut()
            .append_pair("hub.mode", "denied")
            .append_pair("hub.topic", &asked.topic)
            .append_pair(
                "hub.reason",
                &Refusal::Full(self.config().websub.max_subscriptions).to_string(),
            );
        if let Err(error) = fetcher.call_back(&url, None).await {
            tracing::info!(callback = %asked.callback, "telling a subscriber it was denied: {error}");
        }
    }

    fn config(&self) -> Arc<Config> {
        Arc::clone(&self.publisher.current().config)
    }

    /// Delivers changed feeds after each rendering (and looks at leases every `LOOK_EVERY`)
    /// until `stop` turns true.
    pub fn keep_delivering(self: &Arc<Self>, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
        let hub = Arc::clone(self);
        let mut renderings = self.publisher.renderings();
        tokio::spawn(async move {
            loop {
                hub.deliver_changes().await;
                let lease_check_due = tokio::select! {
                    _ = renderings.changed() => false,
                    _ = tokio::time::sleep(LOOK_EVERY) => true,
                    _ = stop.wait_for(|stopped| *stopped) => return,
                };
                if lease_check_due
                    && let Err(error) = hub.store.hub_forget_expired(Utc::now()).await
                {
                    tracing::warn!("cannot forget ended WebSub subscriptions: {error}");
                }
            }
        })
    }

    /// Starts a delivery to every subscriber whose topic's rendering it has not had.
    async fn deliver_changes(self: &Arc<Self>) {
        let rendered = self.publisher.current();
        if !rendered.config.feed.hub {
            return;
        }
        let subscriptions = match self.store.hub_subscriptions(Utc::now()).await {
            Ok(subscriptions) => subscriptions,
            Err(error) => {
                tracing::error!("cannot read the WebSub subscriptions: {error}");
                return;
            }
        };
        self.metrics.set_hub_subscriptions(subscriptions.len());
        self.status
            .update_hub(|hub| hub.subscriptions = subscriptions.len());
        let mut documents: HashMap<String, Option<Document>> = HashMap::new();
        for subscription in subscriptions {
            if !documents.contains_key(&subscription.topic) {
                let document = self.document(&subscription.topic).await;
                documents.insert(subscription.topic.clone(), document);
            }
            let Some(document) = &documents[&subscription.topic] else {
                // A source or tag that left the config: nothing to deliver until it is back or
                // the lease ends.
                continue;
            };
            if subscription.delivered.as_deref() == Some(document.hash.as_str()) {
                continue;
            }
            let taken = self
                .store
                .hub_take_delivery(
                    &subscription.topic,
                    &subscription.callback,
                    &document.hash,
                    rendered.read_at,
                )
                .await;
            match taken {
                Ok(true) => {
                    let key = (subscription.topic.clone(), subscription.callback.clone());
                    self.in_flight
                        .lock()
                        .expect("no code panics holding it")
                        .insert(key, document.hash.clone());
                    let hub = Arc::clone(self);
                    let document = document.clone();
                    tokio::spawn(async move { hub.deliver(subscription, document).await });
                }
                Ok(false) => {}
                Err(error) => tracing::error!("cannot take a WebSub delivery: {error}"),
            }
        }
    }

    /// POSTs `document` to the subscriber (§7), retrying failures over `RETRY_AFTER` while no
    /// newer rendering takes its place.
    async fn deliver(&self, subscription: HubSubscription, document: Document) {
        let key = (subscription.topic.clone(), subscription.callback.clone());
        let Ok(callback) = Url::parse(&subscription.callback) else {
            return;
        };
        let headers = delivery_headers(&subscription, &document);
        let waits = std::iter::once(Duration::ZERO).chain(RETRY_AFTER);
        for (attempt, wait) in waits.enumerate() {
            tokio::time::sleep(wait).await;
            if self.carrying(&key) != Some(document.hash.clone()) {
                return;
            }
            let fetcher = self.fetcher.load_full();
            let answer = fetcher
                .call_back(&callback, Some((headers.clone(), document.body.clone())))
                .await;
            let error = match answer {
                Ok((status, _)) if status.is_success() => {
                    self.metrics.delivery(DeliveryLabel::delivered);
                    self.status.update_hub(|hub| hub.delivered += 1);
                    self.finished(&key, &document.hash);
                    return;
                }
                Ok((StatusCode::GONE, _)) => {
                    // The subscriber says it is gone for good (§7: the hub may drop it).
                    tracing::info!(callback = %callback, "WebSub subscriber is gone (410); unsubscribed");
                    if let Err(error) = self
                        .store
                        .hub_unsubscribe(&subscription.topic, &subscription.callback)
                        .await
                    {
                        tracing::error!("cannot drop a gone WebSub subscriber: {error}");
                    }
                    self.finished(&key, &document.hash);
                    return;
                }
                Ok((status, _)) => format!("answered HTTP {status}"),
                Err(error) => error.to_string(),
            };
            self.metrics.delivery(DeliveryLabel::failed);
            self.status.update_hub(|hub| {
                hub.failed += 1;
                hub.last_error = Some(format!("{callback}: {error}"));
            });
            tracing::warn!(
                callback = %callback,
                topic = subscription.topic,
                attempt = attempt + 1,
                "delivering a changed feed failed: {error}"
            );
        }
        self.metrics.delivery(DeliveryLabel::given_up);
        tracing::warn!(
            callback = %callback,
            topic = subscription.topic,
            "gave up delivering this change after {} attempts; the next change is delivered anew",
            RETRY_AFTER.len() + 1
        );
        self.finished(&key, &document.hash);
    }

    /// The rendering a delivery to `key` carries now, if any.
    fn carrying(&self, key: &(String, String)) -> Option<String> {
        self.in_flight
            .lock()
            .expect("no code panics holding it")
            .get(key)
            .cloned()
    }

    /// The delivery of `hash` to `key` ended; a newer one in its place stays.
    fn finished(&self, key: &(String, String), hash: &str) {
        let mut in_flight = self.in_flight.lock().expect("no code panics holding it");
        if in_flight.get(key).is_some_and(|carried| carried == hash) {
            in_flight.remove(key);
        }
    }
}

/// The headers of a delivery (§7, §8): the feed's type, the hub and self links it is served
/// with, and the body's signature when the subscriber gave a secret.
fn delivery_headers(subscription: &HubSubscription, document: &Document) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(document.content_type),
    );
    if let Some(links) = &document.links {
        headers.insert(LINK, links.clone());
    }
    if let Some(secret) = &subscription.secret {
        let signed = signature::sign(secret, &document.body);
        headers.insert(
            HeaderName::from_static("x-hub-signature"),
            HeaderValue::from_str(&signed).expect("hex is a header value"),
        );
    }
    headers
}
