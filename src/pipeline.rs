//! One poll of one producer, end to end: fetch or read → parse → normalize → store.
//!
//! These functions are the data flow of the house plan for a single source; the app decides when
//! to call them and what to do with the outcome (logging, re-rendering).

use std::path::Path;

use chrono::Utc;

use crate::config::Source;
use crate::fetch::{FetchError, Fetcher};
use crate::parse::{ParseError, parse_document};
use crate::seeds::{self, SeedsError};
use crate::store::{IngestCounts, Store, StoreError};

/// What a successful poll did.
#[derive(Debug, Clone, Copy)]
pub struct PollOutcome {
    /// The HTTP status of the fetch; `None` for the seeds folder.
    pub status: Option<u16>,
    pub counts: IngestCounts,
}

#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Seeds(#[from] SeedsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("reading the seeds folder stopped unexpectedly: {0}")]
    SeedsTask(#[from] tokio::task::JoinError),
}

impl PollError {
    /// The HTTP status involved, if the failure came from the server's answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            PollError::Fetch(error) => error.status().map(|status| status.as_u16()),
            _ => None,
        }
    }
}

/// Fetches a remote source, parses it and stores its entries.
pub async fn poll_source(
    fetcher: &Fetcher,
    store: &Store,
    source: &Source,
) -> Result<PollOutcome, PollError> {
    let fetched = fetcher.fetch(&source.url).await?;
    let now = Utc::now();
    let parsed = parse_document(
        &source.name,
        &fetched.body,
        fetched.content_type.as_deref(),
        &fetched.final_url,
        now,
    )?;
    let counts = store.ingest(&parsed.entries, now).await?;
    Ok(PollOutcome {
        status: Some(fetched.status.as_u16()),
        counts,
    })
}

/// Reads the seeds folder and stores its entries.
pub async fn poll_seeds(store: &Store, dir: &Path) -> Result<PollOutcome, PollError> {
    let dir = dir.to_path_buf();
    let entries = tokio::task::spawn_blocking(move || seeds::read_folder(&dir)).await??;
    let counts = store.ingest(&entries, Utc::now()).await?;
    Ok(PollOutcome {
        status: None,
        counts,
    })
}
