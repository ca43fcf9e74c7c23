//! What every source is doing right now, and whether the config file in force is the one on
//! disk: the state behind `GET /status` and the health section of the HTML index. Kept in
//! memory, updated after every poll and reload; the store keeps only what must survive a
//! restart (validators, moves, gone).

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::pipeline::{PollError, Polled};

/// The health of one source (or of the seeds folder).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SourceStatus {
    pub name: String,
    /// The URL polled (after a permanent move, the new one), or the seeds folder's path.
    pub url: String,
    pub state: Health,
    pub last_attempt: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    pub http_status: Option<u16>,
    pub last_error: Option<String>,
    pub next_poll: Option<DateTime<Utc>>,
    pub consecutive_failures: u32,
    pub entries: i64,
    /// Stored entries the filters of config.yaml keep out of the feeds now.
    pub hidden_by_filters: usize,
    /// What the reader repaired in the last document fetched (feedparser's "bozo"); `None`
    /// when it was well-formed. A document that needed repairs is still `ok`.
    pub repaired: Option<Repaired>,
    /// The articles fetched for its entries (`full_text`) since the daemon started.
    pub articles: ArticleCounts,
    /// What looked wrong in the last document read, though the poll succeeded: a page source
    /// whose recipe found far fewer items than before.
    pub warning: Option<String>,
    /// Its subscription to the WebSub hub its feed names, if any.
    pub push: Option<PushStatus>,
}

/// Where a source's subscription to its hub stands.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PushStatus {
    pub hub: String,
    /// `requested`, `active` (the hub pushes), `silent` (it did not push what polls found) or
    /// `unsubscribing`.
    pub state: &'static str,
    pub lease_until: Option<DateTime<Utc>>,
    pub last_push: Option<DateTime<Utc>>,
}

/// What fetching a source's articles did: pages fetched, articles extracted from them, and
/// articles that failed (not fetched, or fetched with no article in them).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ArticleCounts {
    pub fetched: u64,
    pub extracted: u64,
    pub failed: u64,
    /// Why the last failed article failed, with its link.
    pub last_error: Option<String>,
}

/// The repairs one document needed: how many, and the first few as "what at line:column".
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Repaired {
    pub count: usize,
    pub first: Vec<String>,
}

impl Repaired {
    /// How many repairs `first` lists.
    const LISTED: usize = 5;

    /// `None` for a well-formed document.
    pub fn of(repairs: &[crate::parse::repairs::Repair], not_listed: usize) -> Option<Repaired> {
        (!repairs.is_empty()).then(|| Repaired {
            count: repairs.len() + not_listed,
            first: repairs
                .iter()
                .take(Self::LISTED)
                .map(ToString::to_string)
                .collect(),
        })
    }
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// Not polled yet.
    Pending,
    Ok,
    Failing,
    /// 410 Gone: no longer polled.
    Gone,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Pending => "pending",
            Health::Ok => "ok",
            Health::Failing => "failing",
            Health::Gone => "gone",
        }
    }
}

/// How the config file and the running configuration relate.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ConfigStatus {
    pub path: String,
    /// When the configuration in force was read.
    pub loaded_at: Option<DateTime<Utc>>,
    /// Why the file's latest content is not in force (file:line:column: what), until an edit
    /// fixes it.
    pub error: Option<String>,
    /// Settings changed in the file that take effect only at a restart.
    pub needs_restart: Vec<String>,
}

/// What our WebSub hub does: subscriptions held, and deliveries since the daemon started.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct HubStatus {
    pub subscriptions: usize,
    pub delivered: u64,
    /// Attempts that failed, each retried until the last.
    pub failed: u64,
    /// Why the last failed attempt failed, with the callback.
    pub last_error: Option<String>,
}

/// Everything the board knows at one moment.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Snapshot {
    pub sources: Vec<SourceStatus>,
    pub config: ConfigStatus,
    pub hub: HubStatus,
}

/// All sources' statuses, by name, the config's and the hub's.
#[derive(Debug, Default)]
pub struct StatusBoard {
    sources: Mutex<BTreeMap<String, SourceStatus>>,
    config: Mutex<ConfigStatus>,
    hub: Mutex<HubStatus>,
}

impl StatusBoard {
    /// Lists a source as not polled yet at `url`. One already listed at that URL is left as it
    /// is: start-up lists every source before its first poll, and then again as it schedules
    /// them. One listed at another URL starts over, but keeps its stored-entry counts: entries
    /// are stored by source name.
    pub fn register(&self, name: &str, url: &str) {
        let mut sources = self.lock();
        let (entries, hidden_by_filters) = match sources.get(name) {
            Some(listed) if listed.url == url => return,
            Some(listed) => (listed.entries, listed.hidden_by_filters),
            None => (0, 0),
        };
        sources.insert(
            name.to_string(),
            SourceStatus {
                name: name.to_string(),
                url: url.to_string(),
                state: Health::Pending,
                last_attempt: None,
                last_success: None,
                http_status: None,
                last_error: None,
                next_poll: None,
                consecutive_failures: 0,
                entries,
                hidden_by_filters,
                repaired: None,
                articles: ArticleCounts::default(),
                warning: None,
                push: None,
            },
        );
    }

    /// Forgets a source that left the config.
    pub fn unregister(&self, name: &str) {
        self.lock().remove(name);
    }

    /// Changes the config's status.
    pub fn update_config(&self, change: impl FnOnce(&mut ConfigStatus)) {
        change(
            &mut self
                .config
                .lock()
                .expect("no code panics while holding the board"),
        );
    }

    /// Changes one source's status; returns what `change` returns.
    pub fn update<T>(&self, name: &str, change: impl FnOnce(&mut SourceStatus) -> T) -> Option<T> {
        self.lock().get_mut(name).map(change)
    }

    /// Records a finished poll of `name` at `at`: how it went, its `failures` in a row (0 after
    /// a success), and when the next one is due. Returns the repairs the document needed when
    /// the board showed none before, so that they are reported once rather than at every poll.
    pub fn record_poll(
        &self,
        name: &str,
        polled: &Polled,
        failures: u32,
        at: DateTime<Utc>,
        next: Option<DateTime<Utc>>,
    ) -> Option<Repaired> {
        let mut sources = self.lock();
        let status = sources.get_mut(name)?;
        status.last_attempt = Some(at);
        status.next_poll = next;
        status.consecutive_failures = failures;
        status.http_status = polled
            .as_ref()
            .map_or_else(PollError::status, |outcome| outcome.status);
        match polled {
            Ok(outcome) => {
                status.state = Health::Ok;
                status.last_success = Some(at);
                status.last_error = None;
                status.url.clone_from(&outcome.url);
                // A 304 says the document is the one whose repairs and warning are shown.
                if outcome.status == Some(304) {
                    return None;
                }
                let newly = outcome
                    .repaired
                    .clone()
                    .filter(|_| status.repaired.is_none());
                status.repaired.clone_from(&outcome.repaired);
                status.warning.clone_from(&outcome.warning);
                newly
            }
            Err(error) => {
                status.state = match error {
                    PollError::Gone => Health::Gone,
                    _ => Health::Failing,
                };
                status.last_error = Some(error.to_string());
                None
            }
        }
    }

    /// How many polls of `name` failed in a row until now.
    pub fn consecutive_failures(&self, name: &str) -> u32 {
        self.lock()
            .get(name)
            .map_or(0, |status| status.consecutive_failures)
    }

    /// The URL `name` is polled at: after a permanent move, the new one.
    pub fn url(&self, name: &str) -> Option<String> {
        self.lock().get(name).map(|status| status.url.clone())
    }

    /// Sets the stored-entry counts of the sources in `counts` that are on the board; returns
    /// how much their total changed.
    pub fn set_entry_counts(&self, counts: &[(String, i64)]) -> i64 {
        let mut sources = self.lock();
        counts
            .iter()
            .filter_map(|(name, count)| {
                let status = sources.get_mut(name)?;
                let change = count - status.entries;
                status.entries = *count;
                Some(change)
            })
            .sum()
    }

    /// Sets every source's stored-entry count: those not in `counts` have none.
    pub fn set_all_entry_counts(&self, counts: &[(String, i64)]) {
        for status in self.lock().values_mut() {
            status.entries = 0;
        }
        self.set_entry_counts(counts);
    }

    /// Whether every one of `names` is on the board.
    pub fn lists_all<'a>(&self, names: impl IntoIterator<Item = &'a String>) -> bool {
        let sources = self.lock();
        names.into_iter().all(|name| sources.contains_key(name))
    }

    pub fn sources(&self) -> Vec<SourceStatus> {
        self.lock().values().cloned().collect()
    }

    pub fn update_hub(&self, change: impl FnOnce(&mut HubStatus)) {
        change(
            &mut self
                .hub
                .lock()
                .expect("no code panics while holding the board"),
        );
    }

    pub fn hub(&self) -> HubStatus {
        self.hub
            .lock()
            .expect("no code panics while holding the board")
            .clone()
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            sources: self.sources(),
            config: self
                .config
                .lock()
                .expect("no code panics while holding the board")
                .clone(),
            hub: self.hub(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, SourceStatus>> {
        self.sources
            .lock()
            .expect("no code panics while holding the board")
    }
}
