//! The merged feed as JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::{JSON_PATH, Slice, entry_link, entry_urn};
use crate::config::FeedSettings;
use crate::model::Entry;

pub fn render(slice: &Slice, entries: &[Entry]) -> Vec<u8> {
    let settings = slice.settings;
    let mut feed = json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": slice.title,
        "home_page_url": format!("{}/", settings.base_url),
        "feed_url": slice.url(JSON_PATH),
        "description": settings.description,
        "authors": [{ "name": settings.title, "url": format!("{}/", settings.base_url) }],
        "items": entries.iter().map(|entry| item(settings, entry)).collect::<Vec<_>>(),
    });
    if let Some(hub) = settings.hub_url() {
        feed["hubs"] = json!([{ "type": "WebSub", "url": hub }]);
    }
    serde_json::to_vec_pretty(&feed).expect("JSON in memory serializes")
}

fn item(settings: &FeedSettings, entry: &Entry) -> Value {
    let mut item = json!({
        "id": entry_urn(&entry.id),
        "url": entry_link(settings, entry),
        "title": entry.title,
        "content_html": entry.content.as_deref().or(entry.summary.as_deref()).unwrap_or(""),
    });
    let fields = item.as_object_mut().expect("an object");
    // Without content, content_html already carries the summary; a plain-text copy costs an
    // HTML-to-text conversion per entry and render for nothing.
    if let (Some(summary), Some(_)) = (&entry.summary, &entry.content) {
        fields.insert(
            "summary".into(),
            json!(crate::normalize::collapse_whitespace(
                &crate::normalize::html_to_text(summary)
            )),
        );
    }
    if let Some(date) = entry.date() {
        fields.insert("date_published".into(), json!(rfc3339(date)));
    }
    if let Some(updated) = entry.updated {
        fields.insert("date_modified".into(), json!(rfc3339(updated)));
    }
    if !entry.authors.is_empty() {
        let authors: Vec<Value> = entry
            .authors
            .iter()
            .map(|author| match &author.uri {
                Some(uri) => json!({ "name": author.name, "url": uri }),
                None => json!({ "name": author.name }),
            })
            .collect();
        fields.insert("authors".into(), json!(authors));
    }
    if !entry.categories.is_empty() {
        fields.insert("tags".into(), json!(entry.categories));
    }
    if let Some(image) = &entry.image {
        fields.insert("image".into(), json!(image));
    }
    if !entry.enclosures.is_empty() {
        let attachments: Vec<Value> = entry
            .enclosures
            .iter()
            .map(|enclosure| {
                json!({
                    "url": enclosure.url,
                    "mime_type": enclosure.mime_type.as_deref().unwrap_or("application/octet-stream"),
                    "size_in_bytes": enclosure.length,
                })
            })
            .collect();
        fields.insert("attachments".into(), json!(attachments));
    }
    item
}

fn rfc3339(date: DateTime<Utc>) -> String {
    date.to_rfc3339_opts(SecondsFormat::Secs, true)
}
