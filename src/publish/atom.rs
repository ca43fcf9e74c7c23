//! The merged feed as Atom 1.0 (RFC 4287), built with atom_syndication.

use atom_syndication::{Category, Content, Entry as AtomEntry, Feed, Link, Person, Text};
use chrono::{DateTime, FixedOffset, Utc};

use super::{
    ATOM_PATH, SOURCE_SCHEME, Slice, carried_by, entry_link, entry_urn, newest_date, uuid_urn,
};
use crate::config::FeedSettings;
use crate::model::Entry;

pub fn render(slice: &Slice, entries: &[Entry]) -> Vec<u8> {
    let settings = slice.settings;
    let feed = Feed {
        title: Text::plain(&slice.title),
        id: uuid_urn(&["feed", &settings.base_url, &slice.prefix]),
        updated: fixed(newest_date(entries).unwrap_or(DateTime::UNIX_EPOCH)),
        // Entries without authors of their own inherit the feed's, as RFC 4287 requires one.
        authors: vec![Person {
            name: settings.title.clone(),
            uri: Some(format!("{}/", settings.base_url)),
            ..Default::default()
        }],
        links: [
            link("self", slice.url(ATOM_PATH), Some("application/atom+xml")),
            link(
                "alternate",
                format!("{}/", settings.base_url),
                Some("text/html"),
            ),
        ]
        .into_iter()
        .chain(settings.hub_url().map(|hub| link("hub", hub, None)))
        .collect(),
        subtitle: Some(Text::plain(&settings.description)),
        generator: Some(atom_syndication::Generator {
            value: "tributary".to_string(),
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
            ..Default::default()
        }),
        entries: entries
            .iter()
            .map(|entry| to_atom(settings, entry))
            .collect(),
        ..Default::default()
    };
    feed.write_to(Vec::new())
        .expect("writing XML into memory cannot fail")
}

fn to_atom(settings: &FeedSettings, entry: &Entry) -> AtomEntry {
    let published = entry.date().unwrap_or(DateTime::UNIX_EPOCH);
    AtomEntry {
        title: Text::plain(&entry.title),
        id: entry_urn(&entry.id),
        updated: fixed(entry.updated.unwrap_or(published).max(published)),
        published: Some(fixed(published)),
        authors: entry
            .authors
            .iter()
            .map(|author| Person {
                name: author.name.clone(),
                email: author.email.clone(),
                uri: author.uri.clone(),
                ..Default::default()
            })
            .collect(),
        categories: entry
            .categories
            .iter()
            .map(|term| Category {
                term: term.clone(),
                ..Default::default()
            })
            .chain(carried_by(entry).into_iter().map(|source| Category {
                term: source.to_string(),
                scheme: Some(SOURCE_SCHEME.to_string()),
                label: Some(format!("via {source}")),
            }))
            .collect(),
        links: std::iter::once(link(
            "alternate",
            entry_link(settings, entry),
            Some("text/html"),
        ))
        .chain(entry.enclosures.iter().map(|enclosure| Link {
            href: enclosure.url.clone(),
            rel: "enclosure".to_string(),
            mime_type: enclosure.mime_type.clone(),
            length: enclosure.length.map(|length| length.to_string()),
            ..Default::default()
        }))
        .collect(),
        summary: entry.summary.as_ref().map(Text::html),
        content: entry.content.as_ref().map(|html| Content {
            value: Some(html.clone()),
            content_type: Some("html".to_string()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn link(rel: &str, href: String, mime_type: Option<&str>) -> Link {
    Link {
        href,
        rel: rel.to_string(),
        mime_type: mime_type.map(str::to_string),
        ..Default::default()
    }
}

fn fixed(date: DateTime<Utc>) -> DateTime<FixedOffset> {
    date.fixed_offset()
}
