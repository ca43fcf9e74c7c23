//! `tributary parse`: what tributary takes from one document, for users debugging a source.
//!
//! A URL is fetched exactly as the daemon fetches it (same client, limits and charset handling),
//! a file is read as if served without a Content-Type. The report is JSON (`--json`) or text.

use std::path::Path;
use std::process::ExitCode;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use url::Url;

use super::LoadError;
use crate::fetch::Fetcher;
use crate::model::{Enclosure, Entry, Person};
use crate::parse::repairs::Repair;
use crate::parse::{MAX_ENTRIES_PER_DOCUMENT, ParseError, ParsedFeed, WebSubLinks, parse_document};

#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("{target}: {source}")]
    Parse { target: String, source: ParseError },
}

#[derive(Serialize)]
struct Report<'a> {
    feed: FeedReport<'a>,
    entries: Vec<EntryReport<'a>>,
    /// The entries past the first `MAX_ENTRIES_PER_DOCUMENT`, which tributary does not read.
    unread_entries: usize,
    /// What was repaired to read the document: empty when it is well-formed.
    repairs: &'a [Repair],
    /// Repairs past those listed, only counted.
    repairs_not_listed: usize,
}

#[derive(Serialize)]
struct FeedReport<'a> {
    title: Option<&'a str>,
    link: Option<&'a str>,
    id: Option<&'a str>,
    updated: Option<String>,
    published: Option<String>,
    authors: &'a [Person],
    subtitle: Option<&'a str>,
    encoding: &'a str,
    /// The WebSub hubs and self URL, from the `Link` header where it names them (as the daemon
    /// takes them), else from the document.
    hubs: Vec<&'a str>,
    #[serde(rename = "self")]
    topic: Option<&'a str>,
}

#[derive(Serialize)]
struct EntryReport<'a> {
    title: &'a str,
    link: Option<&'a str>,
    id: &'a str,
    updated: Option<String>,
    published: Option<String>,
    authors: &'a [Person],
    summary: Option<&'a str>,
    content: Option<&'a str>,
    categories: &'a [String],
    enclosures: &'a [Enclosure],
    image: Option<&'a str>,
}

/// Prints what tributary takes from `target`, fetched with the fetch settings of the config at
/// `config_path` when it can be read (the defaults otherwise: the command works without one).
pub async fn run(config_path: &Path, target: &str, json: bool) -> ExitCode {
    let fetcher = super::fetcher_for(config_path);
    super::print_or_fail(
        inspect(target, &fetcher, json)
            .await
            .map(|report| format!("{report}\n")),
    )
}

/// Reads `target` (an http(s) URL or a file path) and describes what we take from it.
async fn inspect(target: &str, fetcher: &Fetcher, json: bool) -> Result<String, InspectError> {
    let now = Utc::now();
    let document = super::load(target, fetcher).await?;
    let parsed = parse_document(
        "parse",
        &document.bytes,
        document.content_type.as_deref(),
        &document.url,
        now,
    )
    .map_err(|source| InspectError::Parse {
        target: target.to_string(),
        source,
    })?;
    let links = document.links.or(parsed.websub.clone());
    let report = report(&parsed, &links);
    Ok(if json {
        serde_json::to_string_pretty(&report).expect("the report serializes")
    } else {
        text(&report)
    })
}

fn report<'a>(parsed: &'a ParsedFeed, links: &'a WebSubLinks) -> Report<'a> {
    Report {
        feed: FeedReport {
            title: parsed.title.as_deref(),
            link: parsed.link.as_deref(),
            id: parsed.id.as_deref(),
            updated: parsed.updated.map(rfc3339),
            published: parsed.published.map(rfc3339),
            authors: &parsed.authors,
            subtitle: parsed.subtitle.as_deref(),
            encoding: parsed.encoding,
            hubs: links.hubs.iter().map(Url::as_str).collect(),
            topic: links.topic.as_ref().map(Url::as_str),
        },
        entries: parsed.entries.iter().map(entry_report).collect(),
        unread_entries: parsed.unread_entries,
        repairs: &parsed.repairs,
        repairs_not_listed: parsed.repairs_not_listed,
    }
}

fn entry_report(entry: &Entry) -> EntryReport<'_> {
    EntryReport {
        title: &entry.title,
        link: entry.link.as_deref(),
        id: &entry.key,
        updated: entry.updated.map(rfc3339),
        published: entry.published.map(rfc3339),
        authors: &entry.authors,
        summary: entry.summary.as_deref(),
        content: entry.content.as_deref(),
        categories: &entry.categories,
        enclosures: &entry.enclosures,
        image: entry.image.as_deref(),
    }
}

fn rfc3339(date: DateTime<Utc>) -> String {
    date.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// A short human-readable rendering: one block per entry, bodies left out.
fn text(report: &Report) -> String {
    let line = |label: &str, value: Option<&str>| {
        value.map_or(String::new(), |value| format!("  {label}: {value}\n"))
    };
    let unread = match report.unread_entries {
        0 => String::new(),
        unread => format!(
            " (and {unread} more, left unread: only a document's first {MAX_ENTRIES_PER_DOCUMENT} are read)"
        ),
    };
    let repairs = match report.repairs.len() + report.repairs_not_listed {
        0 => String::new(),
        count => {
            let listed: String = report
                .repairs
                .iter()
                .map(|repair| format!("  - {repair}\n"))
                .collect();
            let more = match report.repairs_not_listed {
                0 => String::new(),
                more => format!("  - and {more} more\n"),
            };
            format!("repaired: {count} (the document is not well-formed)\n{listed}{more}")
        }
    };
    let mut out = format!(
        "feed: {}\n{}{}{}{}  encoding: {}\n{}{}{repairs}entries: {}{unread}\n",
        report.feed.title.unwrap_or("(no title)"),
        line("link", report.feed.link),
        line("id", report.feed.id),
        line("updated", report.feed.updated.as_deref()),
        line("subtitle", report.feed.subtitle),
        report.feed.encoding,
        line(
            "hubs",
            Some(report.feed.hubs.join(", "))
                .filter(|hubs| !hubs.is_empty())
                .as_deref()
        ),
        line("self", report.feed.topic),
        report.entries.len(),
    );
    for entry in &report.entries {
        let authors: Vec<&str> = entry.authors.iter().map(|a| a.name.as_str()).collect();
        out.push_str(&format!(
            "\n- {}\n{}  id: {}\n{}{}{}{}",
            entry.title,
            line("link", entry.link),
            entry.id,
            line("published", entry.published.as_deref()),
            line("updated", entry.updated.as_deref()),
            line(
                "authors",
                Some(&authors.join(", "))
                    .filter(|a| !a.is_empty())
                    .map(String::as_str)
            ),
            line(
                "enclosures",
                Some(entry.enclosures.len().to_string())
                    .filter(|n| n != "0")
                    .as_deref()
            ),
        ));
    }
    out
}
