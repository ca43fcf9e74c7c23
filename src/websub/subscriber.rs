//! tributary subscribing to the hubs its sources name (WebSub §5.1, §5.3, §7 and §8 as a
//! subscriber): after a poll whose document names a hub, the source is subscribed there with
//! a callback of its own, `{base_url}/websub/callback/{source}/{token}`, and a secret; the
//! hub's verification is answered, the lease renewed before it ends, and the subscription
//! ended when the source leaves the config or moves.
//!
//! A pushed document is taken only with a good signature, and is then read as a polled one
//! would be (`App::take_pushes`). While pushes work the source is still polled, but only every
//! `websub.safety_poll` (and before the lease ends, to renew it); when the hub stops
//! confirming, or a poll finds entries it did not push, polling goes back to the schedule.
//!
//! The records live in the store, so any replica can answer a hub's call, and a restart
//! keeps them.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::body::Bytes;
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use tokio::sync::mpsc;
use url::{Host, Url};

use super::signature;
use crate::config::{Config, Source};
use crate::fetch::Fetcher;
use crate::fetch::guard::is_public;
use crate::parse::WebSubLinks;
use crate::pipeline::Polled;
use crate::status::{PushStatus, StatusBoard};
use crate::store::{PushRecord, PushState, Store, StoreError};

/// A request that the hub has not verified after this long is made again at the next poll.
const ASK_AGAIN_AFTER: Duration = Duration::from_secs(60 * 60);

/// A hub found silent (polls found what it did not push) is asked again after this long.
const SILENT_FOR: Duration = Duration::from_secs(24 * 60 * 60);

/// The longest time before a lease ends at which it is renewed; shorter leases are renewed
/// in their last tenth.
const RENEW_BEFORE: Duration = Duration::from_secs(60 * 60);

/// A document a hub pushed for `source`, signature checked, to be read as a poll's.
#[derive(Debug)]
pub struct Pushed {
    pub source: String,
    pub content_type: Option<String>,
    pub body: Bytes,
}

/// Why a hub's call was not taken; each is answered as the spec asks.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    #[error("no subscription is called back here")]
    Unknown,
    #[error("the store did not answer: {0}")]
    Store(#[from] StoreError),
}

impl CallbackError {
    pub fn status(&self) -> StatusCode {
        match self {
            CallbackError::Unknown => StatusCode::NOT_FOUND,
            CallbackError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

pub struct Subscriber {
    store: Store,
    fetcher: Arc<ArcSwap<Fetcher>>,
    status: Arc<StatusBoard>,
    /// Where documents taken from hubs go to be read.
    pushed: mpsc::Sender<Pushed>,
}

impl Subscriber {
    pub fn new(
        store: Store,
        fetcher: Arc<ArcSwap<Fetcher>>,
        status: Arc<StatusBoard>,
        pushed: mpsc::Sender<Pushed>,
    ) -> Subscriber {
        Subscriber {
            store,
            fetcher,
            status,
            pushed,
        }
    }

    /// After a poll of `source`: subscribes it to the hub its document names, renews a lease
    /// that ends soon, or notes a hub that did not push what the poll found. Returns when to
    /// poll next: `next`, or later while the hub pushes.
    pub async fn after_poll(
        &self,
        config: &Config,
        source: &Source,
        polled: &Polled,
        next: Option<DateTime<Utc>>,
    ) -> Option<DateTime<Utc>> {
        if !config.websub.subscribe {
            return next;
        }
        let now = Utc::now();
        let record = match self.store.push_of(&source.name).await {
            Ok(record) => record,
            Err(error) => {
                tracing::warn!(
                    source = source.name,
                    "cannot read its WebSub subscription: {error}"
                );
                return next;
            }
        };
        let record = match (record, polled) {
            (Some(mut record), Ok(outcome)) if pushing(&record, now) && outcome.counts.new > 0 => {
                tracing::warn!(
                    source = source.name,
                    hub = record.hub,
                    "a poll found {} new entries the hub did not push; polling on schedule again",
                    outcome.counts.new
                );
                record.state = PushState::Silent;
                record.requested_at = now;
                self.save(&record).await;
                Some(record)
            }
            (record, _) => record,
        };
        let asked = match polled {
            Ok(outcome) => match &outcome.websub {
                Some(links) => {
                    self.follow(config, source, record.as_ref(), links, now)
                        .await
                }
                None => false,
            },
            Err(_) => false,
        };
        // A hub asked may have confirmed already, while it was being asked.
        let record = if asked {
            match self.store.push_of(&source.name).await {
                Ok(record) => record,
                Err(_) => return next,
            }
        } else {
            record
        };
        self.show(&source.name, record.as_ref());
        record.map_or(next, |record| {
            later_while_pushed(config, &record, next, now)
        })
    }

    /// Subscribes `source` to the hub `links` name unless `record` is that subscription and
    /// needs nothing yet; ends `record` when it is another. Whether a hub was asked anything.
    async fn follow(
        &self,
        config: &Config,
        source: &Source,
        record: Option<&PushRecord>,
        links: &WebSubLinks,
        now: DateTime<Utc>,
    ) -> bool {
        let Some(hub) = links.hubs.first() else {
            return false;
        };
        if !can_call_back(&config.feed.base_url, hub) {
            tracing::debug!(
                source = source.name,
                hub = %hub,
                "not subscribed: the hub could not reach feed.base_url {}",
                config.feed.base_url
            );
            return false;
        }
        let topic = links.topic.as_ref().unwrap_or(&source.url);
        let same = record.filter(|record| {
            record.url == source.url.as_str()
                && record.hub == hub.as_str()
                && record.topic == topic.as_str()
        });
        if let (Some(other), None) = (record, same) {
            self.end(config, other).await;
        }
        let wanted = match same {
            None => true,
            Some(record) => match record.state {
                PushState::Active => record
                    .lease_until
                    .is_none_or(|until| until - now <= renew_before(record)),
                PushState::Requested => elapsed(record.requested_at, now) >= ASK_AGAIN_AFTER,
                PushState::Silent => elapsed(record.requested_at, now) >= SILENT_FOR,
                PushState::Unsubscribing => false,
            },
        };
        if !wanted {
            return false;
        }
        // A renewal keeps its callback, secret and lease: the hub knows the subscription by
        // them, and pushes until the lease ends whether it confirms the renewal or not.
        let record = match same {
            Some(record) => PushRecord {
                requested_at: now,
                state: PushState::Requested,
                ..record.clone()
            },
            None => PushRecord {
                token: signature::random_token(16),
                source: source.name.clone(),
                url: source.url.to_string(),
                hub: hub.to_string(),
                topic: topic.to_string(),
                secret: signature::random_token(32),
                state: PushState::Requested,
                requested_at: now,
                lease_until: None,
                last_push: None,
            },
        };
        // Saved first: the hub may call back before it answers this request.
        self.save(&record).await;
        self.ask_hub(config, &record, "subscribe").await;
        true
    }

    /// Ends `record`'s subscription: the hub is asked to unsubscribe, and the record goes when
    /// it confirms (or is dropped now when it cannot be asked).
    async fn end(&self, config: &Config, record: &PushRecord) {
        let ending = PushRecord {
            state: PushState::Unsubscribing,
            ..record.clone()
        };
        self.save(&ending).await;
        if !self.ask_hub(config, &ending, "unsubscribe").await
            && let Err(error) = self.store.delete_push(&record.token).await
        {
            tracing::warn!(
                source = record.source,
                "cannot drop a WebSub subscription: {error}"
            );
        }
    }

    /// Ends the subscriptions of sources that left `config` or moved, and all of them when it
    /// subscribes no more.
    pub async fn end_departed(&self, config: &Config) {
        let records = match self.store.all_pushes().await {
            Ok(records) => records,
            Err(error) => {
                tracing::warn!("cannot read the WebSub subscriptions to end: {error}");
                return;
            }
        };
        for record in records {
            let stays = config.websub.subscribe
                && config
                    .source(&record.source)
                    .is_some_and(|source| source.url.as_str() == record.url);
            if !stays && record.state != PushState::Unsubscribing {
                tracing::info!(
                    source = record.source,
                    hub = record.hub,
                    "ending the WebSub subscription of a source that left or moved"
                );
                self.end(config, &record).await;
            }
        }
    }

    /// POSTs a subscription request to `record`'s hub (§5.1); whether the hub accepted it.
    async fn ask_hub(&self, config: &Config, record: &PushRecord, mode: &str) -> bool {
        let Ok(hub) = Url::parse(&record.hub) else {
            return false;
        };
        let callback = callback_url(config, record);
        let lease = config.websub.lease.as_secs().to_string();
        let mut fields = vec![
            ("hub.mode", mode),
            ("hub.topic", &record.topic),
            ("hub.callback", &callback),
        ];
        if mode == "subscribe" {
            fields.extend([
                ("hub.secret", record.secret.as_str()),
                ("hub.lease_seconds", &lease),
            ]);
        }
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let body = Bytes::from(body);
        let fetcher = self.fetcher.load_full();
        match fetcher.call_back(&hub, Some((headers, body))).await {
            Ok((status, _)) if status.is_success() => {
                tracing::info!(source = record.source, hub = %hub, "asked the hub to {mode}");
                true
            }
            Ok((status, answer)) => {
                tracing::warn!(
                    source = record.source,
                    hub = %hub,
                    "the hub refused to {mode} (HTTP {status}): {}",
                    String::from_utf8_lossy(&answer).trim()
                );
                false
            }
            Err(error) => {
                tracing::warn!(source = record.source, hub = %hub, "cannot ask the hub to {mode}: {error}");
                false
            }
        }
    }

    /// The hub's verification of intent (§5.3): the challenge to echo, when `source` asked
    /// for what `mode` says at this callback; a denial (§5.2) is noted.
    pub async fn verify(
        &self,
        source: &str,
        token: &str,
        mode: &str,
        topic: &str,
        lease_seconds: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<(), CallbackError> {
        let record = self
            .called_back(source, token, |record| record.topic == topic)
            .await?;
        match (mode, record.state) {
            ("subscribe", PushState::Requested | PushState::Active) => {
                let lease = Duration::from_secs(lease_seconds.unwrap_or(0));
                let confirmed = PushRecord {
                    state: PushState::Active,
                    requested_at: now,
                    lease_until: Some(now + chrono::Duration::from_std(lease).unwrap_or_default()),
                    ..record
                };
                self.store.save_push(&confirmed).await?;
                self.show(source, Some(&confirmed));
                tracing::info!(
                    source,
                    hub = confirmed.hub,
                    lease_seconds,
                    "WebSub subscription confirmed: the hub pushes"
                );
                Ok(())
            }
            ("unsubscribe", PushState::Unsubscribing) => {
                self.store.delete_push(token).await?;
                self.show(source, None);
                tracing::info!(source, hub = record.hub, "WebSub subscription ended");
                Ok(())
            }
            ("denied", _) => {
                tracing::warn!(
                    source,
                    hub = record.hub,
                    "the hub denied the WebSub subscription; polling on schedule"
                );
                self.store.delete_push(token).await?;
                self.show(source, None);
                Ok(())
            }
            _ => Err(CallbackError::Unknown),
        }
    }

    /// A document pushed to a callback (§7): taken when its signature (§8) is good. A bad or
    /// missing one is logged and dropped; the hub is answered 2xx all the same, as §8 asks.
    pub async fn receive(
        &self,
        source: &str,
        token: &str,
        headers: &HeaderMap,
        body: Bytes,
        now: DateTime<Utc>,
    ) -> Result<(), CallbackError> {
        let record = self
            .called_back(source, token, |record| {
                record.state != PushState::Unsubscribing
            })
            .await?;
        let signed = headers
            .get("x-hub-signature")
            .and_then(|value| value.to_str().ok())
            .is_some_and(|header| signature::verify(&record.secret, header, &body));
        if !signed {
            tracing::warn!(
                source,
                hub = record.hub,
                "dropped a pushed document whose X-Hub-Signature is missing or wrong"
            );
            return Ok(());
        }
        let content_type = headers
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string);
        let record = PushRecord {
            last_push: Some(now),
            ..record
        };
        self.store.save_push(&record).await?;
        self.show(source, Some(&record));
        // A full queue holds documents enough to read; the hub pushes again at the next change.
        if self
            .pushed
            .try_send(Pushed {
                source: source.to_string(),
                content_type,
                body,
            })
            .is_err()
        {
            tracing::warn!(
                source,
                "too many pushed documents waiting to be read; this one is dropped"
            );
        }
        Ok(())
    }

    /// The subscription of `source` called back at `token`, if it is one and `fits`.
    async fn called_back(
        &self,
        source: &str,
        token: &str,
        fits: impl Fn(&PushRecord) -> bool,
    ) -> Result<PushRecord, CallbackError> {
        self.store
            .push_by_token(token)
            .await?
            .filter(|record| record.source == source && fits(record))
            .ok_or(CallbackError::Unknown)
    }

    async fn save(&self, record: &PushRecord) {
        match self.store.save_push(record).await {
            Ok(()) => self.show(&record.source, Some(record)),
            Err(error) => {
                tracing::warn!(
                    source = record.source,
                    "cannot save its WebSub subscription: {error}"
                );
            }
        }
    }

    /// Puts `record`, the subscription of `source`, on the status board.
    fn show(&self, source: &str, record: Option<&PushRecord>) {
        self.status.update(source, |status| {
            status.push = record.map(|record| PushStatus {
                hub: record.hub.clone(),
                state: record.state.as_str(),
                lease_until: record.lease_until,
                last_push: record.last_push,
            });
        });
    }
}

/// Whether a hub at `hub` could call us back at `base_url`: one on a loopback or private
/// address (the default `base_url` is) is reached only by hubs on such addresses too.
fn can_call_back(base_url: &str, hub: &Url) -> bool {
    let private = |url: &Url| match url.host() {
        Some(Host::Ipv4(address)) => !is_public(address.into()),
        Some(Host::Ipv6(address)) => !is_public(address.into()),
        Some(Host::Domain(name)) => {
            let name = name.to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        None => true,
    };
    Url::parse(base_url).is_ok_and(|base| !private(&base) || private(hub))
}

/// The callback a hub calls `record` back at.
fn callback_url(config: &Config, record: &PushRecord) -> String {
    format!(
        "{}/websub/callback/{}/{}",
        config.feed.base_url, record.source, record.token
    )
}

/// How long before its lease ends an active `record` is renewed: the lease's last tenth (it
/// was confirmed at `requested_at`), at most `RENEW_BEFORE`.
fn renew_before(record: &PushRecord) -> chrono::Duration {
    let lease = record
        .lease_until
        .map_or(chrono::Duration::zero(), |until| {
            until - record.requested_at
        });
    (lease / 10).min(chrono::Duration::from_std(RENEW_BEFORE).unwrap_or_default())
}

/// `next`, or later while `record`'s hub pushes (its lease runs, confirmed or being renewed):
/// the safety poll, or the renewal, or the lease's end, whichever comes first.
fn later_while_pushed(
    config: &Config,
    record: &PushRecord,
    next: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let (true, Some(until)) = (pushing(record, now), record.lease_until) else {
        return next;
    };
    let pushed_until = match record.state {
        PushState::Active => until - renew_before(record),
        _ => until,
    };
    let safety = now + chrono::Duration::from_std(config.websub.safety_poll).unwrap_or_default();
    next.map(|next| next.max(safety.min(pushed_until)))
}

/// Whether `record`'s hub pushes now: its lease runs, confirmed or being renewed.
fn pushing(record: &PushRecord, now: DateTime<Utc>) -> bool {
    matches!(record.state, PushState::Active | PushState::Requested)
        && record.lease_until.is_some_and(|until| until > now)
}

fn elapsed(since: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (now - since).to_std().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_private_base_url_is_reached_only_by_private_hubs() {
        let hub = |url: &str| Url::parse(url).unwrap();
        for base_url in [
            "http://127.0.0.1:8080",
            "http://localhost:8080",
            "http://10.1.2.3",
        ] {
            assert!(!can_call_back(
                base_url,
                &hub("https://pubsubhubbub.appspot.com/")
            ));
            assert!(can_call_back(base_url, &hub("http://127.0.0.1:9000/")));
            assert!(can_call_back(base_url, &hub("http://192.168.1.5/hub")));
        }
        assert!(can_call_back(
            "https://news.example.org",
            &hub("https://pubsubhubbub.appspot.com/")
        ));
    }
}
