//! A JSON document read with JSONPath (RFC 9535): `items` finds the entries, and each field's
//! path is evaluated against one item (`$` is the item), the first value taken.
//!
//! Strings are taken as they are, numbers as their digits; a date may also be a Unix time in
//! seconds or milliseconds, as APIs often give it. Bodies (`summary`, `content`) are HTML.

use chrono::{DateTime, Utc};
use serde_json::Value;
use serde_json_path::JsonPath;
use url::Url;

use super::{Items, PageError, identify, page_date, with_title_or_link};
use crate::normalize::{absolute_url, collapse_whitespace};
use crate::parse::{MAX_ENTRIES_PER_DOCUMENT, RawEntry, RawPerson, Text};

/// A `json:` recipe.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonRecipe {
    pub items: JsonPick,
    pub title: JsonPick,
    pub link: JsonPick,
    pub date: Option<JsonPick>,
    pub summary: Option<JsonPick>,
    pub content: Option<JsonPick>,
    pub author: Option<JsonPick>,
    pub image: Option<JsonPick>,
}

/// A parsed JSONPath, with the text the config wrote.
#[derive(Debug, Clone)]
pub struct JsonPick {
    written: String,
    path: JsonPath,
}

/// Equal when written alike: the same text parses to the same selector.
impl PartialEq for JsonPick {
    fn eq(&self, other: &JsonPick) -> bool {
        self.written == other.written
    }
}

impl JsonPick {
    /// Parses a JSONPath; says where one that does not parse goes wrong.
    pub fn parse(written: &str) -> Result<JsonPick, String> {
        let path = JsonPath::parse(written.trim()).map_err(|error| {
            format!(
                "{written:?} is not a JSONPath (RFC 9535): at character {}, {}",
                error.position(),
                error.message()
            )
        })?;
        Ok(JsonPick {
            written: written.to_string(),
            path,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.written
    }

    /// The first value the path finds in `item`, as text; `None` when empty or not a scalar.
    fn text(&self, item: &Value) -> Option<String> {
        let text = match self.path.query(item).first()? {
            Value::String(text) => collapse_whitespace(text),
            Value::Number(number) => number.to_string(),
            _ => return None,
        };
        (!text.is_empty()).then_some(text)
    }
}

/// Reads the items of the JSON document `text`, fetched from `url`.
pub(in crate::parse) fn read(
    text: &str,
    url: &Url,
    recipe: &JsonRecipe,
) -> Result<Items, PageError> {
    let document: Value = serde_json::from_str(text).map_err(|error| PageError::Json {
        line: error.line(),
        column: error.column(),
        message: error.to_string(),
    })?;
    let found = recipe.items.path.query(&document).all();
    if found.is_empty() {
        return Err(PageError::NoItems {
            what: "JSONPath",
            query: recipe.items.as_str().to_string(),
        });
    }
    let read = found.len().min(MAX_ENTRIES_PER_DOCUMENT);
    let entries = found[..read]
        .iter()
        .map(|item| read_item(item, recipe, url))
        .collect();
    Ok(Items {
        entries: with_title_or_link(entries, "JSONPath", recipe.items.as_str())?,
        unread: found.len() - read,
    })
}

fn read_item(item: &Value, recipe: &JsonRecipe, url: &Url) -> RawEntry {
    let optional = |pick: &Option<JsonPick>| pick.as_ref()?.text(item);
    let mut entry = RawEntry::at(url.clone());
    entry.title = recipe.title.text(item).map(Text::plain);
    entry.link = recipe
        .link
        .text(item)
        .and_then(|link| absolute_url(&link, Some(url)));
    entry.published = optional(&recipe.date).and_then(|date| json_date(&date));
    entry.summary = optional(&recipe.summary).map(Text::html);
    entry.content = optional(&recipe.content).map(Text::html);
    entry.authors = optional(&recipe.author)
        .map(|name| RawPerson {
            name: Some(name),
            ..RawPerson::default()
        })
        .into_iter()
        .collect();
    entry.image = optional(&recipe.image).and_then(|src| absolute_url(&src, Some(url)));
    identify(&mut entry);
    entry
}

/// A date as text, or as a Unix time: milliseconds when it is too large for seconds of this
/// era.
fn json_date(text: &str) -> Option<DateTime<Utc>> {
    let Ok(number) = text.parse::<i64>() else {
        return page_date(text);
    };
    if number > 100_000_000_000 {
        DateTime::from_timestamp_millis(number)
    } else {
        DateTime::from_timestamp(number, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recipe(items: &str) -> JsonRecipe {
        let pick = |path: &str| JsonPick::parse(path).unwrap();
        JsonRecipe {
            items: pick(items),
            title: pick("$.title"),
            link: pick("$.url"),
            date: Some(pick("$.published_at")),
            summary: None,
            content: Some(pick("$.body_html")),
            author: Some(pick("$.author.name")),
            image: None,
        }
    }

    #[test]
    fn items_are_read_by_path_with_dates_as_text_or_unix_time() {
        let document = r#"{"data": {"posts": [
            {"title": "One", "url": "/p/1", "published_at": "2026-11-03T10:00:00Z",
             "body_html": "<p>Hi</p>", "author": {"name": "Ann"}},
            {"title": "Two", "url": "https://api.example/p/2", "published_at": 1762164000},
            {"title": "Three", "published_at": 1762164000000},
            {"id": 4}
        ]}}"#;
        let url = Url::parse("https://api.example/v1/posts").unwrap();
        let items = read(document, &url, &recipe("$.data.posts[*]")).unwrap();
        let entries = &items.entries;
        assert_eq!(
            entries.len(),
            3,
            "the item with neither title nor link is left out"
        );
        assert_eq!(entries[0].link.as_deref(), Some("https://api.example/p/1"));
        assert_eq!(entries[0].content, Some(Text::html("<p>Hi</p>".into())));
        assert_eq!(entries[0].authors[0].name.as_deref(), Some("Ann"));
        assert_eq!(entries[1].published, entries[2].published);
        assert_eq!(
            entries[1].published.unwrap().to_rfc3339(),
            "2025-11-03T10:00:00+00:00"
        );
        assert!(entries[2].id.as_deref().unwrap().starts_with("page:Three|"));
    }

    #[test]
    fn a_path_that_finds_nothing_or_a_document_that_is_not_json_says_so() {
        let url = Url::parse("https://api.example/").unwrap();
        let error = read(r#"{"data": {}}"#, &url, &recipe("$.data.posts[*]")).unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"JSONPath "$.data.posts[*]" matched nothing"#
        );
        let error = read("{\n  \"a\": ", &url, &recipe("$[*]")).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("JSON that does not parse at 2:"),
            "{error}"
        );
        let error = JsonPick::parse("$.data[").unwrap_err();
        assert!(error.starts_with(r#""$.data[" is not a JSONPath (RFC 9535): at character"#));
    }
}
