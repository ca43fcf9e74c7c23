//! `tributary suggest`: recipes for a page without a feed, for users writing a page source.
//!
//! A URL is fetched exactly as the daemon fetches a source; a file is read as if served without
//! a Content-Type. `suggest` ranks the page's candidate entry lists; each of the best three is
//! printed as a ready-to-paste `sources:` item with the first entries it gives, read by the
//! daemon's own page reader, so the preview is what the feed will hold.

use std::path::Path;
use std::process::ExitCode;

use chrono::{SecondsFormat, Utc};
use serde::Serialize;
use url::Url;

use super::{LoadError, Loaded};
use crate::fetch::Fetcher;
use crate::model::Entry;
use crate::parse::page::Recipe;
use crate::parse::{charset, parse_page};
use crate::suggest;

/// How many candidates are printed, and how many entries of each.
const SHOWN: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum SuggestError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("{0}: not JSON that parses ({1}), and no repeated structure to suggest")]
    Json(String, serde_json::Error),
    #[error(
        "{0}: found no repeated structure with links: the page may be built by JavaScript; \
         look for the JSON it loads (the browser's network tab) and suggest on that URL"
    )]
    Nothing(String),
}

/// One candidate as printed.
#[derive(Serialize)]
struct Candidate {
    /// The recipe's fields, in the config's order.
    recipe: Vec<(&'static str, String)>,
    /// `html` or `json`.
    kind: &'static str,
    items: usize,
    preview: Vec<Preview>,
}

#[derive(Serialize)]
struct Preview {
    title: String,
    link: Option<String>,
    published: Option<String>,
}

/// Prints recipes for `target` (an http(s) URL or a file), fetched with the fetch settings of
/// the config at `config_path` when it can be read.
pub async fn run(config_path: &Path, target: &str, json: bool) -> ExitCode {
    let fetcher = super::fetcher_for(config_path);
    super::print_or_fail(suggest_for(target, &fetcher).await.map(|candidates| {
        if json {
            serde_json::to_string_pretty(&candidates).expect("the report serializes") + "\n"
        } else {
            text(target, &candidates)
        }
    }))
}

async fn suggest_for(target: &str, fetcher: &Fetcher) -> Result<Vec<Candidate>, SuggestError> {
    let document = super::load(target, fetcher).await?;
    let text = charset::decode(&document.bytes, document.content_type.as_deref()).text;
    let candidates: Vec<Candidate> = if text.trim_start().starts_with(['{', '[']) {
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|error| SuggestError::Json(target.to_string(), error))?;
        suggest::suggest_json(&value)
            .iter()
            .filter_map(|suggestion| candidate(suggestion.recipe(), &document))
            .take(SHOWN)
            .collect()
    } else {
        suggest::suggest_html(&text)
            .iter()
            .filter_map(|suggestion| candidate(suggestion.recipe(), &document))
            .take(SHOWN)
            .collect()
    };
    if candidates.is_empty() {
        return Err(SuggestError::Nothing(target.to_string()));
    }
    Ok(candidates)
}

/// A suggestion read with the daemon's reader; `None` when the reader would not take it or
/// finds no entry with it.
fn candidate(recipe: Result<Recipe, String>, document: &Loaded) -> Option<Candidate> {
    let recipe = recipe.ok()?;
    let read = parse_page(
        "suggest",
        &document.bytes,
        document.content_type.as_deref(),
        &document.url,
        Utc::now(),
        &recipe,
    )
    .ok()?;
    Some(Candidate {
        recipe: recipe
            .fields()
            .into_iter()
            .map(|(field, written)| (field, written.to_string()))
            .collect(),
        kind: recipe.kind(),
        items: read.entries.len() + read.unread_entries,
        preview: read.entries.iter().take(SHOWN).map(preview).collect(),
    })
}

fn preview(entry: &Entry) -> Preview {
    Preview {
        title: entry.title.clone(),
        link: entry.link.clone(),
        published: entry
            .published
            .map(|date| date.to_rfc3339_opts(SecondsFormat::Secs, true)),
    }
}

/// The candidates as `sources:` items to paste, each followed by its preview as comments.
fn text(target: &str, candidates: &[Candidate]) -> String {
    let url = super::web_url(target).map_or_else(|| "https://…".to_string(), String::from);
    let name = source_name(target);
    let mut out = String::new();
    for (rank, candidate) in candidates.iter().enumerate() {
        out.push_str(&format!(
            "# {} of {}: {} items\n  - name: \"{name}\"\n    url: \"{url}\"\n    {}:\n",
            rank + 1,
            candidates.len(),
            candidate.items,
            candidate.kind
        ));
        for (field, written) in &candidate.recipe {
            out.push_str(&format!("      {field}: {}\n", yaml_string(written)));
        }
        out.push_str("  # gives:\n");
        for entry in &candidate.preview {
            out.push_str(&format!(
                "  #   {}  {}  {}\n",
                entry.published.as_deref().unwrap_or("(first seen)"),
                entry.title,
                entry.link.as_deref().unwrap_or("(no link)")
            ));
        }
        out.push('\n');
    }
    out
}

/// A source name from the target: the host, or the file's stem, in `[a-z0-9-]`.
fn source_name(target: &str) -> String {
    let base = match Url::parse(target) {
        Ok(url) => url.host_str().unwrap_or("page").to_string(),
        Err(_) => Path::new(target)
            .file_stem()
            .map_or("page".into(), |stem| stem.to_string_lossy().into_owned()),
    };
    let slug: String = base
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let slug = slug.trim_matches('-').to_string();
    if slug.is_empty() { "page".into() } else { slug }
}

/// `text` as a double-quoted YAML string.
fn yaml_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes")
}
