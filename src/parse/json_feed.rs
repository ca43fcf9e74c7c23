//! JSON Feed 1.0 and 1.1, read as feedparser reads them: by what the fields hold, not by the
//! letter of the version string.
//!
//! Publishers write `http://jsonfeed.org/version/1`, leave `version` out, give `tags` as one
//! string, ids as numbers, and mix 1.0's `author` with 1.1's `authors`. An object with an
//! `items` array is a JSON Feed; each field is taken when it has a usable type and skipped
//! otherwise, so one odd field never costs the document.

use serde_json::{Map, Value};
use url::Url;

use super::dates::parse_date;
use super::{ParseError, RawEntry, RawFeed, RawPerson, Text, WebSubLinks};
use crate::model::Enclosure;
use crate::normalize::absolute_url;

/// Reads `text` (JSON) as a JSON Feed.
pub fn read(text: &str, document_url: &Url) -> Result<RawFeed, ParseError> {
    let value: Value = serde_json::from_str(text).map_err(|error| {
        ParseError::new(format!(
            "JSON that does not parse at {}:{}: {error}",
            error.line(),
            error.column()
        ))
    })?;
    let Some(feed) = value.as_object() else {
        return Err(ParseError::new("JSON, but not an object: not a JSON Feed"));
    };
    if let Some(version) = string(feed, "version")
        && !version.contains("jsonfeed.org/version/1")
    {
        return Err(ParseError::new(format!(
            "a JSON Feed of version {version:?}, which tributary does not know (it reads 1.0 and 1.1)"
        )));
    }
    let Some(items) = feed.get("items").and_then(Value::as_array) else {
        return Err(ParseError::new(
            "JSON without an \"items\" array: not a JSON Feed",
        ));
    };
    let authors = people(feed);
    let entries = items
        .iter()
        .filter_map(Value::as_object)
        .map(|item| {
            let mut entry = read_item(item, document_url);
            // The spec: an item without authors has the feed's.
            if entry.authors.is_empty() {
                entry.authors = authors.clone();
            }
            entry
        })
        .collect();
    Ok(RawFeed {
        title: string(feed, "title").map(Text::plain),
        link: string(feed, "home_page_url").and_then(|url| absolute_url(&url, Some(document_url))),
        id: None,
        updated: None,
        published: None,
        authors,
        subtitle: string(feed, "description").map(Text::plain),
        entries,
        websub: websub_links(feed, document_url),
    })
}

/// The hubs of `hubs` (each `{type, url}`; the type only informs) and `feed_url` as self.
fn websub_links(feed: &Map<String, Value>, document_url: &Url) -> WebSubLinks {
    let mut links = WebSubLinks::default();
    let hubs = feed.get("hubs").and_then(Value::as_array);
    for hub in hubs.into_iter().flatten().filter_map(Value::as_object) {
        if let Some(url) = string(hub, "url") {
            links.add("hub", &url, document_url);
        }
    }
    if let Some(url) = string(feed, "feed_url") {
        links.add("self", &url, document_url);
    }
    links
}

fn read_item(item: &Map<String, Value>, document_url: &Url) -> RawEntry {
    let mut entry = RawEntry::at(document_url.clone());
    entry.id = match item.get("id") {
        Some(Value::String(id)) => Some(id.trim().to_string()).filter(|id| !id.is_empty()),
        Some(Value::Number(id)) => Some(id.to_string()),
        _ => None,
    };
    let url = |name| string(item, name).and_then(|url| absolute_url(&url, Some(document_url)));
    entry.link = url("url").or_else(|| url("external_url"));
    entry.title = string(item, "title").map(Text::plain);
    let html = string(item, "content_html").map(Text::html);
    let text = string(item, "content_text").map(Text::plain);
    entry.summary = string(item, "summary").map(Text::plain);
    match (html, text) {
        (Some(html), text) => {
            entry.content = Some(html);
            if entry.summary.is_none() {
                entry.summary = text;
            }
        }
        (None, text) => entry.content = text,
    }
    entry.published = string(item, "date_published").and_then(|date| parse_date(&date));
    entry.updated = string(item, "date_modified").and_then(|date| parse_date(&date));
    entry.authors = people(item);
    entry.categories = match item.get("tags") {
        Some(Value::Array(tags)) => tags
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(Value::String(tag)) => vec![tag.clone()],
        _ => Vec::new(),
    };
    entry.image = url("image");
    entry.enclosures = item
        .get("attachments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .filter_map(|attachment| {
            Some(Enclosure {
                url: absolute_url(&string(attachment, "url")?, Some(document_url))?,
                mime_type: string(attachment, "mime_type"),
                length: attachment.get("size_in_bytes").and_then(Value::as_u64),
            })
        })
        .collect();
    entry
}

/// 1.1's `authors` and 1.0's `author`, each person once.
fn people(object: &Map<String, Value>) -> Vec<RawPerson> {
    let listed = object.get("authors").and_then(Value::as_array);
    let mut people: Vec<RawPerson> = Vec::new();
    for person in listed
        .into_iter()
        .flatten()
        .chain(object.get("author"))
        .filter_map(Value::as_object)
    {
        let person = RawPerson {
            name: string(person, "name"),
            email: None,
            uri: string(person, "url"),
        };
        if person != RawPerson::default() && !people.contains(&person) {
            people.push(person);
        }
    }
    people
}

/// The non-empty string at `name`.
fn string(object: &Map<String, Value>, name: &str) -> Option<String> {
    object
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(str::to_string)
}
