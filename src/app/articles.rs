//! The articles of a source's entries (`full_text`), fetched after each of its polls: the
//! entries that want theirs, newest first, at most `ARTICLES_PER_POLL` a poll, each fetched and
//! extracted (`article::fetch`), what became of it stored with the entry and counted on the
//! status board and in the metrics. The poll's entries are published before any article is
//! fetched, so a slow site never delays the feed, and again with the articles once stored.

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use url::Url;

use crate::article::{self, ArticleError};
use crate::config::{FullText, Source};
use crate::fetch::{Fetcher, SourceHeaders};
use crate::metrics::ArticleLabel;
use crate::store::{ArticleOutcome, WantedArticle};

use super::App;

/// At most this many articles are fetched after one poll; the rest wait for the next poll.
/// Turning `full_text` on for a source with many stored entries then costs its site a few
/// requests each poll, not hundreds at once.
const ARTICLES_PER_POLL: usize = 20;

impl App {
    /// Polls `source` and records how it went (`poll_and_record`), then fetches the articles
    /// its entries want. Returns when to poll it next.
    pub(super) async fn poll_with_articles(&self, source: &Source) -> Option<DateTime<Utc>> {
        let next = self.poll_and_record(source).await;
        self.fetch_articles(source).await;
        next
    }

    /// Fetches the articles `source`'s entries want, as its `full_text` in the config in force
    /// says (a reload that changes only that keeps the polling task and its copy of the
    /// source), until they are all done or the daemon stops.
    pub(super) async fn fetch_articles(&self, source: &Source) {
        let config = self.config();
        let Some(source) = config.source(&source.name) else {
            return;
        };
        if source.full_text == FullText::Off {
            return;
        }
        let whole_too = source.full_text == FullText::On;
        let wanted = self
            .store
            .articles_wanted(&source.name, whole_too, Utc::now(), ARTICLES_PER_POLL)
            .await;
        let wanted = match wanted {
            Ok(wanted) if wanted.is_empty() => return,
            Ok(wanted) => wanted,
            Err(error) => {
                tracing::warn!(
                    source = source.name,
                    "cannot read which articles are wanted: {error}"
                );
                return;
            }
        };
        self.renderer.wake();
        let fetcher = self.fetcher.load_full();
        let mut done = futures_util::stream::iter(wanted)
            .map(|wanted| self.article_of(&fetcher, source, wanted))
            .buffer_unordered(config.fetch.max_per_host);
        let mut stop = self.stop.subscribe();
        let mut extracted = false;
        loop {
            tokio::select! {
                next = done.next() => match next {
                    Some(one) => extracted |= one,
                    None => break,
                },
                // The rest are wanted again at the next start.
                _ = stop.wait_for(|stopped| *stopped) => break,
            }
        }
        if extracted {
            self.renderer.source_changed(&source.name);
            self.renderer.wake();
        }
    }

    /// Decides, fetches and stores the article of one entry of `source`; whether one was
    /// extracted.
    async fn article_of(&self, fetcher: &Fetcher, source: &Source, wanted: WantedArticle) -> bool {
        let outcome =
            if source.full_text == FullText::Auto && !article::is_teaser(wanted.body.as_deref()) {
                ArticleOutcome::Whole
            } else {
                self.fetch_article(fetcher, source, &wanted).await
            };
        let extracted = matches!(outcome, ArticleOutcome::Extracted { .. });
        if let Err(error) = self
            .store
            .save_article(&source.name, &wanted, &outcome, Utc::now())
            .await
        {
            tracing::warn!(
                source = source.name,
                link = wanted.link,
                "cannot store the article; it is fetched again after the next poll: {error}"
            );
            return false;
        }
        extracted
    }

    /// Fetches and extracts the article at `wanted`'s link, and counts what became of it.
    async fn fetch_article(
        &self,
        fetcher: &Fetcher,
        source: &Source,
        wanted: &WantedArticle,
    ) -> ArticleOutcome {
        let headers = SourceHeaders::of(source);
        let source = source.name.as_str();
        let fetched = match Url::parse(&wanted.link) {
            Ok(link) => article::fetch(fetcher, &link, headers).await,
            Err(_) => Err(ArticleError::NoArticle),
        };
        let error = match fetched {
            Ok(article) => {
                let labels = [ArticleLabel::fetched, ArticleLabel::extracted];
                self.count_article(source, &labels, None);
                return ArticleOutcome::Extracted { html: article.html };
            }
            Err(error) => error,
        };
        let attempts = wanted.attempts + 1;
        let retry_at = article::retry_at(attempts, Utc::now());
        let labels: &[ArticleLabel] = match error.was_fetched() {
            true => &[ArticleLabel::fetched, ArticleLabel::failed],
            false => &[ArticleLabel::failed],
        };
        let message = format!("{}: {error}", wanted.link);
        self.count_article(source, labels, Some(&message));
        tracing::warn!(
            source,
            attempts,
            "no article for {message}; the entry keeps its own text{}",
            match retry_at {
                Some(at) => format!(", tried again after {}", at.to_rfc3339()),
                None => ", not tried again".to_string(),
            }
        );
        ArticleOutcome::Failed {
            error: error.to_string(),
            attempts,
            retry_at,
        }
    }

    /// Counts one article of `source` under each of `labels`, on the status board and in the
    /// metrics; `error`: why it failed.
    fn count_article(&self, source: &str, labels: &[ArticleLabel], error: Option<&str>) {
        for label in labels {
            self.metrics.article(source, *label);
        }
        self.status.update(source, |status| {
            let counts = &mut status.articles;
            for label in labels {
                match label {
                    ArticleLabel::fetched => counts.fetched += 1,
                    ArticleLabel::extracted => counts.extracted += 1,
                    ArticleLabel::failed => counts.failed += 1,
                }
            }
            if let Some(error) = error {
                counts.last_error = Some(error.to_string());
            }
        });
    }
}
