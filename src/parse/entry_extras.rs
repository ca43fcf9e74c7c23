//! What feed-rs leaves out about each entry of an XML feed, found in one more walk.
//!
//! - The `xml:base` in scope: feed-rs resolves the links it reports against it, but not the
//!   HTML inside content, and exposes only an `xml:base` written on the content element itself.
//! - A `media:thumbnail` standing alone in an item (BBC-style feeds): feed-rs keeps thumbnails
//!   only next to a `media:content`.
//! - Dublin Core Terms dates (`dcterms:created`, `issued`, `date`, `modified`), which feed-rs
//!   does not read.
//!
//! - Where each entry's bytes are, so an entry whose bytes did not change since the last poll
//!   can be recognized without being read again.
//!
//! Entries are matched by position: every `entry` / `item` element, in document order.

use std::ops::Range;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use url::Url;

#[derive(Debug, Clone, PartialEq)]
pub struct EntryExtras {
    /// The base URL in scope: the document URL, then every enclosing `xml:base`.
    pub base: Url,
    /// The first `media:thumbnail` URL inside the entry, as written.
    pub thumbnail: Option<String>,
    /// The first `dcterms:created`, `dcterms:issued` or `dcterms:date`, as written.
    pub dcterms_published: Option<String>,
    /// The first `dcterms:modified`, as written.
    pub dcterms_modified: Option<String>,
    /// The entry element's bytes in the document, from `<` to `>`; `None` outside XML.
    pub span: Option<Range<usize>>,
}

impl EntryExtras {
    pub fn at(base: Url) -> EntryExtras {
        EntryExtras {
            base,
            thumbnail: None,
            dcterms_published: None,
            dcterms_modified: None,
            span: None,
        }
    }

    fn starting(base: Url, at: usize) -> EntryExtras {
        EntryExtras {
            span: Some(at..at),
            ..EntryExtras::at(base)
        }
    }
}

/// One value per `entry` / `item` element, in document order; empty if the walk fails.
pub fn entry_extras(document: &str, document_url: &Url) -> Vec<EntryExtras> {
    let mut reader = Reader::from_str(document);
    // The base URLs in scope, each with the depth of the element that declared it: most
    // elements declare none, and cloning the URL in scope for each was an allocation each.
    let mut bases: Vec<(usize, Url)> = vec![(0, document_url.clone())];
    let mut depth = 0;
    let mut extras: Vec<EntryExtras> = Vec::new();
    // How many elements deep we are inside the current entry, if inside one.
    let mut entry_depth: Option<usize> = None;
    // The dcterms element whose text comes next, if any.
    let mut reading: Option<String> = None;
    loop {
        let before = position(&reader);
        let event = match reader.read_event() {
            Ok(Event::Eof) => return extras,
            Err(_) => return Vec::new(),
            Ok(event) => event,
        };
        match event {
            Event::Start(element) => {
                depth += 1;
                let outer = &bases.last().expect("the document's base").1;
                if let Some(base) = declared_base(&element, outer) {
                    bases.push((depth, base));
                }
                let base = &bases.last().expect("the document's base").1;
                if entry_depth.is_none() && is_entry(&element) {
                    extras.push(EntryExtras::starting(base.clone(), before));
                    entry_depth = Some(0);
                } else if let Some(depth) = entry_depth.as_mut() {
                    *depth += 1;
                    note_thumbnail(&element, &mut extras);
                    reading = element
                        .name()
                        .as_ref()
                        .strip_prefix("dcterms:")
                        .map(str::to_string);
                }
            }
            Event::Empty(element) => {
                if entry_depth.is_none() && is_entry(&element) {
                    let outer = &bases.last().expect("the document's base").1;
                    let base = declared_base(&element, outer).unwrap_or_else(|| outer.clone());
                    let mut empty = EntryExtras::starting(base, before);
                    empty.span = Some(before..position(&reader));
                    extras.push(empty);
                } else if entry_depth.is_some() {
                    note_thumbnail(&element, &mut extras);
                }
            }
            Event::Text(text) => {
                if let (Some(term), Some(current)) = (reading.take(), extras.last_mut()) {
                    let value = Some(text.xml10_content().trim().to_string());
                    match term.as_str() {
                        "created" | "issued" | "date" if current.dcterms_published.is_none() => {
                            current.dcterms_published = value;
                        }
                        "modified" if current.dcterms_modified.is_none() => {
                            current.dcterms_modified = value;
                        }
                        _ => {}
                    }
                }
            }
            Event::End(_) => {
                reading = None;
                if bases.len() > 1 && bases.last().is_some_and(|(declared, _)| *declared == depth) {
                    bases.pop();
                }
                depth = depth.saturating_sub(1);
                entry_depth = match entry_depth {
                    Some(0) => {
                        let end = position(&reader);
                        if let Some(span) = extras.last_mut().and_then(|last| last.span.as_mut()) {
                            span.end = end;
                        }
                        None
                    }
                    None => None,
                    Some(depth) => Some(depth - 1),
                };
            }
            _ => {}
        }
    }
}

fn position(reader: &Reader<&[u8]>) -> usize {
    usize::try_from(reader.buffer_position()).expect("a document in memory fits usize")
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

/// The base URL `element` declares with `xml:base`, resolved against the one around it.
fn declared_base(element: &BytesStart, outer: &Url) -> Option<Url> {
    attribute(element, "xml:base").and_then(|base| outer.join(&base).ok())
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
        let dated = entry_extras(
            "<rss><channel><item><dcterms:modified>2024-02-01</dcterms:modified>\
             <dcterms:created>2024-01-01</dcterms:created></item></channel></rss>",
            &url,
        );
        assert_eq!(dated[0].dcterms_published.as_deref(), Some("2024-01-01"));
        assert_eq!(dated[0].dcterms_modified.as_deref(), Some("2024-02-01"));
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

    #[test]
    fn spans_cover_each_entry_element() {
        let url = Url::parse("https://origin.example/").unwrap();
        let document = "<rss><channel><title>c</title>\n <item><title>a</title></item><item/>\n</channel></rss>";
        let spans: Vec<&str> = entry_extras(document, &url)
            .into_iter()
            .map(|extra| &document[extra.span.unwrap()])
            .collect();
        assert_eq!(spans, ["<item><title>a</title></item>", "<item/>"]);
    }
}
