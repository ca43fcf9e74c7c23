//! The `config.yaml` schema and its validation.
//!
//! Parsing happens in two steps: serde-saphyr reads the file into `Raw*` structs that keep the
//! line and column of every value we check by hand (`Spanned`), then `validate` turns them into
//! the `Config` the rest of the daemon uses. Every error names `file:line:column`, the key and
//! what is wrong, so a user can fix the file without reading our source. This module never
//! touches the network or the store.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_saphyr::{Location, Spanned};
use url::Url;

use crate::parse::page::Recipe;
use crate::scheduler::Schedule;

mod addresses;
mod contribution;
mod env;
mod page;
pub mod watch;
mod websub;
pub use addresses::{Network, PrivateAddresses};
pub use contribution::{Contribution, Field, Pattern, Rule};
use contribution::{RawContribution, RawFilters, validate_contribution};
use env::Expanded;
pub use websub::WebSubSettings;

/// A validated configuration; relative paths are already resolved against the config's folder.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file this configuration was read from.
    pub path: PathBuf,
    pub feed: FeedSettings,
    pub listen: SocketAddr,
    pub storage_path: PathBuf,
    /// A PostgreSQL store shared with other replicas (`storage.url`); `storage_path` is then
    /// unused.
    pub storage_url: Option<String>,
    /// How long a replica on a shared store holds a source to poll it unless it renews the
    /// lease: a dead replica's sources are polled by the others this long after its last
    /// renewal.
    pub poll_lease: Duration,
    pub retention: RetentionSettings,
    /// The default poll schedule, also used to rescan the seeds folder.
    pub schedule: Schedule,
    pub seeds: Option<SeedsSettings>,
    /// In the file's order; read through `sources` and `source`, so the index stays true.
    sources: Vec<Source>,
    /// Each source's place in `sources`, by name: a poll looks its source up, and ten
    /// thousand polls each scanning or indexing ten thousand sources was a quadratic cost.
    source_places: HashMap<String, usize>,
    pub fetch: FetchSettings,
    pub dedup: DedupSettings,
    pub websub: WebSubSettings,
}

/// How long entries are kept once they have left their source's document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionSettings {
    /// Older entries are pruned.
    pub max_age: Duration,
    /// Beyond this many per source, the oldest are pruned.
    pub max_entries_per_source: usize,
}

impl Default for RetentionSettings {
    fn default() -> RetentionSettings {
        RetentionSettings {
            max_age: Duration::from_secs(90 * 24 * 60 * 60),
            max_entries_per_source: 1000,
        }
    }
}

/// Which entries count as the same story.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DedupSettings {
    /// Compare entries of different sources (else only within each source).
    pub across_sources: bool,
    /// Equal normalized body text makes a duplicate.
    pub by_content: bool,
    /// Equal canonical link makes a duplicate.
    pub by_link: bool,
}

impl Default for DedupSettings {
    fn default() -> DedupSettings {
        DedupSettings {
            across_sources: true,
            by_content: true,
            by_link: true,
        }
    }
}

/// How politely and how defensively remote sources are fetched.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchSettings {
    /// No source is polled more often than this, whatever its schedule says.
    pub min_interval: Duration,
    /// Each scheduled poll is delayed by a random time up to this, so sources that share a
    /// schedule do not all hit the network in the same second.
    pub jitter: Duration,
    pub max_per_host: usize,
    pub max_concurrent: usize,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    /// The largest body read, after decompression.
    pub max_body_bytes: usize,
    pub max_redirects: usize,
    /// Which non-public addresses links found inside documents (article links) may reach.
    pub allow_private_addresses: PrivateAddresses,
}

impl Default for FetchSettings {
    fn default() -> FetchSettings {
        FetchSettings {
            min_interval: Duration::from_secs(5 * 60),
            jitter: Duration::from_secs(30),
            max_per_host: 2,
            max_concurrent: 16,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            max_body_bytes: 10 * 1024 * 1024,
            max_redirects: 5,
            allow_private_addresses: PrivateAddresses::Refused,
        }
    }
}

/// What the published feeds say about themselves.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedSettings {
    pub title: String,
    pub description: String,
    /// The absolute URL readers reach the daemon at, without a trailing slash.
    pub base_url: String,
    pub max_entries: usize,
    /// The top-level rules, for every source's entries in every feed.
    pub contribution: Contribution,
    /// At most this many entries of one source in the merged feed (a fair merge).
    pub max_per_source: Option<usize>,
    /// Whether the feeds name `hub_url` as their WebSub hub, which takes subscriptions to them
    /// (`websub.hub`).
    pub hub: bool,
}

impl FeedSettings {
    /// Where subscribers ask to be pushed our feeds, when we are their hub.
    pub fn hub_url(&self) -> Option<String> {
        self.hub.then(|| format!("{}/websub", self.base_url))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SeedsSettings {
    pub dir: PathBuf,
    /// Whole lines dropped from text seeds as scraper noise: the defaults plus `drop_lines`.
    pub drop_lines: Vec<String>,
    /// Larger files are skipped.
    pub max_bytes: u64,
    pub watch: WatchMode,
}

/// How changes in the seeds folder are noticed between scheduled rescans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchMode {
    /// The operating system's notifications (inotify on Linux).
    Native,
    /// Compare the folder every half second: for bind mounts and network filesystems that send
    /// no notifications.
    Poll,
    /// Only the scheduled rescans.
    Off,
}

const DEFAULT_SEED_MAX_BYTES: u64 = 1024 * 1024;

/// One remote feed to poll.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub name: String,
    pub url: Url,
    pub schedule: Schedule,
    /// Each tag has its own feeds at /tags/TAG/feed.{atom,rss,json}.
    pub tags: Vec<String>,
    /// What of this source the feeds show, besides the top-level rules.
    pub contribution: Contribution,
    /// Whether its entries' articles are fetched and published whole.
    pub full_text: FullText,
    /// How to read it when it is a page or JSON document rather than a feed.
    pub page: Option<Arc<Recipe>>,
    /// Sent with every request of this source (`headers:`, `user_agent:`).
    pub headers: HeaderMap,
}

impl Source {
    /// Whether `other` is fetched and read exactly as this one: same URL, headers and recipe.
    pub fn reads_like(&self, other: &Source) -> bool {
        self.url == other.url && self.headers == other.headers && self.page == other.page
    }
}

/// Whether a source's entries are published with their whole article, fetched from their link
/// (`full_text`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FullText {
    /// The entries as the source publishes them (the default).
    #[default]
    Off,
    /// Every entry's article.
    On,
    /// The articles of entries whose own body is a teaser (`article::is_teaser`).
    Auto,
}

/// The largest `feed.max_entries` we accept: bigger documents make every reader's poll slow.
const MAX_ENTRIES_LIMIT: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "{path}: cannot read the config file: {source} (pass --config PATH or set TRIBUTARY_CONFIG)"
    )]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{setting}: {message}")]
    Override {
        setting: &'static str,
        message: String,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        path: PathBuf,
        line: u64,
        column: u64,
        message: String,
    },
}

/// Settings from the command line or the environment (`TRIBUTARY_LISTEN`, `TRIBUTARY_DATA`,
/// `TRIBUTARY_DATABASE_URL`, `TRIBUTARY_BASE_URL`), which win over config.yaml on every load and reload.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub storage_path: Option<PathBuf>,
    pub storage_url: Option<String>,
    pub base_url: Option<String>,
}

impl Overrides {
    fn apply(&self, config: &mut Config) -> Result<(), ConfigError> {
        if let Some(listen) = self.listen {
            config.listen = listen;
        }
        if let Some(path) = &self.storage_path {
            config.storage_path.clone_from(path);
        }
        if let Some(url) = &self.storage_url {
            postgres_url(url).map_err(|why| ConfigError::Override {
                setting: "--database-url (TRIBUTARY_DATABASE_URL)",
                message: why.to_string(),
            })?;
            config.storage_url = Some(url.clone());
        }
        if let Some(base_url) = &self.base_url {
            http_url(base_url).map_err(|why| ConfigError::Override {
                setting: "--base-url (TRIBUTARY_BASE_URL)",
                message: format!("{base_url:?} {why}"),
            })?;
            config.feed.base_url = base_url.trim_end_matches('/').to_string();
        }
        Ok(())
    }
}

impl Config {
    /// The remote sources, in the file's order.
    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    /// The source named `name`.
    pub fn source(&self, name: &str) -> Option<&Source> {
        self.source_places
            .get(name)
            .map(|&place| &self.sources[place])
    }

    /// Reads and validates the config file at `path`, then applies `overrides`.
    pub fn load_with(path: &Path, overrides: &Overrides) -> Result<Config, ConfigError> {
        let mut config = Config::load(path)?;
        overrides.apply(&mut config)?;
        Ok(config)
    }

    /// The settings that differ in `newer` but only take effect at a restart: the listening
    /// socket and the open store stay as they are while the daemon runs.
    pub fn needing_restart(&self, newer: &Config) -> Vec<&'static str> {
        let mut keys = Vec::new();
        if self.listen != newer.listen {
            keys.push("server.listen");
        }
        if self.storage_path != newer.storage_path {
            keys.push("storage.path");
        }
        if self.storage_url != newer.storage_url {
            keys.push("storage.url");
        }
        keys
    }

    /// Reads and validates the config file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(path, &text)
    }

    /// Validates `text` as if it were the content of the file at `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        // serde-saphyr knows where an error is; serde_path_to_error knows under which key.
        let mut track = serde_path_to_error::Track::new();
        let raw = serde_saphyr::with_deserializer_from_str(text, |deserializer| {
            RawConfig::deserialize(serde_path_to_error::Deserializer::new(
                deserializer,
                &mut track,
            ))
        })
        .map_err(|error| {
            let location = error.location().unwrap_or(Location::UNKNOWN);
            let rendered = error.without_snippet().to_string();
            let message = plain_message(&rendered);
            match key_of(&track.path()) {
                None => invalid(path, location, message),
                Some(key) => invalid(path, location, format!("{key}: {message}")),
            }
        })?;
        validate(path, raw)
    }
}

fn invalid(path: &Path, location: Location, message: impl fmt::Display) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_path_buf(),
        line: location.line(),
        column: location.column(),
        message: message.to_string(),
    }
}

/// serde-saphyr's message without what we print otherwise: the position (we lead with
/// `file:line:column:`) and hints meant for programmers using the library.
fn plain_message(rendered: &str) -> &str {
    let message = rendered
        .rfind(" at line ")
        .map_or(rendered, |at| &rendered[..at]);
    message
        .split_once(", set DuplicateKeyPolicy")
        .map_or(message, |(before, _)| before)
}

/// The config key an error is under, as the user wrote it: `Spanned` values add a `.value`
/// segment and unknown keys a `?` that mean nothing to them.
fn key_of(path: &serde_path_to_error::Path) -> Option<String> {
    let key = path.to_string().replace(".value.", ".");
    let key = key.strip_suffix(".value").unwrap_or(&key);
    let key = key.strip_suffix(".?").unwrap_or(key);
    (key != "." && key != "?").then(|| key.to_string())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    feed: RawFeed,
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    storage: RawStorage,
    schedule: Option<Spanned<Expanded>>,
    /// What every source contributes to the feeds, and the merged feed's fair merge.
    filters: Option<RawFilters>,
    max_age: Option<Spanned<Expanded>>,
    title_prefix: Option<Expanded>,
    max_per_source: Option<Spanned<usize>>,
    seeds: Option<RawSeeds>,
    #[serde(default)]
    sources: Vec<RawSource>,
    #[serde(default)]
    fetch: RawFetch,
    #[serde(default)]
    dedup: RawDedup,
    /// The sources' `full_text` where they do not set it.
    full_text: Option<Spanned<Expanded>>,
    #[serde(default)]
    websub: websub::RawWebSub,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDedup {
    across_sources: Option<bool>,
    by: Option<Spanned<Vec<Expanded>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFetch {
    min_interval: Option<Spanned<Expanded>>,
    jitter: Option<Spanned<Expanded>>,
    max_per_host: Option<Spanned<usize>>,
    max_concurrent: Option<Spanned<usize>>,
    connect_timeout: Option<Spanned<Expanded>>,
    timeout: Option<Spanned<Expanded>>,
    max_body_bytes: Option<Spanned<usize>>,
    max_redirects: Option<usize>,
    allow_private_addresses: Option<Spanned<addresses::RawPrivateAddresses>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeed {
    title: Option<Expanded>,
    description: Option<Expanded>,
    base_url: Option<Spanned<Expanded>>,
    max_entries: Option<Spanned<usize>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<Spanned<Expanded>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    path: Option<Expanded>,
    url: Option<Spanned<Expanded>>,
    lease: Option<Spanned<Expanded>>,
    #[serde(default)]
    retention: RawRetention,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetention {
    max_age: Option<Spanned<Expanded>>,
    max_entries_per_source: Option<Spanned<usize>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSeeds {
    dir: Expanded,
    #[serde(default)]
    drop_lines: Vec<Expanded>,
    max_bytes: Option<u64>,
    watch: Option<Spanned<Expanded>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    name: Spanned<Expanded>,
    url: Spanned<Expanded>,
    schedule: Option<Spanned<Expanded>>,
    #[serde(default)]
    tags: Vec<Spanned<Expanded>>,
    filters: Option<RawFilters>,
    max_age: Option<Spanned<Expanded>>,
    title_prefix: Option<Expanded>,
    full_text: Option<Spanned<Expanded>>,
    html: Option<Spanned<page::RawHtml>>,
    json: Option<Spanned<page::RawJson>>,
    #[serde(default)]
    headers: BTreeMap<String, Spanned<Expanded>>,
    user_agent: Option<Spanned<Expanded>>,
}

const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Where the daemon listens when neither config.yaml nor the command line says.
pub fn default_listen() -> SocketAddr {
    DEFAULT_LISTEN
        .parse()
        .expect("the default listen address parses")
}
pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8080";
const DEFAULT_SCHEDULE: &str = "*/15 * * * *";
const DEFAULT_STORAGE_PATH: &str = "data/tributary.db";
/// A poll renews its lease every third of it, so a minute is for a dead replica's sources to
/// pass on, not for a poll to finish in.
const DEFAULT_POLL_LEASE: Duration = Duration::from_secs(60);
const DEFAULT_MAX_ENTRIES: usize = 100;
/// Whole lines that scrapers leave behind, dropped from text seeds wherever they stand (compared
/// trimmed and case-insensitively). `seeds.drop_lines` adds more.
pub fn default_noise_lines() -> Vec<String> {
    ["LOADING", "Advertisement", "ERROR", "LOADING ERROR"]
        .map(String::from)
        .to_vec()
}

fn validate(path: &Path, raw: RawConfig) -> Result<Config, ConfigError> {
    let folder = path.parent().unwrap_or(Path::new("."));
    let resolve = |relative: &str| folder.join(relative);
    let error = |location: Location, message: String| invalid(path, location, message);

    let mut feed = validate_feed(raw.feed, &error)?;
    let listen = match raw.server.listen {
        None => default_listen(),
        Some(spanned) => validate_listen(spanned, &error)?,
    };
    let schedule = match raw.schedule {
        None => Schedule::parse(DEFAULT_SCHEDULE).expect("the default schedule parses"),
        Some(spanned) => {
            parse_schedule(&spanned, "schedule").map_err(|m| error(spanned.referenced, m))?
        }
    };
    feed.contribution = validate_contribution(
        RawContribution {
            filters: raw.filters,
            max_age: raw.max_age,
            title_prefix: raw.title_prefix,
        },
        "",
        &error,
    )?;
    feed.hub = raw.websub.hub.unwrap_or(true);
    let fetch = validate_fetch(raw.fetch, &error)?;
    let dedup = validate_dedup(raw.dedup, &error)?;
    let full_text = validate_full_text(raw.full_text, "full_text", FullText::Off, &error)?;
    let sources = validate_sources(raw.sources, &schedule, full_text, &error)?;
    feed.max_per_source = raw
        .max_per_source
        .map(|spanned| count_setting(Some(spanned), "max_per_source", 0, &error))
        .transpose()?;
    let storage_path = resolve(
        raw.storage
            .path
            .as_ref()
            .map_or(DEFAULT_STORAGE_PATH, |path| path.as_str()),
    );
    Ok(Config {
        path: path.to_path_buf(),
        feed,
        listen,
        storage_path,
        storage_url: raw
            .storage
            .url
            .map(|url| validate_storage_url(url, &error))
            .transpose()?,
        poll_lease: duration_setting(
            raw.storage.lease,
            "storage.lease",
            DEFAULT_POLL_LEASE,
            false,
            &error,
        )?,
        retention: validate_retention(raw.storage.retention, &error)?,
        schedule,
        seeds: raw
            .seeds
            .map(|seeds| validate_seeds(seeds, &resolve, &error))
            .transpose()?,
        source_places: sources
            .iter()
            .enumerate()
            .map(|(place, source)| (source.name.clone(), place))
            .collect(),
        sources,
        fetch,
        dedup,
        websub: websub::validate_websub(raw.websub, &error)?,
    })
}

/// The `feed` section; the filters and the fair merge, set at the top level, are added after.
fn validate_feed(
    raw: RawFeed,
    error: &impl Fn(Location, String) -> ConfigError,
) -> Result<FeedSettings, ConfigError> {
    let base_url = match raw.base_url {
        None => DEFAULT_BASE_URL.to_string(),
        Some(spanned) => {
            http_url(&spanned.value).map_err(|why| {
                error(
                    spanned.referenced,
                    format!("feed.base_url: {:?} {why}", spanned.value),
                )
            })?;
            spanned.value.trim_end_matches('/').to_string()
        }
    };
    let max_entries = match raw.max_entries {
        None => DEFAULT_MAX_ENTRIES,
        Some(spanned) if (1..=MAX_ENTRIES_LIMIT).contains(&spanned.value) => spanned.value,
        Some(spanned) => {
            return Err(error(
                spanned.referenced,
                format!(
                    "feed.max_entries: {} is out of range (use 1 to {MAX_ENTRIES_LIMIT})",
                    spanned.value
                ),
            ));
        }
    };
    Ok(FeedSettings {
        title: raw
            .title
            .map_or_else(|| "tributary".to_string(), |title| title.0),
        description: raw.description.map_or_else(
            || "Everything from my sources, merged".to_string(),
            |text| text.0,
        ),
        base_url,
        max_entries,
        contribution: Contribution::default(),
        max_per_source: None,
        hub: true,
    })
}

fn validate_listen(
    spanned: Spanned<Expanded>,
    error: &impl Fn(Location, String) -> ConfigError,
) -> Result<SocketAddr, ConfigError> {
    spanned.value.parse().map_err(|_| {
        error(
            spanned.referenced,
            format!(
                "server.listen: {:?} is not an IP address and port, e.g. \"127.0.0.1:8080\" or \"0.0.0.0:8080\"",
                spanned.value
            ),
        )
    })
}

/// The `sources` list: unique, valid names, http(s) URLs, schedules (the top-level `schedule`
/// where a source sets none), tags and what each contributes.
fn validate_sources(
    raw: Vec<RawSource>,
    schedule: &Schedule,
    full_text: FullText,
    error: &impl Fn(Location, String) -> ConfigError,
) -> Result<Vec<Source>, ConfigError> {
    let mut names = HashSet::new();
    // Sources that write the same expression share one parse, as those without one share the
    // top-level schedule: a parsed expression holds kilobytes.
    let mut schedules = HashMap::from([(schedule.pattern().to_string(), schedule.clone())]);
    let mut sources = Vec::with_capacity(raw.len());
    for (index, source) in raw.into_iter().enumerate() {
        let key = |field: &str| format!("sources[{index}].{field}");
        let reading = page::RawReading {
            html: source.html,
            json: source.json,
            headers: source.headers,
            user_agent: source.user_agent,
        };
        let name = source.name.value.0;
        if !is_slug(&name) {
            return Err(error(
                source.name.referenced,
                format!(
                    "{}: {name:?} is not a valid source name (use lowercase letters, digits and '-')",
                    key("name")
                ),
            ));
        }
        if !names.insert(name.clone()) {
            return Err(error(
                source.name.referenced,
                format!(
                    "{}: {name:?} is already the name of another source (names must be unique)",
                    key("name")
                ),
            ));
        }
        let url = http_url(&source.url.value).map_err(|why| {
            error(
                source.url.referenced,
                format!("{}: {:?} {why}", key("url"), source.url.value),
            )
        })?;
        let schedule = match source.schedule {
            None => schedule.clone(),
            Some(spanned) => match schedules.get(spanned.value.as_str()) {
                Some(parsed) => parsed.clone(),
                None => {
                    let parsed = parse_schedule(&spanned, &key("schedule"))
                        .map_err(|m| error(spanned.referenced, m))?;
                    schedules.insert(spanned.value.0.clone(), parsed.clone());
                    parsed
                }
            },
        };
        sources.push(Source {
            name,
            url,
            schedule,
            tags: validate_tags(source.tags, &key("tags"), error)?,
            contribution: validate_contribution(
                RawContribution {
                    filters: source.filters,
                    max_age: source.max_age,
                    title_prefix: source.title_prefix,
                },
                &format!("sources[{index}]"),
                error,
            )?,
            full_text: validate_full_text(source.full_text, &key("full_text"), full_text, error)?,
            page: page::validate_recipe(&reading, &format!("sources[{index}]"), error)?
                .map(Arc::new),
            headers: page::validate_headers(&reading, &format!("sources[{index}]"), error)?,
        });
    }
    Ok(sources)
}

/// A `full_text` setting: `off`, `on` or `auto`; `default` when absent.
fn validate_full_text(
    raw: Option<Spanned<Expanded>>,
    key: &str,
    default: FullText,
    error: &impl Fn(Location, String) -> ConfigError,
) -> Result<FullText, ConfigError> {
    let Some(spanned) = raw else {
        return Ok(default);
    };
    match spanned.value.as_str() {
        "off" => Ok(FullText::Off),
        "on" => Ok(FullText::On),
        "auto" => Ok(FullText::Auto),
        other => Err(error(
            spanned.referenced,
            format!("{key}: {other:?} is not one of \"off\", \"on\" or \"auto\""),
        )),
    }
}

fn validate_tags(
    raw: Vec<Spanned<Expanded>>,
    key: &str,
    error: &impl Fn(Location, String) -> ConfigError,
) -> Result<Vec<String>, ConfigError> {
    raw.into_iter()
        .map(|tag| {
            if is_slug(&tag.value) {
                Ok(tag.value.0)
            } else {
                Err(error(
                    tag.referenced,
                    format!(
                        "{key}: {:?} is not a valid tag (use lowercase letters, digits and '-')",
                        tag.value
                    ),
                ))
            }
        })
        .collect()
}

fn validate_storage_url(
    url: Spanned<Expanded>,
    error: &impl Fn(Location, String) -> ConfigError,
) -> Result<String, ConfigError> {
    let text = url.value.trim();
    postgres_url(text)
        .map(|()| text.to_string())
        .map_err(|why| error(url.referenced, format!("storage.url: {why}")))
}

/// Whether `text` names a PostgreSQL database, the one kind `storage.url` takes.
fn postgres_url(text: &str) -> Result<(), &'static str> {
    if text.starts_with("postgres://") || text.starts_with("postgresql://") {
        Ok(())
    } else {
        Err(
            "must be a PostgreSQL URL such as postgres://user:password@host:5432/database \
             (for SQLite, set storage.path instead)",
        )
    }
}

fn validate_retention(
    raw: RawRetention,
    error: &impl Fn(Location, String) -> ConfigError,
) -> Result<RetentionSettings, ConfigError> {
    let defaults = RetentionSettings::default();
    let max_age = duration_setting(
        raw.max_age,
        "storage.retention.max_age",
        defaults.max_age,
        true,
        error,
    )?;
    let max_entries_per_source = count_setting(
        raw.max_entries_per_source,
        "storage.retention.max_entries_per_source",
        defaults.max_entries_per_source,
        error,
    )?;
    Ok(RetentionSettings {
        max_age,
        max_entries_per_source,
    })
}

/// A duration such as "30s", "5m", "1h 30m" or "90d"; `default` when absent.
fn duration_setting(
    value: Option<Spanned<Expanded>>,
    key: &str,
    default: Duration,
    zero_ok: bool,
    error: &impl Fn(Location, String) -> ConfigError,
) -> Result<Duration, ConfigError> {
    let Some(spanned) = value else {
        return Ok(default);
    };
    match humantime::parse_duration(spanned.value.trim()) {
        Ok(duration) if zero_ok || !duration.is_zero() => Ok(duration),
        Ok(_) => Err(error(
            spanned.referenced,
            format!("{key}: must be more than 0"),
        )),
        Err(why) => Err(error(
            spanned.referenced,
            format!(
                "{key}: {:?} is not a duration such as \"30s\", \"5m\", \"1h\" or \"90d\" ({why})",
                spanned.value
            ),
        )),
    }
}

/// A count of at least 1; `default` when absent.
fn count_setting(
    value: Option<Spanned<usize>>,
    key: &str,
    default: usize,
    error: &impl Fn(Location, String) -> ConfigError,
) -> Result<usize, ConfigError> {
    match value {
        None => Ok(default),
        Some(spanned) if spanned.value > 0 => Ok(spanned.value),
        Some(spanned) => Err(error(
            spanned.referenced,
            format!("{key}: must be at least 1"),
        )),
    }
}

fn validate_dedup(
    raw: RawDedup,
    error: &impl Fn(Location, String) -> ConfigError,
) -> Result<DedupSettings, ConfigError> {
    let defaults = DedupSettings::default();
    let mut settings = DedupSettings {
        across_sources: raw.across_sources.unwrap_or(defaults.across_sources),
        ..defaults
    };
    if let Some(by) = raw.by {
        settings.by_content = false;
        settings.by_link = false;
        for criterion in &by.value {
            match criterion.as_str() {
                "content" => settings.by_content = true,
                "link" => settings.by_link = true,
                other => {
                    return Err(error(
                        by.referenced,
                        format!("dedup.by: {other:?} is not \"content\" or \"link\""),
                    ));
                }
            }
        }
    }
    Ok(settings)
}

fn validate_seeds(
    raw: RawSeeds,
    resolve: &impl Fn(&str) -> PathBuf,
    error: &impl Fn(Location, String) -> ConfigError,
) -> Result<SeedsSettings, ConfigError> {
    let watch = match raw.watch {
        None => WatchMode::Native,
        Some(spanned) => match spanned.value.as_str() {
            "native" => WatchMode::Native,
            "poll" => WatchMode::Poll,
            "off" => WatchMode::Off,
            other => {
                return Err(error(
                    spanned.referenced,
                    format!("seeds.watch: {other:?} is not one of \"native\", \"poll\" or \"off\""),
                ));
            }
        },
    };
    let mut drop_lines = default_noise_lines();
    drop_lines.extend(
        raw.drop_lines
            .into_iter()
            .map(|line| line.trim().to_string()),
    );
    Ok(SeedsSettings {
        dir: resolve(&raw.dir),
        drop_lines,
        max_bytes: raw.max_bytes.unwrap_or(DEFAULT_SEED_MAX_BYTES),
        watch,
    })
}

fn validate_fetch(
    raw: RawFetch,
    error: &impl Fn(Location, String) -> ConfigError,
) -> Result<FetchSettings, ConfigError> {
    let defaults = FetchSettings::default();
    let duration = |value, key: &str, default, zero_ok| {
        duration_setting(value, &format!("fetch.{key}"), default, zero_ok, error)
    };
    let positive =
        |value, key: &str, default| count_setting(value, &format!("fetch.{key}"), default, error);
    Ok(FetchSettings {
        min_interval: duration(
            raw.min_interval,
            "min_interval",
            defaults.min_interval,
            true,
        )?,
        jitter: duration(raw.jitter, "jitter", defaults.jitter, true)?,
        max_per_host: positive(raw.max_per_host, "max_per_host", defaults.max_per_host)?,
        max_concurrent: positive(
            raw.max_concurrent,
            "max_concurrent",
            defaults.max_concurrent,
        )?,
        connect_timeout: duration(
            raw.connect_timeout,
            "connect_timeout",
            defaults.connect_timeout,
            false,
        )?,
        timeout: duration(raw.timeout, "timeout", defaults.timeout, false)?,
        max_body_bytes: positive(
            raw.max_body_bytes,
            "max_body_bytes",
            defaults.max_body_bytes,
        )?,
        max_redirects: raw.max_redirects.unwrap_or(defaults.max_redirects),
        allow_private_addresses: addresses::validate_private_addresses(
            raw.allow_private_addresses,
            error,
        )?,
    })
}

/// Lowercase letters, digits and '-': safe in a URL path and unambiguous.
fn is_slug(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn parse_schedule(spanned: &Spanned<Expanded>, key: &str) -> Result<Schedule, String> {
    Schedule::parse(&spanned.value).map_err(|why| {
        format!(
            "{key}: {:?} is not a valid cron expression ({why})",
            spanned.value
        )
    })
}

/// Accepts absolute http(s) URLs only; the error completes the sentence "<value> ...".
fn http_url(value: &str) -> Result<Url, String> {
    let url = Url::parse(value).map_err(|why| format!("is not a valid URL ({why})"))?;
    match url.scheme() {
        "http" | "https" if url.host().is_some() => Ok(url),
        "http" | "https" => Err("has no host".to_string()),
        other => Err(format!(
            "has the scheme {other:?}; only http and https are supported"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("/etc/tributary/config.yaml"), text)
    }

    fn error_of(text: &str) -> String {
        parse(text).expect_err("the config is invalid").to_string()
    }

    #[test]
    fn minimal_config_takes_defaults_and_resolves_paths_against_its_folder() {
        let config = parse("sources: []\n").unwrap();
        assert_eq!(config.feed.base_url, "http://127.0.0.1:8080");
        assert_eq!(config.feed.max_entries, 100);
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(
            config.storage_path,
            Path::new("/etc/tributary/data/tributary.db")
        );
        assert!(config.seeds.is_none());
    }

    #[test]
    fn full_config_is_read() {
        let config = parse(
            "feed:\n  title: T\n  description: D\n  base_url: \"https://feeds.example/\"\n  max_entries: 5\n\
             server:\n  listen: \"0.0.0.0:9000\"\nstorage:\n  path: /var/lib/t.db\n\
             schedule: \"*/5 * * * *\"\nseeds:\n  dir: docs\n\
             sources:\n  - name: a-1\n    url: https://a.example/feed\n    schedule: \"*/1 * * * * *\"\n",
        )
        .unwrap();
        assert_eq!(config.feed.title, "T");
        assert_eq!(config.feed.base_url, "https://feeds.example");
        assert_eq!(config.feed.max_entries, 5);
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.storage_path, Path::new("/var/lib/t.db"));
        assert_eq!(config.seeds.unwrap().dir, Path::new("/etc/tributary/docs"));
        assert_eq!(config.sources[0].name, "a-1");
        assert_eq!(config.sources[0].schedule.pattern(), "*/1 * * * * *");
        assert_eq!(config.fetch, FetchSettings::default());
        assert_eq!(config.storage_url, None);
        assert_eq!(config.poll_lease, Duration::from_secs(60));
        let config = parse("storage:\n  url: postgres://db/t\n  lease: 45s\n").unwrap();
        assert_eq!(config.storage_url.as_deref(), Some("postgres://db/t"));
        assert_eq!(config.poll_lease, Duration::from_secs(45));
        let config = parse(
            "fetch:\n  min_interval: 0s\n  jitter: 2m\n  max_per_host: 1\n  max_concurrent: 4\n  connect_timeout: 2s\n  timeout: 1m 30s\n  max_body_bytes: 1000\n  max_redirects: 0\n",
        )
        .unwrap();
        assert_eq!(
            config.fetch,
            FetchSettings {
                min_interval: Duration::ZERO,
                jitter: Duration::from_secs(120),
                max_per_host: 1,
                max_concurrent: 4,
                connect_timeout: Duration::from_secs(2),
                timeout: Duration::from_secs(90),
                max_body_bytes: 1000,
                max_redirects: 0,
                allow_private_addresses: PrivateAddresses::Refused,
            }
        );
        let config = parse(
            "full_text: auto\nfetch:\n  allow_private_addresses: [10.0.0.0/8, \"::1\"]\n\
             sources:\n  - name: a\n    url: https://a.example/\n  - name: b\n    url: https://b.example/\n    full_text: off\n",
        )
        .unwrap();
        assert_eq!(config.sources[0].full_text, FullText::Auto);
        assert_eq!(config.sources[1].full_text, FullText::Off);
        assert_eq!(
            config.fetch.allow_private_addresses,
            PrivateAddresses::AllowedIn(vec![
                Network::parse("10.0.0.0/8").unwrap(),
                Network::parse("::1").unwrap()
            ])
        );
        let config = parse("fetch:\n  allow_private_addresses: true\n").unwrap();
        assert_eq!(
            config.fetch.allow_private_addresses,
            PrivateAddresses::Allowed
        );
        assert_eq!(
            parse("sources: []\n")
                .unwrap()
                .fetch
                .allow_private_addresses,
            PrivateAddresses::Refused
        );
    }

    /// Mistakes in config.yaml, each with the start of the error it must give (after the path).
    const MISTAKES: &[(&str, &str)] = &[
        (
            "sources:\n  - name: a\n    url: https://a.example/\n    html:\n      item: article\n      link: a\n",
            "6:7: sources[0].html: missing field `title`",
        ),
        (
            "sources:\n  - name: a\n    url: https://a.example/\n    html:\n      item: \"h2 >> a\"\n      title: h2\n      link: a\n",
            "5:13: sources[0].html.item: \"h2 >> a\" is not a CSS selector (",
        ),
        (
            "sources:\n  - name: a\n    url: https://a.example/\n    html: {item: \"a@href\", title: h2, link: a}\n",
            "4:18: sources[0].html.item: \"a@href\" must be a CSS selector without @attribute",
        ),
        (
            "sources:\n  - name: a\n    url: https://a.example/\n    json:\n      items: \"$.data[\"\n      title: $.t\n      link: $.u\n",
            "5:14: sources[0].json.items: \"$.data[\" is not a JSONPath (RFC 9535): at character",
        ),
        (
            "sources:\n  - name: a\n    url: https://a.example/\n    json: {items: \"$[*]\", title: $.t}\n",
            "4:27: sources[0].json: missing field `link`",
        ),
        (
            "sources:\n  - name: a\n    url: https://a.example/\n    html: {item: a, title: a, link: a}\n    json: {items: \"$[*]\", title: $.t, link: $.u}\n",
            "5:11: sources[0]: html and json are both set",
        ),
        (
            "sources:\n  - name: a\n    url: https://a.example/\n    headers:\n      \"Bad Name\": x\n",
            "5:19: sources[0].headers: \"Bad Name\" is not an HTTP header name",
        ),
        (
            "sources:\n  - name: a\n    url: https://a.example/\n    full_text: always\n",
            "4:16: sources[0].full_text: \"always\" is not one of \"off\", \"on\" or \"auto\"",
        ),
        (
            "fetch:\n  allow_private_addresses: [10.0.0.0/40]\n",
            "2:28: fetch.allow_private_addresses: /40 is not a prefix length from 0 to 32",
        ),
        (
            "sources:\n  - name: a\n    url: https://a.example/\n  - name: b\n    url: https://b.example/\n    schedule: \"*/61 * * * *\"\n",
            "6:15: sources[1].schedule: \"*/61 * * * *\" is not a valid cron expression (minute step must be 1-59)",
        ),
        (
            "schedule: \"* * *\"\n",
            "1:11: schedule: \"* * *\" is not a valid cron expression (expected 5 fields",
        ),
        (
            "feed:\n  title: x\n  colour: blue\n",
            "3:3: feed.colour: unknown field `colour`",
        ),
        (
            "feed:\n  title: x\n  title: y\n",
            "3:3: feed: duplicate mapping key: title",
        ),
        (
            "feed:\n  max_entries: 0\n",
            "2:16: feed.max_entries: 0 is out of range (use 1 to 10000)",
        ),
        ("feed:\n  max_entries: many\n", "2:16: feed.max_entries: "),
        (
            "feed:\n  base_url: /relative\n",
            "2:13: feed.base_url: \"/relative\" is not a valid URL",
        ),
        (
            "sources:\n  - name: a\n    url: https://a.example/\n  - name: a\n    url: https://b.example/\n",
            "4:11: sources[1].name: \"a\" is already the name of another source (names must be unique)",
        ),
        (
            "sources:\n  - name: Rust Blog\n    url: https://a.example/\n",
            "2:11: sources[0].name: \"Rust Blog\" is not a valid source name",
        ),
        (
            "sources:\n  - name: a\n    url: ftp://a.example/\n",
            "3:10: sources[0].url: \"ftp://a.example/\" has the scheme \"ftp\"",
        ),
        (
            "sources:\n  - name: a\n    url: not a url\n",
            "3:10: sources[0].url: \"not a url\" is not a valid URL",
        ),
        (
            "sources:\n  - name: a\n",
            "2:5: sources[0]: missing field `url`",
        ),
        (
            "server:\n  listen: localhost\n",
            "2:11: server.listen: \"localhost\" is not an IP address and port",
        ),
        (
            "storage:\n  retention:\n    max_age: soon\n",
            "3:14: storage.retention.max_age: \"soon\" is not a duration",
        ),
        (
            "storage:\n  retention:\n    max_entries_per_source: 0\n",
            "3:29: storage.retention.max_entries_per_source: must be at least 1",
        ),
        (
            "storage:\n  url: \"sqlite:other.db\"\n",
            "2:8: storage.url: must be a PostgreSQL URL such as postgres://user:password@host:5432/database (for SQLite, set storage.path instead)",
        ),
        (
            "storage:\n  url: \"postgres://db/t\"\n  lease: 0s\n",
            "3:10: storage.lease: must be more than 0",
        ),
        (
            "dedup:\n  by: [content, title]\n",
            "2:7: dedup.by: \"title\" is not \"content\" or \"link\"",
        ),
        (
            "seeds:\n  dir: s\n  watch: inotify\n",
            "3:10: seeds.watch: \"inotify\" is not one of",
        ),
        (
            "fetch:\n  timeout: soon\n",
            "2:12: fetch.timeout: \"soon\" is not a duration",
        ),
        (
            "fetch:\n  timeout: 0s\n",
            "2:12: fetch.timeout: must be more than 0",
        ),
        (
            "fetch:\n  max_per_host: 0\n",
            "2:17: fetch.max_per_host: must be at least 1",
        ),
        (
            "filters:\n  exclude:\n    - title: \"ok\"\n    - title: \"/(unclosed/\"\n",
            "4:7: filters.exclude[1].title: \"/(unclosed/\" is not a valid regex (error: unclosed group)",
        ),
        (
            "sources:\n  - name: \"a\"\n    url: \"https://a.example/\"\n    filters:\n      include:\n        - {title: \"x\", link: \"y\"}\n",
            "6:11: sources[0].filters.include[0]: a rule names exactly one of title, content, author, category or link",
        ),
        (
            "filters:\n  include:\n    - summary: \"x\"\n",
            "3:7: filters.include[0].summary: unknown field `summary`",
        ),
        (
            "max_per_source: 0\n",
            "1:17: max_per_source: must be at least 1",
        ),
        (
            "max_age: \"soon\"\n",
            "1:10: max_age: \"soon\" is not a duration",
        ),
    ];

    #[test]
    fn every_mistake_names_file_line_column_key_and_reason() {
        for (yaml, expected) in MISTAKES {
            let message = error_of(yaml);
            let expected = format!("/etc/tributary/config.yaml:{expected}");
            assert!(
                message.starts_with(&expected),
                "{message}\nexpected: {expected}"
            );
        }
    }
}
