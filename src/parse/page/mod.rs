//! Pages without a feed → entries: an HTML page read with CSS selectors (`html`), or a JSON
//! document read with JSONPath (`json`), as a source's `html:` or `json:` recipe says.
//!
//! Each item the recipe finds becomes a `RawEntry`, which `parse` maps onto the model exactly
//! as it maps a feed's entries: the same sanitizing, absolute links, date rules and identity.
//! An item is identified by its link, or by its title and date where it has no link.
//!
//! A recipe that finds nothing is an error, never an empty reading: when a site changes its
//! markup, the source must go failing with the selector named, not fall silent.

pub mod html;
pub mod json;

use chrono::{DateTime, NaiveDate, Utc};

use super::RawEntry;
use super::dates::parse_date;

pub use html::{HtmlRecipe, Pick};
pub use json::{JsonPick, JsonRecipe};

/// How to read a source that is a page, not a feed.
#[derive(Debug, Clone, PartialEq)]
pub enum Recipe {
    Html(HtmlRecipe),
    Json(JsonRecipe),
}

impl Recipe {
    /// What finds the items, as the config wrote it: named in errors and warnings.
    pub fn items_query(&self) -> &str {
        match self {
            Recipe::Html(recipe) => recipe.item.as_str(),
            Recipe::Json(recipe) => recipe.items.as_str(),
        }
    }

    /// The key the config writes the recipe under.
    pub fn kind(&self) -> &'static str {
        match self {
            Recipe::Html(_) => "html",
            Recipe::Json(_) => "json",
        }
    }

    /// The fields the recipe sets, as written, in the order the config documents them.
    pub fn fields(&self) -> Vec<(&'static str, &str)> {
        let fields: [(&'static str, Option<&str>); 8] = match self {
            Recipe::Html(recipe) => [
                ("item", Some(recipe.item.as_str())),
                ("title", Some(recipe.title.as_str())),
                ("link", Some(recipe.link.as_str())),
                ("date", recipe.date.as_ref().map(Pick::as_str)),
                ("summary", recipe.summary.as_ref().map(Pick::as_str)),
                ("content", recipe.content.as_ref().map(Pick::as_str)),
                ("author", recipe.author.as_ref().map(Pick::as_str)),
                ("image", recipe.image.as_ref().map(Pick::as_str)),
            ],
            Recipe::Json(recipe) => [
                ("items", Some(recipe.items.as_str())),
                ("title", Some(recipe.title.as_str())),
                ("link", Some(recipe.link.as_str())),
                ("date", recipe.date.as_ref().map(JsonPick::as_str)),
                ("summary", recipe.summary.as_ref().map(JsonPick::as_str)),
                ("content", recipe.content.as_ref().map(JsonPick::as_str)),
                ("author", recipe.author.as_ref().map(JsonPick::as_str)),
                ("image", recipe.image.as_ref().map(JsonPick::as_str)),
            ],
        };
        fields
            .into_iter()
            .filter_map(|(field, written)| Some((field, written?)))
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("{what} {query:?} matched nothing")]
    NoItems { what: &'static str, query: String },
    #[error(
        "{what} {query:?} matched {matched} item(s), but none has a title or a link: check the title and link selectors"
    )]
    NoTitleNorLink {
        what: &'static str,
        query: String,
        matched: usize,
    },
    #[error("JSON that does not parse at {line}:{column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
}

/// The items a recipe found, read as entries.
#[derive(Debug)]
pub(super) struct Items {
    pub entries: Vec<RawEntry>,
    /// The items past the first `MAX_ENTRIES_PER_DOCUMENT`, left unread.
    pub unread: usize,
}

/// Keeps the items with a title or a link; an item with neither is nothing a reader can open.
/// Fails when the recipe matched items but none of them has either.
fn with_title_or_link(
    entries: Vec<RawEntry>,
    what: &'static str,
    query: &str,
) -> Result<Vec<RawEntry>, PageError> {
    let matched = entries.len();
    let kept: Vec<RawEntry> = entries
        .into_iter()
        .filter(|entry| entry.title.is_some() || entry.link.is_some())
        .collect();
    if kept.is_empty() {
        return Err(PageError::NoTitleNorLink {
            what,
            query: query.to_string(),
            matched,
        });
    }
    Ok(kept)
}

/// An item without a link is known by its title and date: the same item on the next poll
/// gets the same id, and another item with the same title on another day is another entry.
fn identify(entry: &mut RawEntry) {
    if entry.link.is_none() {
        let title = entry
            .title
            .as_ref()
            .map_or("", |title| title.value.as_str());
        let date = entry.published.map(|date| date.to_rfc3339());
        entry.id = Some(format!("page:{title}|{}", date.unwrap_or_default()));
    }
}

/// A date as pages write it: whatever feeds use, and the "November 3, 2026" or "3 Nov 2026" of
/// pages written for people, at midnight UTC. Text like "3 days ago" is no date: the entry is
/// dated when first seen.
fn page_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    parse_date(text).or_else(|| {
        let text = text.replace(',', " ");
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        ["%B %d %Y", "%b %d %Y", "%d %B %Y", "%d %b %Y", "%b. %d %Y"]
            .iter()
            .find_map(|format| NaiveDate::parse_from_str(&text, format).ok())
            .map(|day| day.and_time(chrono::NaiveTime::MIN).and_utc())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_dates_take_feed_dates_and_dates_written_for_people() {
        let midnight = |y, m, d| {
            NaiveDate::from_ymd_opt(y, m, d)
                .unwrap()
                .and_time(chrono::NaiveTime::MIN)
                .and_utc()
        };
        assert_eq!(page_date("2026-11-03"), Some(midnight(2026, 11, 3)));
        assert_eq!(page_date(" November 3, 2026 "), Some(midnight(2026, 11, 3)));
        assert_eq!(page_date("Nov 3, 2026"), Some(midnight(2026, 11, 3)));
        assert_eq!(page_date("3 November 2026"), Some(midnight(2026, 11, 3)));
        assert!(page_date("2026-11-03T10:00:00+01:00").is_some());
        assert_eq!(page_date("3 days ago"), None);
        assert_eq!(page_date("yesterday"), None);
    }
}
