//! The HTML index and the permalink page of each entry.
//!
//! Both carry `<link rel="alternate">` autodiscovery tags, so pasting any of our URLs into a feed
//! reader subscribes to the merged feed. Text is escaped here; entry HTML was sanitized at ingest.

use chrono::{DateTime, Utc};
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

use super::{ATOM_PATH, RSS_PATH, entry_link, permalink};
use crate::config::FeedSettings;
use crate::model::Entry;
use crate::status::{ConfigStatus, Snapshot, SourceStatus};

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:0 auto;padding:1rem}\
    li{margin:.6rem 0}small{color:#666}img{max-width:100%;height:auto}\
    .tags{list-style:none;padding:0}.tags li{display:inline;margin-right:.5rem;color:#555}\
    .problem{background:#fff3cd;border:1px solid #e0c36c;padding:.5rem}code{overflow-wrap:anywhere}\
    table{border-collapse:collapse;font-size:.85rem}td,th{padding:.2rem .5rem;border-bottom:1px solid #ddd;text-align:left}";

pub fn index_page(settings: &FeedSettings, entries: &[Entry], board: &Snapshot) -> String {
    let items: String = entries
        .iter()
        .map(|entry| {
            format!(
                "<li><a href=\"{}\">{}</a><br><small>{}{} · {}</small></li>\n",
                attr(&entry_link(settings, entry)),
                text(&entry.title),
                text(&entry.source),
                also_in(entry),
                display_date(entry),
            )
        })
        .collect();
    let list = if items.is_empty() {
        "<p>No entries yet: sources are polled at start and then on their schedules.</p>"
            .to_string()
    } else {
        format!("<ol>\n{items}</ol>")
    };
    let body = format!(
        "<header><h1>{title}</h1><p>{description}</p>\
         <p>Subscribe: <a href=\"{base}{ATOM_PATH}\">Atom</a> · <a href=\"{base}{RSS_PATH}\">RSS</a></p></header>\n\
         {problems}<main>{list}</main>\n{health}",
        problems = config_problems(&board.config),
        health = health_section(&board.sources),
        title = text(&settings.title),
        description = text(&settings.description),
        base = attr(&settings.base_url),
    );
    page(settings, &settings.title, "", &body)
}

pub fn entry_page(settings: &FeedSettings, entry: &Entry) -> String {
    let authors: Vec<String> = entry
        .authors
        .iter()
        .map(|author| text(&author.name).into_owned())
        .collect();
    let byline = if authors.is_empty() {
        String::new()
    } else {
        format!(" · {}", authors.join(", "))
    };
    let tags = if entry.categories.is_empty() {
        String::new()
    } else {
        let tags: Vec<String> = entry
            .categories
            .iter()
            .map(|tag| format!("<li>{}</li>", text(tag)))
            .collect();
        format!("<ul class=\"tags\">{}</ul>", tags.concat())
    };
    let original = match &entry.link {
        Some(link) => format!("<p><a href=\"{}\">Read the original</a></p>", attr(link)),
        None => String::new(),
    };
    let body = format!(
        "<p><a href=\"{base}/\">{feed}</a></p>\n<article><h1>{title}</h1>\
         <p><small>{source}{also} · {date}{byline}</small></p>\n{tags}{content}\n{original}</article>",
        also = also_in(entry),
        base = attr(&settings.base_url),
        feed = text(&settings.title),
        title = text(&entry.title),
        source = text(&entry.source),
        date = display_date(entry),
        content = entry
            .content
            .as_deref()
            .or(entry.summary.as_deref())
            .unwrap_or(""),
    );
    let canonical = format!(
        "<link rel=\"canonical\" href=\"{}\">",
        attr(&permalink(settings, &entry.id))
    );
    page(settings, &entry.title, &canonical, &body)
}

/// A table of every source's health, as `/status` reports it.
/// What the owner must know about config.yaml: an edit that was not applied, or one that waits
/// for a restart. Shown at the top, where it cannot be missed.
fn config_problems(config: &ConfigStatus) -> String {
    let mut problems = String::new();
    if let Some(error) = &config.error {
        problems.push_str(&format!(
            "<p class=\"problem\" role=\"alert\">The last edit of the config file was not applied; \
             the previous configuration stays in force until it is fixed:<br><code>{}</code></p>\n",
            text(error)
        ));
    }
    if !config.needs_restart.is_empty() {
        problems.push_str(&format!(
            "<p class=\"problem\">Changed in {}: {}. These take effect when tributary restarts.</p>\n",
            text(&config.path),
            text(&config.needs_restart.join(", "))
        ));
    }
    problems
}

fn health_section(sources: &[SourceStatus]) -> String {
    if sources.is_empty() {
        return String::new();
    }
    let time = |date: Option<DateTime<Utc>>| {
        date.map_or_else(
            || "–".to_string(),
            |date| date.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        )
    };
    let rows: String = sources
        .iter()
        .map(|source| {
            format!(
                "<tr><td>{source}</td><td>{state}</td><td>{http}</td><td>{entries}</td><td>{hidden}</td>\
                 <td>{attempt}</td><td>{success}</td><td>{next}</td><td>{error}</td></tr>\n",
                source = source_cell(source),
                state = state(source),
                http = source.http_status.map_or_else(|| "–".to_string(), |s| s.to_string()),
                entries = source.entries,
                hidden = source.hidden_by_filters,
                attempt = time(source.last_attempt),
                success = time(source.last_success),
                next = time(source.next_poll),
                error = text(source.last_error.as_deref().unwrap_or("")),
            )
        })
        .collect();
    format!(
        "<section><h2>Sources</h2><p><a href=\"status\">status as JSON</a></p><div style=\"overflow-x:auto\"><table>\
         <tr><th>source</th><th>state</th><th>HTTP</th><th>entries</th><th>hidden by filters</th><th>last attempt</th>\
         <th>last success</th><th>next poll</th><th>last error</th></tr>\n{rows}</table></div></section>"
    )
}

/// The source's name, linked to its own feed here, and where it is read from: the remote
/// feed's address as a link, the seeds folder's path as text (a link would lead nowhere).
fn source_cell(source: &SourceStatus) -> String {
    let origin = if source.url.starts_with("http://") || source.url.starts_with("https://") {
        format!(
            "<a href=\"{url}\">{text}</a>",
            url = attr(&source.url),
            text = text(&source.url)
        )
    } else {
        text(&source.url).into_owned()
    };
    format!(
        "<a href=\"sources/{name}{ATOM_PATH}\">{name}</a><br><small>{origin}</small>",
        name = text(&source.name),
    )
}

/// The source's state, and how many repairs its last document needed, listed on hover.
fn state(source: &SourceStatus) -> String {
    match &source.repaired {
        None => source.state.as_str().to_string(),
        Some(repaired) => format!(
            "{state} <span title=\"{first}\">({count} repaired)</span>",
            state = source.state.as_str(),
            first = attr(&repaired.first.join("\n")),
            count = repaired.count,
        ),
    }
}

/// A whole page; `head` is extra markup for its `<head>`.
fn page(settings: &FeedSettings, title: &str, head: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title>\n\
         <link rel=\"alternate\" type=\"application/atom+xml\" title=\"{feed} (Atom)\" href=\"{base}{ATOM_PATH}\">\n\
         <link rel=\"alternate\" type=\"application/rss+xml\" title=\"{feed} (RSS)\" href=\"{base}{RSS_PATH}\">\n\
         {head}<style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n",
        title = text(title),
        feed = attr(&settings.title),
        base = attr(&settings.base_url),
    )
}

/// " (also in a, b)" for a story other sources carried too.
fn also_in(entry: &Entry) -> String {
    if entry.also_in.is_empty() {
        return String::new();
    }
    format!(" (also in {})", text(&entry.also_in.join(", ")))
}

fn display_date(entry: &Entry) -> String {
    entry
        .date()
        .map(|date| date.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}
