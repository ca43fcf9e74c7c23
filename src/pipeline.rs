//! One poll of one producer, end to end: fetch or read → parse → normalize → store.
//!
//! These functions are the data flow of the house plan for a single source, including what a
//! poll teaches about the source (validators for the next conditional GET, a permanent move, a
//! 410). The app decides when to call them and what to do with the outcome.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use tokio::sync::Semaphore;
use url::Url;

use crate::config::{SeedsSettings, Source};
use crate::fetch::{FetchError, FetchOutcome, Fetcher, SourceHeaders};
use crate::metrics::PollLabel;
use crate::model::SEEDS_SOURCE;
use crate::parse::page::{PageError, Recipe};
use crate::parse::{Changes, ParseError, RawHash, WebSubLinks, parse_changes, parse_page};
use crate::scheduler::PollResult;
use crate::seeds::{self, SeedsError};
use crate::status::Repaired;
use crate::store::{IngestCounts, SourceRecord, Store, StoreError};

/// What a successful poll did.
#[derive(Debug, Clone, Default)]
pub struct PollOutcome {
    /// The HTTP status of the fetch; `None` for the seeds folder.
    pub status: Option<u16>,
    pub counts: IngestCounts,
    /// Set when this poll found that the source moved permanently.
    pub moved_to: Option<Url>,
    /// The URL that was polled.
    pub url: String,
    /// The document's entries past the first `parse::MAX_ENTRIES_PER_DOCUMENT`, left unread.
    pub unread_entries: usize,
    /// What reading the document repaired; `None` if it was well-formed or not fetched.
    pub repaired: Option<Repaired>,
    /// Something that did not fail the poll but looks wrong: a page source whose recipe found
    /// far fewer items than last time.
    pub warning: Option<String>,
    /// The WebSub hubs and self link the document named (its `Link` header first); `None`
    /// when no document came (304).
    pub websub: Option<WebSubLinks>,
}

/// How one poll went: what it did, or why it failed. The scheduler and the metrics read it
/// through the `From` conversions below, each in its own terms.
pub type Polled = Result<PollOutcome, PollError>;

impl From<&Polled> for PollResult {
    fn from(polled: &Polled) -> PollResult {
        match polled {
            Ok(_) => PollResult::Success,
            Err(PollError::Gone) => PollResult::Gone,
            Err(PollError::Fetch(error)) => PollResult::Failure {
                retry_after: error.retry_after(),
            },
            Err(_) => PollResult::Failure { retry_after: None },
        }
    }
}

impl From<&Polled> for PollLabel {
    fn from(polled: &Polled) -> PollLabel {
        match polled {
            Ok(outcome) if outcome.status == Some(StatusCode::NOT_MODIFIED.as_u16()) => {
                PollLabel::not_modified
            }
            Ok(_) => PollLabel::ok,
            Err(PollError::Gone) => PollLabel::gone,
            Err(_) => PollLabel::failed,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("{error}{}", last_good.map_or(String::new(), |items| format!(" ({items} items on the last good poll)")))]
    Page {
        error: PageError,
        /// How many items the last good poll found.
        last_good: Option<u32>,
    },
    #[error(transparent)]
    Seeds(#[from] SeedsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("reading or parsing stopped unexpectedly: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error(
        "the server answered 410 Gone: the feed no longer exists; polling stopped until the source's url changes in the config"
    )]
    Gone,
}

impl PollError {
    /// The HTTP status involved, if the failure came from the server's answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            PollError::Fetch(error) => error.status().map(|status| status.as_u16()),
            PollError::Gone => Some(StatusCode::GONE.as_u16()),
            _ => None,
        }
    }
}

/// Fetches a remote source (conditionally, at its new address if it moved), parses it and
/// stores its entries together with what the fetch taught about the source.
pub async fn poll_source(fetcher: &Fetcher, store: &Store, source: &Source) -> Polled {
    let configured = source.url.as_str();
    let record = store
        .source_record(&source.name, configured)
        .await?
        .unwrap_or_else(|| SourceRecord {
            url: configured.to_string(),
            ..SourceRecord::default()
        });
    if record.gone {
        return Err(PollError::Gone);
    }
    let polled = fetch_and_store(fetcher, store, source, record.clone()).await;
    if let Err(error) = &polled
        && !matches!(error, PollError::Gone | PollError::Store(_))
    {
        remember_failure(store, &source.name, record, error).await;
    }
    polled
}

/// Records a failed poll with its source, so that `tributary sources` tells it from one never
/// polled. A store that cannot take it is only logged: the poll's own error says more.
async fn remember_failure(store: &Store, name: &str, mut record: SourceRecord, error: &PollError) {
    record.failures = record.failures.saturating_add(1);
    record.last_error = Some(error.to_string());
    if let Err(store_error) = store.save_source_record(name, &record).await {
        tracing::warn!(
            source = name,
            "cannot record the failed poll: {store_error}"
        );
    }
}

/// The poll itself, given what the store remembers of the source.
async fn fetch_and_store(
    fetcher: &Fetcher,
    store: &Store,
    source: &Source,
    mut record: SourceRecord,
) -> Result<PollOutcome, PollError> {
    // Whatever else this poll does, it is not a failure: the record says so once it is saved.
    let was_failing = record.failures > 0;
    record.failures = 0;
    record.last_error = None;
    let target = record
        .moved_to
        .as_deref()
        .and_then(|moved| Url::parse(moved).ok())
        .unwrap_or_else(|| source.url.clone());
    let slot = fetcher.document_slot().await;
    let fetched = fetcher
        .fetch(&target, &record.validators, SourceHeaders::of(source))
        .await;
    let mut fetched = match fetched {
        Ok(FetchOutcome::Fetched(fetched)) => fetched,
        Ok(FetchOutcome::NotModified) => {
            if was_failing {
                store.save_source_record(&source.name, &record).await?;
            }
            return Ok(PollOutcome {
                status: Some(StatusCode::NOT_MODIFIED.as_u16()),
                url: target.to_string(),
                ..PollOutcome::default()
            });
        }
        Err(error) if error.status() == Some(StatusCode::GONE) => {
            record.gone = true;
            store.save_source_record(&source.name, &record).await?;
            return Err(PollError::Gone);
        }
        Err(error) => return Err(error.into()),
    };
    let now = Utc::now();
    let reading = match &source.page {
        None => Reading::Feed {
            known: store.raw_hashes(&source.name).await?,
        },
        Some(recipe) => Reading::Page {
            recipe: recipe.clone(),
            last_good: record.page_items,
        },
    };
    let body = std::mem::take(&mut fetched.body);
    let changes = parse_off_runtime(
        source.name.clone(),
        body,
        fetched.content_type.clone(),
        fetched.final_url.clone(),
        now,
        reading,
    )
    .await?;
    let warning = source
        .page
        .as_ref()
        .and_then(|recipe| count_page_items(&mut record, &changes, recipe));
    record.validators = fetched.validators;
    if let Some(moved) = &fetched.moved_permanently {
        record.moved_to = Some(moved.to_string());
    }
    let counts = store
        .ingest_changes(&changes, &source.name, &record, now)
        .await?;
    drop(slot);
    let websub = WebSubLinks::from_headers(&fetched.links, &fetched.final_url).or(changes.websub);
    Ok(PollOutcome {
        status: Some(fetched.status.as_u16()),
        counts,
        url: fetched
            .moved_permanently
            .as_ref()
            .unwrap_or(&target)
            .to_string(),
        moved_to: fetched.moved_permanently,
        unread_entries: changes.unread_entries,
        repaired: Repaired::of(&changes.repairs, changes.repairs_not_listed),
        warning,
        websub: Some(websub),
    })
}

/// Records how many items a page source's recipe found, or warns when that is less than a
/// fifth of the last good poll's: a site that reworked its markup often leaves a selector
/// matching a few leftovers rather than nothing. Such a count is not recorded, so the warning
/// stays while the page stays that way.
fn count_page_items(
    record: &mut SourceRecord,
    changes: &Changes,
    recipe: &Recipe,
) -> Option<String> {
    let found = changes.entries.len() + changes.unread_entries;
    let found = u32::try_from(found).unwrap_or(u32::MAX);
    match record.page_items {
        Some(last_good) if found.saturating_mul(5) < last_good => Some(format!(
            "{:?} found {found} item(s), down from {last_good} on the last good poll: check that the page did not change its markup",
            recipe.items_query()
        )),
        _ => {
            record.page_items = Some(found);
            None
        }
    }
}

/// How a fetched document is read.
enum Reading {
    /// As a feed; entries whose bytes are `known` (to the store) are only named.
    Feed { known: HashMap<RawHash, String> },
    /// With a source's recipe; `last_good` is named when it finds nothing.
    Page {
        recipe: Arc<Recipe>,
        last_good: Option<u32>,
    },
}

/// How many documents are parsed at once: one per core but one, left to the store's writer
/// and to serving. Parsing is the CPU-heavy part of a poll; on the runtime's threads it would
/// make requests wait, and as many parsers as cores starved the writer, which every poll waits
/// for in turn.
static PARSERS: LazyLock<Semaphore> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    Semaphore::new(cores.saturating_sub(1).max(1))
});

/// Reads what changed in a document of `source` got from `url` on a blocking thread, once a
/// parser is free.
async fn parse_off_runtime(
    source: String,
    body: Vec<u8>,
    content_type: Option<String>,
    url: Url,
    now: DateTime<Utc>,
    reading: Reading,
) -> Result<Changes, PollError> {
    let _parser = PARSERS
        .acquire()
        .await
        .expect("the semaphore is never closed");
    tokio::task::spawn_blocking(move || {
        let content_type = content_type.as_deref();
        match reading {
            Reading::Feed { known } => Ok(parse_changes(
                &source,
                &body,
                content_type,
                &url,
                now,
                &known,
            )?),
            Reading::Page { recipe, last_good } => {
                parse_page(&source, &body, content_type, &url, now, &recipe)
                    .map_err(|error| PollError::Page { error, last_good })
            }
        }
    })
    .await?
}

/// Reads a document `source`'s WebSub hub pushed, as a poll's document is read, and stores
/// its entries. A push may carry only the newest entries, so the stored ones it leaves out
/// are not taken for gone (retention goes by polls), and nothing about the source is learned.
pub async fn read_pushed(
    store: &Store,
    source: &Source,
    body: Vec<u8>,
    content_type: Option<String>,
    now: DateTime<Utc>,
) -> Result<IngestCounts, PollError> {
    let reading = Reading::Feed {
        known: store.raw_hashes(&source.name).await?,
    };
    let changes = parse_off_runtime(
        source.name.clone(),
        body,
        content_type,
        source.url.clone(),
        now,
        reading,
    )
    .await?;
    Ok(store.ingest(&changes.entries, None, now).await?)
}

/// Reads the seeds folder, stores its entries and removes those of files that are gone.
pub async fn poll_seeds(store: &Store, settings: &SeedsSettings) -> Polled {
    let reading = settings.clone();
    let entries = tokio::task::spawn_blocking(move || seeds::read_folder(&reading)).await??;
    let counts = store
        .ingest_folder(SEEDS_SOURCE, &entries, Utc::now())
        .await?;
    Ok(PollOutcome {
        counts,
        url: settings.dir.display().to_string(),
        ..PollOutcome::default()
    })
}
