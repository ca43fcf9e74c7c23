//! `tributary extract`: what the article extractor takes from one page (`full_text`), for
//! users debugging a source and for the extraction benchmark.
//!
//! A URL is fetched as the daemon fetches an article link (same client, limits, address rule
//! and charset handling); a file is read as if served without a Content-Type, its links
//! resolved against `--url` when given.

use std::path::Path;
use std::process::ExitCode;

use serde::Serialize;
use url::Url;

use crate::article::{self, Article, ArticleError};
use crate::fetch::SourceHeaders;
use crate::parse::charset;

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("{path}: cannot read it: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("--url {0:?} is not an absolute http(s) URL")]
    BadUrl(String),
    #[error("--url gives a file's address; {0} is fetched from where it says")]
    UrlOfUrl(String),
    #[error("{target}: {source}")]
    Article {
        target: String,
        source: ArticleError,
    },
}

#[derive(Serialize)]
struct Report<'a> {
    title: Option<&'a str>,
    /// Plain text, paragraphs separated by blank lines.
    text: &'a str,
    /// Sanitized, with absolute links.
    html: &'a str,
    url: Option<&'a str>,
}

/// Prints the article of `target` (an http(s) URL or a file; `url`: the file's address),
/// fetched with the fetch settings of the config at `config_path` when it can be read.
pub async fn run(config_path: &Path, target: &str, url: Option<&str>, json: bool) -> ExitCode {
    super::print_or_fail(
        extract(config_path, target, url)
            .await
            .map(|(article, url)| report(&article, url.as_ref(), json)),
    )
}

async fn extract(
    config_path: &Path,
    target: &str,
    url: Option<&str>,
) -> Result<(Article, Option<Url>), ExtractError> {
    let failed = |source| ExtractError::Article {
        target: target.to_string(),
        source,
    };
    if let Some(link) = super::web_url(target) {
        if url.is_some() {
            return Err(ExtractError::UrlOfUrl(target.to_string()));
        }
        let fetcher = super::fetcher_for(config_path);
        let article = article::fetch(&fetcher, &link, SourceHeaders::NONE)
            .await
            .map_err(failed)?;
        return Ok((article, Some(link)));
    }
    let url = url
        .map(|url| super::web_url(url).ok_or_else(|| ExtractError::BadUrl(url.to_string())))
        .transpose()?;
    let bytes = std::fs::read(target).map_err(|source| ExtractError::Read {
        path: target.to_string(),
        source,
    })?;
    let page = charset::decode(&bytes, None);
    let article = article::extract(&page.text, url.as_ref())
        .ok_or(ArticleError::NoArticle)
        .map_err(failed)?;
    Ok((article, url))
}

fn report(article: &Article, url: Option<&Url>, json: bool) -> String {
    if json {
        let report = Report {
            title: article.title.as_deref(),
            text: &article.text,
            html: &article.html,
            url: url.map(Url::as_str),
        };
        return serde_json::to_string_pretty(&report).expect("the report serializes") + "\n";
    }
    format!(
        "title: {}\nurl:   {}\n\n{}\n",
        article.title.as_deref().unwrap_or("-"),
        url.map_or("-", Url::as_str),
        article.text
    )
}
