//! `GET /metrics`: counters and a histogram in the Prometheus / OpenMetrics text format.
//!
//! The app and the server record into one `Metrics` value; nothing here decides anything. Label
//! values are bounded: source names come from the config, routes are the router's patterns
//! (never raw paths, which a client could vary without end).

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// How one poll ended, as the `outcome` label of the polls counter (from `pipeline::Polled`).
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)] // the label values as Prometheus users write them
pub enum PollLabel {
    ok,
    not_modified,
    failed,
    gone,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PollLabels {
    source: String,
    outcome: PollLabel,
}

/// What became of one article (`full_text`), as the `outcome` label of the articles counter:
/// its page `fetched`, then its article `extracted`; or it `failed`, fetched or not.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)] // the label values as Prometheus users write them
pub enum ArticleLabel {
    fetched,
    extracted,
    failed,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ArticleLabels {
    source: String,
    outcome: ArticleLabel,
}

/// What became of one attempt to deliver a feed to a WebSub subscriber: `delivered`, `failed`
/// (to be tried again), or `given_up` after the last retry.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)] // the label values as Prometheus users write them
pub enum DeliveryLabel {
    delivered,
    failed,
    given_up,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    outcome: DeliveryLabel,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReloadLabels {
    result: &'static str,
}

/// One series of `http_requests` (see `Metrics::request_series`).
#[derive(Debug, Clone)]
pub struct RequestSeries(Counter);

impl RequestSeries {
    pub fn inc(&self) {
        self.0.inc();
    }
}

pub struct Metrics {
    registry: Registry,
    polls: Family<PollLabels, Counter>,
    articles: Family<ArticleLabels, Counter>,
    poll_seconds: Histogram,
    entries_stored: Gauge,
    entries_new: Counter,
    duplicates: Counter,
    renders: Counter,
    requests: Family<RequestLabels, Counter>,
    reloads: Family<ReloadLabels, Counter>,
    hub_subscriptions: Gauge,
    deliveries: Family<DeliveryLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let metrics = Metrics {
            registry: Registry::with_prefix("tributary"),
            polls: Family::default(),
            articles: Family::default(),
            // 10 ms to about 80 s.
            poll_seconds: Histogram::new(exponential_buckets(0.01, 2.0, 14)),
            entries_stored: Gauge::default(),
            entries_new: Counter::default(),
            duplicates: Counter::default(),
            renders: Counter::default(),
            requests: Family::default(),
            reloads: Family::default(),
            hub_subscriptions: Gauge::default(),
            deliveries: Family::default(),
        };
        metrics.registered()
    }
}

impl Metrics {
    fn registered(mut self) -> Metrics {
        let registry = &mut self.registry;
        registry.register("polls", "Polls by source and outcome", self.polls.clone());
        registry.register(
            "articles",
            "Articles of entries (full_text) by source and outcome",
            self.articles.clone(),
        );
        registry.register(
            "poll_duration_seconds",
            "Time to fetch, parse and store one remote source",
            self.poll_seconds.clone(),
        );
        registry.register(
            "entries_stored",
            "Entries in the store",
            self.entries_stored.clone(),
        );
        registry.register(
            "entries_new",
            "Entries stored for the first time",
            self.entries_new.clone(),
        );
        registry.register(
            "duplicates_dropped",
            "Entries dropped as duplicates of a stored one",
            self.duplicates.clone(),
        );
        registry.register("renders", "Renderings of the feeds", self.renders.clone());
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            self.requests.clone(),
        );
        registry.register(
            "config_reloads",
            "Reloads of the config file by result",
            self.reloads.clone(),
        );
        registry.register(
            "websub_subscriptions",
            "Subscriptions to our feeds held by our WebSub hub",
            self.hub_subscriptions.clone(),
        );
        registry.register(
            "websub_deliveries",
            "Attempts to deliver a changed feed to a WebSub subscriber, by outcome",
            self.deliveries.clone(),
        );
        self
    }

    pub fn set_hub_subscriptions(&self, count: usize) {
        self.hub_subscriptions
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    pub fn delivery(&self, outcome: DeliveryLabel) {
        self.deliveries
            .get_or_create(&DeliveryLabels { outcome })
            .inc();
    }

    pub fn poll(&self, source: &str, outcome: PollLabel, seconds: Option<f64>) {
        self.polls
            .get_or_create(&PollLabels {
                source: source.to_string(),
                outcome,
            })
            .inc();
        if let Some(seconds) = seconds {
            self.poll_seconds.observe(seconds);
        }
    }

    pub fn article(&self, source: &str, outcome: ArticleLabel) {
        self.articles
            .get_or_create(&ArticleLabels {
                source: source.to_string(),
                outcome,
            })
            .inc();
    }

    pub fn ingested(&self, new: usize, duplicates: usize) {
        self.entries_new.inc_by(new as u64);
        self.duplicates.inc_by(duplicates as u64);
    }

    pub fn set_entries_stored(&self, count: i64) {
        self.entries_stored.set(count);
    }

    pub fn add_entries_stored(&self, change: i64) {
        self.entries_stored.inc_by(change);
    }

    pub fn rendered(&self) {
        self.renders.inc();
    }

    pub fn request(&self, route: &'static str, status: u16) {
        self.requests
            .get_or_create(&RequestLabels { route, status })
            .inc();
    }

    /// The series of requests to `route` answered `status`, to keep and count into without a
    /// lookup. It shows in the exposition from now on, at 0 until counted: take it when counting
    /// the first such request.
    pub fn request_series(&self, route: &'static str, status: u16) -> RequestSeries {
        RequestSeries(
            self.requests
                .get_or_create_owned(&RequestLabels { route, status }),
        )
    }

    pub fn reload(&self, applied: bool) {
        let result = if applied { "applied" } else { "rejected" };
        self.reloads.get_or_create(&ReloadLabels { result }).inc();
    }

    /// Forgets the series of a source that left the config.
    pub fn forget_source(&self, source: &str) {
        for outcome in [
            PollLabel::ok,
            PollLabel::not_modified,
            PollLabel::failed,
            PollLabel::gone,
        ] {
            self.polls.remove(&PollLabels {
                source: source.to_string(),
                outcome,
            });
        }
        for outcome in [
            ArticleLabel::fetched,
            ArticleLabel::extracted,
            ArticleLabel::failed,
        ] {
            self.articles.remove(&ArticleLabels {
                source: source.to_string(),
                outcome,
            });
        }
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing into a String cannot fail");
        text
    }
}
