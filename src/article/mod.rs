//! Full text: the whole article behind an entry's link, for sources that publish only a
//! summary (`full_text` in the config).
//!
//! `fetch` gets one article: the page at the link, fetched as an untrusted link
//! (`Fetcher::fetch_page`: public addresses only, the fetch limits, the per-host cap), decoded,
//! and read by `extract`. `is_teaser` is `full_text: auto`'s rule. Which entries want their
//! article, and what became of it, is the store's (`Store::articles_wanted`, `save_article`);
//! `app::articles` runs them after each poll. `retry_at` spaces the attempts of a failing one.

mod extract;
mod teaser;

use std::sync::LazyLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;
use url::Url;

use crate::fetch::{FetchError, Fetcher, SourceHeaders};
use crate::parse::charset;
pub use extract::{Article, extract};
pub use teaser::{TEASER_MAX_WORDS, is_teaser};

/// A link is fetched at most this often: once, and again three times after failures.
pub const MAX_ATTEMPTS: u32 = 4;

/// The first retry of a failed article waits this long; each next one four times longer.
const FIRST_RETRY: Duration = Duration::from_secs(15 * 60);

/// How many pages are read at once: one per core but one, as for feeds (`pipeline`), so that
/// extraction never holds every core while requests and polls wait.
static EXTRACTORS: LazyLock<Semaphore> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    Semaphore::new(cores.saturating_sub(1).max(1))
});

#[derive(Debug, thiserror::Error)]
pub enum ArticleError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("the page is not HTML (Content-Type: {0})")]
    NotHtml(String),
    #[error("the page has no text an article could be made of")]
    NoArticle,
    #[error("reading the page stopped unexpectedly: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl ArticleError {
    /// Whether the page was fetched before it failed.
    pub fn was_fetched(&self) -> bool {
        matches!(self, ArticleError::NotHtml(_) | ArticleError::NoArticle)
    }
}

/// Fetches the page at `link`, with its source's `headers`, and extracts its article.
pub async fn fetch(
    fetcher: &Fetcher,
    link: &Url,
    headers: SourceHeaders<'_>,
) -> Result<Article, ArticleError> {
    // A page waiting for an extractor is held like a feed waiting for a parser.
    let _slot = fetcher.document_slot().await;
    let fetched = fetcher.fetch_page(link, headers).await?;
    let content_type = fetched.content_type.clone();
    if let Some(kind) = &content_type {
        let media = kind.split(';').next().unwrap_or_default().trim();
        if !media.eq_ignore_ascii_case("text/html")
            && !media.eq_ignore_ascii_case("application/xhtml+xml")
        {
            return Err(ArticleError::NotHtml(kind.clone()));
        }
    }
    let _extractor = EXTRACTORS
        .acquire()
        .await
        .expect("the semaphore is never closed");
    let url = fetched.final_url.clone();
    tokio::task::spawn_blocking(move || {
        let page = charset::decode(&fetched.body, content_type.as_deref());
        extract(&page.text, Some(&url)).ok_or(ArticleError::NoArticle)
    })
    .await?
}

/// When to try an article again after its `attempts`-th failure; `None` after the last.
pub fn retry_at(attempts: u32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    (attempts < MAX_ATTEMPTS).then(|| {
        let wait = FIRST_RETRY * 4u32.pow(attempts.saturating_sub(1));
        now + chrono::TimeDelta::from_std(wait).unwrap_or(chrono::TimeDelta::MAX)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_retried_three_times_each_later() {
        let now = Utc::now();
        let minutes = |attempts| retry_at(attempts, now).map(|at| (at - now).num_minutes());
        assert_eq!(minutes(1), Some(15));
        assert_eq!(minutes(2), Some(60));
        assert_eq!(minutes(3), Some(240));
        assert_eq!(minutes(4), None);
    }
}
