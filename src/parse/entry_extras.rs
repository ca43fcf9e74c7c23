//! What feed-rs leaves out about each entry of an XML feed, found in one more walk.
//!
//! - The `xml:base` in scope: feed-rs resolves the links it reports against it, but not the
//!   HTML inside content, and exposes only an `xml:base` written on the content element itself.
//! - A `media:thumbnail` standing alone in an item (BBC-style feeds): feed-rs keeps thumbnails
//!   only next to a `media:content`.
//!
//! Entries are matched by position: every `entry` / `item` element, in document order.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use url::Url;

#[derive(Debug, Clone, PartialEq)]
pub struct EntryExtras {
    /// The base URL in scope: the document URL, then every enclosing `xml:base`.
    pub base: Url,
    /// The first `media:thumbnail` URL inside the entry, as written.
    pub thumbnail: Option<String>,
}

/// One value per `entry` / `item` element, in document order; empty if the walk fails.
pub fn entry_extras(document: &str, document_url: &Url) -> Vec<EntryExtras> {
    let mut reader = Reader::from_str(document);
    let mut scopes: Vec<Url> = vec![document_url.clone()];
    let mut extras: Vec<EntryExtras> = Vec::new();
    // How many elements deep we are inside the current entry, if inside one.
    let mut entry_depth: Option<usize> = None;
    loop {
        let event = match reader.read_event() {
            Ok(Event::Eof) => return extras,
            Err(_) => return Vec::new(),
            Ok(event) => event,
        };
        match event {
            Event::Start(element) => {
                let base = scoped_base(&element, scopes.last().expect("the document scope"));
                if entry_depth.is_none() && is_entry(&element) {
                    extras.push(EntryExtras {
                        base: base.clone(),
                        thumbnail: None,
                    });
                    entry_depth = Some(0);
                } else if let Some(depth) = entry_depth.as_mut() {
                    *depth += 1;
                    note_thumbnail(&element, &mut extras);
                }
                scopes.push(base);
            }
            Event::Empty(element) => {
                if entry_depth.is_none() && is_entry(&element) {
                    let base = scoped_base(&element, scopes.last().expect("the document scope"));
                    extras.push(EntryExtras {
                        base,
                        thumbnail: None,
                    });
                } else if entry_depth.is_some() {
                    note_thumbnail(&element, &mut extras);
                }
            }
            Event::End(_) => {
                if scopes.len() > 1 {
                    scopes.pop();
                }
                entry_depth = match entry_depth {
                    Some(0) | None => None,
                    Some(depth) => Some(depth - 1),
                };
            }
            _ => {}
        }
    }
}

fn is_entry(element: &BytesStart) -> bool {
    matches!(element.local_name().as_ref(), "entry" | "item")
}

fn note_thumbnail(element: &BytesStart, extras: &mut [EntryExtras]) {
    if element.name().as_ref() != "media:thumbnail" {
        return;
    }
    if let Some(current) = extras.last_mut()
        && current.thumbnail.is_none()
    {
        current.thumbnail = attribute(element, "url");
    }
}

fn scoped_base(element: &BytesStart, outer: &Url) -> Url {
    attribute(element, "xml:base")
        .and_then(|base| outer.join(&base).ok())
        .unwrap_or_else(|| outer.clone())
}

fn attribute(element: &BytesStart, name: &str) -> Option<String> {
    element
        .attributes()
        .flatten()
        .find(|attr| attr.key.as_ref() == name)
        .and_then(|attr| {
            attr.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()
                .map(|value| value.into_owned())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_bases_accumulate_and_thumbnails_belong_to_their_entry() {
        let url = Url::parse("https://origin.example/feeds/a.xml").unwrap();
        let extras = entry_extras(
            "<feed xml:base=\"/blog/\"><entry xml:base=\"2003/\"><x><media:thumbnail url=\"t.jpg\"/></x></entry>\
             <entry/><item><title>t</title></item></feed>",
            &url,
        );
        let found: Vec<(&str, Option<&str>)> = extras
            .iter()
            .map(|extra| (extra.base.as_str(), extra.thumbnail.as_deref()))
            .collect();
        assert_eq!(
            found,
            [
                ("https://origin.example/blog/2003/", Some("t.jpg")),
                ("https://origin.example/blog/", None),
                ("https://origin.example/blog/", None),
            ]
        );
    }
}
