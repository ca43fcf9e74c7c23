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
//! - Where each entry's long texts are (its body, summary, title when long and plain text), so
//!   that they can be read without feed-rs (`long_texts`).
//!
//! Entries are matched by position: every `entry` / `item` element, in document order.
//!
//! The walk reads markup with a scanner of its own (`Markup`) rather than quick-xml's reader,
//! which split the escaped HTML of every body at each reference and checked each piece's
//! UTF-8: that was most of the walk, and this walk is most of a poll whose entries are known.

use std::ops::Range;

use quick_xml::events::BytesStart;
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
    /// The contents of the entry's `title`, `description`, `content:encoded`, `content` and
    /// `summary` children that hold text alone (no element, not `type="xhtml"`) and are at least
    /// `LONG_TEXT_BYTES` long, in document order.
    pub long_texts: Vec<Range<usize>>,
}

/// Texts shorter than this are left to feed-rs: setting them aside would cost more than it
/// saves.
const LONG_TEXT_BYTES: usize = 128;

impl EntryExtras {
    pub fn at(base: Url) -> EntryExtras {
        EntryExtras {
            base,
            thumbnail: None,
            dcterms_published: None,
            dcterms_modified: None,
            span: None,
            long_texts: Vec::new(),
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
    let mut markup = Markup::new(document);
    // The base URLs in scope, each with the depth of the element that declared it: most
    // elements declare none, and cloning the URL in scope for each was an allocation each.
    let mut bases: Vec<(usize, Url)> = vec![(0, document_url.clone())];
    let mut depth = 0;
    let mut extras: Vec<EntryExtras> = Vec::new();
    // How many elements deep we are inside the current entry, if inside one.
    let mut entry_depth: Option<usize> = None;
    // The dcterms element whose text comes next, if any.
    let mut reading: Option<&str> = None;
    // Where the content of the entry's child being read starts, while it may be a long text.
    let mut text_child: Option<usize> = None;
    loop {
        let piece_at = markup.at;
        let piece = match markup.next() {
            Ok(Some(piece)) => piece,
            Ok(None) => return extras,
            Err(NotWellFormed) => return Vec::new(),
        };
        match piece {
            Piece::Start(element, at) => {
                depth += 1;
                let outer = &bases.last().expect("the document's base").1;
                if let Some(base) = declared_base(&element, outer) {
                    bases.push((depth, base));
                }
                let base = &bases.last().expect("the document's base").1;
                if entry_depth.is_none() && is_entry(&element) {
                    extras.push(EntryExtras::starting(base.clone(), at));
                    entry_depth = Some(0);
                } else if let Some(depth) = entry_depth.as_mut() {
                    *depth += 1;
                    text_child = (*depth == 1 && may_be_long_text(&element)).then_some(markup.at);
                    note_thumbnail(&element, &mut extras);
                    reading = markup.last_name().strip_prefix("dcterms:");
                }
            }
            Piece::Empty(element, at) => {
                if entry_depth.is_none() && is_entry(&element) {
                    let outer = &bases.last().expect("the document's base").1;
                    let base = declared_base(&element, outer).unwrap_or_else(|| outer.clone());
                    let mut empty = EntryExtras::starting(base, at);
                    empty.span = Some(at..markup.at);
                    extras.push(empty);
                } else if entry_depth.is_some() {
                    text_child = None;
                    note_thumbnail(&element, &mut extras);
                }
            }
            Piece::Text(text) => {
                if let (Some(term), Some(current)) = (reading.take(), extras.last_mut()) {
                    let value = quick_xml::escape::unescape(text)
                        .ok()
                        .map(|text| text.trim().to_string());
                    match term {
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
            Piece::End => {
                reading = None;
                if entry_depth == Some(1)
                    && let (Some(start), Some(current)) = (text_child.take(), extras.last_mut())
                    && piece_at - start >= LONG_TEXT_BYTES
                {
                    current.long_texts.push(start..piece_at);
                }
                if bases.len() > 1 && bases.last().is_some_and(|(declared, _)| *declared == depth) {
                    bases.pop();
                }
                depth = depth.saturating_sub(1);
                entry_depth = match entry_depth {
                    Some(0) => {
                        if let Some(span) = extras.last_mut().and_then(|last| last.span.as_mut()) {
                            span.end = markup.at;
                        }
                        None
                    }
                    None => None,
                    Some(depth) => Some(depth - 1),
                };
            }
            Piece::Other => {}
        }
    }
}

/// The document is not well-formed XML where the walk reached.
struct NotWellFormed;

/// A piece of an XML document.
enum Piece<'a> {
    /// A start tag, and where its `<` is.
    Start(BytesStart<'a>, usize),
    /// An empty-element tag (`<x/>`), and where its `<` is.
    Empty(BytesStart<'a>, usize),
    End,
    /// Text between markup, references still encoded.
    Text(&'a str),
    /// A comment, CDATA section, processing instruction or document type declaration.
    Other,
}

/// Reads an XML document as a sequence of pieces, checking what quick-xml's reader checked
/// (markup closed, end tags naming the element they close, no reference cut off by the end of
/// the document). Attributes are still read by quick-xml (`BytesStart`).
struct Markup<'a> {
    document: &'a str,
    /// Where the next piece starts.
    at: usize,
    /// The names of the open elements, innermost last.
    open: Vec<&'a str>,
}

impl<'a> Markup<'a> {
    fn new(document: &'a str) -> Self {
        Markup {
            document,
            at: 0,
            open: Vec::new(),
        }
    }

    /// The name of the element last started.
    fn last_name(&self) -> &'a str {
        self.open.last().copied().unwrap_or_default()
    }

    fn next(&mut self) -> Result<Option<Piece<'a>>, NotWellFormed> {
        let rest = &self.document[self.at..];
        if rest.is_empty() {
            return Ok(None);
        }
        let start = self.at;
        let Some(after_bracket) = rest.strip_prefix('<') else {
            let Some(length) = memchr::memchr(b'<', rest.as_bytes()) else {
                // A document cut inside a reference, as quick-xml's reader counts it.
                let last_reference = memchr::memrchr(b'&', rest.as_bytes()).map(|at| &rest[at..]);
                if last_reference.is_some_and(|reference| !reference.contains(';')) {
                    return Err(NotWellFormed);
                }
                self.at = self.document.len();
                return Ok(Some(Piece::Text(rest)));
            };
            self.at += length;
            return Ok(Some(Piece::Text(&rest[..length])));
        };
        // The length from `<` to the end of `end`, searched from `from` after the `<`.
        let closed_by = |end: &str, from: usize| {
            memchr::memmem::find(&after_bracket.as_bytes()[from..], end.as_bytes())
                .map(|at| 1 + from + at + end.len())
                .ok_or(NotWellFormed)
        };
        let (length, piece) = if after_bracket.starts_with("!--") {
            (closed_by("-->", 3)?, Piece::Other)
        } else if after_bracket.starts_with("![CDATA[") {
            (closed_by("]]>", 8)?, Piece::Other)
        } else if after_bracket.starts_with('?') {
            (closed_by("?>", 1)?, Piece::Other)
        } else if after_bracket.starts_with('!') {
            (declaration_length(rest)?, Piece::Other)
        } else if let Some(end_tag) = after_bracket.strip_prefix('/') {
            let close = memchr::memchr(b'>', end_tag.as_bytes()).ok_or(NotWellFormed)?;
            let name = end_tag[..close].trim_end_matches(is_xml_space);
            if self.open.pop() != Some(name) {
                return Err(NotWellFormed);
            }
            (close + 3, Piece::End)
        } else {
            let close = tag_end(after_bracket).ok_or(NotWellFormed)?;
            let content = &after_bracket[..close];
            let piece = match content.strip_suffix('/') {
                Some(content) => Piece::Empty(tag(content), start),
                None => {
                    let tag = tag(content);
                    self.open.push(&content[..tag.name().as_ref().len()]);
                    Piece::Start(tag, start)
                }
            };
            (close + 2, piece)
        };
        self.at += length;
        Ok(Some(piece))
    }
}

fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// A tag's content (between `<` and `>`, without the `/` of an empty element) as quick-xml's
/// reader gives it.
fn tag(content: &str) -> BytesStart<'_> {
    let name_length = content.find(is_xml_space).unwrap_or(content.len());
    BytesStart::from_content(content, name_length)
}

/// Where a tag's closing `>` is in `after_bracket`: the first not inside a quoted value.
fn tag_end(after_bracket: &str) -> Option<usize> {
    let bytes = after_bracket.as_bytes();
    let mut from = 0;
    loop {
        let at = from + memchr::memchr3(b'>', b'"', b'\'', &bytes[from..])?;
        if bytes[at] == b'>' {
            return Some(at);
        }
        from = at + 1 + memchr::memchr(bytes[at], &bytes[at + 1..])? + 1;
    }
}

/// The length of a `<!DOCTYPE …>` declaration at the start of `rest`, its internal subset
/// (which holds markup of its own) included.
fn declaration_length(rest: &str) -> Result<usize, NotWellFormed> {
    let mut depth = 0usize;
    for (at, byte) in rest.bytes().enumerate() {
        match byte {
            b'<' => depth += 1,
            b'>' => {
                depth -= 1;
                if depth == 0 {
                    return Ok(at + 1);
                }
            }
            _ => {}
        }
    }
    Err(NotWellFormed)
}

fn is_entry(element: &BytesStart) -> bool {
    matches!(element.local_name().as_ref(), "entry" | "item")
}

/// Whether `element`, a child of an entry, is one whose text may be long enough to set aside.
fn may_be_long_text(element: &BytesStart) -> bool {
    matches!(
        element.local_name().as_ref(),
        "title" | "description" | "encoded" | "content" | "summary"
    ) && attribute(element, "type").as_deref() != Some("xhtml")
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

    #[test]
    fn markup_that_is_not_an_element_hides_no_entry() {
        let url = Url::parse("https://origin.example/").unwrap();
        let document = "<?xml version=\"1.0\"?><!DOCTYPE rss [<!ENTITY e \"<item>\"> <!ELEMENT x ANY>]>\
             <?xml-stylesheet href=\"a>b\"?><rss><channel><!-- <item>no</item> -->\
             <item a='>' b=\">\"><description><![CDATA[<item>x</item> ]]></description></item >\
             <item/></channel></rss>";
        let spans: Vec<&str> = entry_extras(document, &url)
            .into_iter()
            .map(|extra| &document[extra.span.unwrap()])
            .collect();
        assert_eq!(
            spans,
            [
                "<item a='>' b=\">\"><description><![CDATA[<item>x</item> ]]></description></item >",
                "<item/>"
            ]
        );
    }

    #[test]
    fn a_document_that_is_not_well_formed_gives_nothing() {
        let url = Url::parse("https://origin.example/").unwrap();
        for document in [
            "<rss><channel><item></channel></item></rss>",
            "<rss></rss></rss>",
            "<rss><item/><!-- never closed",
            "<rss><item/><item a=\"never closed",
            "<rss><item/><item><title>cut inside a reference &amp",
        ] {
            assert_eq!(entry_extras(document, &url), [], "{document}");
        }
        // Cut in plain text: the entries before the cut are read.
        let cut = entry_extras("<rss><item/><item><title>cut &amp; here", &url);
        assert_eq!(cut.len(), 2);
    }

    #[test]
    fn dcterms_dates_are_read_with_their_references() {
        let url = Url::parse("https://origin.example/").unwrap();
        let extras = entry_extras(
            "<rss><item><dcterms:issued> 2024-01-01T10:00:00&#43;01:00 </dcterms:issued></item></rss>",
            &url,
        );
        assert_eq!(
            extras[0].dcterms_published.as_deref(),
            Some("2024-01-01T10:00:00+01:00")
        );
    }
}
