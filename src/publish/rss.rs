//! The merged feed as RSS 2.0, built with the rss crate.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rss::extension::atom::{AtomExtension, Link};
use rss::extension::dublincore::DublinCoreExtension;
use rss::{Category, Channel, Guid, Item};

use super::{RSS_PATH, SOURCE_SCHEME, Slice, carried_by, entry_link, entry_urn, newest_date};
use crate::config::FeedSettings;
use crate::model::Entry;

pub fn render(slice: &Slice, entries: &[Entry]) -> Vec<u8> {
    let settings = slice.settings;
    let channel = Channel {
        title: slice.title.clone(),
        link: format!("{}/", settings.base_url),
        description: settings.description.clone(),
        generator: Some(format!("tributary {}", env!("CARGO_PKG_VERSION"))),
        last_build_date: newest_date(entries).map(rfc822),
        atom_ext: Some(AtomExtension {
            links: [Link {
                href: slice.url(RSS_PATH),
                rel: "self".to_string(),
                mime_type: Some("application/rss+xml".to_string()),
                ..Default::default()
            }]
            .into_iter()
            .chain(settings.hub_url().map(|hub| Link {
                href: hub,
                rel: "hub".to_string(),
                ..Default::default()
            }))
            .collect(),
        }),
        items: entries
            .iter()
            .map(|entry| to_item(settings, entry))
            .collect(),
        namespaces: BTreeMap::new(),
        ..Default::default()
    };
    channel
        .write_to(Vec::new())
        .expect("writing XML into memory cannot fail")
}

fn to_item(settings: &FeedSettings, entry: &Entry) -> Item {
    let creators: Vec<String> = entry
        .authors
        .iter()
        .map(|author| author.name.clone())
        .collect();
    Item {
        title: Some(entry.title.clone()),
        link: Some(entry_link(settings, entry)),
        description: entry.content.clone().or_else(|| entry.summary.clone()),
        guid: Some(Guid {
            value: entry_urn(&entry.id),
            permalink: false,
        }),
        pub_date: entry.date().map(rfc822),
        // RSS 2.0 allows one enclosure per item; Atom carries them all.
        enclosure: entry.enclosures.first().map(|enclosure| rss::Enclosure {
            url: enclosure.url.clone(),
            length: enclosure.length.unwrap_or(0).to_string(),
            mime_type: enclosure
                .mime_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".to_string()),
        }),
        categories: entry
            .categories
            .iter()
            .map(|name| Category {
                name: name.clone(),
                domain: None,
            })
            .chain(carried_by(entry).into_iter().map(|source| Category {
                name: source.to_string(),
                domain: Some(SOURCE_SCHEME.to_string()),
            }))
            .collect(),
        // RSS's own <author> must be an e-mail address; names go into dc:creator.
        dublin_core_ext: (!creators.is_empty()).then(|| DublinCoreExtension {
            creators,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn rfc822(date: DateTime<Utc>) -> String {
    date.to_rfc2822()
}
